"""/data: the SPARQL 1.1 Graph Store HTTP Protocol, read-only, with both engines and over HTTP."""

from __future__ import annotations

import contextlib
import re
import socket
import threading

import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_fixtures import DATA, close, make_app, raw_exchange, serving, subject_heads


EX = "http://example.org/"
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"


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
    assert resp.headers["Vary"] == "Accept"  # the same URL gets a 406 with another Accept


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
                            "json-ld, nquads, n-quads, trig, html, n3 (or use the Accept header)."),
])
def test_malformed_requests_are_400(client, query_string, message):
    resp = client.get("/data?" + query_string)
    assert resp.status_code == 400
    assert resp.get_data(as_text=True) == message + "\n"


# PROPFIND and COPY: methods no route names (their Allow named the refused writes; hostile testing)
@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE", "PATCH", "PROPFIND", "COPY"])
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
    assert client.get("/data?default", headers={"If-Match": "*"}).status_code == 200
    failed = client.get("/data?default", headers={"If-Match": tag})  # weak: never matches strongly
    assert failed.status_code == 412 and failed.headers["ETag"] == tag
    assert failed.data.startswith(b"Precondition Failed: If-Match compares entity tags strongly")


def test_head_over_http_has_the_get_length_and_no_body():
    app = make_app(graphs_store(), engine="inline")
    try:
        with serving(app) as address:
            def exchange(method: str) -> bytes:
                return raw_exchange(address, f"{method} /data?graph=http%3A%2F%2Fexample.org%2Fg2 HTTP/1.1\r\n"
                                          "Host: t\r\nConnection: close\r\n\r\n".encode())

            get, head = exchange("GET"), exchange("HEAD")
        get_head, body = get.split(b"\r\n\r\n", 1)
        assert get.startswith(b"HTTP/1.1 200") and head.startswith(b"HTTP/1.1 200")
        assert f"Content-Length: {len(body)}".encode() in get_head
        assert f"Content-Length: {len(body)}".encode() in head and head.endswith(b"\r\n\r\n")
        assert b'"three"' in body
    finally:
        close(app)


def test_union_default_graph_option_makes_the_default_graph_the_union():
    app = make_app(graphs_store(), union_default_graph=True)
    try:
        resp = app.test_client().get("/data?default", headers={"Accept": "application/n-triples"})
        assert {t[0] for t in triples(resp, ox.RdfFormat.N_TRIPLES)} == {
            f"<{EX}d>", f"<{EX}s1>", f"<{EX}s2>", f"<{EX}s3>"}
    finally:
        close(app)


@pytest.mark.parametrize("union", [False, True])
def test_entity_pages_read_the_union_default_graph_when_it_is_served(union):
    """With --union-default-graph, an entity of a named graph has the page /sparql's answers
    lead to (it was a 404 "not in this graph": hostile testing); without it, it has none."""
    app = make_app(graphs_store(), engine="inline", union_default_graph=union)
    try:
        resp = app.test_client().get("/entity", query_string={"iri": f"{EX}s2"},
                                     headers={"Accept": "application/n-triples"})
        if union:
            assert resp.status_code == 200 and resp.data == f'<{EX}s2> <{EX}p> "two" .\n'.encode()
        else:
            assert resp.status_code == 404 and resp.data == f"404 Not Found: {EX}s2 is not in this graph.\n".encode()
    finally:
        close(app)


def test_an_entity_page_of_the_union_shows_a_statement_of_two_graphs_once():
    quads = (f'<{EX}a> <{EX}p> "twice" <{EX}g1> .\n<{EX}a> <{EX}p> "twice" <{EX}g2> .\n'
             f'<{EX}a> <{EX}q> <{EX}b> <{EX}g2> .\n<{EX}b> <{LABEL}> "bee" <{EX}g1> .\n'
             f'<{EX}b> <{LABEL}> "bee" <{EX}g2> .\n')
    store = ox.Store()
    store.load(quads.encode(), format=ox.RdfFormat.N_QUADS)
    app = make_app(store, engine="inline", union_default_graph=True)
    try:
        page = app.test_client().get("/entity", query_string={"iri": f"{EX}a"},
                                     headers={"Accept": "text/html"}).data
        assert page.count(b"twice") == 1 and page.count(b"bee") == 1
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
@pytest.mark.parametrize("stream_min", [None, 0])  # 0: sent in chunks while written (one byte each)
def test_every_offered_syntax_parses_back_to_the_graph(monkeypatch, union, sorted_max, stream_min):
    from msc_kg.server import engine, graphstore, negotiate, stream

    monkeypatch.setattr(engine, "SORTED_MAX", sorted_max)
    if stream_min is not None:
        monkeypatch.setattr(graphstore, "STREAM_MIN", stream_min)
        monkeypatch.setattr(stream, "CHUNK", 1)
    app = make_app(graphs_store(), engine="inline", union_default_graph=union)
    try:
        client = app.test_client()
        for target, table, count in (("default", negotiate.GRAPH, 4 if union else 1),
                                     ("graph=http%3A%2F%2Fexample.org%2Fg2", negotiate.GRAPH, 2),
                                     ("", negotiate.DATASET, 4)):
            for media, _ in table:
                resp = client.get("/data?" + target, headers={"Accept": media})
                fmt = ox.RdfFormat.from_media_type(PARSE_AS.get(media, media))
                parsed = list(ox.parse(resp.data, format=fmt))
                assert resp.status_code == 200 and len(parsed) == count, (target, media)
                if target != "":  # a graph, in the default graph of a dataset syntax (TriG put a
                    # named graph's statements in that graph, until it was too large to sort:
                    # hostile testing)
                    assert all(not isinstance(q, ox.Quad) or q.graph_name == ox.DefaultGraph()
                               for q in parsed), (target, media)
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


# ---------------------------------------------------------------- large graphs, sent as written
@pytest.fixture()
def streaming(monkeypatch):
    """server.py's engine over the graphs store, with every download large enough to stream, in
    chunks of 64 bytes, served over HTTP: (app, address)."""
    from msc_kg.server import graphstore, stream

    monkeypatch.setattr(graphstore, "STREAM_MIN", 0)
    monkeypatch.setattr(stream, "CHUNK", 64)
    app = make_app(graphs_store(), engine="inline", timeout=0.5, query_slots=4)
    try:
        with serving(app) as address:
            yield app, address
    finally:
        close(app)


def _streams_left(app, timeout: float = 2.0) -> tuple[int, int]:
    """(writer threads still running, free download slots) once writers have had ``timeout`` to end."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        writers = sum(t.name == "msc-kg-stream" for t in threading.enumerate())
        if not writers or time.monotonic() > deadline:
            return writers, app.extensions["msc_kg"].engine._downloads.qsize()
        time.sleep(0.02)


def test_large_graph_is_sent_chunked_while_written(streaming):
    import http.client

    app, address = streaming
    conn = http.client.HTTPConnection(*address, timeout=5)
    conn.request("GET", "/data", headers={"Accept": "application/n-quads"})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Transfer-Encoding") == "chunked"
    assert resp.getheader("Content-Length") is None and resp.getheader("ETag").startswith('W/"')
    body = resp.read()
    assert len(body) > 64  # several chunks
    assert len(list(ox.parse(body, format=ox.RdfFormat.N_QUADS))) == 4
    conn.request("GET", "/data?default", headers={"Accept": "application/n-triples"})  # kept alive
    again = conn.getresponse()
    assert again.status == 200 and again.read().startswith(b"<http://example.org/")
    conn.request("GET", "/data?graph=http%3A%2F%2Fexample.org%2Fg2", headers={"Accept": "text/turtle"})
    turtle = conn.getresponse().read().decode()
    assert turtle.startswith("@prefix rdf: ")  # written with the prefixes, in the store's order
    assert len(list(ox.parse(turtle.encode(), format=ox.RdfFormat.TURTLE))) == 2
    conn.close()
    assert _streams_left(app) == (0, 4)
    assert app.extensions["msc_kg"].cache.get(
        ("graph-store", None, ("application/n-quads", "nquads"))) is None  # not kept


def test_large_graph_to_http_10_client_ends_with_the_connection(streaming):
    _, address = streaming
    raw = raw_exchange(address, b"GET /data?default HTTP/1.0\r\nAccept: application/n-triples\r\n\r\n")
    head, body = raw.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200") and b"Connection: close" in head
    assert b"Transfer-Encoding" not in head and b"Content-Length" not in head
    assert len(list(ox.parse(body, format=ox.RdfFormat.N_TRIPLES))) == 1


def test_large_graph_head_and_304_write_nothing(streaming):
    app, address = streaming
    head = raw_exchange(address, b"HEAD /data?default HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and head.endswith(b"\r\n\r\n")
    assert b"Content-Length" not in head and b"Transfer-Encoding" not in head and b"ETag: W/" in head
    tag = [line for line in head.split(b"\r\n") if line.startswith(b"ETag: ")][0][6:]
    unchanged = raw_exchange(address, b"GET /data?default HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                                   b"If-None-Match: " + tag + b"\r\n\r\n")
    assert unchanged.startswith(b"HTTP/1.1 304") and unchanged.endswith(b"\r\n\r\n")
    assert _streams_left(app, 0) == (0, 4)


def test_large_graph_client_leaving_stops_the_writer(streaming, monkeypatch):
    """A client that goes after the first chunks: the writer stops and its query slot is freed."""
    from msc_kg.server import graphstore

    app, address = streaming

    def endless(store, graph, fmt, union, output, large):
        while True:
            output.write(b"<http://example.org/s> <http://example.org/p> <http://example.org/o> .\n")

    monkeypatch.setattr(graphstore, "write_graph", endless)
    with socket.create_connection(address, timeout=5) as s:
        s.sendall(b"GET /data?default HTTP/1.1\r\nHost: t\r\nAccept: application/n-triples\r\n\r\n")
        assert s.recv(65536).startswith(b"HTTP/1.1 200")
    assert _streams_left(app, 5.0) == (0, 4)


def test_large_graph_failing_part_way_is_cut_not_finished(streaming, monkeypatch, capsys):
    """An error after the head: the body has no last chunk and the connection closes, so the
    client sees an incomplete response rather than a short graph."""
    import http.client

    from msc_kg.server import graphstore

    app, address = streaming

    def failing(store, graph, fmt, union, output, large):
        output.write(b"<http://example.org/s> <http://example.org/p> <http://example.org/o> .\n" * 3)
        raise OSError("disk on fire")

    monkeypatch.setattr(graphstore, "write_graph", failing)
    conn = http.client.HTTPConnection(*address, timeout=5)
    conn.request("GET", "/data?default", headers={"Accept": "application/n-triples"})
    resp = conn.getresponse()
    assert resp.status == 200
    with pytest.raises(http.client.IncompleteRead):
        resp.read()
    conn.close()
    assert "disk on fire" in capsys.readouterr().err
    assert _streams_left(app) == (0, 4)


def test_large_graph_without_a_free_download_slot_is_503_before_any_byte_and_queries_go_on(streaming):
    """Downloads have slots of their own: clients reading them slowly (here: every slot taken)
    hold up other downloads, not queries."""
    app, address = streaming
    slots = app.extensions["msc_kg"].engine._downloads
    taken = [slots.get() for _ in range(4)]
    try:
        raw = raw_exchange(address, b"GET /data?default HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        query = raw_exchange(address, b"GET /sparql?query=ASK%7B%7D HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                                   b"Accept: application/sparql-results+json\r\n\r\n")
    finally:
        for token in taken:
            slots.put(token)
    assert raw.startswith(b"HTTP/1.1 503") and b"Retry-After: 5" in raw
    assert b"All 4 download slots of this server process stayed busy for 0.5 s" in raw
    assert query.startswith(b"HTTP/1.1 200") and query.endswith(b'"boolean":true}')


def test_large_graph_missing_named_graph_is_still_404(streaming):
    _, address = streaming
    raw = raw_exchange(address, b"GET /data?graph=http%3A%2F%2Fexample.org%2Fnope HTTP/1.1\r\nHost: t\r\n"
                             b"Connection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 404") and b"The graph <http://example.org/nope> is not in this store." in raw


@contextlib.contextmanager
def quads_client(monkeypatch, stream_min: int, nquads: bytes):
    """A test client of the inline engine over ``nquads``, which streams the downloads of more than
    ``stream_min`` statements."""
    from msc_kg.server import graphstore

    monkeypatch.setattr(graphstore, "STREAM_MIN", stream_min)
    store = ox.Store()
    store.load(nquads, format=ox.RdfFormat.N_QUADS)
    app = make_app(store, engine="inline")
    try:
        yield app.test_client()
    finally:
        close(app)


@pytest.mark.parametrize("stream_min", [10**9, 0])
def test_rdfxml_of_a_graph_xml_cannot_carry_is_406(monkeypatch, stream_min):
    """A literal holding U+0001 or U+FFFE makes Oxigraph's RDF/XML malformed (it writes them raw):
    the download is refused naming the character, streamed (checked by a query before the first
    byte) or not (the written body searched), as /sparql refuses such an answer; other graphs and
    syntaxes are served (they were served malformed: hostile testing)."""
    with quads_client(monkeypatch, stream_min,
                      b'<http://example.org/s> <http://example.org/p> "a\\u0001b" .\n'
                      b'<http://example.org/s> <http://example.org/p> "fine" <http://example.org/ok> .\n'
                      b'<http://example.org/s> <http://example.org/p> "c\\uFFFEd" <http://example.org/bad> .\n') as client:
        xml = {"Accept": "application/rdf+xml"}
        for graph, char in (("default", "0001"), ("graph=http://example.org/bad", "FFFE")):
            for _ in range(2):  # the second time from what the first learnt
                resp = client.get(f"/data?{graph}", headers=xml)
                assert resp.status_code == 406, graph
                assert resp.get_data(as_text=True) == (
                    f"No acceptable format: the answer holds U+{char}, a character XML 1.0 cannot "
                    "carry, even escaped; ask for Turtle or N-Triples.\n")
        ok = client.get("/data?graph=http://example.org/ok", headers=xml)
        assert ok.status_code == 200 and triples(ok, ox.RdfFormat.RDF_XML) == {
            (f"<{EX}s>", f"<{EX}p>", '"fine"')}
        turtle = client.get("/data?default", headers={"Accept": "text/turtle"})
        assert turtle.status_code == 200 and triples(turtle) == {(f"<{EX}s>", f"<{EX}p>", '"a\\u0001b"')}


@pytest.mark.parametrize("stream_min", [10**9, 0])
def test_downloads_a_syntax_cannot_carry_are_406(monkeypatch, stream_min):
    """A property RDF/XML cannot name and a triple term JSON-LD cannot carry: the download is
    refused naming the reason, streamed (found by a query before the first byte) or not (found in
    the written body); it was served malformed with 200, or failed with 500 (hostile testing)."""
    with quads_client(monkeypatch, stream_min,
                      b'<http://example.org/s> <http://example.org/123> "o" .\n'
                      b'<http://example.org/s> <http://example.org/p> <<( <http://example.org/a> '
                      b'<http://example.org/b> "c" )>> <http://example.org/g> .\n') as client:
        for target, accept, reason in (
                ("/data?default", "application/rdf+xml",
                 "uses <http://example.org/123>, which RDF/XML cannot write as an element: no XML name "
                 "ends the IRI"),
                ("/data?graph=http://example.org/g", "application/ld+json",
                 "holds RDF 1.2 triple terms, which JSON-LD cannot carry"),
                ("/data", "application/ld+json", "holds RDF 1.2 triple terms, which JSON-LD cannot carry")):
            resp = client.get(target, headers={"Accept": accept})
            assert resp.status_code == 406, target
            assert resp.get_data(as_text=True) == (f"No acceptable format: the answer {reason}; ask "
                                                   "for Turtle or N-Triples.\n")
        assert client.get("/data?default", headers={"Accept": "application/ld+json"}).status_code == 200
        assert client.get("/data?graph=http://example.org/g",
                          headers={"Accept": "application/rdf+xml"}).status_code == 200


@pytest.mark.parametrize("stream_min", [10**9, 0])
@pytest.mark.parametrize("term, reason", [
    ("li", "uses an RDF/XML syntax term (rdf:li, rdf:Description, rdf:about, rdf:ID, rdf:nodeID, "
           "rdf:resource, rdf:datatype, rdf:parseType or rdf:RDF) as a property, which RDF/XML cannot write"),
    ("bagID", "uses rdf:aboutEach, rdf:aboutEachPrefix or rdf:bagID as a property or class, which "
              "RDF/XML forbids as an element"),
    ("http://www.w3.org/2000/xmlns/x", "uses <http://www.w3.org/2000/xmlns/x>, which RDF/XML cannot write "
                                       "as an element: XML reserves its namespace and prefix for namespace declarations"),
])
def test_downloads_using_rdfxml_syntax_terms_as_properties_are_406(monkeypatch, stream_min, term, reason):
    """rdf:li as a property got 502 "query evaluation failed", and rdf:bagID or an xmlns: property
    200 with RDF/XML no parser reads (hostile testing); either is refused naming why, and Turtle
    answers when acceptable."""
    rdf = "" if ":" in term else "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
    with quads_client(monkeypatch, stream_min, f'<http://example.org/s> <{rdf}{term}> "x" .\n'.encode()) as client:
        resp = client.get("/data?default", headers={"Accept": "application/rdf+xml"})
        assert resp.status_code == 406 and resp.get_data(as_text=True) == (
            f"No acceptable format: the answer {reason}; ask for Turtle or N-Triples.\n")
        turtle = client.get("/data?default", headers={"Accept": "application/rdf+xml, text/turtle;q=0.5"})
        assert turtle.status_code == 200 and turtle.headers["Content-Type"].startswith("text/turtle")


@pytest.mark.parametrize("stream_min", [10**9, 0])
@pytest.mark.parametrize("nested, reason", [
    (b'<<( <http://example.org/c> <http://example.org/d> "bad\\u0001x" )>>',
     "holds U+0001, a character XML 1.0 cannot carry, even escaped"),
    (b'<<( <http://example.org/c> <http://example.org/456> <http://example.org/d> )>>',
     "uses <http://example.org/456>, which RDF/XML cannot write as an element: no XML name ends the IRI"),
])
def test_what_rdfxml_cannot_carry_is_found_in_nested_triple_terms(monkeypatch, stream_min, nested, reason):
    """A streamed download looked one level into triple terms: a literal or a property two levels
    in went out as RDF/XML no XML parser reads, with 200 (hostile testing). Found at any depth now,
    streamed or not, and Turtle answers where it is acceptable."""
    with quads_client(monkeypatch, stream_min,
                      b'<http://example.org/z> <http://example.org/q> <<( <http://example.org/a> '
                      b'<http://example.org/b> ' + nested + b' )>> .\n') as client:
        refused = client.get("/data?default", headers={"Accept": "application/rdf+xml"})
        assert refused.status_code == 406
        assert refused.get_data(as_text=True) == (f"No acceptable format: the answer {reason}; ask for "
                                                  "Turtle or N-Triples.\n")
        fallback = client.get("/data?default", headers={"Accept": "application/rdf+xml, text/turtle;q=0.5"})
        assert fallback.status_code == 200 and fallback.content_type == "text/turtle; charset=utf-8"


def test_too_many_nested_triple_terms_to_look_through_are_not_streamed_as_rdfxml(monkeypatch):
    from msc_kg.server import graphstore

    monkeypatch.setattr(graphstore, "NESTED_MAX", 2)
    monkeypatch.setattr(graphstore, "_NESTED", graphstore._NESTED.replace("LIMIT 10001", "LIMIT 3"))
    quads = b"".join(b'<http://example.org/z%d> <http://example.org/q> <<( <http://example.org/a> '
                     b'<http://example.org/b> <<( <http://example.org/c> <http://example.org/d> "x" )>> )>> .\n'
                     % i for i in range(3))
    with quads_client(monkeypatch, 0, quads) as client:
        resp = client.get("/data?default", headers={"Accept": "application/rdf+xml"})
        assert resp.status_code == 406 and "more than 10000 statements with nested triple terms" in \
            resp.get_data(as_text=True)


def test_a_client_that_stops_reading_frees_its_download_slot(monkeypatch):
    """A chunk not taken whole within the read timeout ends the download: the kernel's send timeout
    counts from the last progress, and a client that stopped reading held its slot three times
    the timeout (90 s at the default 30 s: hostile testing) as the kernel took a little more now
    and then."""
    import time

    from msc_kg.server import graphstore

    monkeypatch.setattr(graphstore, "STREAM_MIN", 0)
    store = ox.Store()
    store.extend(ox.Quad(ox.NamedNode(f"{EX}s{i}"), ox.NamedNode(f"{EX}p"), ox.Literal("x" * 100),
                         ox.DefaultGraph()) for i in range(100_000))  # 15 MB: more than buffers hold
    app = make_app(store, engine="inline", query_slots=4)
    try:
        with serving(app, read_timeout=2.0) as address:
            slots = app.extensions["msc_kg"].engine._downloads
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.connect(address)
                s.sendall(b"GET /data?default HTTP/1.1\r\nHost: t\r\nAccept: application/n-triples\r\n\r\n")
                s.recv(100)  # the head came: the download holds a slot
                start = time.monotonic()
                while slots.qsize() < 4 and time.monotonic() - start < 30:
                    time.sleep(0.05)
                took = time.monotonic() - start
        assert slots.qsize() == 4 and took < 10, took  # 2 s and the writer's stop; 30+ before
    finally:
        close(app)


@pytest.mark.parametrize("stream_min", [10**9, 0])
def test_rdfxml_downloads_name_blank_nodes_and_classes_as_xml_can(monkeypatch, stream_min):
    """Oxigraph wrote a blank node's label as its rdf:nodeID, and one kept from an N-Triples file may
    start with a digit, which an XML name may not (its own parser refused them); and a class with no
    XML-name ending as a typed node named "oxprefix:". Streamed or not, labels get a prefix, and such
    a class is written as an rdf:type property (it got 406, though RDF/XML carries it: endpoint
    audit), while a property with no XML-name ending is refused, before the preconditions."""
    with quads_client(monkeypatch, stream_min,
                      b'_:1a <http://example.org/p> _:2b .\n<http://example.org/s> <http://example.org/q> _:1a .\n'
                      b'<http://example.org/t> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://example.org/C> <http://example.org/ok> .\n'
                      b'<http://example.org/t> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://example.org/123> <http://example.org/bad> .\n') as client:
        xml = {"Accept": "application/rdf+xml"}
        body = client.get("/data?default", headers=xml).data
        ids = re.findall(rb'rdf:nodeID="([^"]*)"', body)
        assert len(ids) == 3 and all(i.startswith(b"b") for i in ids)
        parsed = list(ox.parse(body, format=ox.RdfFormat.RDF_XML))  # it refused 'rdf:nodeID="1…"'
        assert len(parsed) == 2 and len({q.object for q in parsed}) == 2
        assert client.get("/data?graph=http://example.org/ok", headers=xml).status_code == 200
        typed = client.get("/data?graph=http://example.org/bad", headers=xml)
        assert typed.status_code == 200 and b"oxprefix" not in typed.data
        assert b'<rdf:type rdf:resource="http://example.org/123"/>' in typed.data
        assert {(str(t.subject), str(t.object)) for t in ox.parse(typed.data, format=ox.RdfFormat.RDF_XML)} == {
            ("<http://example.org/t>", "<http://example.org/123>")}
    with quads_client(monkeypatch, stream_min,
                      b'<http://example.org/t> <http://example.org/123> "x" <http://example.org/bad> .\n') as client:
        for extra in ({}, {"If-None-Match": "*"}, {"If-Match": '"x"'}):
            bad = client.get("/data?graph=http://example.org/bad", headers={**xml, **extra})
            assert bad.status_code == 406, extra
            assert bad.get_data(as_text=True) == (
                "No acceptable format: the answer uses <http://example.org/123>, which RDF/XML cannot "
                "write as an element: no XML name ends the IRI; ask for Turtle or N-Triples.\n")


def test_format_parameters_naming_one_format_agree(client):
    """``output=ntriples&format=nt`` were refused as disagreeing (hostile testing)."""
    resp = client.get("/data?default&output=ntriples&format=nt")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/n-triples; charset=utf-8"
    bad = client.get("/data?default&output=ntriples&format=turtle")
    assert bad.status_code == 400 and bad.get_data(as_text=True) == (
        "The format parameters disagree (ntriples, turtle); give one format.\n")


def test_each_media_type_of_one_syntax_keeps_its_own_content_type(client):
    """text/plain and application/n-triples are one syntax written alike, but the cache kept the
    first one's Content-Type (and entity tag) for both."""
    plain = client.get("/data?default", headers={"Accept": "text/plain"})
    nt = client.get("/data?default", headers={"Accept": "application/n-triples"})
    assert plain.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert nt.headers["Content-Type"] == "application/n-triples; charset=utf-8"
    assert plain.data == nt.data and plain.headers["ETag"] != nt.headers["ETag"]


@pytest.mark.parametrize("stream_min", [10**9, 0])
def test_downloads_fall_back_to_an_acceptable_syntax_that_carries_them(monkeypatch, stream_min):
    """A download the preferred syntax cannot carry got 406 although Accept took another too
    (hostile testing): the best acceptable syntax left answers, streamed (checked before the first
    byte) or not, with that syntax's entity tag; 406 when a format parameter named the syntax."""
    with quads_client(monkeypatch, stream_min,
                      b'<http://example.org/s> <http://example.org/123> "a\\u0001b" .\n'
                      b'<http://example.org/s> <http://example.org/p> <<( <http://example.org/a> '
                      b'<http://example.org/b> "c" )>> <http://example.org/g> .\n') as client:
        for target, accept, ctype, fmt in (
                ("/data?default", "application/rdf+xml, text/turtle;q=0.5", "text/turtle; charset=utf-8",
                 ox.RdfFormat.TURTLE),
                ("/data?default", "application/rdf+xml, */*;q=0.1", "text/turtle; charset=utf-8",
                 ox.RdfFormat.TURTLE),
                ("/data?graph=http://example.org/g", "application/ld+json, application/n-triples;q=0.5",
                 "application/n-triples; charset=utf-8", ox.RdfFormat.N_TRIPLES),
                ("/data", "application/ld+json, */*;q=0.1", "application/n-quads; charset=utf-8",
                 ox.RdfFormat.N_QUADS)):
            for _ in range(2):  # the second time from what the first learnt
                resp = client.get(target, headers={"Accept": accept})
                assert resp.status_code == 200 and resp.headers["Content-Type"] == ctype, target
                assert resp.headers["Vary"] == "Accept" and len(list(ox.parse(resp.data, format=fmt)))
            own = client.get(target, headers={"Accept": ctype.split(";")[0]})
            assert own.headers["ETag"] == resp.headers["ETag"]
            assert client.get(target, headers={"Accept": accept,
                                               "If-None-Match": resp.headers["ETag"]}).status_code == 304
        named = client.get("/data?default&format=rdfxml", headers={"Accept": "*/*"})
        assert named.status_code == 406 and named.get_data(as_text=True) == (
            "No acceptable format: the answer holds U+0001, a character XML 1.0 cannot carry, even "
            "escaped; ask for Turtle or N-Triples.\n")
