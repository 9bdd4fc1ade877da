"""The endpoint's HTTP/1.1 server (msc_kg.server.http) on raw loopback sockets: framing, limits,
keep-alive, and hostile clients (malformed heads, oversized heads and bodies, slow senders)."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time

import httptools
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from server_fixtures import raw_exchange, running
from urllib.parse import unquote_to_bytes

from msc_kg.server.http import BIG_BODY, Server
from msc_kg.server.httpparse import Reject, Request


def echo_app(environ, start_response):
    """A WSGI app answering with what it was given (or failing on /boom)."""
    if environ["PATH_INFO"] == "/boom":
        raise RuntimeError("boom")
    if environ["PATH_INFO"] == "/big":  # larger than BIG_BODY: sent after its head
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [BIG]
    if environ["PATH_INFO"] == "/shouting":  # werkzeug writes its reason phrases in capitals
        start_response("406 NOT ACCEPTABLE", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"no"]
    if environ["PATH_INFO"] == "/fixed":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "10")])
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [b"fixed body"]
    body = json.dumps({
        "method": environ["REQUEST_METHOD"], "path": environ["PATH_INFO"],
        "query": environ["QUERY_STRING"], "body": environ["wsgi.input"].read().decode("latin-1"),
        "headers": {k: v for k, v in environ.items() if k.startswith("HTTP_")},
        "content_type": environ.get("CONTENT_TYPE"), "server_name": environ["SERVER_NAME"],
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


BIG = bytes(range(256)) * (BIG_BODY // 256 + 3)


@pytest.fixture()
def serve():
    """Start a Server on a free loopback port; yields a function making (host, port) for settings."""
    with contextlib.ExitStack() as started:
        yield lambda **settings: started.enter_context(running(echo_app, **settings))[1]


def exchange(addr, data: bytes, timeout: float = 5.0, source: str | None = None) -> bytes:
    """Send ``data`` (from the loopback address ``source``) and read until the server closes the connection."""
    with socket.create_connection(addr, timeout=timeout, source_address=(source, 0) if source else None) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def status_of(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1])


def body_of(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[1]


def test_get_reaches_the_app(serve):
    raw = exchange(serve(), b"GET /sparql?query=ASK%7B%7D HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(raw) == 200
    got = json.loads(body_of(raw))
    assert (got["method"], got["path"], got["query"]) == ("GET", "/sparql", "query=ASK%7B%7D")
    assert b"Connection: close" in raw and b"\r\nDate: " in raw


def test_reason_phrases_are_sent_as_rfc_9110_writes_them(serve):
    """Responses made by Flask said "406 NOT ACCEPTABLE", those of the server's own path "406 Not
    Acceptable" (endpoint audit)."""
    raw = exchange(serve(), b"GET /shouting HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 406 Not Acceptable\r\n") and body_of(raw) == b"no"


def test_big_body_follows_its_head_whole_and_keep_alive_goes_on(serve):
    raw = exchange(serve(), b"GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /fixed HTTP/1.1\r\nHost: x\r\n"
                            b"Connection: close\r\n\r\n")
    head, rest = raw.split(b"\r\n\r\n", 1)
    assert f"Content-Length: {len(BIG)}".encode() in head
    assert rest[:len(BIG)] == BIG and rest[len(BIG):].startswith(b"HTTP/1.1 200 OK")
    assert rest.endswith(b"fixed body")


def test_pipelined_requests_answered_in_order(serve):
    raw = exchange(serve(), b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    first, second = raw.split(b"HTTP/1.1 200 OK")[1:]
    assert b'"path": "/a"' in first and b'"path": "/b"' in second


def test_chunked_body_is_decoded(serve):
    raw = exchange(serve(), b"POST /q HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                            b"Content-Type: application/sparql-query\r\nConnection: close\r\n\r\n"
                            b"3\r\nASK\r\n3\r\n {}\r\n0\r\n\r\n")
    got = json.loads(body_of(raw))
    assert got["body"] == "ASK {}" and got["content_type"] == "application/sparql-query"


@pytest.mark.parametrize("request_bytes, status, message", [
    (b"GARBAGE\r\n\r\n", 400, b"Malformed HTTP request"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     400, b"Malformed HTTP request"),  # request smuggling shape
    (b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", 400, b"Malformed HTTP request"),
    (b"\xff\xfe\x00\x01 / HTTP/1.1\r\n\r\n", 400, b"Malformed HTTP request"),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, b"Malformed HTTP request"),
])
def test_malformed_requests_get_400_and_close(serve, request_bytes, status, message):
    raw = exchange(serve(), request_bytes)
    assert status_of(raw) == status
    assert message in body_of(raw) and b"Connection: close" in raw


@pytest.mark.parametrize("request_bytes, status, message", [
    (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 400,
     b"An HTTP/1.1 request carries exactly one Host header (RFC 9112 \xc2\xa73.2); this one has 0.\n"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
     b"An HTTP/1.1 request carries exactly one Host header (RFC 9112 \xc2\xa73.2); this one has 2.\n"),
    (b"GET / HTTP/1.1\r\nHost: a/b@c\r\n\r\n", 400,
     b"The Host header 'a/b@c' is not a host name or address with an optional port (RFC 9112 "
     b"\xc2\xa73.2).\n"),
    # a value in UTF-8 is shown as written, other bytes escaped (it was shown mis-decoded)
    (b"GET / HTTP/1.1\r\nHost: \xc3\xa9.com\r\n\r\n", 400,
     "The Host header '\u00e9.com' is not a host name or address with an optional port (RFC 9112 "
     "\u00a73.2).\n".encode()),
    (b"GET / HTTP/1.1\r\nHost: \xff.com\r\n\r\n", 400,
     b"The Host header '\\xff.com' is not a host name or address with an optional port (RFC 9112 "
     b"\xc2\xa73.2).\n"),
    # llhttp takes the chunks and would pass the gzip bytes on as the body
    (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 501,
     b"Transfer-Encoding 'gzip' is not supported: send the body as it is, with Content-Length or "
     b"chunked.\n"),
])
def test_host_and_transfer_coding_are_checked(serve, request_bytes, status, message):
    """RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without one valid Host; §6.1:
    a transfer coding it does not apply is answered 501."""
    raw = exchange(serve(), request_bytes)
    assert status_of(raw) == status
    assert body_of(raw) == message and b"Connection: close" in raw


@pytest.mark.parametrize("request_bytes", [
    b"GET / HTTP/1.0\r\n\r\n",  # HTTP/1.0 has no Host requirement
    b"GET / HTTP/1.1\r\nHost: [::1]:8000\r\nConnection: close\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n",  # empty: a target without authority
    b"GET http://x/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",  # absolute form
])
def test_valid_hosts_are_accepted(serve, request_bytes):
    assert status_of(exchange(serve(), request_bytes)) == 200


def _host_refused(value: str) -> bytes:
    return (f"The Host header {value!r} is not a host name or address with an optional port "
            "(RFC 9112 §3.2).\n").encode()


@pytest.mark.parametrize("host, message", [
    # only the characters were checked: these reached the app, which took them for no host
    ("x:abc", _host_refused("x:abc")),  # a port is digits
    ("x::", _host_refused("x::")),
    ("[zz]", _host_refused("[zz]")),  # an IP literal that is none
    ("[::1", _host_refused("[::1")),
    ("[::1]x", _host_refused("[::1]x")),
    ("[fe80::1%25en0]", _host_refused("[fe80::1%25en0]")),  # a zone identifier
    ("a,b", _host_refused("a,b")),  # two Host lines joined into one
    ("a%zz", _host_refused("a%zz")),
    ("x:99999999", "The Host header 'x:99999999' names a port out of the range 1 to 65535 "
                   "(RFC 9112 §3.2).\n".encode()),
    ("x:65536", "The Host header 'x:65536' names a port out of the range 1 to 65535 "
                "(RFC 9112 §3.2).\n".encode()),
    ("x:0", "The Host header 'x:0' names a port out of the range 1 to 65535 "
            "(RFC 9112 §3.2).\n".encode()),
])
def test_host_value_is_checked_as_host_and_port(serve, host, message):
    """RFC 9112 §3.2: a Host header field with an invalid field value is answered 400; valid is
    uri-host [":" port] (RFC 3986 §3.2.2-3), not only its characters (hostile testing)."""
    for version in (b"1.1", b"1.0"):  # HTTP/1.0 need not send one, but one it sends is checked
        raw = exchange(serve(), b"GET / HTTP/" + version + b"\r\nHost: " + host.encode()
                       + b"\r\nConnection: close\r\n\r\n")
        assert status_of(raw) == 400 and body_of(raw) == message


@pytest.mark.parametrize("target, message", [
    (b"http://u:p@x/", "The request target's authority 'u:p@x' carries user information, which an "
                       "http URI may not (RFC 9110 §4.2.4).\n"),
    (b"http://x:0/", "The request target's authority 'x:0' names a port out of the range 1 to 65535 "
                     "(RFC 9112 §3.2).\n"),
])
def test_absolute_form_authority_is_checked(serve, target, message):
    raw = exchange(serve(), b"GET " + target + b" HTTP/1.1\r\nHost: y\r\nConnection: close\r\n\r\n")
    assert status_of(raw) == 400 and body_of(raw) == message.encode()


@pytest.mark.parametrize("target", [b"https://x/sparql", b"ftp://x/", b"HTTPS://x/"])
def test_absolute_form_of_another_scheme_is_misdirected(serve, target):
    """An https or ftp target was answered as if it were http (hostile testing): this server speaks
    http only, so it cannot answer for that URI (421, RFC 9110 §15.5.20)."""
    raw = exchange(serve(), b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    scheme = target.partition(b":")[0].decode()
    assert raw.startswith(b"HTTP/1.1 421 Misdirected Request\r\n") and body_of(raw) == (
        f"The request target's scheme '{scheme}' is not served here: this server answers http URIs "
        "(RFC 9110 §15.5.20).\n").encode()
    raw = exchange(serve(), b"GET HTTP://x/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(raw) == 200  # a scheme is case-insensitive (RFC 3986 §3.1)


@pytest.mark.parametrize("target, host, app_host", [
    (b"/", b"x", "x"),
    (b"/", b"X.example:8311", "X.example:8311"),
    (b"/", b"[::1]:8000", "[::1]:8000"),
    (b"/", b"127.0.0.1:08311", "127.0.0.1:8311"),  # the same port
    (b"/", b"localhost:", "localhost"),  # an empty port is the default one (RFC 3986 §6.2.3)
    (b"/", b"", None),  # empty: the target has no authority; the server's own address stands in
    (b"/", b"my_host:8311", None),  # valid, but werkzeug would take it for no host at all
    (b"/", b"a%41", None),
    (b"/", b"[v1.x]", None),  # an IPvFuture
    # absolute form: its authority, not Host (RFC 9112 §3.2.2)
    (b"http://other.example/sparql", b"y", "other.example"),
    (b"http://[::1]:8080/", b"y", "[::1]:8080"),
    (b"http://other.example/", b"", "other.example"),
])
def test_the_app_gets_the_host_the_request_names(serve, target, host, app_host):
    raw = exchange(serve(), b"GET " + target + b" HTTP/1.1\r\nHost: " + host
                   + b"\r\nConnection: close\r\n\r\n")
    got = json.loads(body_of(raw))
    assert status_of(raw) == 200 and got["headers"].get("HTTP_HOST") == app_host
    assert got["server_name"] == "127.0.0.1"


def test_http_10_absolute_form_names_its_host(serve):
    raw = exchange(serve(), b"GET http://other.example:81/ HTTP/1.0\r\n\r\n")
    assert json.loads(body_of(raw))["headers"] == {"HTTP_HOST": "other.example:81"}


def test_server_name_is_the_address_reached_not_any_address():
    """Bound to every interface, SERVER_NAME (the app's host without a usable Host) is the
    address the connection reached: 0.0.0.0 is no address to ask."""
    with running(echo_app, host="0.0.0.0") as (_, (_, port)):
        for host in (b"", b"my_host"):
            raw = exchange(("127.0.0.1", port),
                           b"GET / HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
            got = json.loads(body_of(raw))
            assert got["server_name"] == "127.0.0.1" and "HTTP_HOST" not in got["headers"]


def test_options_star_describes_the_server(serve):
    raw = exchange(serve(), b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 204 No Content\r\nAllow: GET, HEAD, POST, OPTIONS\r\n")
    assert body_of(raw) == b""
    raw = exchange(serve(), b"GET * HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(raw) == 400 and body_of(raw) == b"The request target * is for OPTIONS only.\n"


@pytest.mark.parametrize("head", [
    b"POST * HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n",  # over --max-body: not 413
    b"POST * HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n",  # no 100
])
def test_a_body_for_star_is_refused_for_the_target(serve, head):
    """Target * is OPTIONS's only: another method's request is told so whatever its body, not
    that its body is too large, nor invited to send it (hostile review)."""
    raw = exchange(serve(max_body=1000), head)
    assert raw.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert body_of(raw) == b"The request target * is for OPTIONS only.\n"


def test_oversized_head_gets_431(serve):
    addr = serve(max_head=4096)
    raw = exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10_000 + b"\r\n\r\n")
    assert status_of(raw) == 431
    assert body_of(raw) == b"Request head too large: the limit is 4096 bytes.\n"


def test_overlong_url_gets_414_with_advice(serve):
    addr = serve(max_head=4096)
    with socket.create_connection(addr, timeout=5) as s:  # sent in pieces, as a client streams it
        s.sendall(b"GET /sparql?query=" + b"a" * 3000)
        try:
            s.sendall(b"a" * 3000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        except OSError:
            pass
        raw = s.recv(65536)
    assert status_of(raw) == 414
    assert body_of(raw) == (b"Request URL too long: the limit is 4096 bytes; send a long query with POST "
                            b"(Content-Type application/sparql-query, or a form).\n")


def test_endless_header_is_cut_off(serve):
    """A header that never ends is refused once the head passes the limit (not buffered forever)."""
    addr = serve(max_head=4096)
    with socket.create_connection(addr, timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nX-Endless: ")
        try:
            for _ in range(100):
                s.sendall(b"a" * 1000)
        except OSError:
            pass
        raw = s.recv(65536)
    assert status_of(raw) == 431


def test_body_over_the_limit_refused_before_reading(serve):
    addr = serve(max_body=100)
    raw = exchange(addr, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
    assert status_of(raw) == 413
    assert body_of(raw) == b"Request body too large: the limit is 100 bytes (--max-body).\n"


def _read_only(method, path, headers):
    if path == "/boom":
        raise RuntimeError("a bug of the app")
    return (405, f"{method} is not allowed here.", {"Allow": "GET"}) if path == "/ro" else None


@pytest.mark.parametrize("framing", [b"Content-Length: 1000000\r\n\r\n",
                                     b"Transfer-Encoding: chunked\r\n\r\n" + (b"50\r\n" + b"q" * 80 + b"\r\n") * 2])
def test_a_refusal_the_head_decides_comes_before_413(serve, framing):
    """A body over the limit sent where the method is not allowed gets the 405 the app's ``unsent``
    decides from the head (a POST of a large graph to the read-only store was told 413, to send
    less, and then 405); elsewhere, or where ``unsent`` fails, 413 as before."""
    addr = serve(max_body=100, unsent=_read_only)
    raw = exchange(addr, b"POST /ro HTTP/1.1\r\nHost: x\r\n" + framing)
    assert raw.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n")  # its reason phrase too
    assert b"\r\nAllow: GET\r\n" in raw.split(b"\r\n\r\n")[0] + b"\r\n"
    assert body_of(raw) == b"POST is not allowed here.\n"
    assert status_of(exchange(addr, b"POST /other HTTP/1.1\r\nHost: x\r\n" + framing)) == 413
    assert status_of(exchange(addr, b"POST /boom HTTP/1.1\r\nHost: x\r\n" + framing)) == 413
    # a head that is no request gets its 400 first, not the answer its method and path would get
    # (hostile review: no Host, or two, and a large body got the 405)
    for hosts in (b"", b"Host: a\r\nHost: b\r\n"):
        raw = exchange(addr, b"POST /ro HTTP/1.1\r\n" + hosts + b"Content-Length: 1000000\r\n\r\n")
        assert status_of(raw) == 400 and b"exactly one Host header" in raw, raw


def test_chunked_body_over_the_limit(serve):
    addr = serve(max_body=100)
    chunk = b"%x\r\n%s\r\n" % (80, b"q" * 80)
    raw = exchange(addr, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 3)
    assert status_of(raw) == 413


@pytest.mark.parametrize("head", [lambda n: b"3;ext=" + b"x" * n, lambda n: b"0" * n + b"3"])
def test_chunk_framing_counts_toward_the_body_limit(serve, head):
    """Chunk extensions and a chunk size's leading zeros were read without limit (20 MB of them
    accepted for a 3-byte body: hostile testing): the bytes of a chunked body as sent may be at
    most twice the body's limit and 64 KiB more."""
    addr = serve(max_body=100)
    raw = exchange(addr, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + head(300_000)
                   + b"\r\nabc\r\n0\r\n\r\n")
    assert status_of(raw) == 413
    assert body_of(raw) == (b"Request body too large: chunked, it takes more than 65736 bytes as sent (chunk "
                            b"sizes and extensions count); the body's limit is 100 bytes (--max-body).\n")
    raw = exchange(addr, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + head(2000)
                   + b"\r\nabc\r\n0\r\n\r\n")
    assert status_of(raw) == 200 and json.loads(body_of(raw))["body"] == "abc"


def test_slow_sender_gets_408(serve):
    addr = serve(read_timeout=0.5)
    start = time.monotonic()
    with socket.create_connection(addr, timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finishes the head
        raw = s.recv(65536)
    assert status_of(raw) == 408 and time.monotonic() - start < 3


def test_idle_keep_alive_connection_is_closed(serve):
    addr = serve(idle_timeout=0.3)
    with socket.create_connection(addr, timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(s.recv(65536)) == 200
        time.sleep(0.6)
        assert s.recv(65536) == b""  # closed by the server


def test_connection_limit_answers_503(serve):
    addr = serve(max_connections=2)
    held = [socket.create_connection(addr, timeout=5, source_address=(f"127.0.0.{i}", 0)) for i in (2, 3)]
    time.sleep(0.2)
    try:
        raw = exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(raw) == 503
        assert b"Too many open connections (limit 2)" in body_of(raw)
    finally:
        for s in held:
            s.close()


def test_one_client_address_holds_at_most_half_the_connections(serve):
    """Trickling request heads from one address, a client held every connection slot and every
    other client got 503 (hostile testing: slowloris); it may hold half of them."""
    addr = serve(max_connections=4)
    held = [socket.create_connection(addr, timeout=5) for _ in range(2)]
    for s in held:
        s.sendall(b"GET / HTTP/1.1\r\n")  # a request head begun, never finished
    time.sleep(0.2)
    try:
        raw = exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(raw) == 503
        assert b"Too many open connections from your address (limit 2); retry later." in body_of(raw)
        assert status_of(exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                  source="127.0.0.2")) == 200  # another client is served
        held.pop().close()
        time.sleep(0.2)  # its slot is free again
        assert status_of(exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) == 200
    finally:
        for s in held:
            s.close()


def test_the_cap_per_client_address_can_be_set_or_lifted(serve):
    """Behind a proxy every client has the proxy's address: --max-connections-per-client 0 lifts
    the cap (half of the connections), a number sets it (code review)."""
    for per_client, third in ((0, 200), (3, 200), (2, 503)):
        addr = serve(max_connections=4, max_per_peer=per_client)
        held = [socket.create_connection(addr, timeout=5) for _ in range(2)]
        time.sleep(0.2)
        try:
            assert status_of(exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) == third
        finally:
            for s in held:
                s.close()


def test_an_ipv6_client_is_counted_by_its_64():
    """A client holds its /64 whole: counted by address, it had as many slots as it liked."""
    from msc_kg.server.http import _peer

    assert _peer(("2001:db8::1", 80, 0, 0)) == _peer(("2001:db8::ffff:2", 81, 0, 0)) == "2001:db8::/64"
    assert _peer(("2001:db8:0:1::1", 80, 0, 0)) == "2001:db8:0:1::/64"
    assert _peer(("fe80::1%eth0", 80, 0, 2)) == "fe80::/64"
    assert _peer(("192.0.2.7", 80)) == "192.0.2.7" and _peer(("::ffff:192.0.2.7", 80, 0, 0)) == "::ffff:192.0.2.7"


def test_a_connection_no_thread_can_be_started_for_is_refused(serve, monkeypatch):
    """Under a limit on address space or threads, starting a connection's thread raised in the
    accept loop and ended the serving process (hostile testing): that connection gets 503, and the
    server serves the next one."""
    addr = serve()
    started = threading.Thread.start

    def start(thread):
        if thread._target.__name__ in ("_handle", "answer"):  # a connection's, a refusal's
            raise RuntimeError("can't start new thread")
        return started(thread)

    monkeypatch.setattr(threading.Thread, "start", start)
    raw = exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(raw) == 503
    assert body_of(raw) == b"The server cannot take another connection now; retry later.\n"
    monkeypatch.undo()
    assert status_of(exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) == 200


def test_head_carries_the_get_length_without_body(serve):
    addr = serve()
    head = exchange(addr, b"HEAD /fixed HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(head) == 200 and b"\r\nContent-Length: 10\r\n" in head
    assert body_of(head) == b""


@pytest.mark.parametrize("request_, status", [
    (b"HEAD /fixed HTTP/1.1\r\n\r\n", 400),  # no Host: refused by the parser
    (b"HEAD /fixed HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n", 413),
    (b"HEAD /a%2Fb HTTP/1.1\r\nHost: x\r\n\r\n", 404),  # refused for its target
])
def test_a_refused_head_gets_no_body(serve, request_, status):
    """A HEAD refused before the app sees it is answered with a head only (RFC 9110 §9.3.2): the
    refusal's text followed it, where a client reads no body (hostile review)."""
    raw = exchange(serve(max_body=1000), request_)
    assert status_of(raw) == status and b"\r\nContent-Length: " in raw
    assert raw.endswith(b"\r\n\r\n") and body_of(raw) == b""


def test_http_10_closes_unless_keep_alive(serve):
    addr = serve()
    raw = exchange(addr, b"GET / HTTP/1.0\r\n\r\n")
    assert status_of(raw) == 200 and b"Connection: close" in raw
    with socket.create_connection(addr, timeout=5) as s:
        s.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        first = s.recv(65536)
        assert b"Connection: keep-alive" in first
        s.sendall(b"GET /again HTTP/1.0\r\n\r\n")
        assert b'"path": "/again"' in s.recv(65536)


def test_http_10_with_a_transfer_coding_is_answered_then_closed(serve):
    """RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing; the
    connection is closed after it, keep-alive or not (hostile testing found it kept open)."""
    raw = exchange(serve(), b"POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: "
                            b"chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /next HTTP/1.0\r\n\r\n")
    assert status_of(raw) == 200 and b"Connection: close" in raw
    assert raw.count(b"HTTP/1.1 ") == 1  # the request after it is not read


@pytest.mark.parametrize("method", [b"BREW", b"get", b"FOO"])
def test_unknown_method_is_501(serve, method):
    """RFC 9110 §9.1: a method the server does not know gets 501 (it got 400, hostile testing);
    methods are case-sensitive."""
    raw = exchange(serve(), method + b" / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(raw) == 501 and b"Connection: close" in raw
    assert body_of(raw) == (b"The method '" + method + b"' is not implemented here (methods are "
                            b"case-sensitive); this server answers GET, HEAD, POST, OPTIONS.\n")


def test_the_servers_own_errors_carry_its_error_headers(serve):
    """The app's CORS headers go with the server's own 4xx and 5xx too, so that a browser can read
    why (they were missing on 413, 414, 400, 408 and 501: hostile testing)."""
    addr = serve(max_head=4096, max_body=10, error_headers={"Access-Control-Allow-Origin": "*"})
    for request in (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n",
                    b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n", b"GARBAGE\r\n\r\n"):
        raw = exchange(addr, request)
        assert status_of(raw) in (400, 413, 414, 501)
        assert raw.count(b"\r\nAccess-Control-Allow-Origin: *\r\n") == 1, raw


def test_expect_100_continue(serve):
    raw = raw_exchange(serve(), b"POST /q HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n"
                                b"Expect: 100-continue\r\nConnection: close\r\n\r\n", then=b"ASK {}")
    assert json.loads(body_of(raw))["body"] == "ASK {}"


@pytest.mark.parametrize("head, status", [
    (b"POST /sparql#f HTTP/1.1", 400),
    (b"POST /sparql%2F HTTP/1.1", 404),
    (b"CONNECT example.com:443 HTTP/1.1", 501),
])
def test_no_100_continue_for_a_target_no_resource_has(serve, head, status):
    """RFC 9110 §10.1.1: the final status, not an invitation to send the body for nothing (the
    100 Continue came first, and the client could upload up to --max-body: hostile testing)."""
    with socket.create_connection(serve(), timeout=5) as s:
        s.sendall(head + b"\r\nHost: x\r\nContent-Length: 6\r\nExpect: 100-continue\r\n\r\n")
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    assert status_of(raw) == status and b"100 Continue" not in raw


def _read_responses(s: socket.socket, count: int) -> list[bytes]:
    """``count`` responses with Content-Length bodies (or interim ones) read from ``s``."""
    out, buf = [], b""
    while len(out) < count:
        while b"\r\n\r\n" not in buf:
            buf += s.recv(65536)
        head, buf = buf.split(b"\r\n\r\n", 1)
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(buf) < length:
            buf += s.recv(65536)
        out.append(head + b"\r\n\r\n" + buf[:length])
        buf = buf[length:]
    return out


def test_100_continue_follows_the_responses_before_it(serve):
    """A pipelined request expecting 100-continue behind another gets its interim response after
    the earlier request's response, not in front of it (RFC 9112 §9.3.2: responses in the order
    of the requests; the 100 Continue came first, hostile testing)."""
    with socket.create_connection(serve(), timeout=5) as s:
        s.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /q HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 6\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
        first, interim = _read_responses(s, 2)
        assert first.startswith(b"HTTP/1.1 200 OK\r\n") and b'"path": "/a"' in first
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(b"ASK {}")
        (last,) = _read_responses(s, 1)
    assert json.loads(body_of(last))["body"] == "ASK {}"


def test_no_100_continue_once_the_body_is_in(serve):
    """A body sent with its head, without waiting, needs no interim response (RFC 9110 §10.1.1)."""
    raw = exchange(serve(), b"POST /q HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n"
                            b"Expect: 100-continue\r\nConnection: close\r\n\r\nASK {}")
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n") and b"100 Continue" not in raw


def test_requests_before_a_malformed_one_are_answered(serve):
    """Pipelined requests that arrive whole in front of a malformed one are answered, in order,
    before the 400 that closes the connection (only the 400 was sent, hostile testing)."""
    raw = exchange(serve(), b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
                            b"GARBAGE\r\n\r\n")
    parts = raw.split(b"HTTP/1.1 ")[1:]
    assert [p[:3] for p in parts] == [b"200", b"200", b"400"]
    assert b'"path": "/a"' in parts[0] and b'"path": "/b"' in parts[1]
    assert b"Malformed HTTP request" in parts[2] and b"Connection: close" in parts[2]


def test_a_closing_request_before_a_malformed_one_ends_the_exchange(serve):
    """Connection: close on the first request ends the connection after its response: what
    follows it is not read, so no 400."""
    raw = exchange(serve(), b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGARBAGE\r\n\r\n")
    assert raw.count(b"HTTP/1.1 ") == 1 and raw.startswith(b"HTTP/1.1 200 OK\r\n")


def test_http_10_expect_is_ignored(serve):
    """An HTTP/1.0 client does not wait for 100 Continue, so the expectation is ignored (RFC 9110
    §10.1.1); it was answered with an HTTP/1.1 interim response (hostile testing)."""
    raw = exchange(serve(), b"POST /q HTTP/1.0\r\nHost: x\r\nContent-Length: 6\r\n"
                            b"Expect: 100-continue\r\n\r\nASK {}")
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n") and b"100 Continue" not in raw
    assert json.loads(body_of(raw))["body"] == "ASK {}"


def test_other_http_versions_get_505(serve):
    """llhttp reads "HTTP/2.0" in a request line, which was answered as HTTP/1.1 (hostile testing)."""
    raw = exchange(serve(), b"GET / HTTP/2.0\r\nHost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 505 HTTP Version Not Supported\r\n")
    assert body_of(raw) == ("HTTP/2.0 is not supported: this server speaks HTTP/1.1 and HTTP/1.0 "
                            "(RFC 9110 §15.6.6).\n").encode()
    for version in (b"3.0", b"1.2", b"9.9"):  # llhttp's "Invalid HTTP version" (a 400)
        raw = exchange(serve(), b"GET / HTTP/" + version + b"\r\nHost: x\r\n\r\n")
        assert raw.startswith(b"HTTP/1.1 505 HTTP Version Not Supported\r\n"), version
        assert body_of(raw) == ("This HTTP version is not supported: this server speaks HTTP/1.1 "
                                "and HTTP/1.0 (RFC 9110 §15.6.6).\n").encode()


def test_upgrade_is_not_passed_on(serve):
    """Upgrade is not offered, so the app does not see it: werkzeug's routing took a websocket
    Upgrade for a websocket request and answered 400 on every page (hostile testing)."""
    raw = exchange(serve(), b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                            b"Upgrade: websocket\r\n\r\n")
    assert status_of(raw) == 200 and "HTTP_UPGRADE" not in json.loads(body_of(raw))["headers"]


def test_upgrade_request_body_is_its_body_not_a_request(serve):
    """llhttp ends a request asking to Upgrade at its head: its body ran as a request of its own
    (a smuggling route behind a proxy that passes Upgrade on: hostile testing). It is read as the
    body, whole or in pieces; a chunked one is refused."""
    addr = serve()
    inner = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    head = (b"POST /q HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n"
            b"Content-Length: %d\r\n\r\n" % len(inner))
    raw = exchange(addr, head + inner)
    assert raw.count(b"HTTP/1.1 ") == 1 and b"/smuggled" not in raw.split(b"\r\n\r\n", 1)[0]
    assert json.loads(body_of(raw))["body"] == inner.decode()
    with socket.create_connection(addr, timeout=5) as s:  # the body in three pieces
        s.sendall(head + inner[:5])
        time.sleep(0.1)
        s.sendall(inner[5:20])
        time.sleep(0.1)
        s.sendall(inner[20:])
        raw = b"".join(iter(lambda: s.recv(65536), b""))
    assert json.loads(body_of(raw))["body"] == inner.decode() and raw.count(b"HTTP/1.1 ") == 1
    chunked = exchange(addr, b"POST /q HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n5\r\nASK{}\r\n0\r\n\r\n")
    assert status_of(chunked) == 400 and body_of(chunked).startswith(
        b"A request asking to Upgrade cannot carry a chunked body here")


def test_many_upgrade_requests_in_one_read_are_all_answered(serve):
    """Each request asking to Upgrade made the parser go on by recursion: 1 000 of them in one read
    overflowed the stack and none was answered (hostile testing)."""
    request = b"GET /u HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: a\r\n\r\n"
    addr = serve(max_head=1 << 20)
    with socket.create_connection(addr, timeout=10) as s:
        s.sendall(request * 1500 + b"GET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        raw = b"".join(iter(lambda: s.recv(1 << 16), b""))
    assert raw.count(b"HTTP/1.1 200 OK\r\n") == 1501
    assert json.loads(body_of(raw.rsplit(b"HTTP/1.1 ", 1)[1]))["path"] == "/last"


def test_underscore_headers_are_dropped(serve):
    raw = exchange(serve(), b"GET / HTTP/1.1\r\nHost: x\r\nX_Forwarded_For: evil\r\nX-Real: ok\r\n"
                            b"Connection: close\r\n\r\n")
    headers = json.loads(body_of(raw))["headers"]
    assert headers.get("HTTP_X_REAL") == "ok" and "HTTP_X_FORWARDED_FOR" not in headers


def test_app_error_is_500_and_server_keeps_serving(serve, capsys):
    addr = serve()
    raw = exchange(addr, b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(raw) == 500 and body_of(raw) == b"Internal server error.\n"
    assert "RuntimeError: boom" in capsys.readouterr().err
    assert status_of(exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) == 200


def test_upgrade_request_answered_in_http_11(serve):
    raw = exchange(serve(), b"GET /u HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                            b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n", timeout=1)
    assert status_of(raw) == 200 and b'"path": "/u"' in raw


def _target_by_parse_url(url: bytes):
    """What Server._target gives without its plain origin-form shortcut: httptools.parse_url, a
    fragment refused (400) and an encoded slash not found (404)."""
    if b"#" in url:
        return "400"
    try:
        parts = httptools.parse_url(url)
    except httptools.HttpParserInvalidURLError:
        return "400"
    if b"%2f" in (parts.path or b"").lower():
        return "404"
    return unquote_to_bytes(parts.path or b"/").decode("latin-1"), parts.query or b""


def _target(url: bytes):
    req = Request()
    req.url = url
    try:
        return Server._target(req)
    except Reject as exc:
        return str(exc.status)


@pytest.mark.parametrize("url", [
    b"/sparql?query=ASK%7B%7D", b"/sparql", b"/sparql?", b"/a?b?c", b"//x/y?z",
    b"/sp%20arql?x=1", b"http://host:8000/sparql?query=1", b"/%E2%9C%93?q=%25",
])
def test_request_target_decoding(url):
    assert _target(url) == _target_by_parse_url(url) != "400"


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=40))
def test_request_target_shortcut_matches_parse_url(tail):
    """Any origin-form target the request parser accepts decodes as parse_url decodes it."""
    class Keep:
        url = None

        def on_url(self, url):
            self.url = (self.url or b"") + url

    keep = Keep()
    try:
        httptools.HttpRequestParser(keep).feed_data(b"GET /" + tail + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    except httptools.HttpParserError:
        return  # refused before any target is decoded
    assert _target(keep.url) == _target_by_parse_url(keep.url)


def _big_answer(size: int):
    """A WSGI app answering every request with ``size`` bytes."""
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(size))])
        return [b"x" * size]
    return app


def _ask(client: socket.socket, addr, request: bytes, buffer: int) -> None:
    """Send ``request`` from ``client``, whose receive buffer is ``buffer`` bytes."""
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer)
    client.connect(addr)
    client.sendall(request)


def test_a_steady_reader_above_the_minimum_rate_gets_the_whole_answer():
    """The minimum is PACED bytes per read_timeout (here 256 KB per 0.5 s). Deadlines on each send
    cut off readers far above it: the kernel wakes a blocked sender only once a third of its send
    buffer (up to 4 MB) is free, so a client reading 32 KB/s lost a 5 MB answer at 3.9 MB
    (hostile testing). A client reading 1.5 MB/s, three times the minimum, gets all 6 MB."""
    size = 6 << 20
    with running(_big_answer(size), read_timeout=0.5) as (_, addr), socket.socket() as client:
        _ask(client, addr, b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 65536)
        client.settimeout(5.0)
        got, start = 0, time.monotonic()
        while chunk := client.recv(16384):
            got += len(chunk)
            ahead = got / (1.5 * 2**20) - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
    assert got > size  # the head, then every byte of the body


def test_a_download_written_slowly_is_not_charged_to_its_client():
    """A streamed body whose writer takes longer than read_timeout between small parts reaches a
    client that reads at once: the wait for the writer is not the client's."""
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])

        def body():
            for _ in range(3):
                time.sleep(0.8)
                yield b"y" * 100_000
        return body()

    with running(app, read_timeout=0.5) as (_, addr):
        raw = exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert raw.endswith(b"0\r\n\r\n") and body_of(raw).count(b"y") == 300_000


def test_a_client_that_stops_reading_a_large_answer_is_dropped():
    """The client of a response beyond http.PACED bytes must take PACED bytes per read_timeout:
    ten clients reading 100 bytes every 5 s of 30 MB answers held every connection slot for as long
    as they liked (hostile testing). Here the client reads nothing for 2 s, then all it can: the server
    gave up after read_timeout, so the answer is cut and the connection closed."""
    size = 32 << 20
    with running(_big_answer(size), read_timeout=0.5) as (_, addr), socket.socket() as client:
        _ask(client, addr, b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n", 4096)
        time.sleep(2.0)
        client.settimeout(5.0)
        got = 0
        try:
            while chunk := client.recv(1 << 20):
                got += len(chunk)
        except ConnectionResetError:
            pass
    assert 0 < got < size


@pytest.mark.parametrize("request_bytes, status, message", [
    # authority-form is CONNECT's alone, and no tunnel is offered (RFC 9110 §9.3.6): it got 400
    # "not a valid URL" (the Oxigraph server panics on it)
    (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501,
     b"CONNECT is not implemented: this server is no proxy.\n"),
    # no fragment in a request target (RFC 9112 §3.2): the query after it was dropped
    (b"GET /sparql#f?query=ASK%7B%7D HTTP/1.1\r\nHost: x\r\n\r\n", 400,
     b"The request target has a fragment ('#'); a client sends none.\n"),
    (b"GET /sparql?query=ASK%7B%7D#f HTTP/1.1\r\nHost: x\r\n\r\n", 400,
     b"The request target has a fragment ('#'); a client sends none.\n"),
    # an encoded slash is no slash (RFC 3986 §2.2): /sparql%2F was answered as /sparql/
    (b"GET /sparql%2F?query=ASK%7B%7D HTTP/1.1\r\nHost: x\r\n\r\n", 404,
     b"Not found: an encoded '/' (%2F) names no resource here.\n"),
    (b"GET http://x/id%2f HTTP/1.1\r\nHost: x\r\n\r\n", 404,
     b"Not found: an encoded '/' (%2F) names no resource here.\n"),
])
def test_targets_a_resource_cannot_have(serve, request_bytes, status, message):
    """Hostile testing, round 9."""
    raw = exchange(serve(), request_bytes)
    assert status_of(raw) == status
    assert body_of(raw) == message and b"Connection: close" in raw


def test_an_encoded_character_other_than_slash_is_decoded(serve):
    raw = exchange(serve(), b"GET /sp%61rql HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(raw) == 200 and json.loads(body_of(raw))["path"] == "/sparql"


def test_a_pipelined_head_is_not_charged_with_the_body_before_it(serve):
    """A 40 KB head after a POST with a 40 KB body, sent so that one read holds the end of the
    body and the start of the head, got 431: the body's bytes were counted as head (hostile
    testing). The limit is 64 KB of head."""
    addr = serve()
    post = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 40000\r\n\r\n" + b"b" * 40000
    get = b"GET /b HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 40000 + b"\r\nConnection: close\r\n\r\n"
    with socket.create_connection(addr, timeout=5) as s:
        for part in (post + get[:100], get[100:30000], get[30000:]):
            s.sendall(part)
            time.sleep(0.2)
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    assert re.findall(rb"HTTP/1\.1 (\d{3}) ", raw) == [b"200", b"200"]


def test_connection_limit_answers_503_when_every_refusing_thread_is_busy():
    """Past the 16 threads that answer refusals and linger, a connection over the limit was closed
    with its request unread: reset, and the client never saw why (hostile testing)."""
    with running(echo_app, max_connections=1) as (server, addr):
        server._refusers = threading.BoundedSemaphore(1)
        server._refusers.acquire()  # every refusing thread busy
        with socket.create_connection(addr, timeout=5):
            time.sleep(0.2)
            for _ in range(5):
                raw = exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                assert status_of(raw) == 503 and b"Too many open connections (limit 1)" in body_of(raw)


def _slow_app(environ, start_response):
    """echo_app, after 0.5 s on /slow."""
    if environ["PATH_INFO"] == "/slow":
        time.sleep(0.5)
    return echo_app(environ, start_response)


def _read_to_close(s: socket.socket) -> bytes:
    """What the server sends until it closes (ConnectionResetError if it resets the connection)."""
    raw = b""
    while chunk := s.recv(65536):
        raw += chunk
    return raw


def test_a_request_sent_as_the_server_drains_is_answered_not_reset(monkeypatch):
    """When a serving process retires, a keep-alive connection that looked idle was shut at once:
    the request its client had just sent got a reset and no response (hostile testing: 4-5 lost
    requests over 3 retirements). A connection is closed only once it has been quiet for
    Server.QUIET; a request in that time is answered, with Connection: close."""
    monkeypatch.setattr(Server, "QUIET", 2.0)  # room for a loaded machine
    with running(echo_app) as (server, addr), socket.create_connection(addr, timeout=5) as s:
        s.sendall(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
        first = s.recv(65536)
        assert status_of(first) == 200 and b"Connection: close" not in first
        draining = threading.Thread(target=server.shutdown, args=(5.0,))
        server.accepting = False
        draining.start()
        time.sleep(0.1)
        s.sendall(b"GET /second HTTP/1.1\r\nHost: x\r\n\r\n")
        second = _read_to_close(s)
        draining.join(5)
    assert status_of(second) == 200 and b"Connection: close" in second
    assert json.loads(body_of(second))["path"] == "/second"


def test_a_request_pipelined_behind_the_last_one_answered_is_not_reset():
    """The last response of a draining server says Connection: close and the connection closes
    cleanly: a request pipelined behind it, unread, made the close a reset, which may also
    discard the response before the client reads it."""
    with running(_slow_app) as (server, addr), socket.create_connection(addr, timeout=5) as s:
        s.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)  # being answered
        draining = threading.Thread(target=server.shutdown, args=(5.0,))
        server.accepting = False
        draining.start()
        s.sendall(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.6)  # the response is sent, and the connection closed, before it is read
        raw = _read_to_close(s)
        draining.join(5)
    assert re.findall(rb"HTTP/1\.1 (\d{3}) ", raw) == [b"200"]
    assert b"Connection: close" in raw and json.loads(body_of(raw))["path"] == "/slow"


def test_a_request_begun_as_the_server_drains_holds_it_up_briefly_only():
    """One byte of a request sent as a drain began kept the retiring process for the whole grace
    (timeout + 5 s; 33 s to stop on SIGTERM: hostile testing): it is waited for a second at most."""
    with running(echo_app) as (server, addr), socket.create_connection(addr, timeout=5) as s:
        s.sendall(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(s.recv(65536)) == 200
        s.sendall(b"G")  # a request begun, never finished
        time.sleep(0.2)
        started = time.monotonic()
        server.shutdown(10.0)
        assert time.monotonic() - started < Server.UNFINISHED + 1.0
