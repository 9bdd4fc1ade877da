"""Answers a syntax cannot carry, found before they are sent, and what the 406 says.

Oxigraph 0.5.13 writes some answers malformed or not at all: characters XML 1.0 cannot carry even
escaped (U+0001, U+FFFE) go raw into XML results and RDF/XML; a property whose IRI has no ending
that is an XML name (``…/123``, ``…/p#``, ``…/a/``) becomes an element named ``oxprefix:``, and one
of the namespace http://www.w3.org/2000/xmlns/ an element ``xmlns:…``, which no namespace-aware XML
parser reads; and JSON-LD refuses RDF 1.2 triple terms with an error. Such an
answer is refused with 406, naming the reason and the syntaxes that carry it (hostile testing found
them served as 200 with malformed bodies, or as 500 and 502) — unless the request accepts another
syntax that carries it, which then answers (RFC 9110 §15.5.7; the 406 was answered to a browser's
``*/*;q=0.8`` and to ``Accept`` lists naming Turtle or JSON too: hostile testing).
"""

from __future__ import annotations

import re
from typing import NamedTuple

import pyoxigraph as ox

from msc_kg.server.results import NAMESPACES, PREFIXES, fix_rdfxml, write_triples

# Characters XML 1.0 cannot carry, not even as references (§2.2): C0 controls other than tab, line
# feed and carriage return, and U+FFFE and U+FFFF (UTF-8 encoded).
_NOT_XML = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]|\xef\xbf[\xbe\xbf]")
# An element name ending in ":" (in markup: "<" in text and attribute values is always escaped),
# and the namespace its start tag declares, which is then the property's whole IRI.
_EMPTY_LOCAL = re.compile(rb'</?([^\s<>/!?]*):[\s/>](?:[^>]*?xmlns:[^=\s]*="([^"]*)")?')
TRIPLE_TERMS = "holds RDF 1.2 triple terms, which JSON-LD cannot carry"
# graphstore.NESTED_MAX: more statements with nested triple terms than a streamed RDF/XML download
# is looked through for what RDF/XML cannot carry before it starts
NESTED_UNCHECKED = ("holds more than 10000 statements with nested triple terms, more than a download "
                    "is looked through for what RDF/XML cannot carry before it starts")
GRAPH_SYNTAXES = "Turtle or N-Triples"  # they carry every graph
RESULT_SYNTAXES = "JSON, CSV or TSV"
# The syntaxes (format keys of msc_kg.server.negotiate) that cannot carry every answer.
MAY_NOT_CARRY = frozenset({"xml", "rdfxml", "jsonld"})
NO_RDF_12 = "does not support RDF 1.2"  # Oxigraph 0.5.13's JSON-LD writer, given a triple term
# Its RDF/XML writer, given a property RDF/XML spells as syntax (rdf:li, rdf:Description, rdf:about,
# rdf:ID, rdf:nodeID, rdf:resource, rdf:datatype, rdf:parseType, rdf:RDF): answered 502 as an
# evaluation failure, or 500 where another syntax was acceptable (hostile testing)
_RESERVED = "RDF/XML reserved syntax term is not allowed as a predicate"
RESERVED_TERMS = ("uses an RDF/XML syntax term (rdf:li, rdf:Description, rdf:about, rdf:ID, "
                  "rdf:nodeID, rdf:resource, rdf:datatype, rdf:parseType or rdf:RDF) as a "
                  "property, which RDF/XML cannot write")
# The old terms RDF/XML forbids as element names, which the writer writes as property elements
# (and typed nodes): no RDF/XML parser reads them (hostile testing: served with 200)
_OLD_TERM = re.compile(rb"<rdf:(?:aboutEach|aboutEachPrefix|bagID)[\s/>]")
OLD_TERMS = ("uses rdf:aboutEach, rdf:aboutEachPrefix or rdf:bagID as a property or class, "
             "which RDF/XML forbids as an element")
# A property or class of the namespace XML reserves for namespace declarations: the writer names
# its element "xmlns:…", a prefix no element may carry (Namespaces in XML §3; hostile testing:
# served with 200, and expat, rdflib and every namespace-aware parser refused it)
_XMLNS_ELEMENT = re.compile(rb"<xmlns:([^\s/>]+)")


class CannotCarry(NamedTuple):
    """That the syntax of ``choice`` (media type, format key) cannot carry an answer, and why; kept
    in the response cache under that answer's key (``body`` is empty: the cache counts its size)."""

    body: bytes
    reason: str
    graph: bool  # an RDF graph, else query results
    choice: tuple[str, str]


def xml_problem(body: bytes, rdfxml: bool = True) -> str | None:
    """Why ``body`` (RDF/XML, or XML query results) is no XML document a client can read, or None."""
    bad = _NOT_XML.search(body)
    if bad is not None:
        return (f"holds U+{ord(bad.group().decode()):04X}, a character XML 1.0 cannot carry, "
                "even escaped")
    if not rdfxml:  # results name no properties or classes
        return None
    empty = _EMPTY_LOCAL.search(body)
    if empty is not None:  # the IRI its start tag declares, else the server's prefix's (owl:)
        named = empty.group(2) or NAMESPACES.get(empty.group(1), b"")
        iri = f" <{named.decode()}>" if named else ""
        return (f"uses{iri or ' a property or class'}, which RDF/XML cannot write as an element: no "
                "XML name ends the IRI")
    reserved = _XMLNS_ELEMENT.search(body)
    if reserved is not None:
        return (f"uses <http://www.w3.org/2000/xmlns/{reserved.group(1).decode()}>, which RDF/XML cannot "
                "write as an element: XML reserves its namespace and prefix for namespace declarations")
    return OLD_TERMS if _OLD_TERM.search(body) else None


def writer_problem(exc: OSError) -> str | None:
    """Why Oxigraph's graph writer refused an answer with ``exc``, where that means its syntax
    cannot carry the answer; else None (an evaluation failure, say)."""
    text = str(exc)
    if NO_RDF_12 in text:
        return TRIPLE_TERMS
    return RESERVED_TERMS if _RESERVED in text else None


def name_problem(iri: str, as_property: bool = True) -> str | None:
    """xml_problem of the RDF/XML written for ``iri`` as a property, or else as a class (an element
    names each: a typed node for a class, where results.fix_rdfxml leaves one)."""
    node, named = ox.NamedNode("urn:s"), ox.NamedNode(iri)
    triples = [ox.Triple(node, named, ox.Literal("")) if as_property else ox.Triple(node, _RDF_TYPE, named)]
    try:  # with the prefixes the server writes with: a namespace's IRI is named by its prefix
        return xml_problem(fix_rdfxml(ox.serialize(triples, format=ox.RdfFormat.RDF_XML, prefixes=PREFIXES)))
    except OSError as exc:
        return writer_problem(exc) or f"uses <{iri}>, which RDF/XML could not write ({exc})"


_RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")


def refusal_text(reason: str, graph: bool) -> str:
    """What the 406 for an answer that ``reason`` keeps from the negotiated syntax says
    (``graph``: an RDF graph, else query results)."""
    return (f"No acceptable format: the answer {reason}; ask for "
            f"{GRAPH_SYNTAXES if graph else RESULT_SYNTAXES}.")


def problem(body: bytes, fmt: str) -> str | None:
    """Why a written ``body`` in ``fmt`` (a format key of msc_kg.server.negotiate) cannot be
    served as it is, or None."""
    return xml_problem(body, rdfxml=fmt == "rdfxml") if fmt in ("xml", "rdfxml") else None


def written_as(ntriples: bytes, fmt: str, max_rows: int,
               grouped: bool = False) -> tuple[bytes, str | None]:
    """A graph written as N-Triples (which carry every graph) written in ``fmt`` instead, as the
    engine writes it (results.write_triples): (body, None), or (b"", why ``fmt`` cannot carry it)."""
    if fmt == "ntriples":
        return ntriples, None
    # lenient: the engine writes what a query made, "x"^^rdf:langString without a tag too, which
    # the strict parser refuses (a 500: hostile testing)
    triples = ox.parse(ntriples, format=ox.RdfFormat.N_TRIPLES, lenient=True)
    try:
        body = write_triples(triples, fmt, max_rows, grouped=grouped)[0]
    except OSError as exc:  # only written here, so no evaluation failure: any refusal's reason
        return b"", writer_problem(exc) or f"could not be written in that syntax ({exc})"
    reason = problem(body, fmt)
    return (body, None) if reason is None else (b"", reason)
