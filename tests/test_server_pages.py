"""Service description, landing page, entity pages, /health and CORS."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyoxigraph as ox
import pytest
from server_fixtures import (  # noqa: F401
    DATA, SMALL_TRIPLES, answer, close, make_app, server_app, server_client, subject_heads,
)

from msc_kg import paths
from msc_kg.server import pages

SD = "http://www.w3.org/ns/sparql-service-description#"
ID = "https://w3id.org/msc-kg/id/"
VOID = "http://rdfs.org/ns/void#"


def sd_value(body: bytes, prop: str) -> str:
    store = ox.Store()
    store.load(body, format=ox.RdfFormat.TURTLE)
    q = f"SELECT ?v WHERE {{ ?ds a <{SD}Dataset> ; <{prop}> ?v }}"
    return next(iter(store.query(q)))["v"].value


def test_service_description_turtle_with_void(server_client):
    """The VoID counts are in the VoID document; the service description at the endpoint names it
    and carries none: Comunica, federating, planned from them and sent one query per binding
    (client interop audit)."""
    sd = server_client.get("/sparql")
    assert sd.status_code == 200 and sd.headers["Content-Type"] == "text/turtle; charset=utf-8"
    assert b"sd:endpoint <http://localhost/sparql>" in sd.data
    assert sd_value(sd.data, "http://www.w3.org/2000/01/rdf-schema#seeAlso") == "http://localhost/.well-known/void"
    assert b"void:triples" not in sd.data and b"void:propertyPartition" not in sd.data
    resp = server_client.get("/.well-known/void")
    assert sd_value(resp.data, VOID + "triples") == str(SMALL_TRIPLES)
    assert sd_value(resp.data, VOID + "entities") == "6"
    assert sd_value(resp.data, VOID + "classes") == "2"
    assert sd_value(resp.data, VOID + "properties") == "5"
    assert sd_value(resp.data, VOID + "distinctSubjects") == "6"
    assert sd_value(resp.data, VOID + "distinctObjects") == "11"  # msc:Thing is the object twice
    assert sd_value(resp.data, VOID + "dataDump") == "http://localhost/data"  # the graph store


def test_robots_keep_crawlers_off_queries_and_graph_downloads_but_not_the_dump(server_client):
    resp = server_client.get("/robots.txt")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    # the dump VoID names (void:dataDump, /data) is allowed: the longest rule matching wins
    assert resp.get_data(as_text=True) == ("User-agent: *\nDisallow: /sparql\nAllow: /data$\n"
                                           "Disallow: /data\n")


def test_base_url_names_the_services_public_address():
    """Behind a TLS proxy the service description named http://host/sparql, from the request
    (linked-data review): --base-url gives the address clients use, whatever Host says."""
    from msc_kg.server.serve import build_parser

    parse = build_parser().parse_args
    assert parse(["--base-url", "https://kg.example.org/msc"]).base_url == "https://kg.example.org/msc/"
    assert parse(["--base-url", "HTTPS://KG.Example.org:8443/x"]).base_url == "https://kg.example.org:8443/x/"
    assert parse([]).base_url is None
    for bad in ("kg.example.org", "ftp://kg.example.org/", "https://kg.example.org/?a=1", "https://a b/",
                "https://kg.example.org/?", "https://kg.example.org/#", "https://user:pw@kg.example.org/",
                "https://kg.example.org:0/", "https://kg.example.org:99999/", "https://kg.example.org:/",
                "https://:443/", "https:///x", "https://kg.example.org/a/../kg", "http://-/", "http://./",
                "http://[::1"):
        with pytest.raises(SystemExit):
            parse(["--base-url", bad])
    app = make_app(base_url="https://kg.example.org/msc/")
    try:
        for path in ("/sparql", "/.well-known/void"):
            body = app.test_client().get(path, headers={"Host": "evil.example"}).data
            assert b"sd:endpoint <https://kg.example.org/msc/sparql>" in body
            assert sd_value(body, VOID + "dataDump") == "https://kg.example.org/msc/data"
            assert b"evil.example" not in body
    finally:
        close(app)


@pytest.mark.parametrize("path, accept", [("/id/thing-a", "text/html"), ("/id/thing-a", "text/turtle"),
                                          ("/sparql", "text/turtle"), ("/.well-known/void", "application/n-triples")])
def test_entity_pages_and_the_service_description_can_be_revalidated(server_client, path, accept):
    """They carried no validator and no Cache-Control, and ignored If-Match (linked-data review)."""
    first = server_client.get(path, headers={"Accept": accept})
    tag = first.headers["ETag"]
    assert tag.startswith('W/"') and first.headers["Cache-Control"] == "public, max-age=300"
    again = server_client.get(path, headers={"Accept": accept, "If-None-Match": tag})
    assert (again.status_code, again.data, again.headers["ETag"]) == (304, b"", tag)
    assert again.headers["Vary"] == "Accept"
    assert server_client.get(path, headers={"Accept": accept, "If-Match": '"x"'}).status_code == 412
    assert server_client.get(path, headers={"Accept": accept, "If-None-Match": '"other"'}).status_code == 200
    # a field that is no list of entity tags matches nothing (hostile testing: a 304)
    assert server_client.get(path, headers={"Accept": accept, "If-None-Match": "xyz" + tag}).status_code == 200


def test_the_timeout_is_an_xsd_decimal_in_its_lexical_form():
    """--timeout 1e20 was described as "1e+20"^^xsd:decimal, no decimal (hostile testing)."""
    from msc_kg.server import describe

    stats = {"triples": 0, "entities": 0, "classes": 0, "properties": 0, "distinctSubjects": 0,
             "distinctObjects": 0, "graphs": {}}
    for timeout, text in ((1e20, "100000000000000000000"), (30.0, "30.0"), (0.25, "0.25")):
        triples = describe.service_description("http://x/sparql", stats, None, False, 10, timeout)
        values = [t.object for t in triples if t.predicate.value.endswith("#timeoutSeconds")]
        assert [v.value for v in values] == [text]


def test_the_service_terms_are_defined_where_used_and_at_their_document(server_client):
    """mscs:maxRows and the other service terms were defined nowhere (linked-data review)."""
    mscs, label = "https://w3id.org/msc-kg/service#", "http://www.w3.org/2000/01/rdf-schema#label"

    def labels(body: bytes) -> dict:
        store = ox.Store()
        store.load(body, format=ox.RdfFormat.TURTLE)
        return {r["t"].value[len(mscs):]: r["l"].value for r in store.query(
            f"SELECT ?t ?l {{ ?t <{label}> ?l FILTER(STRSTARTS(STR(?t), '{mscs}')) }}")}

    every = {"maxRows": "max rows", "timeoutSeconds": "timeout in seconds", "validation": "validation",
             "ontologyVersion": "ontology version", "shapesVersion": "shapes version"}
    assert labels(server_client.get("/service").data) == every
    described = labels(server_client.get("/sparql").data)
    used = set(re.findall(r"mscs:(\w+)", server_client.get("/sparql").get_data(as_text=True)))
    assert {"maxRows", "timeoutSeconds", "validation"} <= set(described) == used
    assert server_client.get("/service", headers={"Accept": "image/png"}).status_code == 406


def test_void_at_its_well_known_location(server_client):
    resp = server_client.get("/.well-known/void")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "text/turtle; charset=utf-8"
    assert b"sd:endpoint <http://localhost/sparql>" in resp.data  # the endpoint, not this address
    assert sd_value(resp.data, VOID + "triples") == str(SMALL_TRIPLES)


def test_a_graph_named_by_a_blank_node_is_left_out_of_the_service_description():
    """sd:name is an IRI: a TriG or N-Quads graph named by a blank node made every service
    description a 500 (hostile testing); the graphs with IRIs are listed as before."""
    store = ox.Store()
    store.load(b'_:g { <http://e/s> <http://e/p> "in a blank graph" . }\n'
               b'<http://e/g> { <http://e/s> <http://e/p> "named" , "twice" . }\n', format=ox.RdfFormat.TRIG)
    app = make_app(store, engine="inline")
    try:
        client = app.test_client()
        for path in ("/sparql", "/.well-known/void"):
            resp = client.get(path, headers={"Accept": "text/turtle"})
            assert resp.status_code == 200, path
            described = ox.Store()
            described.load(resp.data, format=ox.RdfFormat.TURTLE)
            rows = described.query(f"SELECT ?name ?n {{ ?ds <{SD}namedGraph> ?ng . OPTIONAL {{ ?ng <{SD}name> ?name }} "
                                   f"?ng <{SD}graph> ?g OPTIONAL {{ ?g <{VOID}triples> ?n }} }}")
            counted = path == "/.well-known/void"  # the endpoint's own description counts nothing
            assert [(r["name"].value, r["n"] and int(r["n"].value)) for r in rows] == [("http://e/g", 2 if counted else None)]
    finally:
        close(app)


def test_service_description_shacl_and_versions(server_client):
    body = server_client.get("/sparql").data
    assert sd_value(body, "https://w3id.org/msc-kg/service#ontologyVersion") == "0.1.0"
    assert sd_value(body, "https://w3id.org/msc-kg/service#shapesVersion") == "0.1.0-shapes"
    assert b"sh:conforms true" in body
    assert b"BasicFederatedQuery" not in body


def test_service_description_negotiated(server_client):
    resp = server_client.get("/sparql", headers={"Accept": "application/ld+json"})
    assert resp.headers["Content-Type"] == "application/ld+json"
    assert b"http://www.w3.org/ns/sparql-service-description#Service" in resp.data
    assert server_client.get("/sparql", headers={"Accept": "image/png"}).status_code == 406


def test_a_browser_gets_the_service_description_as_a_page(server_client):
    """The header's "service description" link gave a browser Turtle to download, and 406 to one
    accepting text/html only (a first user's walkthrough); an RDF client still gets Turtle."""
    for accept in ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "text/html"):
        resp = server_client.get("/sparql", headers={"Accept": accept})
        assert (resp.status_code, resp.content_type) == (200, "text/html; charset=utf-8")
        page = resp.data.decode()
        assert "<h1>Service description</h1>" in page and "a sd:Service" in page
        assert "&lt;http://localhost/sparql&gt;" in page  # the Turtle, escaped in a <pre>
    for accept in (None, "*/*", "text/turtle"):
        resp = server_client.get("/sparql", headers={"Accept": accept} if accept else {})
        assert resp.content_type == "text/turtle; charset=utf-8"


def test_landing_page(server_client):
    resp = server_client.get("/")
    assert resp.status_code == 200
    html = resp.data.decode()
    assert f'<td id="stat-triples">{SMALL_TRIPLES}</td>' in html
    assert 'data-index="0"' in html and ">things</button>" in html
    assert "List the things of the fixture graph with their labels." in html
    assert "<script src=\"/static/editor.js\">" in html  # served by the package: no CDN
    assert "cdn" not in html.lower()
    assert server_client.get("/static/editor.js").status_code == 200


def test_landing_page_without_queries(tmp_path):
    app = make_app(queries_dir=tmp_path / "none")
    try:
        html = app.test_client().get("/").data.decode()
        assert "No example queries" in html
    finally:
        close(app)


def test_an_example_query_cannot_end_the_script_block(tmp_path):
    """The examples travel as JSON in a <script> block; json.dumps leaves "</script>" as it is, so
    a query file holding it (in a comment) would end the block (hostile testing: latent)."""
    (tmp_path / "q.rq").write_text("# Purpose: x </script><script>alert(1)</script>\n"
                                   "# Returns: y\nASK {}\n")
    app = make_app(queries_dir=tmp_path)
    try:
        html = app.test_client().get("/").data.decode()
        block = html.split('<script id="examples-data" type="application/json">')[1].split("</script>")[0]
        assert "<" not in block and json.loads(block)[0]["query"].startswith("# Purpose: x </script>")
    finally:
        close(app)


def test_entity_html_for_browsers(server_client):
    resp = server_client.get("/id/thing-a", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    html = resp.data.decode()
    assert "<h1>Thing A</h1>" in html
    assert '<a href="/id/thing-b">Thing B</a>' in html
    assert resp.headers["Vary"] == "Accept"
    # a property of the project links to its page here; another to its own address, since the
    # graph holds it only as a property (its page here said 404: hostile testing)
    assert '<a href="/ontology/knows">msc:knows</a>' in html
    assert '<a href="http://www.w3.org/2000/01/rdf-schema#label">rdfs:label</a>' in html


def test_property_links_go_only_to_web_addresses():
    from msc_kg.server.pages import property_link

    assert property_link("javascript:alert(1)") == "/entity?iri=javascript%3Aalert%281%29"
    assert property_link("urn:x:p") == "/entity?iri=urn%3Ax%3Ap"
    assert property_link("https://w3id.org/msc-kg/ontology/actor") == "/ontology/actor"


def test_entity_turtle_for_rdf_clients(server_client):
    resp = server_client.get("/id/thing-a", headers={"Accept": "text/turtle"})
    assert resp.headers["Content-Type"] == "text/turtle; charset=utf-8"
    store = ox.Store()
    store.load(resp.data, format=ox.RdfFormat.TURTLE)
    assert len(store) == 5  # 3 triples of thing-a + the labels of its objects thing-b, msc:Thing


def test_entity_jsonld_and_ntriples(server_client):
    js = server_client.get("/ontology/Thing", headers={"Accept": "application/ld+json"})
    assert js.status_code == 200 and b'"@value":"thing"' in js.data
    nt = server_client.get("/entity", query_string={"iri": "http://example.org/relative"},
                           headers={"Accept": "application/n-triples"})
    assert nt.data == b'<http://example.org/relative> <http://www.w3.org/2000/01/rdf-schema#label> "relative" .\n'
    short = server_client.get("/entity/thing-b", headers={"Accept": "application/n-triples"})
    assert short.status_code == 200 and short.data.count(b"\n") == 6  # 3 own, thing-a's link to it,
    # the labels of msc:Thing and thing-a


def test_entity_seen_only_as_an_object_gets_what_points_at_it(server_client):
    """As the page shows it: RDF clients get the triples pointing at an entity too (one seen only as
    an object was served an empty graph: hostile testing), with the labels of their subjects."""
    nt = server_client.get("/ontology/Other", headers={"Accept": "application/n-triples"})
    assert nt.status_code == 200
    assert sorted(nt.data.decode().splitlines()) == [
        '<https://w3id.org/msc-kg/id/thing-c> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> '
        '<https://w3id.org/msc-kg/ontology/Other> .',
        '<https://w3id.org/msc-kg/id/thing-c> <http://www.w3.org/2000/01/rdf-schema#label> '
        '"C, \\"quoted\\"" .']


def test_entity_used_only_as_a_property_is_404_saying_so(server_client):
    """A property the graph uses but says nothing about has no page, and the 404 says it is used
    (it said "not in this graph": hostile testing)."""
    for path, uses in (("/entity?iri=http%3A%2F%2Fwww.w3.org%2F2000%2F01%2Frdf-schema%23label",
                        "6 statements"), ("/ontology/value", "1 statement")):
        resp = server_client.get(path, headers={"Accept": "text/turtle"})
        assert resp.status_code == 404 and resp.headers["Vary"] == "Accept"
        iri = ("http://www.w3.org/2000/01/rdf-schema#label" if "label" in path
               else "https://w3id.org/msc-kg/ontology/value")
        assert resp.get_data(as_text=True) == (
            f"404 Not Found: {iri} is not described in this graph: it occurs only as the property "
            f"of {uses}.\n")


def test_entity_only_inside_triple_terms_is_404_saying_so():
    """An IRI the graph names only inside triple terms was "not in this graph" (hostile testing)."""
    app = make_app(_hard_to_write())
    try:
        resp = app.test_client().get("/entity", query_string={"iri": "http://example.org/a"})
        assert resp.status_code == 404 and resp.get_data(as_text=True) == (
            "404 Not Found: http://example.org/a is not described in this graph: it occurs only inside "
            "the triple term of 1 statement.\n")
        resp = app.test_client().get("/entity", query_string={"iri": "http://example.org/z"})
        assert resp.get_data(as_text=True) == "404 Not Found: http://example.org/z is not in this graph.\n"
    finally:
        close(app)


@pytest.mark.parametrize("iri, link", [
    ("https://w3id.org/msc-kg/id/finding-1", "/id/finding-1"),
    ("https://w3id.org/msc-kg/ontology/Finding", "/ontology/Finding"),
    ("https://w3id.org/msc-kg/id/a b", "/id/a%20b"),
    # a client removes dot segments and the router merges slashes: another entity's page
    ("https://w3id.org/msc-kg/id/x/./y", "/entity?iri=https%3A%2F%2Fw3id.org%2Fmsc-kg%2Fid%2Fx%2F.%2Fy"),
    ("https://w3id.org/msc-kg/id/..", "/entity?iri=https%3A%2F%2Fw3id.org%2Fmsc-kg%2Fid%2F.."),
    ("https://w3id.org/msc-kg/id/", "/entity?iri=https%3A%2F%2Fw3id.org%2Fmsc-kg%2Fid%2F"),
    ("https://w3id.org/msc-kg/id/a//b", "/entity?iri=https%3A%2F%2Fw3id.org%2Fmsc-kg%2Fid%2Fa%2F%2Fb"),
    ("https://w3id.org/msc-kg/ontology/.", "/entity?iri=https%3A%2F%2Fw3id.org%2Fmsc-kg%2Fontology%2F."),
])
def test_a_local_link_leads_to_the_entity_s_own_page(iri, link):
    assert pages.local_link(iri) == link


def test_entity_missing_and_invalid(server_client):
    missing = server_client.get("/id/nothing-here")
    assert missing.status_code == 404 and missing.headers["Vary"] == "Accept"
    assert missing.data == b"404 Not Found: https://w3id.org/msc-kg/id/nothing-here is not in this graph.\n"
    assert server_client.get("/entity", query_string={"iri": "not an iri"}).status_code == 400
    assert server_client.get("/entity").status_code == 400
    twice = server_client.get("/entity?iri=http%3A%2F%2Fexample.org%2Frelative&iri=urn%3Ax")
    assert twice.status_code == 400 and twice.data == b"Give one entity: ?iri= is given 2 times.\n"
    assert server_client.get("/id/thing-a", headers={"Accept": "image/png"}).status_code == 406
    # a missing entity is missing in any syntax: 404, not the 406 that says it is there
    png = server_client.get("/id/nothing-here", headers={"Accept": "image/png"})
    assert (png.status_code, png.data) == (404, missing.data)
    assert server_client.get("/id/nothing-here", query_string={"format": "csv"}).status_code == 404


def test_health(server_client):
    data = server_client.get("/health").get_json()
    assert data["status"] == "ok" and data["triples"] == SMALL_TRIPLES and data["workers"] == 2
    assert data["serving_processes"] == 2
    assert server_client.get("/health").headers["Cache-Control"] == "no-store"


def test_health_counts_the_serving_processes_alive(server_app, monkeypatch):
    """/health said "workers": 2, status ok, while one of two serving processes was gone and could
    not be replaced (hostile testing): it counts those that take connections (balance.Balance)."""
    from msc_kg.server.balance import Balance

    balance = Balance(2)
    balance.join(0)  # slot 1 has no serving process
    monkeypatch.setattr(server_app.extensions["msc_kg"].engine, "balance", balance, raising=False)
    data = server_app.test_client().get("/health").get_json()
    assert (data["status"], data["workers"], data["serving_processes"]) == ("degraded", 2, 1)
    balance.counts[1] = 3  # a replacement took the slot, with 3 open connections
    data = server_app.test_client().get("/health").get_json()
    assert (data["status"], data["serving_processes"]) == ("ok", 2)


def test_static_files_evaluate_preconditions_as_the_other_documents(server_client):
    """werkzeug's file sending answered If-Match: * with 412 (and the stylesheet as its body), a
    malformed If-Match with 200 and several ranges with 416 (hostile testing); the files are
    answered as every other document: ETag, 412 for a tag that does not match, 304, no ranges."""
    resp = server_client.get("/static/style.css")
    assert resp.status_code == 200 and resp.content_type == "text/css; charset=utf-8"
    assert resp.data == (Path(pages.__file__).parent / "static" / "style.css").read_bytes()
    tag = resp.headers["ETag"]
    assert server_client.get("/static/style.css", headers={"If-Match": "*"}).status_code == 200
    failed = server_client.get("/static/style.css", headers={"If-Match": '"other"'})
    assert failed.status_code == 412 and b"{" not in failed.data
    assert server_client.get("/static/style.css", headers={"If-Match": "xyz"}).status_code == 412
    assert server_client.get("/static/style.css", headers={"If-None-Match": tag}).status_code == 304
    ranged = server_client.get("/static/editor.js", headers={"Range": "bytes=0-1,3-4"})
    assert ranged.status_code == 200 and ranged.content_type == "text/javascript; charset=utf-8"
    assert "Last-Modified" not in resp.headers  # no date: If-Unmodified-Since is not evaluated
    assert server_client.get("/static/editor.js/x").status_code == 404


@pytest.mark.parametrize("path", ["/data?default", "/health", "/id/thing-a", "/.well-known/void", "/"])
def test_a_cors_preflight_offers_the_methods_the_resource_allows(server_client, path):
    """A read-only resource's preflight offered POST, which then got a 405 (hostile testing)."""
    pre = server_client.options(path, headers={"Origin": "https://example.com",
                                               "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 200 and "POST" not in pre.headers["Allow"]
    assert pre.headers["Access-Control-Allow-Methods"] == pre.headers["Allow"]
    assert server_client.post(path).status_code == 405


@pytest.mark.parametrize("path, status", [
    ("/no-such-page", 404), ("/static/no-such-file.css", 404), ("/id/no-such-thing", 404),
    ("/ontology/NoSuchTerm", 404), ("/entity?iri=http://example.org/absent", 404), ("/entity", 400),
    ("/id//no-such-thing", 404), ("/static//no-such-file.css", 404), ("/entity//x", 404),
])
def test_a_preflight_of_a_resource_that_is_not_there_allows_no_method(server_client, path, status):
    """Flask's automatic OPTIONS answered 200, allowing GET, where GET answered 404 (hostile
    testing): the preflight gets GET's error."""
    pre = server_client.options(path, headers={"Origin": "https://example.com",
                                               "Access-Control-Request-Method": "GET"})
    assert (pre.status_code, server_client.get(path, follow_redirects=True).status_code) == (status, status)
    assert "Access-Control-Allow-Methods" not in pre.headers and "Allow" not in pre.headers
    assert pre.headers["Access-Control-Allow-Origin"] == "*"


def test_a_preflight_of_a_resource_that_is_there_allows_its_methods(server_client):
    # a path the router redirects ("//" in it) is preflighted as the one it redirects to: a
    # preflight cannot follow the 308 its GET gets
    for path in ("/static/style.css", "/id/thing-a", "/robots.txt", "/id//thing-a", "/static//style.css"):
        pre = server_client.options(path, headers={"Origin": "https://example.com",
                                                   "Access-Control-Request-Method": "GET"})
        assert pre.status_code == 200 and pre.data == b""
        assert set(pre.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_cors_preflight_and_simple(server_client):
    pre = server_client.options("/sparql", headers={
        "Origin": "https://example.com", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert pre.status_code == 200
    assert pre.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in pre.headers["Access-Control-Allow-Methods"]
    assert pre.headers["Access-Control-Allow-Headers"] == "content-type"
    assert pre.headers["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS, POST"
    resp = server_client.get("/sparql", query_string={"query": "ASK {}"}, headers={"Origin": "https://example.com"})
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.headers["Access-Control-Expose-Headers"] == (
        "X-SPARQL-Max-Rows, X-SPARQL-Truncated, X-SPARQL-Rows, X-SPARQL-Unknown-Functions, ETag, "
        "Retry-After, Allow")  # neither of the last two is safelisted: a browser could not read them


def test_cors_can_be_disabled():
    app = make_app(cors=False)
    try:
        resp = app.test_client().get("/sparql", query_string={"query": "ASK {}"})
        assert "Access-Control-Allow-Origin" not in resp.headers
    finally:
        close(app)


def test_data_files_of_every_format_load():
    from msc_kg.server import dataset

    store = dataset.load_files([DATA / n for n in ("one.nt", "one.nq", "one.jsonld", "one.rdf", "graphs.trig")])
    values = sorted(q.object.value for q in store)
    assert values == ["default", "jsonld", "nq", "nt", "one", "rdfxml", "three", "two"]


def test_one_ntriples_file_keeps_its_blank_node_labels_and_two_files_keep_theirs_apart(tmp_path):
    """Loaded alone, an N-Triples file answers with its own blank-node labels, so every serving
    process, a replacement included, gives the same; two files' nodes of one label stay two."""
    from msc_kg.server import dataset

    a, b = tmp_path / "a.nt", tmp_path / "b.nt"
    a.write_text('_:n1 <http://e/p> "a" .\n_:n1 <http://e/q> "a2" .\n')
    b.write_text('_:n1 <http://e/p> "b" .\n')
    for _ in range(2):
        assert [str(q.subject) for q in dataset.load_files([a])] == ["_:n1", "_:n1"]
    store = dataset.load_files([a, b])
    assert len({q.subject for q in store}) == 2 and len(store) == 3
    nquads = tmp_path / "c.nq"
    nquads.write_text('_:g1 <http://e/p> "c" <http://e/g> .\n')
    assert [str(q.subject) for q in dataset.load_files([nquads])] == ["_:g1"]


def test_syntax_error_names_file_and_line():
    import pytest

    from msc_kg.server import dataset

    with pytest.raises(dataset.DataError) as info:
        dataset.load_files([DATA / "one.nt", DATA / "turtle-syntax-error.ttl"])
    assert "turtle-syntax-error.ttl: line 3, column" in str(info.value)


def test_default_graph_is_the_release(monkeypatch):
    """create_app(None) serves msc_kg.release.load_release() and shows its manifest."""
    import msc_kg.release
    from server_fixtures import MANIFEST, small_store

    from msc_kg.server.app import create_app

    monkeypatch.setattr(msc_kg.release, "load_release", lambda **_: (small_store(), dict(MANIFEST, shapes_version="9")))
    app = create_app(None, {"workers": 1})
    try:
        body = app.test_client().get("/.well-known/void").data
        assert sd_value(body, VOID + "triples") == str(SMALL_TRIPLES)
        assert sd_value(body, "https://w3id.org/msc-kg/service#shapesVersion") == "9"
    finally:
        close(app)


def test_unknown_setting_is_an_error():
    import pytest

    with pytest.raises(ValueError, match="unknown server settings: max_row"):
        make_app(max_row=5)


def test_entity_page_busy_is_503_with_retry_after():
    """An entity page the engine cannot answer in time says when to retry, as /sparql does."""
    app = make_app(engine="inline", workers=1, query_slots=1, timeout=0.2)
    try:
        engine = app.extensions["msc_kg"].engine
        engine._slots.get()  # the process's only query slot is taken by another query
        resp = app.test_client().get("/id/thing-a", headers={"Accept": "text/turtle"})
        assert resp.status_code == 503
        assert resp.headers["Retry-After"] == "5"
        assert resp.data.startswith(b"All 1 query slots of this server process stayed busy")
        engine._release()
        assert app.test_client().get("/id/thing-a", headers={"Accept": "text/turtle"}).status_code == 200
    finally:
        close(app)


def test_entity_turtle_writes_each_subject_once(server_client):
    """The entity's statements and its neighbours' labels come sorted: one block per subject."""
    body = server_client.get("/id/thing-a", headers={"Accept": "text/turtle"}).data.decode()
    assert subject_heads(body) == ["mscd:thing-a", "mscd:thing-b", "msc:Thing"]


def test_service_description_writes_each_subject_once(server_client):
    """The service, its dataset, default graph and validation report, and the service terms they
    use: one Turtle block each."""
    body = server_client.get("/sparql", headers={"Accept": "text/turtle"}).data.decode()
    assert subject_heads(body) == ["<http://localhost/sparql>", "_:dataset", "_:defaultGraph",
                                   "_:validation", "mscs:maxRows", "mscs:ontologyVersion",
                                   "mscs:shapesVersion", "mscs:timeoutSeconds", "mscs:validation"]
    body = server_client.get("/.well-known/void", headers={"Accept": "text/turtle"}).data.decode()
    heads = subject_heads(body)
    properties = sum(h.startswith("_:property") for h in heads)
    classes = sum(h.startswith("_:class") for h in heads)
    assert properties and classes
    assert heads == ["<http://localhost/sparql>", "_:dataset", "_:defaultGraph",
                     *(f"_:property{i}" for i in range(properties)), *(f"_:class{i}" for i in range(classes)),
                     "_:validation", "mscs:maxRows", "mscs:ontologyVersion",
                     "mscs:shapesVersion", "mscs:timeoutSeconds", "mscs:validation"]


def test_void_partitions_the_default_graph_by_property_and_class(server_client):
    """The VoID document's property and class partitions (VoID §4.5, §4.6), from which a client
    estimates a triple pattern's size: each predicate's and each class's counts as queries find them."""
    sd = ox.Store()
    sd.load(server_client.get("/.well-known/void", headers={"Accept": "application/n-triples"}).data,
            format=ox.RdfFormat.N_TRIPLES)
    void = ("PREFIX void: <http://rdfs.org/ns/void#> "
            "PREFIX sd: <http://www.w3.org/ns/sparql-service-description#> ")

    def rows(store_or_client, query):
        if isinstance(store_or_client, ox.Store):
            return {tuple(t.value for t in row) for row in store_or_client.query(void + query)}
        found = json.loads(store_or_client.get("/sparql", query_string={"query": query}).data)
        return {tuple(b[v]["value"] for v in found["head"]["vars"]) for b in found["results"]["bindings"]}

    partitions = rows(sd, "SELECT ?p ?t ?s ?o { ?g a sd:Graph ; void:propertyPartition [ void:property ?p ; "
                          "void:triples ?t ; void:distinctSubjects ?s ; void:distinctObjects ?o ] }")
    counted = rows(server_client, "SELECT ?p (COUNT(*) AS ?t) (COUNT(DISTINCT ?s) AS ?ds) "
                                  "(COUNT(DISTINCT ?o) AS ?do) { ?s ?p ?o } GROUP BY ?p")
    assert partitions == counted and len(partitions) > 3
    classes = rows(sd, "SELECT ?c ?n { ?g a sd:Graph ; void:classPartition [ void:class ?c ; void:entities ?n ] }")
    counted = rows(server_client, "SELECT ?c (COUNT(DISTINCT ?s) AS ?n) { ?s a ?c } GROUP BY ?c")
    assert classes == counted and ("https://w3id.org/msc-kg/ontology/Thing", "2") in classes


@pytest.mark.parametrize("statement, reason", [
    (b'<http://www.w3.org/2000/01/rdf-schema#label> "a\\u0001"',
     "holds U+0001, a character XML 1.0 cannot carry, even escaped"),
    (b'<http://www.w3.org/1999/02/22-rdf-syntax-ns#li> "a"',  # 502, and 500 with Turtle acceptable
     "uses an RDF/XML syntax term (rdf:li, rdf:Description, rdf:about, rdf:ID, rdf:nodeID, "
     "rdf:resource, rdf:datatype, rdf:parseType or rdf:RDF) as a property, which RDF/XML cannot write"),
])
def test_entity_rdfxml_cannot_carry_is_406_or_falls_back(statement, reason):
    """An entity whose description holds U+0001 (Oxigraph wrote a malformed document) or uses
    rdf:li as a property (its writer refuses it) is refused as RDF/XML, naming why, and served as
    Turtle where that is acceptable too (hostile testing)."""
    store = ox.Store()
    store.load(b"<https://w3id.org/msc-kg/id/x> " + statement + b" .", format=ox.RdfFormat.N_TRIPLES)
    app = make_app(store)
    try:
        client = app.test_client()
        xml = client.get("/id/x", headers={"Accept": "application/rdf+xml"})
        assert xml.status_code == 406 and xml.get_data(as_text=True) == (
            f"No acceptable format: the answer {reason}; ask for Turtle or N-Triples.\n")
        for accept in ("text/turtle", "application/rdf+xml, text/turtle;q=0.5"):
            turtle = client.get("/id/x", headers={"Accept": accept})
            assert turtle.status_code == 200 and turtle.headers["Content-Type"].startswith("text/turtle")
    finally:
        close(app)


def _hard_to_write() -> ox.Store:
    """An entity RDF/XML cannot write (its property has no XML-name ending) and JSON-LD cannot
    carry (a triple term)."""
    store = ox.Store()
    store.load(b'<https://w3id.org/msc-kg/id/x> <http://example.org/p#> '
               b'<<( <http://example.org/a> <http://example.org/b> "c" )>> .', format=ox.RdfFormat.N_TRIPLES)
    return store


def test_entity_asked_for_as_xhtml_only_is_406(server_client):
    """The page is HTML: asked for as XHTML with text/html refused, it was sent as text/html."""
    resp = server_client.get("/id/thing-a", headers={"Accept": "application/xhtml+xml, text/html;q=0"})
    assert resp.status_code == 406 and "xhtml" not in resp.get_data(as_text=True)


def test_entity_in_a_syntax_that_cannot_carry_it_is_406():
    """An entity pointed at by a property RDF/XML cannot name, or holding a triple term, is refused
    in that syntax, naming why (malformed RDF/XML with 200, and 502 for JSON-LD: hostile testing)."""
    app = make_app(_hard_to_write())
    try:
        client = app.test_client()
        for accept, reason in (("application/rdf+xml", "uses <http://example.org/p#>, which RDF/XML "
                                "cannot write as an element: no XML name ends the IRI"),
                               ("application/ld+json", "holds RDF 1.2 triple terms, which JSON-LD "
                                "cannot carry")):
            resp = client.get("/id/x", headers={"Accept": accept})
            assert resp.status_code == 406 and resp.get_data(as_text=True) == (
                f"No acceptable format: the answer {reason}; ask for Turtle or N-Triples.\n")
        assert client.get("/id/x", headers={"Accept": "text/turtle"}).status_code == 200
    finally:
        close(app)


def test_entity_cut_at_the_row_cap_says_so():
    """An entity with more statements than --max-rows was cut silently (hostile testing: a class
    with 300 000 instances); its page and its RDF now say so, as /sparql's answers do."""
    app = make_app(max_rows=2)
    try:
        client = app.test_client()
        page = client.get("/ontology/Thing", headers={"Accept": "text/html"})
        assert page.headers["X-SPARQL-Truncated"] == "true" and page.headers["X-SPARQL-Rows"] == "2"
        assert b"Only the first 2 statements are shown" in page.data
        nt = client.get("/ontology/Thing", headers={"Accept": "application/n-triples"})
        assert nt.headers["X-SPARQL-Truncated"] == "true"
        assert sorted(nt.data.decode().splitlines()) == [  # the page's first 2 statements, and a label
            '<https://w3id.org/msc-kg/id/thing-a> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> '
            '<https://w3id.org/msc-kg/ontology/Thing> .',
            '<https://w3id.org/msc-kg/id/thing-a> <http://www.w3.org/2000/01/rdf-schema#label> "Thing A" .',
            '<https://w3id.org/msc-kg/ontology/Thing> <http://www.w3.org/2000/01/rdf-schema#label> "thing"@en .']
        whole = client.get("/entity?iri=http%3A%2F%2Fexample.org%2Frelative",
                           headers={"Accept": "text/html"})  # one statement: not cut
        assert "X-SPARQL-Truncated" not in whole.headers and whole.headers["X-SPARQL-Max-Rows"] == "2"
        assert b"Only the first" not in whole.data
    finally:
        close(app)


def test_entity_pages_show_at_most_their_own_cap(monkeypatch):
    """Whatever --max-rows allows, a page shows at most pages.MAX_ROWS statements (a class with
    300 000 instances made a 17 MB page in 5-8 s: hostile testing)."""
    from msc_kg.server import pages

    monkeypatch.setattr(pages, "MAX_ROWS", 2)
    app = make_app()
    try:
        resp = app.test_client().get("/ontology/Thing", headers={"Accept": "text/turtle"})
        assert resp.headers["X-SPARQL-Max-Rows"] == "2" and resp.headers["X-SPARQL-Truncated"] == "true"
    finally:
        close(app)


def test_entity_cap_counts_statements_not_labels():
    """Each label of a statement's other end made a row of its own, so a cap of rows showed fewer
    statements than it said, and RDF clients got other nodes' labels in place of the entity's own
    statements (hostile testing)."""
    from msc_kg.server import pages

    lines = [f'<http://e/s> <http://e/p> <http://e/o{i}> .\n<http://e/o{i}> <{pages.LABEL}> "a{i}" , "b{i}" .'
             for i in range(5)]
    store = ox.Store()
    store.load("\n".join(lines).encode(), format=ox.RdfFormat.TURTLE)
    app = make_app(store, max_rows=4)
    try:
        client = app.test_client()
        page = client.get("/entity?iri=http%3A%2F%2Fe%2Fs", headers={"Accept": "text/html"})
        assert page.headers["X-SPARQL-Rows"] == "4" and page.data.count(b'href="/entity?iri=http%3A%2F%2Fe%2Fo') == 8
        nt = client.get("/entity?iri=http%3A%2F%2Fe%2Fs", headers={"Accept": "application/n-triples"})
        own = [line for line in nt.data.decode().splitlines() if line.startswith("<http://e/s>")]
        assert len(own) == 4 and nt.data.count(b"\n") == 12  # 4 statements, 2 labels each
    finally:
        close(app)


def test_entity_page_orders_mixed_literals_by_text():
    """The page's order does not compare the other ends themselves (the engine aborts on some
    orderings of numbers mixed with other literals): one property's numbers, strings, dates and
    language-tagged strings come ordered by their text."""
    values = ['"10"^^<http://www.w3.org/2001/XMLSchema#integer>', '"9"^^<http://www.w3.org/2001/XMLSchema#integer>',
              '"b"', '"a"@en', '"2020-01-02"^^<http://www.w3.org/2001/XMLSchema#date>', '"1.5"^^<http://www.w3.org/2001/XMLSchema#decimal>']
    store = ox.Store()
    store.load("".join(f"<http://e/s> <http://e/p> {v} .\n" for v in values * 10).encode(),
               format=ox.RdfFormat.N_TRIPLES)
    app = make_app(store)
    try:
        page = app.test_client().get("/entity?iri=http%3A%2F%2Fe%2Fs", headers={"Accept": "text/html"})
        cells = re.findall(r"<td>([^<]*)(?:<small>|</td>)", page.get_data(as_text=True))
        assert page.status_code == 200 and [c.strip() for c in cells] == ["1.5", "10", "2020-01-02", "9", "a", "b"]
    finally:
        close(app)


BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize("path, params, ctype", [
    ("/id/thing-a", {"format": "ntriples"}, "application/n-triples; charset=utf-8"),
    ("/ontology/Thing", {"output": "jsonld"}, "application/ld+json"),
    ("/entity", {"iri": "https://w3id.org/msc-kg/id/thing-a", "format": "rdfxml"}, "application/rdf+xml"),
    ("/id/thing-a", {"format": "text/html"}, "text/html; charset=utf-8"),
    ("/id/thing-a", {"format": "html"}, "text/html; charset=utf-8"),  # a name, as the others have
    ("/sparql", {"format": "ntriples"}, "application/n-triples; charset=utf-8"),
    ("/sparql", {"format": "nt", "output": "n-triples"}, "application/n-triples; charset=utf-8"),
    ("/.well-known/void", {"format": "rdfxml"}, "application/rdf+xml"),
    ("/.well-known/void", {"results": "json"}, "application/ld+json"),
])
def test_documents_a_browser_opens_honour_format_parameters(server_client, path, params, ctype):
    """Entity pages, the service description and VoID answered Turtle (or HTML) to ``format=``,
    silently (hostile testing): it stands in for Accept there as on /sparql and /data."""
    resp = server_client.get(path, query_string=params, headers={"Accept": BROWSER})
    assert resp.status_code == 200 and resp.headers["Content-Type"] == ctype


@pytest.mark.parametrize("path", ["/id/thing-a", "/sparql", "/.well-known/void"])
def test_documents_refuse_a_bad_format_parameter(server_client, path):
    unknown = server_client.get(path, query_string={"format": "yaml"})
    assert unknown.status_code == 400 and unknown.get_data(as_text=True).startswith(
        "Unknown result format 'yaml'; give a media type or one of json, xml, csv, ")
    disagree = server_client.get(path, query_string={"format": "nt", "output": "turtle"})
    assert disagree.status_code == 400 and disagree.get_data(as_text=True) == (
        "The format parameters disagree (nt, turtle); give one format.\n")
    assert server_client.get(path, query_string={"format": "csv"}).status_code == 406


def test_entity_falls_back_to_an_acceptable_syntax_that_carries_it():
    """An entity RDF/XML cannot name and JSON-LD cannot carry got 406 although Accept took another
    syntax too (hostile testing): the best acceptable one left answers, HTML included; 406 when a
    format parameter named the syntax, or none acceptable carries it."""
    app = make_app(_hard_to_write())
    try:
        client = app.test_client()
        for accept, ctype in (("application/rdf+xml, text/turtle;q=0.5", "text/turtle; charset=utf-8"),
                              ("application/ld+json, application/rdf+xml;q=0.9, text/html;q=0.5",
                               "text/html; charset=utf-8"),
                              ("application/ld+json, */*;q=0.1", "text/turtle; charset=utf-8")):
            resp = client.get("/id/x", headers={"Accept": accept})
            assert resp.status_code == 200 and resp.headers["Content-Type"] == ctype, accept
            assert resp.headers["Vary"] == "Accept" and b"example.org/p#" in resp.data
        none = client.get("/id/x", headers={"Accept": "application/rdf+xml, application/ld+json;q=0.5"})
        assert none.status_code == 406 and none.get_data(as_text=True) == (
            "No acceptable format: the answer uses <http://example.org/p#>, which RDF/XML cannot write "
            "as an element: no XML name ends the IRI, and holds RDF 1.2 triple terms, which JSON-LD "
            "cannot carry; ask for Turtle or N-Triples.\n")
        named = client.get("/id/x", query_string={"format": "jsonld"}, headers={"Accept": BROWSER})
        assert named.status_code == 406 and named.get_data(as_text=True) == (
            "No acceptable format: the answer holds RDF 1.2 triple terms, which JSON-LD cannot carry; "
            "ask for Turtle or N-Triples.\n")
    finally:
        close(app)


@pytest.mark.parametrize("union", [False, True])
def test_void_counts_of_a_dataset_with_named_graphs(union):
    """The default graph's count under --union-default-graph counted a statement of two graphs
    twice (8 where /data?default gives 7), and a dataset all in named graphs had void:triples 0
    (hostile testing)."""
    store = ox.Store()
    store.load(b'<http://e/d> <http://e/p> "default" .\n'
               b'<http://e/g1> { <http://e/s> <http://e/p> "both" . <http://e/s> <http://e/p> "one" . }\n'
               b'<http://e/g2> { <http://e/s> <http://e/p> "both" . }\n', format=ox.RdfFormat.TRIG)
    app = make_app(store, engine="inline", union_default_graph=union)
    try:
        body = app.test_client().get("/.well-known/void", headers={"Accept": "text/turtle"}).data
        described = ox.Store()
        described.load(body, format=ox.RdfFormat.TURTLE)
        counts = {r["g"].value if isinstance(r["g"], ox.NamedNode) else "default": int(r["n"].value)
                  for r in described.query(f"SELECT ?g ?n {{ {{ ?ds <{SD}defaultGraph> [ <{VOID}triples> ?n ] "
                                           f"BIND(<{SD}defaultGraph> AS ?g) }} UNION {{ ?ds a <{SD}Dataset> ; "
                                           f"<{VOID}triples> ?n BIND(<{VOID}Dataset> AS ?g) }} }}")}
        assert counts == {f"{SD}defaultGraph": 3 if union else 1, f"{VOID}Dataset": 4}
        # the dataset's other counts are the default graph's only where it is the union of all
        # (its distinct objects were 1 beside graphs holding 2 more: linked-data review)
        objects = [int(r["n"].value) for r in described.query(
            f"SELECT ?n {{ ?ds a <{SD}Dataset> ; <{VOID}distinctObjects> ?n }}")]
        assert objects == ([3] if union else [])
    finally:
        close(app)


PROTEGE = "application/rdf+xml, application/xml; q=0.7, text/xml; q=0.6, text/plain; q=0.1, */*; q=0.09"
FULL_OWL = """<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:owl="http://www.w3.org/2002/07/owl#">
  <owl:Ontology rdf:about="https://w3id.org/msc-kg/msc-kg-full.owl">
    <owl:versionIRI rdf:resource="https://w3id.org/msc-kg/releases/9.9/msc-kg-full.owl"/>
  </owl:Ontology>
  <owl:Class rdf:about="https://w3id.org/msc-kg/ontology/Thing"/>
</rdf:RDF>
"""


def _version_path(owl: bytes) -> str:
    version = re.search(rb'<owl:versionIRI rdf:resource="https://w3id.org/msc-kg(/[^"]+)"', owl)
    return version.group(1).decode()


def test_owl_documents_are_served_at_their_ontology_and_version_iris(tmp_path):
    """The ontology IRI gave its header alone (10 statements) and the version IRIs 404: Protégé's
    "Open from URL" read an empty ontology (linked-data review)."""
    full = tmp_path / "full.owl"
    full.write_text(FULL_OWL, encoding="utf-8")
    owl = paths.ONTOLOGY_OWL.read_bytes()
    app = make_app(documents=[paths.ONTOLOGY_OWL, full, tmp_path / "missing.owl"])
    try:
        client = app.test_client()
        for where in ("/ontology", "/ontology/", _version_path(owl)):
            resp = client.get(where, headers={"Accept": PROTEGE})
            assert (resp.status_code, resp.content_type, resp.data) == (200, "application/rdf+xml", owl)
        turtle = client.get("/ontology", headers={"Accept": "text/turtle"})
        assert turtle.content_type == "text/turtle; charset=utf-8"
        assert len(list(ox.parse(turtle.data, format=ox.RdfFormat.TURTLE))) == len(
            list(ox.parse(owl, format=ox.RdfFormat.RDF_XML)))
        for accept in (None, "*/*", "application/*"):  # as at the version IRIs: owlready2 sends no
            # Accept, and could not read the Turtle it got (a first user's walkthrough)
            resp = client.get("/ontology", headers={"Accept": accept} if accept else {})
            assert (resp.content_type, resp.data) == ("application/rdf+xml", owl)
        browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        page = client.get("/ontology", headers={"Accept": browser})  # the page of the ontology's
        assert page.status_code == 404 and b"owl:Ontology" not in page.data  # header: none in this data
        assert client.get(_version_path(owl)).data == owl  # a .owl: RDF/XML unless asked otherwise
        for where in ("/msc-kg-full.owl", "/releases/9.9/msc-kg-full.owl"):
            assert client.get(where).data == FULL_OWL.encode()
        tag = client.get("/ontology", headers={"Accept": PROTEGE}).headers["ETag"]
        assert tag != turtle.headers["ETag"]  # one per syntax: a cache keeps them apart by Vary
        unchanged = client.get("/ontology", headers={"Accept": PROTEGE, "If-None-Match": tag})
        assert (unchanged.status_code, unchanged.data, unchanged.headers["ETag"]) == (304, b"", tag)
        assert client.get("/ontology", headers={"Accept": PROTEGE, "If-Match": '"x"'}).status_code == 412
        refused = client.get(_version_path(owl), headers={"Accept": "image/png"})
        assert (refused.status_code, refused.headers["Vary"]) == (406, "Accept")
        assert client.get("/releases/9.8/msc-kg-full.owl").status_code == 404
    finally:
        close(app)


def test_owl_documents_are_written_alike_in_every_process_and_vouched_for_by_the_manifest(release, tmp_path):
    """Each serving process wrote another syntax with its own blank node labels under one tag,
    application/json and application/ld+json shared a tag, and a replacement process served a
    build/msc-kg.owl changed after the manifest vouched for it (hostile testing)."""
    import hashlib

    from msc_kg.server import documents

    out, manifest = release
    full = out / "msc-kg.owl"
    one, two = (documents.named([full])["/msc-kg-full.owl"] for _ in range(2))  # two processes
    assert one.body("turtle") == two.body("turtle") and b"_:b0 " in one.body("ntriples")
    assert one.tag("application/json", "jsonld") != one.tag("application/ld+json", "jsonld")
    records = manifest["artefacts"]
    assert set(documents.named([full], records)) == {"/msc-kg-full.owl", _version_path(full.read_bytes())}
    changed = tmp_path / "msc-kg.owl"
    changed.write_bytes(full.read_bytes().replace(b"</rdf:RDF>", b"<!-- --></rdf:RDF>"))
    assert documents.named([changed], records) == {}
    assert records["msc-kg.owl"]["sha256"] == hashlib.sha256(full.read_bytes()).hexdigest()


def test_the_release_owl_documents_are_served_only_with_the_release(monkeypatch, release):
    """From the release's own folder: ontology/msc-kg.owl, committed, is not rewritten by the
    server's builds, and was served stale after the sources changed (change review)."""
    import msc_kg.release
    from server_fixtures import MANIFEST, small_store

    from msc_kg.server.app import create_app

    out, _ = release
    owl = (out / "msc-kg-ontology.owl").read_bytes()
    assert owl == paths.ONTOLOGY_OWL.read_bytes()  # as msc-kg build writes the committed copy
    monkeypatch.setattr(paths, "BUILD_DIR", out)
    monkeypatch.setattr(msc_kg.release, "load_release", lambda **_: (small_store(), MANIFEST))
    for graph, served in ((None, True), (small_store(), False)):  # the release, or --data
        app = create_app(graph, {"workers": 1})
        try:
            resp = app.test_client().get(_version_path(owl))
            assert resp.status_code == (200 if served else 404)
            assert not served or resp.data == owl
            full = app.test_client().get("/msc-kg-full.owl")
            assert not served or full.data == (out / "msc-kg.owl").read_bytes()
        finally:
            close(app)


CLOSURE_DATA = """
@prefix ex: <https://w3id.org/msc-kg/id/> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
ex:kind owl:equivalentClass [ owl:oneOf ( ex:a ex:b ) ] .
ex:finding ex:from ex:finding\\#anchor ; ex:other ex:elsewhere .
ex:finding\\#anchor ex:selector ex:finding\\#quote ; ex:source ex:text .
ex:finding\\#quote ex:exact "the evidence" .
ex:finding\\#unlinked ex:exact "not reached" .
ex:elsewhere ex:exact "another document" .
"""


def test_entity_rdf_holds_its_blank_nodes_and_the_hash_iris_of_its_document():
    """An OWL class's equivalentClass ended at a bare blank node, and /id/finding-X said nothing of
    finding-X#anchor or #quote, which a client stripping the fragment fetches (linked-data review)."""
    store = ox.Store()
    store.load(CLOSURE_DATA.encode(), format=ox.RdfFormat.TURTLE)
    app = make_app(store)
    nt = {"Accept": "application/n-triples"}
    try:
        client = app.test_client()
        kind = list(ox.parse(client.get("/id/kind", headers=nt).data, format=ox.RdfFormat.N_TRIPLES))
        kind_page = client.get("/id/kind", headers={"Accept": "text/html"}).get_data(as_text=True)
        finding = client.get("/id/finding", headers=nt).data.decode()
        turtle = client.get("/id/finding", headers={"Accept": "text/turtle"})
        page = client.get("/id/finding", headers={"Accept": "text/html"})
    finally:
        close(app)
    first = "http://www.w3.org/1999/02/22-rdf-syntax-ns#first"
    assert sorted(t.object.value for t in kind if t.predicate.value == first) == [ID + "a", ID + "b"]
    # the page shows the value set nested, where it showed the blank node's label
    assert '( <a href="/id/a">mscd:a</a>, <a href="/id/b">mscd:b</a> )' in kind_page
    assert not any(t.object.value in kind_page for t in kind if isinstance(t.object, ox.BlankNode))
    assert len(kind) == 6  # equivalentClass, oneOf, two list nodes' first and rest
    assert f'<{ID}finding#quote> <{ID}exact> "the evidence" .' in finding
    assert f"<{ID}finding#anchor> <{ID}source> <{ID}text> ." in finding
    assert "not reached" not in finding and "another document" not in finding
    assert len(finding.splitlines()) == 5 and len(set(finding.splitlines())) == 5
    assert len(list(ox.parse(turtle.data, format=ox.RdfFormat.TURTLE))) == 5
    assert page.status_code == 200 and "the evidence" not in page.get_data(as_text=True)


def test_entity_rdf_closure_follows_the_statements_kept_and_the_siblings_of_a_hash_iri():
    """A page cut at its cap described the blank nodes of the statements it cut, under headers
    saying 3 rows (23 statements, 17 of them of nodes nothing in the body named); the page of
    finding#anchor left out finding#quote, its sibling (change review)."""
    store = ox.Store()
    store.load((CLOSURE_DATA + "".join(f'ex:wide ex:v{i:02d} [ ex:n "{i}" ] .\n' for i in range(20))).encode(),
               format=ox.RdfFormat.TURTLE)
    app = make_app(store, max_rows=3)
    nt = {"Accept": "application/n-triples"}
    try:
        client = app.test_client()
        wide = client.get("/id/wide", headers=nt)
        anchor = client.get("/id/finding%23anchor", headers=nt).data.decode()
    finally:
        close(app)
    triples = list(ox.parse(wide.data, format=ox.RdfFormat.N_TRIPLES))
    assert wide.headers["X-SPARQL-Truncated"] == "true" and len(triples) == 6  # 3 kept, 3 described
    objects = {t.object for t in triples}
    assert all(t.subject in objects for t in triples if isinstance(t.subject, ox.BlankNode))
    assert f'<{ID}finding#quote> <{ID}exact> "the evidence" .' in anchor


def test_entity_rdf_closure_never_describes_the_entity_past_its_cap():
    """A hash IRI pointing at itself was described whole by the closure: 9 statements where the
    cap was 3 (21 020 at the default cap), and the closure's budget was twenty times the cap
    (hostile testing)."""
    store = ox.Store()
    loop = "".join(f'ex:loop\\#a ex:v{i} "{i}" .\n' for i in range(8))
    fan = "".join(f'ex:fan ex:v{i} ex:fan\\#s .\n' for i in range(2)) + "".join(
        f'ex:fan\\#s ex:w{i} "{i}" .\n' for i in range(50))
    store.load((CLOSURE_DATA + "ex:loop\\#a ex:self ex:loop\\#a .\n" + loop + fan).encode(),
               format=ox.RdfFormat.TURTLE)
    app = make_app(store, max_rows=3)
    nt = {"Accept": "application/n-triples"}
    try:
        client = app.test_client()
        looped = list(ox.parse(client.get("/id/loop%23a", headers=nt).data, format=ox.RdfFormat.N_TRIPLES))
        fanned = client.get("/id/fan", headers=nt)
    finally:
        close(app)
    assert len([t for t in looped if t.subject.value == ID + "loop#a"]) == 3
    assert len(list(ox.parse(fanned.data, format=ox.RdfFormat.N_TRIPLES))) == 2 + 3  # its 2, 3 more
    assert fanned.headers["X-SPARQL-Truncated"] == "true"


def test_the_ontology_iri_dereferences_to_its_header():
    """https://w3id.org/msc-kg/ontology itself got 404 (ontology-tool audit)."""
    store = ox.Store()
    ontology = ox.NamedNode("https://w3id.org/msc-kg/ontology")
    store.add(ox.Quad(ontology, ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
                      ox.NamedNode("http://www.w3.org/2002/07/owl#Ontology")))
    resp = answer(store, "/ontology", {"Accept": "application/n-triples"})
    assert resp.status_code == 200
    assert resp.data.decode() == ("<https://w3id.org/msc-kg/ontology> "
                                  "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
                                  "<http://www.w3.org/2002/07/owl#Ontology> .\n")


def test_if_none_match_star_holds_against_a_volatile_answer_and_the_landing_page_has_validators(server_client):
    """If-None-Match: * got 200 for an answer without a tag (a RAND() query), and the landing page
    had no validator, so an If-Match naming a tag got 200 (linked-data review)."""
    volatile = {"query": "SELECT (RAND() AS ?r) {}"}
    assert server_client.get("/sparql", query_string=volatile, headers={"If-None-Match": "*"}).status_code == 304
    assert server_client.get("/sparql", query_string=volatile).status_code == 200
    posted = server_client.post("/sparql", data=volatile, headers={"If-None-Match": "*"})
    assert posted.status_code == 412 and "ETag" not in posted.headers
    landing = server_client.get("/")
    assert landing.status_code == 200 and landing.headers["Cache-Control"] == "public, max-age=300"
    tag = landing.headers["ETag"]
    assert server_client.get("/", headers={"If-None-Match": tag}).status_code == 304
    assert server_client.get("/", headers={"If-Match": '"x"'}).status_code == 412


def test_a_blank_node_holding_a_triple_term_and_a_string_is_shown():
    """A blank node's values are ordered by their JSON form: a triple term's is a dict, which
    did not order against a string (change review)."""
    store = ox.Store()
    store.load(b'<https://w3id.org/msc-kg/id/t> <http://p> _:a .\n'
               b'_:a <http://p> <<( <http://s> <http://p> <http://o> )>> .\n_:a <http://p> "x" .\n',
               format=ox.RdfFormat.N_TRIPLES)
    page = answer(store, "/id/t", {"Accept": "text/html"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "&lt;&lt;( " in text and "http://s" in text and "<td>x</td>" in text


@pytest.mark.skipif(__import__("shutil").which("node") is None, reason="needs Node.js to run the editor's script")
def test_the_editor_shows_triple_terms_blank_nodes_and_datatypes():
    """The landing page's table showed a triple term as "[object Object]", a blank node without
    "_:" and a literal without its datatype (hostile testing)."""
    import subprocess

    script = (Path(pages.__file__).parent / "static" / "editor.js").read_text()
    functions = script[script.index("  const XSD"):script.index("  function cell")]
    terms = [{"type": "triple", "value": {"subject": {"type": "uri", "value": "http://a"},
                                          "predicate": {"type": "uri", "value": "http://b"},
                                          "object": {"type": "bnode", "value": "b0"}}},
             {"type": "literal", "value": "1", "datatype": "http://www.w3.org/2001/XMLSchema#integer"},
             {"type": "literal", "value": "x", "datatype": "http://www.w3.org/2001/XMLSchema#string"},
             {"type": "literal", "value": "chat", "xml:lang": "fr"},
             {"type": "literal", "value": "2", "datatype": "http://e/dt"}]
    run = f"{functions}\nconsole.log(JSON.stringify({json.dumps(terms)}.map(text)));"
    out = subprocess.run(["node", "-e", run], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == ["<<( <http://a> <http://b> _:b0 )>>", "1 ^^xsd:integer", "x", "chat @fr",
                               "2 ^^http://e/dt"]


def test_no_class_partitions_where_a_type_is_no_iri():
    """void:class names a class: where served data gives rdf:type a literal object, no partition
    can tell it, and a client told of the others would take its pattern for none: none is given."""
    store = ox.Store()
    s, rdf_type = ox.NamedNode("http://e/s"), ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    store.add(ox.Quad(s, rdf_type, ox.NamedNode("http://e/C")))
    store.add(ox.Quad(s, rdf_type, ox.Literal("not a class")))
    app = make_app(store)
    try:
        body = app.test_client().get("/.well-known/void", headers={"Accept": "application/n-triples"}).data
        assert b"<http://rdfs.org/ns/void#propertyPartition>" in body
        assert b"classPartition" not in body
    finally:
        close(app)


def test_no_partitions_of_a_kind_past_max_partitions(monkeypatch):
    """The VoID document is written for each request: data of 50 000 predicates and classes made
    it 11-32 MB and seconds of processor time a request (hostile review). Past MAX_PARTITIONS of a
    kind, none of that kind is given (a partition left out would read as none)."""
    from msc_kg.server import describe

    monkeypatch.setattr(describe, "MAX_PARTITIONS", 2)
    store = ox.Store()
    rdf_type = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    for i in range(3):
        store.add(ox.Quad(ox.NamedNode(f"http://e/s{i}"), ox.NamedNode(f"http://e/p{i}"), ox.Literal("o")))
    for i in range(2):
        store.add(ox.Quad(ox.NamedNode(f"http://e/s{i}"), rdf_type, ox.NamedNode(f"http://e/C{i}")))
    stats = describe.statistics(store)  # 4 predicates (3 and rdf:type), 2 classes
    assert stats["properties_of"] is None and [c for c, _ in stats["classes_of"]] == ["http://e/C0", "http://e/C1"]
    body = b"".join(str(t).encode() + b"\n" for t in describe.service_description(
        "http://x/sparql", stats, None, False, 10, 30.0))
    assert b"propertyPartition" not in body and body.count(b"<http://rdfs.org/ns/void#classPartition>") == 2
