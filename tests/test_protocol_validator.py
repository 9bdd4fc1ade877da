"""The query half of the public SPARQL 1.1 Protocol validator (kasei/sparql11-protocolvalidator,
the W3C working group's protocol_validator), replayed over HTTP against this server.

Each request is the validator's own (method, target, headers, body), with its data0.rdf default
graph, which this store does not hold (an unknown graph is an empty one, as the protocol allows).
The validator passes a positive test on status 200, a Content-Type equal to
application/sparql-results+xml or +json (compared whole, so a charset parameter would fail it)
or an RDF syntax for DESCRIBE and CONSTRUCT, and for ASK {} the boolean true; a negative test on
any 4xx or 5xx, where this server must answer 4xx. The update tests and those that load remote
graphs through SPARQL Update do not apply to a read-only endpoint that fetches nothing: the update
requests are answered 403 (tested in test_server_protocol.py).
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import quote, urlencode

import pytest
from server_fixtures import served_small


DATA0 = "http://kasei.us/2009/09/sparql/data/data0.rdf"
Q_DATA0 = f"default-graph-uri={quote(DATA0, safe='')}"
FORM = "application/x-www-form-urlencoded"
RESULTS = ("application/sparql-results+xml", "application/sparql-results+json")


@pytest.fixture(scope="module")
def address():
    """The endpoint over the small fixture graph, served by msc_kg.server.http on loopback."""
    with served_small() as address:
        yield address


def send(address, method: str, target: str, headers: dict | None = None, body: bytes | None = None):
    """One request as the validator's LWP user agent sends it: (status, Content-Type, body)."""
    conn = http.client.HTTPConnection(*address, timeout=10)
    try:
        conn.request(method, target, body=body, headers={"User-Agent": "SPARQL11ProtocolValidator/0.1",
                                                         **(headers or {})})
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type"), resp.read()
    finally:
        conn.close()


def form(*pairs) -> bytes:
    return urlencode(pairs).encode()


# name -> (method, target, headers, body), as protocol_validator.cgi's bad_requests() builds them
NEGATIVE = {
    "bad_query_method": ("PUT", f"/sparql?query=ASK%20%7B%7D&{Q_DATA0}", {}, b""),
    "bad_multiple_queries": ("GET", f"/sparql?query=ASK%20%7B%7D&query=SELECT%20%2A%20%7B%7D&{Q_DATA0}", {}, None),
    "bad_query_wrong_media_type": ("POST", "/sparql", {"Content-Type": "text/plain"}, b"ASK {}"),
    "bad_query_missing_form_type": ("POST", "/sparql", {}, form(("query", "ASK {}"), ("default-graph-uri", DATA0))),
    # HTTP::Request->new('POST', $url, [...]): the list is headers, so the body has no media type
    "bad_query_missing_direct_type": ("POST", "/sparql", {"default-graph-uri": DATA0}, b"ASK {}"),
    "bad_query_non_utf8": ("POST", "/sparql", {"Content-Type": "application/sparql-query; charset=UTF-16"},
                           "ASK {}".encode("utf-16")),
    "bad_query_syntax": ("GET", f"/sparql?query=ASK%20%7B&{Q_DATA0}", {}, None),
}
# the status this server answers each with, and a word of its message
EXPECTED = {
    "bad_query_method": (405, "405 Method Not Allowed"),
    "bad_multiple_queries": (400, "'query' parameter is repeated (2 times)"),
    "bad_query_wrong_media_type": (415, "Unsupported Content-Type 'text/plain'"),
    "bad_query_missing_form_type": (415, "Unsupported Content-Type '(none)'"),
    "bad_query_missing_direct_type": (415, "Unsupported Content-Type '(none)'"),
    "bad_query_non_utf8": (415, "Unsupported charset 'utf-16'"),
    "bad_query_syntax": (400, "Malformed query"),
}


@pytest.mark.parametrize("name", NEGATIVE)
def test_negative_query_tests(address, name):
    method, target, headers, body = NEGATIVE[name]
    status, ctype, text = send(address, method, target, headers, body)
    assert (status, EXPECTED[name][1] in text.decode()) == (EXPECTED[name][0], True), text
    assert ctype == "text/plain; charset=utf-8"


ASK_TRUE = {
    "query_get": ("GET", f"/sparql?query=ASK%20%7B%7D&{Q_DATA0}", {}, None),
    "query_post_form": ("POST", "/sparql", {"Content-Type": FORM},
                        form(("query", "ASK {}"), ("default-graph-uri", DATA0))),
    "query_post_direct": ("POST", f"/sparql?{Q_DATA0}", {"Content-Type": "application/sparql-query"},
                          b"ASK {}"),
}


@pytest.mark.parametrize("name", ASK_TRUE)
def test_positive_ask_tests(address, name):
    method, target, headers, body = ASK_TRUE[name]
    status, ctype, text = send(address, method, target, headers, body)
    assert status == 200 and ctype in RESULTS
    assert json.loads(text) == {"head": {}, "boolean": True}


def test_query_content_type_select(address):
    status, ctype, text = send(address, "POST", "/sparql", {"Content-Type": FORM},
                               form(("query", "SELECT (1 AS ?value) {}"), ("default-graph-uri", DATA0)))
    assert status == 200 and ctype in RESULTS
    assert json.loads(text)["results"]["bindings"] == [
        {"value": {"type": "literal", "value": "1", "datatype": "http://www.w3.org/2001/XMLSchema#integer"}}]


def test_query_content_type_ask(address):
    status, ctype, _ = send(address, "POST", "/sparql", {"Content-Type": FORM},
                            form(("query", "ASK {}"), ("default-graph-uri", DATA0)))
    assert status == 200 and ctype in RESULTS


@pytest.mark.parametrize("query", ["DESCRIBE <http://example.org/x>",
                                   "CONSTRUCT { <s> <p> 1 } WHERE {}"])
def test_query_content_type_graph(address, query):
    """The validator takes RDF/XML, RDF/JSON or Turtle (a regex on the start of Content-Type)."""
    status, ctype, _ = send(address, "POST", "/sparql", {"Content-Type": FORM},
                            form(("query", query), ("default-graph-uri", DATA0)))
    assert status == 200 and ctype.startswith("text/turtle")
