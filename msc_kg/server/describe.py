"""The service description (SPARQL 1.1 Service Description) with VoID statistics and SHACL status.

Returned for ``GET /sparql`` without a query, as the SPARQL 1.1 Protocol's service description
(https://www.w3.org/TR/sparql11-service-description/#accessing). Dataset statistics use VoID
(https://www.w3.org/TR/void/#statistics). The SHACL conformance of the served data and the
ontology/shapes versions come from the release manifest, in the msc-kg service vocabulary.
Statistics are computed once per load of the (read-only) data, before serving processes fork.
"""

from __future__ import annotations

from decimal import Decimal

import pyoxigraph as ox

from msc_kg.server.negotiate import GRAPH, RESULTS

SD = "http://www.w3.org/ns/sparql-service-description#"
VOID = "http://rdfs.org/ns/void#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSD = "http://www.w3.org/2001/XMLSchema#"
SH = "http://www.w3.org/ns/shacl#"
DCT = "http://purl.org/dc/terms/"
OWL = "http://www.w3.org/2002/07/owl#"
MSCS = "https://w3id.org/msc-kg/service#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
PREFIXES = {"sd": SD, "void": VOID, "xsd": XSD, "sh": SH, "owl": OWL, "mscs": MSCS, "rdfs": RDFS}
SERVICE_VOCABULARY = MSCS[:-1]  # the document of the msc-kg service terms, served at /service
# The msc-kg service terms, defined where they are used and at their document: they were defined
# nowhere, and did not dereference (linked-data review).
SERVICE_TERMS = {
    "maxRows": ("max rows", "The most rows (SELECT) or triples (CONSTRUCT, DESCRIBE) one response "
                "of the endpoint holds; a response cut there says so in X-SPARQL-Truncated."),
    "timeoutSeconds": ("timeout in seconds", "How long the endpoint evaluates a query before it "
                       "answers 503 instead."),
    "validation": ("validation", "The SHACL validation report of the served release: whether it "
                   "conforms to the project's shapes."),
    "ontologyVersion": ("ontology version", "The version (owl:versionInfo) of the ontology the "
                        "served release was built with."),
    "shapesVersion": ("shapes version", "The version (owl:versionInfo) of the SHACL shapes the "
                      "served release was validated against."),
}
FORMATS = {  # W3C format IRIs (https://www.w3.org/ns/formats/) for sd:resultFormat
    "application/sparql-results+json": "SPARQL_Results_JSON",
    "application/sparql-results+xml": "SPARQL_Results_XML",
    "text/csv": "SPARQL_Results_CSV",
    "text/tab-separated-values": "SPARQL_Results_TSV",
    "text/turtle": "Turtle",
    "application/n-triples": "N-Triples",
    "application/rdf+xml": "RDF_XML",
    "application/ld+json": "JSON-LD",
    "application/n-quads": "N-Quads",
    "application/trig": "TriG",
}

# One scan for the counts over all triples (measured at 10⁶ triples: 0.77 s, where a query for
# each took 1.58 s), one for the classes. IF(...) without an else value is an error for a blank
# node or a literal subject, and COUNT skips errors.
_COUNTS = ("SELECT (COUNT(*) AS ?triples) (COUNT(DISTINCT IF(isIRI(?s), ?s, ?none)) AS ?entities) "
           "(COUNT(DISTINCT ?p) AS ?properties) (COUNT(DISTINCT ?s) AS ?distinctSubjects) "
           "(COUNT(DISTINCT ?o) AS ?distinctObjects) WHERE { ?s ?p ?o }")
_CLASSES = "SELECT (COUNT(DISTINCT ?c) AS ?classes) WHERE { ?s a ?c }"
# The counts over the union default graph, which holds a statement once per graph stating it:
# /data?default and the default graph's void:triples count it once (8 against 7: hostile testing)
_UNION_COUNTS = _COUNTS.replace("WHERE { ?s ?p ?o }", "WHERE { SELECT DISTINCT ?s ?p ?o { ?s ?p ?o } }")
# VoID property and class partitions (VoID §4.5, §4.6), from which a client estimates a triple
# pattern's size (in the VoID document only: see service_description). Measured at 10⁵ triples:
# 0.06 s for the properties, 0.01 s for the classes, once per load.
_PROPERTIES = ("SELECT ?p (COUNT(*) AS ?triples) (COUNT(DISTINCT ?s) AS ?distinctSubjects) "
               "(COUNT(DISTINCT ?o) AS ?distinctObjects) WHERE { ?s ?p ?o } GROUP BY ?p")
_UNION_PROPERTIES = _PROPERTIES.replace("WHERE { ?s ?p ?o }", "WHERE { SELECT DISTINCT ?s ?p ?o { ?s ?p ?o } }")
_CLASS_PARTITIONS = "SELECT ?c (COUNT(DISTINCT ?s) AS ?entities) WHERE { ?s a ?c } GROUP BY ?c"
# At most this many partitions of each kind, else none of that kind (a client would take a
# predicate or class left out for one with no triples): the VoID document is written for each
# request, and data of 50 000 predicates and classes made it 11-32 MB, 3.5-7 s of processor time
# a request, outside every query limit (hostile review). The release has 127 and 58.
MAX_PARTITIONS = 2000


def statistics(store: ox.Store, union: bool = False) -> dict:
    """VoID counts of the default graph plus the triple count of each named graph, keyed by its
    IRI, or by its N-Triples label ("_:b") if a blank node names it (TriG and N-Quads allow it)."""
    stats = {}
    for query in (_UNION_COUNTS if union else _COUNTS, _CLASSES):
        solutions = store.query(query, use_default_graph_as_union=union)
        row = next(iter(solutions))
        stats |= {v.value: int(row[v].value) for v in solutions.variables}
    if union:  # the default graph's own statements, for the dataset's count
        stats["own"] = int(next(iter(store.query("SELECT (COUNT(*) AS ?n) { ?s ?p ?o }")))["n"].value)
    properties = [(row["p"].value, int(row["triples"].value), int(row["distinctSubjects"].value),
                   int(row["distinctObjects"].value))
                  for row in store.query(_UNION_PROPERTIES if union else _PROPERTIES, use_default_graph_as_union=union)]
    stats["properties_of"] = sorted(properties) if len(properties) <= MAX_PARTITIONS else None
    classes = [(row["c"], int(row["entities"].value))
               for row in store.query(_CLASS_PARTITIONS, use_default_graph_as_union=union)]
    # void:class names a class: where data gives rdf:type a literal or blank node object, no
    # partition can say so, and a client told of all the others would take those for none
    stats["classes_of"] = (sorted((c.value, n) for c, n in classes)
                           if len(classes) <= MAX_PARTITIONS and all(isinstance(c, ox.NamedNode) for c, _ in classes)
                           else None)
    stats["graphs"] = {
        (g.value if isinstance(g, ox.NamedNode) else str(g)):
            sum(1 for _ in store.quads_for_pattern(None, None, None, g))
        for g in store.named_graphs()
    }
    return stats


def service_description(endpoint: str, stats: dict, manifest: dict | None, union: bool,
                        max_rows: int, timeout: float, federated: bool = False,
                        dump: str | None = None, void_document: str | None = None) -> list[ox.Triple]:
    """The triples describing the endpoint at ``endpoint`` (``dump``: where the whole dataset is
    downloaded, the graph store's /data), with the VoID statistics; with ``void_document``, the
    IRI of the document that holds them, named instead (rdfs:seeAlso of the dataset).

    The service description at the endpoint carries none: Comunica, federating this endpoint with
    another, planned from them and sent one query per binding (532 requests to each source for a
    competency query, 8 500 for another, where 13 and 10 do when it counts by its own queries, as
    it does at endpoints without VoID: client interop audit; property and class partitions did not
    change that). The VoID document at /.well-known/void carries them."""
    n, lit = ox.NamedNode, ox.Literal
    svc, ds, dg = n(endpoint), ox.BlankNode("dataset"), ox.BlankNode("defaultGraph")

    t = [
        (svc, n(RDF + "type"), n(SD + "Service")),
        (svc, n(SD + "endpoint"), svc),
        (svc, n(SD + "supportedLanguage"), n(SD + "SPARQL11Query")),
        (svc, n(SD + "defaultDataset"), ds),
        (svc, n(MSCS + "maxRows"), _integer(max_rows)),
        # in xsd:decimal's lexical form: str() gave "1e+20" for --timeout 1e20 (hostile testing)
        (svc, n(MSCS + "timeoutSeconds"), lit(format(Decimal(repr(float(timeout))), "f"),
                                              datatype=n(XSD + "decimal"))),
        (ds, n(RDF + "type"), n(SD + "Dataset")),
        (ds, n(RDF + "type"), n(VOID + "Dataset")),
        (ds, n(SD + "defaultGraph"), dg),
        (ds, n(VOID + "sparqlEndpoint"), svc),
        (dg, n(RDF + "type"), n(SD + "Graph")),
    ]
    if dump:
        t.append((ds, n(VOID + "dataDump"), n(dump)))
    if federated:  # only for the --service-allow list
        t.append((svc, n(SD + "feature"), n(SD + "BasicFederatedQuery")))
    if union:
        t.append((svc, n(SD + "feature"), n(SD + "UnionDefaultGraph")))
    for media in dict.fromkeys(m for m, _ in RESULTS + GRAPH):
        if media in FORMATS:
            t.append((svc, n(SD + "resultFormat"), n("http://www.w3.org/ns/formats/" + FORMATS[media])))
    if void_document is None:
        t += _statistics(stats, ds, dg, union)
    else:
        t.append((ds, n(RDFS + "seeAlso"), n(void_document)))
    named = sorted((name, count) for name, count in stats["graphs"].items() if not name.startswith("_:"))
    for i, (name, count) in enumerate(named):  # sd:name is an IRI: graphs named by a blank node
        # are left out (one made every service description a 500: hostile testing)
        ng, g = ox.BlankNode(f"named{i}"), ox.BlankNode(f"graph{i}")
        t += [(ds, n(SD + "namedGraph"), ng), (ng, n(SD + "name"), n(name)), (ng, n(SD + "graph"), g)]
        if void_document is None:
            t.append((g, n(VOID + "triples"), _integer(count)))
    if manifest:
        report = ox.BlankNode("validation")
        if "conforms" in manifest:
            t += [(ds, n(MSCS + "validation"), report),
                  (report, n(RDF + "type"), n(SH + "ValidationReport")),
                  (report, n(SH + "conforms"),
                   lit("true" if manifest["conforms"] else "false", datatype=n(XSD + "boolean")))]
        for key, prop in (("version", OWL + "versionInfo"),
                          ("ontology_version", MSCS + "ontologyVersion"),
                          ("shapes_version", MSCS + "shapesVersion")):
            if manifest.get(key) is not None:
                t.append((ds, n(prop), lit(str(manifest[key]))))
    used = {p.value[len(MSCS):] for _, p, _ in t if p.value.startswith(MSCS)}
    t += service_terms(used)
    first = {}  # each subject's statements together (Turtle writes one block per subject), in order
    for subject, _, _ in t:
        first.setdefault(subject, len(first))
    return [ox.Triple(*x) for x in sorted(t, key=lambda x: first[x[0]])]


def _integer(value: int) -> ox.Literal:
    return ox.Literal(str(value), datatype=ox.NamedNode(XSD + "integer"))


def _statistics(stats: dict, ds: ox.BlankNode, dg: ox.BlankNode, union: bool) -> list[tuple]:
    """The VoID counts of the dataset ``ds`` and its default graph ``dg``, with the default
    graph's property and class partitions."""
    n, t = ox.NamedNode, []
    for key in ("triples", "entities", "classes", "properties", "distinctSubjects", "distinctObjects"):
        t.append((dg, n(VOID + key), _integer(stats[key])))
        # the default graph's counts are the dataset's when it is all there is, or the union of
        # all: beside named graphs they were given as the dataset's too (linked-data review)
        if not stats["graphs"] or key != "triples" and union:
            t.append((ds, n(VOID + key), _integer(stats[key])))
    for i, (prop, count, subjects, objects) in enumerate(stats.get("properties_of") or ()):
        part = ox.BlankNode(f"property{i}")
        t += [(dg, n(VOID + "propertyPartition"), part), (part, n(VOID + "property"), n(prop)),
              (part, n(VOID + "triples"), _integer(count)),
              (part, n(VOID + "distinctSubjects"), _integer(subjects)),
              (part, n(VOID + "distinctObjects"), _integer(objects))]
    for i, (cls, count) in enumerate(stats.get("classes_of") or ()):
        part = ox.BlankNode(f"class{i}")
        t += [(dg, n(VOID + "classPartition"), part), (part, n(VOID + "class"), n(cls)),
              (part, n(VOID + "entities"), _integer(count))]
    if stats["graphs"]:  # the dataset's statements are its graphs' (all of them in named graphs
        # made it 0: hostile testing); the union default graph repeats theirs
        own = stats.get("own", stats["triples"])
        t.append((ds, n(VOID + "triples"), _integer(own + sum(stats["graphs"].values()))))
    return t


def service_terms(names=SERVICE_TERMS) -> list[tuple]:
    """The definitions of the msc-kg service terms ``names`` (all of them: their document)."""
    n, lit = ox.NamedNode, ox.Literal
    t = []
    for name in sorted(names):
        label, comment = SERVICE_TERMS[name]
        term = n(MSCS + name)
        t += [(term, n(RDF + "type"), n(RDF + "Property")), (term, n(RDFS + "label"), lit(label, language="en")),
              (term, n(RDFS + "comment"), lit(comment, language="en")),
              (term, n(RDFS + "isDefinedBy"), n(SERVICE_VOCABULARY))]
    return t
