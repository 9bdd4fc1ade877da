"""The server's direct path for /sparql queries (msc_kg.server.endpoint.SparqlFirst.direct) answers
exactly as the WSGI path does: same status, headers and body, request by request."""

from __future__ import annotations

import socket
import threading
from urllib.parse import quote

import pytest
from server_fixtures import close, make_app, raw_exchange

from msc_kg.server.http import Server

Q = "SELECT ?s ?o WHERE { ?s ?p ?o } ORDER BY ?s ?o"
FORM = "application/x-www-form-urlencoded"


def _get(query: str | None = None, extra: str = "", headers: str = "") -> bytes:
    target = "/sparql" + (f"?query={quote(query)}" if query is not None else "") + extra
    return f"GET {target} HTTP/1.1\r\nHost: t\r\n{headers}Connection: close\r\n\r\n".encode()


def _post(body: str, ctype: str, target: str = "/sparql", headers: str = "") -> bytes:
    data = body.encode("utf-8")
    return (f"POST {target} HTTP/1.1\r\nHost: t\r\nContent-Type: {ctype}\r\n{headers}"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode() + data


REQUESTS = {
    "select json": _get(Q, headers="Accept: application/sparql-results+json\r\n"),
    "select csv": _get(Q, headers="Accept: text/csv\r\n"),
    "select xml by q-values": _get(Q, headers="Accept: text/csv;q=0.5, application/sparql-results+xml\r\n"),
    "two Accept headers": _get(Q, headers="Accept: text/nothing\r\nAccept: text/tab-separated-values\r\n"),
    "ask": _get("ASK { ?s ?p ?o }"),
    "construct": _get("CONSTRUCT WHERE { ?s ?p ?o }", headers="Accept: application/n-triples\r\n"),
    "describe turtle": _get("DESCRIBE <https://w3id.org/msc-kg/id/thing-a>", headers="Accept: text/turtle\r\n"),
    "post form": _post("query=" + quote(Q), FORM),
    "post form with charset": _post("query=" + quote(Q), FORM + "; charset=UTF-8"),
    "post direct": _post(Q, "application/sparql-query"),
    "post direct with dataset": _post(Q, "application/sparql-query",
                                      "/sparql?default-graph-uri=" + quote("http://example.org/g")),
    "dataset params": _get(Q, "&named-graph-uri=" + quote("http://example.org/g")),
    "malformed query": _get("SELECT WHERE {"),
    "missing query": _post("", FORM),
    "empty query": _get(""),
    "repeated query": _get(Q, "&query=ASK%7B%7D"),
    "update": _post("INSERT DATA { <a:b> <a:c> <a:d> }", "application/sparql-update"),
    "update keyword": _get("DELETE WHERE { ?s ?p ?o }"),
    "service": _get("SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }"),
    "wrong content type": _post(Q, "text/plain"),
    "compressed body": _post(Q, "application/sparql-query", headers="Content-Encoding: gzip\r\n"),
    "wrong charset": _post(Q, "application/sparql-query; charset=latin-1"),
    "not utf-8": _get(None, "?query=ASK%FF"),
    "bad graph iri": _get(Q, "&default-graph-uri=nope"),
    "graph result refused": _get("CONSTRUCT WHERE { ?s ?p ?o }",
                                 headers="Accept: application/sparql-results+json\r\n"),
    "nothing acceptable": _get(Q, headers="Accept: image/png\r\n"),
    "not modified": _get(Q, headers="If-None-Match: *\r\n"),
    "no etag match": _get(Q, headers='If-None-Match: "x"\r\n'),
    "if-match any": _get(Q, headers="If-Match: *\r\n"),
    "if-match a tag": _get(Q, headers='If-Match: "x"\r\n'),
    "volatile": _get("SELECT (STRLEN(STRUUID()) AS ?n) WHERE {}"),
    "service description": _get(None, headers="Accept: text/turtle\r\n"),
    "head": _get(Q).replace(b"GET", b"HEAD", 1),
    "encoded path": _get(Q).replace(b"/sparql", b"/%73parql", 1),
    "trailing slash": _get(Q).replace(b"/sparql", b"/sparql/", 1),
    "post direct, trailing slash": _post(Q, "application/sparql-query", "/sparql/"),
}


@pytest.fixture(scope="module")
def servers():
    """Two servers over one app: one with the direct path, one WSGI only."""
    app = make_app(engine="inline")
    started = []
    for direct in (app.wsgi_app.direct, None):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        server = Server(app, sock, direct=direct)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append((server, sock))
    yield [sock.getsockname() for _, sock in started]
    for server, sock in started:
        server.accepting = False
        server.shutdown(0.5)
        sock.close()
    close(app)


def _exchange(addr, data: bytes) -> tuple[str, list[str], bytes]:
    head, _, body = raw_exchange(addr, data).partition(b"\r\n\r\n")
    status, *headers = head.decode("latin-1").split("\r\n")
    return status, sorted(h for h in headers if not h.startswith("Date:")), body


@pytest.mark.parametrize("name", REQUESTS)
def test_direct_and_wsgi_paths_answer_alike(servers, name):
    direct, wsgi = (_exchange(addr, REQUESTS[name]) for addr in servers)
    if name == "volatile":  # a fresh UUID each time: compare all but the body's value
        direct = direct[:2] + (len(direct[2]),)
        wsgi = wsgi[:2] + (len(wsgi[2]),)
    assert direct == wsgi
    assert direct[0].split()[1] in {"200", "304", "400", "403", "406", "412", "415"}
    if name == "head":  # the GET's headers, without its body
        get = _exchange(servers[0], _get(Q))
        assert direct[0] == get[0] and direct[1] == get[1] and direct[2] == b"" != get[2]
    if name == "not modified":  # no content, so no Content-Length (RFC 9110 §8.6)
        assert direct[0] == "HTTP/1.1 304 Not Modified" and direct[2] == b""
        assert not any(h.startswith("Content-") for h in direct[1])


def test_direct_path_is_taken(servers):
    """A query the WSGI app cannot see still gets its answer on the direct server."""
    calls = []
    app = make_app(engine="inline")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)

    def wsgi(environ, start_response):
        calls.append(environ["PATH_INFO"])
        return app(environ, start_response)

    server = Server(wsgi, sock, direct=app.wsgi_app.direct)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        status, _, body = _exchange(sock.getsockname(), _get("ASK {}"))
        assert status == "HTTP/1.1 200 OK" and b'"boolean":true' in body.replace(b" ", b"")
        assert calls == []
        status, _, _ = _exchange(sock.getsockname(), _get(None))  # service description: WSGI
        assert status == "HTTP/1.1 200 OK" and calls == ["/sparql"]
    finally:
        server.accepting = False
        server.shutdown(0.5)
        sock.close()
        close(app)
