"""Content negotiation (RFC 9110 §12.5.1) and every result format, with exact bodies."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET

import pyoxigraph as ox
import pytest
from server_fixtures import close, make_app, server_app, server_client  # noqa: F401

from msc_kg.server import negotiate

SELECT_B = ("PREFIX msc: <https://w3id.org/msc-kg/ontology/> "
            "SELECT ?s ?v WHERE { ?s msc:value ?v }")
SELECT_C = ('PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> '
            'SELECT ?l WHERE { <https://w3id.org/msc-kg/id/thing-c> rdfs:label ?l }')
CONSTRUCT = ("PREFIX msc: <https://w3id.org/msc-kg/ontology/> "
             "CONSTRUCT { ?s msc:value ?v } WHERE { ?s msc:value ?v }")


@pytest.mark.parametrize("accept, expected", [
    (None, "application/sparql-results+json"),
    ("*/*", "application/sparql-results+json"),
    ("text/*", "text/csv"),
    ("text/csv;q=0.5, application/sparql-results+xml;q=0.9", "application/sparql-results+xml"),
    ("application/json", "application/json"),
    ("text/tab-separated-values, */*;q=0.1", "text/tab-separated-values"),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "application/xml"),
    ("*/*;q=0.1, text/csv;q=0", "application/sparql-results+json"),
    # a comma inside a quoted parameter value belongs to it (it split the range: hostile testing)
    ('text/csv;foo="a,b", application/json;q=0.5', "text/csv"),
    ('text/csv;x="a\\",b";q=0.1, text/tab-separated-values;q=0.5', "text/tab-separated-values"),
    # nor is a "q=" inside a quoted value the weight (x="y;q=0" made JSON unacceptable: hostile testing)
    ('application/sparql-results+json;x="y;q=0"', "application/sparql-results+json"),
    ('text/csv;q=0.1, application/sparql-results+json;x="y;q=0"', "application/sparql-results+json"),
    ('text/csv;x="q=1";q=0.2, text/tab-separated-values;q=0.5', "text/tab-separated-values"),
    # a list of empty elements lists nothing (RFC 9110 §5.6.1), as an empty header: it got 406
    # where "" got the default (hostile testing); read once, not quadratic
    (",,,", "application/sparql-results+json"), (" , ,", "application/sparql-results+json"),
    ("," * 60_000, "application/sparql-results+json"), ("", "application/sparql-results+json"),
])
def test_choose_results(accept, expected):
    assert negotiate.choose(accept, negotiate.RESULTS)[0] == expected


@pytest.mark.parametrize("accept", [
    "image/png", "text/csv;q=0", "garbage", ";;;,,,", "*/*;q=0", "text/csv;q=2",
    "text/csv;q=abc", "x" * 10_000, ",".join(["image/png"] * 5000),
    '"' * 60_000, 'text/csv;a="' + '\\"' * 30_000,  # each read once: not quadratic
])
def test_choose_none_acceptable(accept):
    assert negotiate.choose(accept, negotiate.RESULTS) is None


def test_choose_graph_default_is_turtle():
    assert negotiate.choose("*/*", negotiate.GRAPH) == ("text/turtle", "turtle")
    assert negotiate.choose("application/*", negotiate.GRAPH) == ("application/n-triples", "ntriples")


def test_json_results_exact(server_client):
    resp = server_client.get("/sparql", query_string={"query": SELECT_B})
    assert json.loads(resp.data) == {
        "head": {"vars": ["s", "v"]},
        "results": {"bindings": [{
            "s": {"type": "uri", "value": "https://w3id.org/msc-kg/id/thing-b"},
            "v": {"type": "literal", "value": "42", "datatype": "http://www.w3.org/2001/XMLSchema#integer"},
        }]},
    }
    assert resp.headers["Vary"] == "Accept"


def test_xml_results_exact(server_client):
    resp = server_client.get("/sparql", query_string={"query": SELECT_B},
                             headers={"Accept": "application/sparql-results+xml"})
    assert resp.headers["Content-Type"] == "application/sparql-results+xml"
    assert resp.data == (
        b'<?xml version="1.0"?><sparql xmlns="http://www.w3.org/2005/sparql-results#"><head>'
        b'<variable name="s"/><variable name="v"/></head><results><result>'
        b'<binding name="s"><uri>https://w3id.org/msc-kg/id/thing-b</uri></binding>'
        b'<binding name="v"><literal datatype="http://www.w3.org/2001/XMLSchema#integer">42</literal></binding>'
        b"</result></results></sparql>")


def test_csv_quotes_and_crlf(server_client):
    resp = server_client.get("/sparql", query_string={"query": SELECT_C}, headers={"Accept": "text/csv"})
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert resp.data == b'l\r\n"C, ""quoted"""\r\n'


def test_tsv_uses_rdf_term_syntax(server_client):
    resp = server_client.get("/sparql", query_string={"query": SELECT_B},
                             headers={"Accept": "text/tab-separated-values"})
    # Turtle syntax: an xsd:integer may be written in its short form (Oxigraph's writer does).
    assert resp.data == b"?s\t?v\n<https://w3id.org/msc-kg/id/thing-b>\t42\n"


def test_python_tsv_writer_escapes_line_breaks():
    """The writer used when the cap truncates writes terms in full N-Triples syntax."""
    from msc_kg.server.results import write_solutions
    import pyoxigraph as ox
    store = ox.Store()
    store.add(ox.Quad(ox.NamedNode("http://e/a"), ox.NamedNode("http://e/p"), ox.Literal("x\ny")))
    body, rows, truncated = write_solutions(store.query("SELECT ?s ?o { ?s ?p ?o }"), "tsv", 10)
    assert (body, rows, truncated) == (b'?s\t?o\n<http://e/a>\t"x\\ny"\n', 1, False)


# Base directions and nested triple terms (RDF 1.2); the Python writer lost the directions and
# wrote a triple term's TSV field as three terms (found by hostile testing)
RDF12 = ('SELECT ?x ?t ?n WHERE { BIND("a"@en--rtl AS ?x) BIND(<<( <http://e/s> <http://e/p> '
         '<<( <http://e/a> <http://e/b> "c"@en--ltr )>> )>> AS ?t) BIND("q"@fr AS ?n) }')


@pytest.mark.parametrize("fmt", ["json", "xml", "tsv"])
def test_python_writer_writes_rdf_12_terms_as_oxigraph_does(fmt):
    """The writer used when a query's own LIMIT is over the cap (or it ends with VALUES)."""
    from msc_kg.server.results import RESULTS_FORMATS, write_solutions
    import pyoxigraph as ox
    store = ox.Store()
    body, rows, truncated = write_solutions(store.query(RDF12), fmt, 10)
    assert (body, rows, truncated) == (store.query(RDF12).serialize(format=RESULTS_FORMATS[fmt]), 1, False)


EDGES = ('SELECT ?a ?b ?c ?d ?e WHERE { BIND("  a b  " AS ?a) BIND(" x "@en AS ?b) '
         'BIND("\\t\\n y \\r\\n" AS ?c) BIND(" " AS ?d) BIND(" 1"^^<http://e/t> AS ?e) }')


@pytest.mark.parametrize("fmt", ["json", "xml", "tsv"])
def test_python_writer_keeps_white_space_at_the_ends_as_oxigraph_does(fmt):
    """Oxigraph writes white space at either end of a literal in XML as character references; the
    endpoint's writer wrote it raw, which Oxigraph's own XML parser then trimmed (hostile testing)."""
    from msc_kg.server.results import RESULTS_FORMATS, write_solutions
    import pyoxigraph as ox
    store = ox.Store()
    body, _, _ = write_solutions(store.query(EDGES), fmt, 10)
    assert body == store.query(EDGES).serialize(format=RESULTS_FORMATS[fmt])
    read = next(iter(ox.parse_query_results(body, format=RESULTS_FORMATS[fmt])))
    assert [read[v].value for v in "abcde"] == ["  a b  ", " x ", "\t\n y \r\n", " ", " 1"]


def test_python_csv_writer_writes_a_triple_term_as_its_values():
    from msc_kg.server.results import write_solutions
    import pyoxigraph as ox
    body, _, _ = write_solutions(ox.Store().query(RDF12), "csv", 10)
    assert body == b"x,t,n\r\na,http://e/s http://e/p http://e/a http://e/b c,q\r\n"


@pytest.mark.parametrize("accept, body", [
    ("application/sparql-results+json", b'{"head":{},"boolean":true}'),
    ("text/csv", b"true"),
])
def test_ask(server_client, accept, body):
    resp = server_client.get("/sparql", query_string={"query": "ASK { ?s ?p ?o }"}, headers={"Accept": accept})
    assert resp.status_code == 200 and resp.data == body


@pytest.mark.parametrize("accept, ctype, fragment", [
    (None, "text/turtle; charset=utf-8", b"mscd:thing-b msc:value 42 ."),
    ("application/n-triples", "application/n-triples; charset=utf-8",
     b'<https://w3id.org/msc-kg/id/thing-b> <https://w3id.org/msc-kg/ontology/value> '
     b'"42"^^<http://www.w3.org/2001/XMLSchema#integer> .\n'),
    ("application/rdf+xml", "application/rdf+xml", b'rdf:about="https://w3id.org/msc-kg/id/thing-b"'),
    ("application/ld+json", "application/ld+json", b'"@id":"https://w3id.org/msc-kg/id/thing-b"'),
    ("application/n-quads", "application/n-quads; charset=utf-8",
     b'<https://w3id.org/msc-kg/id/thing-b> <https://w3id.org/msc-kg/ontology/value> "42"'),
    ("application/trig", "application/trig; charset=utf-8", b"msc:value 42"),
])
def test_construct_formats(server_client, accept, ctype, fragment):
    headers = {"Accept": accept} if accept else {}
    resp = server_client.get("/sparql", query_string={"query": CONSTRUCT}, headers=headers)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == ctype
    assert fragment in resp.data


def test_describe(server_client):
    resp = server_client.get("/sparql", query_string={"query": "DESCRIBE <https://w3id.org/msc-kg/id/thing-a>"},
                             headers={"Accept": "application/n-triples"})
    assert resp.status_code == 200
    assert resp.data.count(b"\n") == 3  # a type, a label, one msc:knows


def test_406_for_select_as_turtle(server_client):
    resp = server_client.get("/sparql", query_string={"query": SELECT_B}, headers={"Accept": "text/turtle"})
    assert resp.status_code == 406
    assert b"No acceptable format for a SELECT result" in resp.data
    assert b"application/sparql-results+json" in resp.data
    ask = server_client.get("/sparql", query_string={"query": "ASK {}"}, headers={"Accept": "text/turtle"})
    assert ask.status_code == 406 and ask.data.startswith(b"No acceptable format for an ASK result; ")


def test_406_for_construct_as_csv(server_client):
    resp = server_client.get("/sparql", query_string={"query": CONSTRUCT}, headers={"Accept": "text/csv"})
    assert resp.status_code == 406


@pytest.mark.parametrize("accept", ["", "\x00\x01", "*/*;q=-1", "text/csv;;;q=", "a/b/c", "😀/😀",
                                    "application/sparql-results+json;q=0.5;q=0.7"])
def test_hostile_accept_never_500(server_client, accept):
    resp = server_client.get("/sparql", query_string={"query": "ASK {}"}, headers={"Accept": accept})
    assert resp.status_code in (200, 406)


@pytest.mark.parametrize("query, accept, offered", [
    ('SELECT ?x WHERE { BIND("a\\u0001b" AS ?x) }', "application/sparql-results+xml", "JSON, CSV or TSV"),
    ('SELECT ?x WHERE { BIND("a\\uFFFEb" AS ?x) }', "application/sparql-results+xml", "JSON, CSV or TSV"),
    ('CONSTRUCT { <http://e/s> <http://e/p> ?x } WHERE { BIND("a\\u001Fb" AS ?x) }',
     "application/rdf+xml", "Turtle or N-Triples"),
])
def test_xml_cannot_carry_c0_controls(server_client, query, accept, offered):
    """XML 1.0 has no way to write U+0001 or U+FFFE, even as a reference; the engine wrote them
    raw, a malformed document (hostile testing): 406 naming the character and other formats."""
    resp = server_client.get("/sparql", query_string={"query": query}, headers={"Accept": accept})
    char = re.search(r"\\u(\w{4})", query).group(1).upper()
    assert resp.status_code == 406
    assert resp.get_data(as_text=True) == (f"No acceptable format: the answer holds U+{char}, a "
                                           f"character XML 1.0 cannot carry, even escaped; ask for "
                                           f"{offered}.\n")
    assert server_client.get("/sparql", query_string={"query": query}).status_code == 200


def test_xml_carries_tabs_and_line_breaks(server_client):
    resp = server_client.get("/sparql", query_string={"query": 'SELECT ?x { BIND("a\\tb\\nc\\rd" AS ?x) }'},
                             headers={"Accept": "application/sparql-results+xml"})
    assert resp.status_code == 200 and b"<literal>a\tb\nc&#13;d</literal>" in resp.data  # a raw
    # carriage return would be read as a line feed (see test_xml_keeps_carriage_returns)


@pytest.mark.parametrize("prop", ["http://e/123", "http://e/p#", "http://e/a/"])
def test_rdfxml_cannot_name_a_property_without_an_xml_name_ending(server_client, prop):
    """Oxigraph writes such a property as an element named "oxprefix:", which no namespace-aware
    XML parser reads, and the endpoint served it with 200 (hostile testing): 406 naming it."""
    query = f'CONSTRUCT {{ <http://e/s> <{prop}> "o" }} WHERE {{}}'
    resp = server_client.get("/sparql", query_string={"query": query},
                             headers={"Accept": "application/rdf+xml"})
    assert resp.status_code == 406 and resp.headers["Vary"] == "Accept"
    assert resp.get_data(as_text=True) == (
        f"No acceptable format: the answer uses <{prop}>, which RDF/XML cannot write as an element: "
        "no XML name ends the IRI; ask for Turtle or N-Triples.\n")
    ok = server_client.get("/sparql", query_string={"query": query.replace(prop, "http://e/p1")},
                           headers={"Accept": "application/rdf+xml"})
    assert ok.status_code == 200
    ET.fromstring(ok.data)  # namespace-aware: it read the refused ones as malformed


@pytest.mark.parametrize("cls", ["http://e/class/123", "http://e/p#", "http://e/a/"])
def test_rdfxml_writes_a_class_without_an_xml_name_ending_as_an_rdf_type_property(server_client, cls):
    """Such a class was refused with 406 (Oxigraph names its typed node "oxprefix:"), though RDF/XML
    carries it as an rdf:type property, as Jena writes it (endpoint audit)."""
    query = f'CONSTRUCT {{ <http://e/s> a <{cls}>, <http://e/C> ; <http://e/p1> "o" . _:b a <{cls}> }} WHERE {{}}'
    resp = server_client.get("/sparql", query_string={"query": query}, headers={"Accept": "application/rdf+xml"})
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/rdf+xml"
    ET.fromstring(resp.data)
    parsed = {(str(t.subject) if isinstance(t.subject, ox.NamedNode) else "_", str(t.predicate), str(t.object))
              for t in ox.parse(resp.data, format=ox.RdfFormat.RDF_XML)}
    assert parsed == {("<http://e/s>", f"<{RDF}type>", f"<{cls}>"), ("<http://e/s>", f"<{RDF}type>", "<http://e/C>"),
                      ("<http://e/s>", "<http://e/p1>", '"o"'), ("_", f"<{RDF}type>", f"<{cls}>")}


def test_rdfxml_classes_that_are_a_declared_namespace_and_typed_nodes_cut_across_pieces(server_client):
    """A class whose IRI is a namespace the server declares (owl:) was written as the typed node
    <owl: …>, which no XML parser reads; and a streamed download, rewritten piece by piece, kept
    a typed node's end tag </oxprefix:> where its start tag came in the piece before (hostile
    testing of the rewrite). A property named so is refused, naming its IRI."""
    from msc_kg.server.results import PREFIXES, FixedRdfXml, fix_rdfxml

    owl = "http://www.w3.org/2002/07/owl#"
    query = f'CONSTRUCT {{ <urn:x> a <{owl}> . _:b a <{RDF}> . <urn:y> a <http://e/1> }} WHERE {{}}'
    resp = server_client.get("/sparql", query_string={"query": query}, headers={"Accept": "application/rdf+xml"})
    assert resp.status_code == 200
    ET.fromstring(resp.data)
    assert {(t.subject.value if isinstance(t.subject, ox.NamedNode) else "_", t.object.value)
            for t in ox.parse(resp.data, format=ox.RdfFormat.RDF_XML)} == {
        ("urn:x", owl), ("_", RDF), ("urn:y", "http://e/1")}
    prop = server_client.get("/sparql", query_string={"query": f'CONSTRUCT {{ <urn:x> <{owl}> "o" }} WHERE {{}}'},
                             headers={"Accept": "application/rdf+xml"})
    assert prop.status_code == 406 and prop.get_data(as_text=True) == (
        f"No acceptable format: the answer uses <{owl}>, which RDF/XML cannot write as an element: "
        "no XML name ends the IRI; ask for Turtle or N-Triples.\n")
    triples = [ox.Triple(ox.NamedNode(f"urn:s{i}"), ox.NamedNode(RDF + "type"), ox.NamedNode(c))
               for i, c in enumerate([owl, "http://e/1", "http://e/a/", RDF])]
    raw = ox.serialize(triples, format=ox.RdfFormat.RDF_XML, prefixes=PREFIXES)
    for size in (1, 7, 40):
        out = io.BytesIO()
        writer = FixedRdfXml(out)
        for i in range(0, len(raw), size):
            writer.write(raw[i:i + size])
        writer.flush()
        assert out.getvalue() == fix_rdfxml(raw) and b":>" not in out.getvalue(), size
        ET.fromstring(out.getvalue())


RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RESERVED_406 = ("No acceptable format: the answer uses an RDF/XML syntax term (rdf:li, rdf:Description, "
                "rdf:about, rdf:ID, rdf:nodeID, rdf:resource, rdf:datatype, rdf:parseType or rdf:RDF) "
                "as a property, which RDF/XML cannot write; ask for Turtle or N-Triples.\n")
OLD_406 = ("No acceptable format: the answer uses rdf:aboutEach, rdf:aboutEachPrefix or rdf:bagID as a "
           "property or class, which RDF/XML forbids as an element; ask for Turtle or N-Triples.\n")


@pytest.mark.parametrize("term, refusal", [("li", RESERVED_406), ("Description", RESERVED_406),
                                           ("parseType", RESERVED_406), ("RDF", RESERVED_406),
                                           ("bagID", OLD_406), ("aboutEach", OLD_406)])
def test_rdfxml_cannot_carry_its_syntax_terms_as_properties(server_client, term, refusal):
    """Oxigraph's RDF/XML writer refuses rdf:li, rdf:Description, … as a property: answered 502
    "query evaluation failed", or 500 where Turtle was acceptable too; it writes rdf:bagID and
    rdf:aboutEach as elements no RDF/XML parser reads, served with 200 (hostile testing)."""
    query = f'CONSTRUCT {{ <http://e/s> <{RDF}{term}> "x" }} WHERE {{}}'
    resp = server_client.get("/sparql", query_string={"query": query},
                             headers={"Accept": "application/rdf+xml"})
    assert resp.status_code == 406 and resp.get_data(as_text=True) == refusal
    fallback = server_client.get("/sparql", query_string={"query": query + " # 2"},
                                 headers={"Accept": "application/rdf+xml, text/turtle;q=0.5"})
    assert fallback.status_code == 200 and fallback.headers["Content-Type"].startswith("text/turtle")
    assert [str(t.predicate) for t in ox.parse(fallback.data, format=ox.RdfFormat.TURTLE)] == [f"<{RDF}{term}>"]


@pytest.mark.parametrize("construct", ['<http://e/s> <http://www.w3.org/2000/xmlns/x> "v"',
                                       '<http://e/s> a <http://www.w3.org/2000/xmlns/x>'])
def test_rdfxml_cannot_carry_the_xmlns_namespace(server_client, construct):
    """A property or class of http://www.w3.org/2000/xmlns/ was written as an element "xmlns:x",
    which XML forbids (no parser reads it), and served with 200 (hostile testing)."""
    query = f"CONSTRUCT {{ {construct} }} WHERE {{}}"
    resp = server_client.get("/sparql", query_string={"query": query}, headers={"Accept": "application/rdf+xml"})
    assert resp.status_code == 406 and resp.get_data(as_text=True) == (
        "No acceptable format: the answer uses <http://www.w3.org/2000/xmlns/x>, which RDF/XML cannot "
        "write as an element: XML reserves its namespace and prefix for namespace declarations; ask for "
        "Turtle or N-Triples.\n")
    fallback = server_client.get("/sparql", query_string={"query": query},
                                 headers={"Accept": "application/rdf+xml, text/turtle;q=0.5"})
    assert fallback.status_code == 200 and fallback.headers["Content-Type"].startswith("text/turtle")


def test_a_literal_the_strict_parser_refuses_still_falls_back(server_client):
    """A query can make "x"^^rdf:langString without a tag; the fallback read the engine's
    N-Triples again with the strict parser, which refuses it: 500 (hostile testing)."""
    query = f'CONSTRUCT {{ <http://e/s> <http://e/p> "x"^^<{RDF}langString> }} WHERE {{}}'
    for accept in ("application/ld+json, text/turtle;q=0.5", "application/rdf+xml, text/turtle;q=0.5"):
        resp = server_client.get("/sparql", query_string={"query": query}, headers={"Accept": accept})
        assert resp.status_code == 200, accept
        assert f"{RDF}langString".encode() in resp.data


def test_jsonld_cannot_carry_triple_terms(server_client):
    """Oxigraph's JSON-LD writer refuses RDF 1.2 triple terms; the endpoint answered 502 ("query
    evaluation failed": hostile testing). 406 naming the reason; Turtle carries them."""
    query = 'CONSTRUCT { <http://e/s> <http://e/p> <<( <http://e/a> <http://e/b> "c" )>> } WHERE {}'
    resp = server_client.get("/sparql", query_string={"query": query},
                             headers={"Accept": "application/ld+json"})
    assert resp.status_code == 406 and resp.headers["Vary"] == "Accept"
    assert resp.get_data(as_text=True) == (
        "No acceptable format: the answer holds RDF 1.2 triple terms, which JSON-LD cannot carry; "
        "ask for Turtle or N-Triples.\n")
    turtle = server_client.get("/sparql", query_string={"query": query}, headers={"Accept": "text/turtle"})
    assert turtle.status_code == 200 and b"<<(" in turtle.data


@pytest.mark.parametrize("limit", ["", "LIMIT 5", "LIMIT 100000000"])
def test_csv_quotes_triple_terms_whatever_they_hold(server_client, limit):
    """Oxigraph's CSV writer left a triple term holding a comma or a line break unquoted, two
    records where one was meant (hostile testing); and the row cap's own writer answered the same
    query otherwise. Every path writes one quoted field."""
    query = f'SELECT ?x ?y {{ BIND(<<( <http://a> <http://b> "c\\n,d" )>> AS ?x) BIND(1 AS ?y) }} {limit}'
    resp = server_client.get("/sparql", query_string={"query": query}, headers={"Accept": "text/csv"})
    assert resp.status_code == 200
    assert list(csv.reader(io.StringIO(resp.get_data(as_text=True), newline=""))) == [
        ["x", "y"], ["http://a http://b c\n,d", "1"]]


def test_csv_quotes_triple_terms_of_the_data():
    """A triple term from the graph, not written by the query, is quoted too."""
    import pyoxigraph as ox
    from server_fixtures import close, make_app

    store = ox.Store()
    store.load(b'<http://s> <http://p> <<( <http://a> <http://b> "c,d" )>> .', format=ox.RdfFormat.N_TRIPLES)
    app = make_app(store)
    try:
        resp = app.test_client().get("/sparql", query_string={"query": "SELECT ?o { ?s ?p ?o }"},
                                     headers={"Accept": "text/csv"})
        assert list(csv.reader(io.StringIO(resp.get_data(as_text=True), newline=""))) == [
            ["o"], ["http://a http://b c,d"]]
    finally:
        close(app)


@pytest.mark.parametrize("limit", ["", "LIMIT 5", "LIMIT 100000000"])
def test_csv_quotes_iris_holding_commas(server_client, limit):
    """An IRI may hold a comma (RFC 3987 sub-delims): Oxigraph's CSV writer left it unquoted, a
    row of three fields under a header of two, while the row cap's own writer (LIMIT above it)
    quoted it (hostile testing). SPARQL 1.1 CSV/TSV §2: such a field is quoted, on every path."""
    query = f'SELECT ?iri ?n WHERE {{ BIND(IRI("http://example.org/a,b") AS ?iri) BIND(1 AS ?n) }} {limit}'
    resp = server_client.get("/sparql", query_string={"query": query}, headers={"Accept": "text/csv"})
    assert resp.status_code == 200
    assert resp.data == b'iri,n\r\n"http://example.org/a,b",1\r\n'


def test_rdfxml_blank_nodes_are_xml_names(server_client):
    """Every rdf:nodeID gets a prefix (a label kept from an N-Triples file may start with a digit,
    which an XML name may not: hostile testing), and the document reads back."""
    query = "CONSTRUCT { ?b <http://e/p> ?s . <http://e/x> <http://e/q> ?b } WHERE { ?s ?p ?o BIND(BNODE() AS ?b) }"
    body = server_client.get("/sparql", query_string={"query": query},
                             headers={"Accept": "application/rdf+xml"}).data
    ids = re.findall(rb'rdf:nodeID="([^"]*)"', body)
    assert ids and all(i.startswith(b"b") for i in ids)
    assert len(list(ox.parse(body, format=ox.RdfFormat.RDF_XML))) == 2 * len(set(ids))


@pytest.mark.parametrize("query, accept", [
    ('SELECT ?x { BIND("a\\r\\nb" AS ?x) }', "application/sparql-results+xml"),
    ('SELECT ?x { BIND("a\\r\\nb" AS ?x) } LIMIT 100000000', "application/sparql-results+xml"),
    ('CONSTRUCT { <http://e/s> <http://e/p> ?x } WHERE { BIND("a\\r\\nb" AS ?x) }', "application/rdf+xml"),
])
def test_xml_keeps_carriage_returns(server_client, query, accept):
    """A raw carriage return in XML is read as a line feed, so "a\\r\\nb" came back as "a\\nb"
    (hostile testing): it is written as a reference, by Oxigraph's writers and the endpoint's."""
    resp = server_client.get("/sparql", query_string={"query": query}, headers={"Accept": accept})
    assert resp.status_code == 200 and b"\r" not in resp.data and b"a&#13;\nb" in resp.data
    if accept == "application/rdf+xml":
        [triple] = ox.parse(resp.data, format=ox.RdfFormat.RDF_XML)
        assert triple.object.value == "a\r\nb"
    else:
        [row] = ox.parse_query_results(resp.data, format=ox.QueryResultsFormat.XML)
        assert row["x"].value == "a\r\nb"


BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
XML_CANNOT = 'SELECT ?x WHERE { BIND("a\\u0001b" AS ?x) }'
RDFXML_CANNOT = 'CONSTRUCT { <http://e/s> <http://e/123> "o" } WHERE {}'
NEITHER = ('CONSTRUCT { <http://e/s> <http://e/123> <<( <http://e/a> <http://e/b> "c" )>> } '
           'WHERE {}')  # RDF/XML cannot name the property, JSON-LD cannot carry the triple term
NEITHER_406 = ("No acceptable format: the answer uses <http://e/123>, which RDF/XML cannot write "
               "as an element: no XML name ends the IRI, and holds RDF 1.2 triple terms, which "
               "JSON-LD cannot carry; ask for Turtle or N-Triples.\n")


@pytest.mark.parametrize("accept, refused, table, expected", [
    (BROWSER, {"xml"}, negotiate.RESULTS, ("application/sparql-results+json", "json")),
    ("application/xml, text/csv;q=0.5, */*;q=0.1", {"xml"}, negotiate.RESULTS, ("text/csv", "csv")),
    ("application/sparql-results+xml, */*;q=0.5, application/json;q=0", {"xml"}, negotiate.RESULTS,
     ("application/sparql-results+json", "json")),
    ("application/sparql-results+xml, text/xml;q=0.5", {"xml"}, negotiate.RESULTS, None),
    ("application/rdf+xml, application/ld+json;q=0.5, text/turtle;q=0.1", {"rdfxml"}, negotiate.GRAPH,
     ("application/ld+json", "jsonld")),
    ("application/rdf+xml, application/ld+json;q=0.5, text/turtle;q=0.1", {"rdfxml", "jsonld"},
     negotiate.GRAPH, ("text/turtle", "turtle")),
    ("application/ld+json, application/json;q=0.9", {"jsonld"}, negotiate.GRAPH, None),
])
def test_fallback_is_the_best_acceptable_syntax_left(accept, refused, table, expected):
    """RFC 9110 §15.5.7: the negotiation again, without the syntaxes that cannot carry the answer
    (every media type of each), q-values and wildcards honoured."""
    assert negotiate.fallback(accept, table, refused) == expected


def _counting(monkeypatch, app) -> list:
    """The jobs ``app``'s engine is given from now on."""
    engine, jobs = app.extensions["msc_kg"].engine, []
    run = engine.run

    def counted(job, *args, **kwargs):
        jobs.append(job)
        return run(job, *args, **kwargs)

    monkeypatch.setattr(engine, "run", counted)
    return jobs


# The 406 of XML_CANNOT when only XML results are acceptable.
XML_CANNOT_406 = ("No acceptable format: the answer holds U+0001, a character XML 1.0 cannot carry, "
                  "even escaped; ask for JSON, CSV or TSV.\n")


@pytest.mark.parametrize("accept, ctype, body", [
    (BROWSER, "application/sparql-results+json",
     b'{"head":{"vars":["x"]},"results":{"bindings":[{"x":{"type":"literal","value":"a\\u0001b"}}]}}'),
    ("application/sparql-results+xml, application/sparql-results+json;q=0.5",
     "application/sparql-results+json",
     b'{"head":{"vars":["x"]},"results":{"bindings":[{"x":{"type":"literal","value":"a\\u0001b"}}]}}'),
    ("application/sparql-results+xml, text/csv;q=0.1", "text/csv; charset=utf-8", b"x\r\na\x01b\r\n"),
])
def test_results_xml_cannot_carry_fall_back_to_an_acceptable_syntax(monkeypatch, accept, ctype, body):
    """A browser's Accept (XML at q=0.9, */* at 0.8) or a list naming JSON or CSV got 406 for an
    answer XML cannot carry (hostile testing): the best acceptable syntax left answers. Evaluated
    again in that syntax (README); the next request evaluates nothing, and an XML-only request
    still gets the 406, not the cached JSON."""
    app = make_app()
    try:
        client, jobs = app.test_client(), _counting(monkeypatch, app)
        for evaluated in (2, 0):
            resp = client.get("/sparql", query_string={"query": XML_CANNOT}, headers={"Accept": accept})
            assert resp.status_code == 200 and resp.headers["Content-Type"] == ctype
            assert resp.headers["Vary"] == "Accept" and resp.data == body
            assert len(jobs) == evaluated
            jobs.clear()
        only = client.get("/sparql", query_string={"query": XML_CANNOT},
                          headers={"Accept": "application/sparql-results+xml"})
        assert only.status_code == 406
        assert only.get_data(as_text=True) == XML_CANNOT_406
    finally:
        close(app)


@pytest.mark.parametrize("params", [{"format": "xml"}, {"output": "application/sparql-results+xml"}])
def test_a_syntax_named_by_a_parameter_has_no_fallback(server_client, params):
    """format=, output= or results= names one syntax: 406 when it cannot carry the answer, whatever
    the Accept header would also take."""
    resp = server_client.get("/sparql", query_string={"query": XML_CANNOT, **params},
                             headers={"Accept": BROWSER})
    assert resp.status_code == 406 and resp.headers["Vary"] == "Accept"
    assert resp.get_data(as_text=True) == XML_CANNOT_406
    graph = server_client.get("/sparql", query_string={"query": RDFXML_CANNOT, "format": "rdfxml"},
                              headers={"Accept": "*/*"})
    assert graph.status_code == 406


@pytest.mark.parametrize("query, accept, ctype, triples", [
    (RDFXML_CANNOT, "application/rdf+xml, text/turtle;q=0.1", "text/turtle; charset=utf-8",
     ox.RdfFormat.TURTLE),
    (RDFXML_CANNOT, "application/rdf+xml, application/ld+json;q=0.5", "application/ld+json",
     ox.RdfFormat.JSON_LD),
    (NEITHER, "application/rdf+xml, application/ld+json;q=0.5, */*;q=0.1", "text/turtle; charset=utf-8",
     ox.RdfFormat.TURTLE),
    (NEITHER, "application/ld+json, application/n-triples;q=0.2, text/turtle;q=0.1",
     "application/n-triples; charset=utf-8", ox.RdfFormat.N_TRIPLES),
])
def test_graphs_fall_back_evaluated_once(monkeypatch, query, accept, ctype, triples):
    """RDF/XML that cannot name a property, JSON-LD that cannot carry a triple term: the next
    acceptable syntax answers (406 before: hostile testing), from one evaluation (the engine writes
    N-Triples, which carry every graph); the next request evaluates nothing."""
    app = make_app()
    try:
        client, jobs = app.test_client(), _counting(monkeypatch, app)
        for evaluated in (1, 0):
            resp = client.get("/sparql", query_string={"query": query}, headers={"Accept": accept})
            assert resp.status_code == 200 and resp.headers["Content-Type"] == ctype
            assert [str(t.predicate) for t in ox.parse(resp.data, format=triples)] == ["<http://e/123>"]
            assert len(jobs) == evaluated
            jobs.clear()
    finally:
        close(app)


def test_a_graph_no_acceptable_syntax_carries_is_406_naming_each_reason(server_client):
    resp = server_client.get("/sparql", query_string={"query": NEITHER},
                             headers={"Accept": "application/rdf+xml, application/ld+json;q=0.5"})
    assert resp.status_code == 406 and resp.get_data(as_text=True) == NEITHER_406
    again = server_client.get("/sparql", query_string={"query": NEITHER},  # from the cache
                              headers={"Accept": "application/rdf+xml, application/ld+json;q=0.5"})
    assert again.status_code == 406 and again.get_data(as_text=True) == NEITHER_406


def test_a_fallback_answer_has_the_entity_tag_of_its_own_syntax(server_client):
    """Cached under the key of the syntax it is in: its tag is not the refused syntax's, answers
    304 to a request that would get it again, not to one that negotiates another syntax."""
    resp = server_client.get("/sparql", query_string={"query": RDFXML_CANNOT},
                             headers={"Accept": "application/rdf+xml, text/turtle;q=0.1"})
    turtle = server_client.get("/sparql", query_string={"query": RDFXML_CANNOT},
                               headers={"Accept": "text/turtle"})
    nt = server_client.get("/sparql", query_string={"query": RDFXML_CANNOT},
                           headers={"Accept": "application/rdf+xml, application/n-triples;q=0.1"})
    assert resp.headers["Content-Type"] == turtle.headers["Content-Type"]
    assert resp.headers["ETag"] == turtle.headers["ETag"] != nt.headers["ETag"]
    tag = {"If-None-Match": resp.headers["ETag"]}
    assert server_client.get("/sparql", query_string={"query": RDFXML_CANNOT}, headers={
        "Accept": "application/rdf+xml, text/turtle;q=0.1", **tag}).status_code == 304
    assert server_client.get("/sparql", query_string={"query": RDFXML_CANNOT}, headers={
        "Accept": "application/rdf+xml, application/n-triples;q=0.1", **tag}).status_code == 200


@pytest.mark.parametrize("query, accept", [
    ("CONSTRUCT { ?s ?p } WHERE {}", "application/sparql-results+json"),
    ("DESCRIBE", "text/csv"),
    ("SELECT ?x WHERE { ?x ?p }", "text/turtle"),
])
def test_a_malformed_query_is_400_whatever_is_accepted(server_client, query, accept):
    """A malformed CONSTRUCT asked for as JSON results got 406 "No acceptable format", so the client
    never saw its mistake; the Oxigraph server answers 400 (differential testing). The 400 is the
    one a format the query's form has would get."""
    resp = server_client.get("/sparql", query_string={"query": query}, headers={"Accept": accept})
    other = "text/csv" if accept == "text/turtle" else "text/turtle"
    same = server_client.get("/sparql", query_string={"query": query}, headers={"Accept": other})
    assert resp.status_code == 400 and resp.data.startswith(b"Malformed query: ")
    assert (same.status_code, same.data) == (400, resp.data)


def test_a_well_formed_query_no_accepted_format_has_is_406(server_client):
    for query in ("CONSTRUCT WHERE { ?s ?p ?o }",
                  # ordering values of its own: not parsed in the serving process (the sort fault)
                  'SELECT ?v WHERE { VALUES ?v { 1 "a" } } ORDER BY ?v'):
        resp = server_client.get("/sparql", query_string={"query": query},
                                 headers={"Accept": "text/turtle" if "SELECT" in query else "text/csv"})
        assert resp.status_code == 406, query


def test_tsv_fields_are_written_as_the_engine_writes_them():
    """The endpoint's own TSV writer (used when it counts rows itself, a trailing VALUES or a LIMIT
    over --max-rows) wrote 1 as "1"^^xsd:integer and U+0001 as \\u0001 where the engine's writes 1
    and the character (hostile testing): one query read differently by the way it was answered."""
    from msc_kg.server import results

    xsd = "http://www.w3.org/2001/XMLSchema#"
    values = ["1", "-5", "+7", "1.5", "-.5", "1.5E0", "true", f'"01"^^<{xsd}integer>', f'"1.0"^^<{xsd}decimal>',
              f'"NaN"^^<{xsd}double>', f'"1"^^<{xsd}float>', '"x"@en', '"x"@en--rtl', "<http://a/b>",
              f'"2020-01-01"^^<{xsd}date>', '"x"^^<http://e/dt>', f'"1"^^<{xsd}boolean>',
              '"' + "".join(f"\\u{c:04X}" for c in range(1, 0x300)) + '"', '"\\uFFFE\\u2028\\U0001F600"',
              '"a\\tb\\"c\\\\d\\ne\\rf"']
    query = f"SELECT ?o {{ VALUES ?o {{ {' '.join(values)} }} }}"
    store = ox.Store()
    engine = store.query(query).serialize(format=ox.QueryResultsFormat.TSV).decode().rstrip("\n").split("\n")[1:]
    assert [results._tsv_text(row["o"]) for row in store.query(query)] == engine
    assert engine[:3] == ["1", "-5", "7"]  # the store keeps numbers by value


@pytest.mark.parametrize("accept", [", ".join([f"application/x-{i}" for i in range(100)] + ["text/csv"]),
                                    "," * 100 + "text/csv"])
def test_an_acceptable_type_late_in_a_long_accept_header_is_chosen(server_client, accept):
    """Only the first 64 elements of Accept were read, empty ones counted: text/csv as the 101st, or
    after 100 commas, got 406 (hostile testing); the Oxigraph server answers CSV."""
    resp = server_client.get("/sparql", query_string={"query": "SELECT ?x { BIND(1 AS ?x) }"},
                             headers={"Accept": accept})
    assert resp.status_code == 200 and resp.data == b"x\r\n1\r\n"


def test_the_most_specific_range_and_its_first_weight_decide():
    table = (("text/csv", "csv"), ("application/sparql-results+json", "json"))
    assert negotiate.choose("text/*;q=0.9, text/csv;q=0.1, application/*;q=0.5", table) == (
        "application/sparql-results+json", "json")
    assert negotiate.choose("text/csv;q=0.2, text/csv;q=0.9, */*;q=0.1", table) == (
        "text/csv", "csv")  # the first weight of a range counts
    assert negotiate.choose("text/csv;q=0, */*", table) == ("application/sparql-results+json", "json")
