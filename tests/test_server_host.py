"""The endpoint behind its own HTTP server, on the addresses it names and is reached at: the service
description's URLs follow the request's host (hostile testing: an empty Host made them
http:///sparql, and an absolute-form target's authority was ignored), and other spellings of
/sparql ("//sparql") are redirected to it, not answered 200 with an empty body."""

from __future__ import annotations


import pytest
from server_fixtures import close, make_app, raw_exchange, served_small
from werkzeug.test import Client


@pytest.fixture(scope="module")
def served():
    """The app over the small graph on a loopback port, with the direct path: (host, port)."""
    with served_small() as address:
        yield address


def exchange(addr, data: bytes) -> tuple[str, dict, bytes]:
    """Send one request; its status line, headers (by lower-case name) and body."""
    head, _, body = raw_exchange(addr, data).partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    return status, {k.lower(): v for k, _, v in (line.partition(": ") for line in lines)}, body


def get(addr, target: str, host: str | None = "x", version: str = "1.1", extra: str = "") -> tuple:
    head = f"GET {target} HTTP/{version}\r\n" + (f"Host: {host}\r\n" if host is not None else "")
    return exchange(addr, f"{head}{extra}Connection: close\r\n\r\n".encode())


def described(addr, target: str = "/sparql", **kw) -> tuple[bytes, bytes]:
    """The sd:endpoint and void:dataDump of the service description answered to the request."""
    status, _, body = get(addr, target, extra="Accept: application/n-triples\r\n", **kw)
    assert status == "HTTP/1.1 200 OK", body
    objects = {}
    for line in body.splitlines():
        _, p, o = line.split(b" ", 3)[:3]
        objects[p] = o
    return (objects[b"<http://www.w3.org/ns/sparql-service-description#endpoint>"],
            objects[b"<http://rdfs.org/ns/void#dataDump>"])


# ------------------------------------------------------------------ the service description's host

@pytest.mark.parametrize("target", ["/sparql", "/.well-known/void"])
def test_empty_host_describes_the_servers_own_address(served, target):
    """An empty Host (RFC 9112 §3.2: a target without authority) is no host: the address the
    client reached stands in, as for HTTP/1.0 without Host; it was http:///sparql."""
    own = f"http://127.0.0.1:{served[1]}".encode()
    assert described(served, target, host="") == (b"<%b/sparql>" % own, b"<%b/data>" % own)
    assert described(served, target, host=None, version="1.0") == (b"<%b/sparql>" % own,
                                                                   b"<%b/data>" % own)


@pytest.mark.parametrize("host, base", [
    ("endpoint.example:8311", b"http://endpoint.example:8311"),
    ("localhost:", b"http://localhost"),  # an empty port is the default one (RFC 3986 §6.2.3)
    ("[::1]:08311", b"http://[::1]:8311"),
    ("my_host:8311", None),  # a name werkzeug takes for no host: the server's own address
])
def test_host_names_the_described_urls(served, host, base):
    base = base or f"http://127.0.0.1:{served[1]}".encode()
    assert described(served, host=host) == (b"<%b/sparql>" % base, b"<%b/data>" % base)


def test_absolute_form_target_names_the_described_urls(served):
    """RFC 9112 §3.2.2: the server MUST ignore Host and use the target's authority."""
    assert described(served, "http://other.example:8080/sparql", host="localhost:8311") == (
        b"<http://other.example:8080/sparql>", b"<http://other.example:8080/data>")
    assert described(served, "http://other.example/.well-known/void", host=None, version="1.0") == (
        b"<http://other.example/sparql>", b"<http://other.example/data>")
    # an empty port, as in Host (it was "not a valid URL" here only: hostile testing)
    assert described(served, "http://ex.org:/.well-known/void", host="ex.org:") == (
        b"<http://ex.org/sparql>", b"<http://ex.org/data>")
    assert described(served, "http://[::1]:/sparql", host="x") == (
        b"<http://[::1]/sparql>", b"<http://[::1]/data>")


@pytest.mark.parametrize("host", ["x:abc", "x::", "[zz]", "a,b", "x:99999999"])
def test_invalid_host_is_400_not_a_description(served, host):
    status, _, body = get(served, "/sparql", host=host)
    assert status == "HTTP/1.1 400 Bad Request"
    assert body.startswith(f"The Host header {host!r} ".encode())


def test_werkzeugs_own_redirect_names_the_path(served):
    """/sparql// is redirected by werkzeug, whose Location named http://<Host>/…: plain http behind
    a TLS proxy (a 308 sends a POSTed query again, in the clear) and http:///sparql/ under an empty
    Host before. Without --base-url the Location is the path (RFC 9110 §10.2.2 allows a relative
    reference)."""
    for target, location in [("/sparql//?query=ASK%7B%7D", "/sparql/?query=ASK%7B%7D"),
                             ("/id//x", "/id/x")]:
        status, headers, _ = get(served, target, host="kg.example.org")
        assert (status, headers["location"]) == ("HTTP/1.1 308 Permanent Redirect", location)


@pytest.mark.parametrize("target, location", [
    ("/sparql//?query=ASK%7B%7D", "https://kg.example.org/sub/sparql/?query=ASK%7B%7D"),  # werkzeug's
    ("/id//x", "https://kg.example.org/sub/id/x"),
    ("//sparql?query=ASK%7B%7D", "https://kg.example.org/sub/sparql?query=ASK%7B%7D"),  # the app's
])
def test_redirects_go_under_the_base_url(target, location):
    """Behind a proxy at https://kg.example.org/sub/ (--base-url), a redirect named
    http://kg.example.org/… or /sparql: out of TLS, and out of the service (hostile testing)."""
    app = make_app(base_url="https://kg.example.org/sub/")
    try:
        path, _, query = target.partition("?")  # "//sparql" in PATH_INFO, as the server gives it
        resp = Client(app).get("/", query_string=query, headers={"Host": "kg.example.org"},
                               environ_overrides={"PATH_INFO": path})
        assert (resp.status_code, resp.headers["Location"]) == (308, location)
    finally:
        close(app)


# ------------------------------------------------------------------ //sparql

def _redirected(path: str, given: str) -> bytes:
    return f"308 Permanent Redirect: the endpoint is {path}, not {given}: send the request there.\n".encode()


@pytest.mark.parametrize("target, location, path, given", [
    ("//sparql?query=ASK%7B%7D", "/sparql?query=ASK%7B%7D", "/sparql", "//sparql"),
    ("///sparql?query=ASK%7B%7D&format=json", "/sparql?query=ASK%7B%7D&format=json", "/sparql",
     "///sparql"),
    ("//sparql/?query=ASK%7B%7D", "/sparql/?query=ASK%7B%7D", "/sparql/", "//sparql/"),
    ("//sparql", "/sparql", "/sparql", "//sparql"),  # the service description
])
def test_doubled_slash_is_redirected_to_the_endpoint(served, target, location, path, given):
    """A base URL ending in "/" joined to "/sparql" gives //sparql, which Flask's router read as
    /sparql and answered every query 200 with an empty body: a 308 to /sparql, query string kept
    (as werkzeug answers /sparql//), and the redirected request answers."""
    status, headers, body = get(served, target)
    assert (status, headers["location"], body) == ("HTTP/1.1 308 Permanent Redirect", location,
                                                   _redirected(path, given))
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert headers["access-control-allow-origin"] == "*"  # a browser may follow it
    status, _, body = get(served, location)
    assert status == "HTTP/1.1 200 OK" and body


def test_doubled_slash_post_and_head_are_redirected(served):
    """A 308 keeps the method and body (RFC 9110 §15.4.9): the POST is repeated at /sparql."""
    status, headers, body = exchange(served, b"POST //sparql HTTP/1.1\r\nHost: x\r\n"
                                             b"Content-Type: application/sparql-query\r\n"
                                             b"Content-Length: 6\r\nConnection: close\r\n\r\nASK {}")
    assert (status, headers["location"], body) == ("HTTP/1.1 308 Permanent Redirect", "/sparql",
                                                   _redirected("/sparql", "//sparql"))
    status, headers, body = exchange(served, b"HEAD //sparql/?query=ASK%7B%7D HTTP/1.1\r\nHost: x\r\n"
                                             b"Connection: close\r\n\r\n")
    assert (status, headers["location"], body) == ("HTTP/1.1 308 Permanent Redirect",
                                                   "/sparql/?query=ASK%7B%7D", b"")


@pytest.mark.parametrize("target", ["/sparql", "/sparql/", "//sparql", "///sparql/", "/sparql//",
                                    "/sparql///"])
def test_preflight_is_answered_at_every_spelling(served, target):
    """The CORS preflight cannot follow a redirect: it is answered where it is sent ("/sparql//"
    got the router's 308 to /sparql/)."""
    status, headers, body = exchange(served, f"OPTIONS {target} HTTP/1.1\r\nHost: x\r\n"
                                             "Origin: http://a.example\r\n"
                                             "Access-Control-Request-Method: POST\r\n"
                                             "Connection: close\r\n\r\n".encode())
    assert (status, body) == ("HTTP/1.1 200 OK", b"")
    assert headers["allow"] == "GET, HEAD, OPTIONS, POST"
    assert headers["access-control-allow-methods"] == "GET, HEAD, OPTIONS, POST"  # as Allow says


def test_doubled_slash_other_methods_are_405_as_at_the_endpoint(served):
    for target in ("/sparql", "//sparql"):
        status, headers, _ = exchange(served, f"PUT {target} HTTP/1.1\r\nHost: x\r\n"
                                              "Content-Length: 0\r\nConnection: close\r\n\r\n".encode())
        assert status == "HTTP/1.1 405 Method Not Allowed"
        assert headers["allow"] == "GET, HEAD, OPTIONS, POST"


def test_placeholder_never_answers_a_query_with_an_empty_200():
    """Without endpoint.SparqlFirst in front, /sparql itself reaches the placeholder view: an
    error naming it, not an empty 200 (nor a redirect to itself)."""
    app = make_app(engine="inline")
    try:
        resp = Client(app.wsgi_app.flask_wsgi).get("/sparql", query_string={"query": "ASK {}"})
        assert resp.status_code == 500 and "Location" not in resp.headers
        assert resp.data == b"500 Internal Server Error: /sparql was not answered by the query endpoint.\n"
    finally:
        close(app)


@pytest.mark.parametrize("headers, status, message", [
    (b"Content-Type: application/sparql-update\r\n", "403 Forbidden",
     b"SPARQL Update is not accepted: this endpoint is read-only.\n"),
    (b"Content-Type: text/plain\r\n", "415 Unsupported Media Type",
     b"Unsupported Content-Type 'text/plain' for POST; use application/x-www-form-urlencoded or "
     b"application/sparql-query.\n"),
    (b"Content-Type: application/sparql-query\r\nContent-Encoding: gzip\r\n", "415 Unsupported Media Type",
     b"Unsupported Content-Encoding 'gzip': send the request body uncompressed.\n"),
    (b"Content-Type: application/sparql-query; charset=latin1\r\n", "415 Unsupported Media Type",
     b"Unsupported charset 'latin1': send UTF-8.\n"),
])
def test_a_refusal_the_head_decides_comes_before_100_continue(served, headers, status, message):
    """A client waiting for 100 Continue got it, sent the body, then the refusal its headers had
    decided already (RFC 9110 §10.1.1: the final status instead). It is the one the app gives."""
    raw = raw_exchange(served, b"POST /sparql HTTP/1.1\r\nHost: x\r\n" + headers
                       + b"Content-Length: 6\r\nExpect: 100-continue\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status}\r\n".encode()) and b"100 Continue" not in raw
    assert body == message and head.endswith(b"\r\nConnection: close")
    if b"gzip" in headers:
        assert b"\r\nAccept-Encoding: identity\r\n" in head
    sent = exchange(served, b"POST /sparql HTTP/1.1\r\nHost: x\r\n" + headers
                    + b"Content-Length: 6\r\nConnection: close\r\n\r\nASK {}")  # without Expect
    assert (sent[0], sent[2]) == (f"HTTP/1.1 {status}", message)


def test_a_query_post_still_gets_100_continue(served):
    raw = raw_exchange(served, b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
                               b"Accept: text/csv\r\nContent-Length: 6\r\nExpect: 100-continue\r\n"
                               b"Connection: close\r\n\r\n", then=b"ASK {}")
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n") and raw.endswith(b"\r\n\r\ntrue")
