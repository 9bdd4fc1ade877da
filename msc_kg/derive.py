"""Facts derived once at build time: tumour effects, contradictions, evidence anchors and cross-references."""

from __future__ import annotations

import pyoxigraph as ox
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, XSD

from msc_kg import paths
from msc_kg.errors import MscKgError, support_text
from msc_kg.load import MSCD, MSCNS, oxigraph_copy, rdflib_term
from msc_kg.mappings import mapping_graph
from msc_kg.source import locate, review_text

OA = Namespace("http://www.w3.org/ns/oa#")
CNT = Namespace("http://www.w3.org/2011/content#")  # W3C Note "Representing Content in RDF 1.0"
PROV = Namespace("http://www.w3.org/ns/prov#")
REVIEW_TEXT = URIRef(MSCD + "review-text")
REVIEW_LICENCE = URIRef("https://creativecommons.org/licenses/by-nc/4.0/")
CONTEXT = 32  # characters of prefix/suffix kept by each TextQuoteSelector


def construct(graph: Graph, name: str, store: ox.Store | None = None) -> Graph:
    """Run queries/derive/<name>.rq (a CONSTRUCT) over the graph, with Oxigraph's engine (``store``:
    the graph's copy, oxigraph_copy). rdflib's took 10 s on the contradictions of the real graph and
    400 s with 500 findings more sharing an actor, which validate and build run first (hostile
    testing); the answers are the same, triple for triple (tested)."""
    path = paths.QUERIES_DIR / "derive" / f"{name}.rq"
    query = support_text(path)
    store = oxigraph_copy(graph) if store is None else store
    try:
        answer = store.query(query)
    except (SyntaxError, OSError) as exc:  # a traceback naming no file (hostile testing)
        raise MscKgError(f"{path}: does not run as SPARQL: {exc}") from None
    result = Graph()
    for triple in answer:
        result.add((rdflib_term(triple.subject), rdflib_term(triple.predicate), rdflib_term(triple.object)))
    return result


def anchors(graph: Graph, text: str | None = None) -> Graph:
    """W3C Web Annotation selectors locating each evidence quote in the shipped review text.

    https://www.w3.org/TR/annotation-model/#text-quote-selector and #text-position-selector:
    each statement is prov:wasDerivedFrom <stmt#anchor>, an oa:SpecificResource of the text.
    Every node made here is declared an owl:NamedIndividual, as named-individuals.rq declares the
    curated ones (it runs on the curated graph, before these exist).
    """
    text = review_text() if text is None else text
    out = Graph()
    # cnt:chars, not rdf:value, which OWL 2 DL reserves: the full release failed the OWL API's DL
    # profile check on that one statement (ontology audit). The text is the annotations' source,
    # not a body of theirs, so a cnt:ContentAsText rather than an oa:TextualBody.
    out.add((REVIEW_TEXT, RDF.type, CNT.ContentAsText))
    out.add((REVIEW_TEXT, RDF.type, OWL.NamedIndividual))
    out.add((REVIEW_TEXT, RDFS.label, Literal("Plain text of the review (source/review.txt, cleaned)")))
    out.add((REVIEW_TEXT, RDFS.comment, Literal(
        "source/review.txt without its page headers and with every run of whitespace collapsed to "
        "one space, held as cnt:chars: the oa:start and oa:end of the evidence anchors count its "
        "characters from 0 (the offsets pointed into a text that was neither in the graph nor "
        "shipped: hostile testing).")))
    out.add((REVIEW_TEXT, CNT.chars, Literal(text)))
    out.add((REVIEW_TEXT, DCTERMS.isFormatOf, URIRef(MSCD + "review")))
    # the review's licence, not the graph's (an ontology-tool audit: the release stated only CC BY)
    out.add((REVIEW_TEXT, DCTERMS.license, REVIEW_LICENCE))
    out.add((REVIEW_TEXT, DCTERMS.rights, Literal(
        "The review's text, and each sentence the graph quotes from it (msc:evidence, oa:exact), is "
        "(c) Ivyspring International Publisher, under CC BY-NC 4.0, not the graph's CC BY 4.0 "
        "(LICENSE-DATA.md).")))
    for statement, quote in graph.subject_objects(MSCNS.evidence):
        if not isinstance(statement, URIRef):
            continue  # a blank node has no IRI to mint fragments of; validation refuses it
        span = locate(str(quote), text)
        if span is None:
            continue  # validation reports it; nothing to anchor
        start, end = span
        anchor, by_quote, by_position = (URIRef(f"{statement}#{p}") for p in ("anchor", "quote", "position"))
        out.add((statement, PROV.wasDerivedFrom, anchor))
        out.add((anchor, RDF.type, OA.SpecificResource))
        out.add((anchor, OA.hasSource, REVIEW_TEXT))
        out.add((anchor, OA.hasSelector, by_quote))
        out.add((anchor, OA.hasSelector, by_position))
        out.add((by_quote, RDF.type, OA.TextQuoteSelector))
        out.add((by_quote, OA.exact, Literal(text[start:end])))
        out.add((by_quote, OA.prefix, Literal(text[max(0, start - CONTEXT):start])))
        out.add((by_quote, OA.suffix, Literal(text[end:end + CONTEXT])))
        out.add((by_position, RDF.type, OA.TextPositionSelector))
        out.add((by_position, OA.start, Literal(start, datatype=XSD.nonNegativeInteger)))
        out.add((by_position, OA.end, Literal(end, datatype=XSD.nonNegativeInteger)))
        name = statement.rsplit("/", 1)[-1]  # told apart in an ontology editor's list (ontology audit)
        for node, what in ((anchor, "evidence anchor"), (by_quote, "quote selector"), (by_position, "position selector")):
            out.add((node, RDF.type, OWL.NamedIndividual))
            out.add((node, RDFS.label, Literal(f"{what} of {name}")))
    return out


def derive(graph: Graph) -> Graph:
    """Everything derived from the curated graph, as a separate graph to add to it."""
    store = oxigraph_copy(graph)
    derived = construct(graph, "tumour-effect", store)
    derived += construct(graph, "contradictions", store)
    derived += construct(graph, "named-individuals", store)
    # cross-references from ontology/mappings.tsv; their prefixes kept (the release's Turtle
    # declared oboInOwl as ns1:)
    for part in (anchors(graph), mapping_graph()):
        derived += part
        for prefix, namespace in part.namespaces():
            derived.bind(prefix, namespace, override=False)
    return derived
