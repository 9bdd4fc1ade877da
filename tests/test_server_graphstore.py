"""/data: the SPARQL 1.1 Graph Store HTTP Protocol, read-only, with both engines and over HTTP."""

from __future__ import annotations

import socket
import threading

import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_fixtures import DATA, close, make_app, subject_heads

from msc_kg.server.http import Server

EX = "http://example.org/"


def graphs_store() -> ox.Store:
    """1 default-graph triple, named graphs ex:g1 (1 triple) and ex:g2 (2 triples)."""
    store = ox.Store()
    store.load(path=str(DATA / "graphs.trig"), format=ox.RdfFormat.TRIG)
    return store


@pytest.fixture(scope="module", params=["process", "inline"])
def app(request):
    app = make_app(graphs_store(), engine=request.param)
    yield app
    close(app)


@pytest.fixture()
def client(app):
    return app.test_client()


def triples(resp, fmt=ox.RdfFormat.TURTLE) -> set[tuple[str, str, str]]:
    return {(str(t.subject), str(t.predicate), str(t.object)) for t in ox.parse(resp.data, format=fmt)}


def test_default_graph_as_turtle(client):
    resp = client.get("/data?default")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/turtle; charset=utf-8"
    assert triples(resp) == {(f"<{EX}d>", f"<{EX}p>", '"default"')}


def test_named_graph_whole_in_the_negotiated_syntax(client):
    resp = client.get("/data", query_string={"graph": EX + "g2"}, headers={"Accept": "application/n-triples"})
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/n-triples; charset=utf-8"
    assert triples(resp, ox.RdfFormat.N_TRIPLES) == {
        (f"<{EX}s2>", f"<{EX}p>", '"two"'), (f"<{EX}s3>", f"<{EX}p>", '"three"')}
    xml = client.get("/data", query_string={"graph": EX + "g1"}, headers={"Accept": "application/rdf+xml"})
    assert triples(xml, ox.RdfFormat.RDF_XML) == {(f"<{EX}s1>", f"<{EX}p>", '"one"')}


def test_the_row_cap_does_not_cut_a_graph():
    app = make_app(graphs_store(), max_rows=1)
    try:
        resp = app.test_client().get("/data", query_string={"graph": EX + "g2"})
        assert resp.status_code == 200 and len(triples(resp)) == 2
    finally:
        close(app)


def test_format_parameter_stands_in_for_accept(client):
    resp = client.get("/data?default&format=nt", headers={"Accept": "text/turtle"})
    assert resp.headers["Content-Type"] == "application/n-triples; charset=utf-8"
    assert client.get("/data?output=trig").headers["Content-Type"] == "application/trig; charset=utf-8"


def test_dataset_as_nquads_by_default(client):
    resp = client.get("/data")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/n-quads; charset=utf-8"
    quads = {(str(q.subject), str(q.graph_name)) for q in ox.parse(resp.data, format=ox.RdfFormat.N_QUADS)}
    assert quads == {(f"<{EX}d>", "DEFAULT"), (f"<{EX}s1>", f"<{EX}g1>"),
                     (f"<{EX}s2>", f"<{EX}g2>"), (f"<{EX}s3>", f"<{EX}g2>")}


def test_dataset_is_not_offered_as_a_graph_syntax(client):
    resp = client.get("/data", headers={"Accept": "text/turtle"})
    assert resp.status_code == 406
    assert resp.get_data(as_text=True) == ("No acceptable format for the dataset; offered: "
                                           "application/n-quads, application/trig, application/ld+json, application/json.\n")


def test_unknown_graph_is_404(client):
    resp = client.get("/data", query_string={"graph": EX + "nope"})
    assert resp.status_code == 404
    assert resp.get_data(as_text=True) == f"The graph <{EX}nope> is not in this store.\n"


@pytest.mark.parametrize("query_string, message", [
    ("default&graph=http%3A%2F%2Fexample.org%2Fg1", "Give either ?default or ?graph=<IRI>, not both."),
    ("graph=http%3A%2F%2Fexample.org%2Fg1&graph=http%3A%2F%2Fexample.org%2Fg2",
     "Name one graph per request (?default or one ?graph=<IRI>)."),
    ("default=yes", "?default takes no value."),
    ("graph=g1", "Not a valid absolute IRI for ?graph: 'g1'"),
    ("defualt", "Unknown parameter(s) defualt: the graph store takes ?default or ?graph=<IRI> "
                "(or neither, for the whole dataset), and a format."),
    ("default&format=yaml", "Unknown result format 'yaml'; give a media type or one of json, xml, csv, "
                            "tsv, turtle, ttl, ntriples, n-triples, nt, rdfxml, rdf, rdf+xml, jsonld, "
                            "json-ld, nquads, n-quads, trig (or use the Accept header)."),
])
def test_malformed_requests_are_400(client, query_string, message):
    resp = client.get("/data?" + query_string)
    assert resp.status_code == 400
    assert resp.get_data(as_text=True) == message + "\n"


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE", "PATCH"])
def test_writes_are_405_read_only(client, method):
    resp = client.open("/data?default", method=method, data=b"<a:s> <a:p> <a:o> .",
                       headers={"Content-Type": "application/n-triples"})
    assert resp.status_code == 405 and resp.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert resp.get_data(as_text=True) == (f"{method} is not allowed: this graph store is read-only "
                                           "(allowed: GET, HEAD, OPTIONS).\n")
    assert len(triples(client.get("/data?default"))) == 1  # nothing was written


def test_etag_and_not_modified(client):
    first = client.get("/data?default")
    tag = first.headers["ETag"]
    assert first.headers["Cache-Control"].startswith("public, max-age=")
    again = client.get("/data?default", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == tag
    other = client.get("/data?default", headers={"Accept": "application/n-triples"})
    assert other.headers["ETag"] != tag  # a different representation


def test_head_over_http_has_the_get_length_and_no_body():
    app = make_app(graphs_store(), engine="inline")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    server = Server(app, sock, direct=app.wsgi_app.direct)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        def exchange(method: str) -> bytes:
            with socket.create_connection(sock.getsockname(), timeout=5) as s:
                s.sendall(f"{method} /data?graph=http%3A%2F%2Fexample.org%2Fg2 HTTP/1.1\r\nHost: t\r\n"
                          "Connection: close\r\n\r\n".encode())
                return b"".join(iter(lambda: s.recv(65536), b""))

        get, head = exchange("GET"), exchange("HEAD")
        get_head, body = get.split(b"\r\n\r\n", 1)
        assert get.startswith(b"HTTP/1.1 200") and head.startswith(b"HTTP/1.1 200")
        assert f"Content-Length: {len(body)}".encode() in get_head
        assert f"Content-Length: {len(body)}".encode() in head and head.endswith(b"\r\n\r\n")
        assert b'"three"' in body
    finally:
        server.accepting = False
        thread.join(2)
        server.shutdown(0.5)
        sock.close()
        close(app)


def test_union_default_graph_option_makes_the_default_graph_the_union():
    app = make_app(graphs_store(), union_default_graph=True)
    try:
        resp = app.test_client().get("/data?default", headers={"Accept": "application/n-triples"})
        assert {t[0] for t in triples(resp, ox.RdfFormat.N_TRIPLES)} == {
            f"<{EX}d>", f"<{EX}s1>", f"<{EX}s2>", f"<{EX}s3>"}
    finally:
        close(app)


def test_options_names_the_read_methods_for_cors(client):
    resp = client.options("/data", headers={"Origin": "http://a.example",
                                            "Access-Control-Request-Method": "GET"})
    assert resp.status_code == 200 and resp.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert resp.headers["Access-Control-Allow-Origin"] == "*"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.lists(st.sampled_from(["default", "graph", "format", "output", "results", "x", "",
                                     "http%3A%2F%2Fexample.org%2Fg1", "%FF", "%", "=", "&", "json",
                                     "nt", "a/b", "%00", "http://example.org/g2", "+", "<>"]),
                    max_size=8).map("".join),
       accept=st.sampled_from([None, "", "*/*", "text/turtle", "application/n-quads;q=0", "x"]))
def test_any_query_string_gets_an_answer_not_a_500(client, raw, accept):
    resp = client.get("/data?" + raw, headers={"Accept": accept} if accept is not None else {})
    assert resp.status_code in (200, 400, 404, 406), (raw, accept, resp.data[:200])


def test_the_whole_release_comes_back_uncut_by_default(store):
    """With the default row cap, SELECT * and the graph store both give every triple of the graph."""
    from msc_kg.server.app import create_app

    app = create_app(store, {"engine": "inline", "workers": 1})
    try:
        client = app.test_client()
        total = len(store)
        resp = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p ?o }"},
                          headers={"Accept": "text/tab-separated-values"})
        assert "X-SPARQL-Truncated" not in resp.headers
        assert resp.data.count(b"\n") - 1 == total > 17_000
        assert len(triples(client.get("/data?default", headers={"Accept": "application/n-triples"}),
                           ox.RdfFormat.N_TRIPLES)) == total
    finally:
        close(app)


PARSE_AS = {"text/plain": "application/n-triples", "application/json": "application/ld+json",
            "application/x-turtle": "text/turtle"}


@pytest.mark.parametrize("union", [False, True])
@pytest.mark.parametrize("sorted_max", [50_000, 1])  # 1: too large to sort, written as it streams
def test_every_offered_syntax_parses_back_to_the_graph(monkeypatch, union, sorted_max):
    from msc_kg.server import engine, negotiate

    monkeypatch.setattr(engine, "SORTED_MAX", sorted_max)
    app = make_app(graphs_store(), engine="inline", union_default_graph=union)
    try:
        client = app.test_client()
        for target, table, count in (("default", negotiate.GRAPH, 4 if union else 1),
                                     ("graph=http%3A%2F%2Fexample.org%2Fg2", negotiate.GRAPH, 2),
                                     ("", negotiate.DATASET, 4)):
            for media, _ in table:
                resp = client.get("/data?" + target, headers={"Accept": media})
                fmt = ox.RdfFormat.from_media_type(PARSE_AS.get(media, media))
                assert resp.status_code == 200 and len(list(ox.parse(resp.data, format=fmt))) == count, \
                    (target, media)
    finally:
        close(app)


def test_a_small_graph_is_written_grouped_by_subject(store):
    """The msc-kg graph as Turtle: every subject starts one block (the store's own order would
    scatter a subject's statements, 1.59 MB against 1.09 MB)."""
    from msc_kg.server.app import create_app

    app = create_app(store, {"engine": "inline", "workers": 1})
    try:
        body = app.test_client().get("/data?default").get_data(as_text=True)
        heads = subject_heads(body)
        assert len(heads) == len(set(heads)) > 1000
    finally:
        close(app)
