"""OWL 2 reasoning with HermiT (through owlready2): consistency and unsatisfiable classes."""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import RDF, Graph

from msc_kg.errors import Inconsistent, MscKgError, ReasonerUnavailable
from msc_kg.namespaces import MSC, MSCD
from msc_kg.rdfxml import rdfxml

JAVA_MISSING = ("HermiT needs a Java runtime and none was found (install one, e.g. "
                "`apt-get install default-jre-headless`, or set JAVA_HOME); "
                "reasoning was skipped, everything else works.")


@dataclass
class ReasonerResult:
    """What HermiT concluded about the ontology with its data."""

    consistent: bool
    unsatisfiable: list[str] = field(default_factory=list)
    culprits: list[str] = field(default_factory=list)  # why, where a cheap look tells

    def text(self) -> str:
        if not self.consistent:
            why = "".join(f"\n  {c}" for c in self.culprits) or (
                " No individual has two disjoint classes (stated, or by a property's domain or "
                "range) and no functional property two different values: look at the ontology's "
                "other axioms (cardinalities, property chains, disjoint properties).")
            return "HermiT: the ontology with its data is INCONSISTENT." + why
        if self.unsatisfiable:
            return "HermiT: unsatisfiable classes: " + ", ".join(self.unsatisfiable)
        return "HermiT: consistent, no unsatisfiable class."


def java_available() -> bool:
    """True when a `java` executable is on PATH (owlready2 runs HermiT with it)."""
    return shutil.which("java") is not None


# Why the data contradicts the ontology, where a query can tell (HermiT's error names nothing):
# an individual with two disjoint classes, stated or implied by a property's rdfs:domain or
# rdfs:range (IL-6 as the subject of msc:modelsCancer became a cell line: hostile testing), or
# a functional property with two values the ontology declares different.
_PREFIXES = """
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
"""
_DISJOINT = _PREFIXES + """
SELECT DISTINCT ?a ?b WHERE {
  { ?a owl:disjointWith ?b }
  UNION { ?all a owl:AllDisjointClasses ; owl:members/rdf:rest*/rdf:first ?a, ?b FILTER(?a != ?b) }
}"""
_CLASSES = _PREFIXES + """
SELECT DISTINCT ?x ?c ?how ?via ?s WHERE {
  { ?x a ?via . ?via rdfs:subClassOf* ?c BIND("a" AS ?how) BIND(?x AS ?s) }
  UNION { ?x ?via ?o . ?via rdfs:subPropertyOf*/rdfs:domain/rdfs:subClassOf* ?c
          BIND("domain" AS ?how) BIND(?x AS ?s) }
  UNION { ?s ?via ?x . FILTER(!isLiteral(?x))
          ?via rdfs:subPropertyOf*/rdfs:range/rdfs:subClassOf* ?c BIND("range" AS ?how) }
  FILTER(?c IN (%s))
} ORDER BY ?x ?c ?how ?via ?s"""
_FUNCTIONAL = _PREFIXES + "SELECT ?p WHERE { ?p a owl:FunctionalProperty } ORDER BY ?p"
_TWO_VALUES = "SELECT ?x ?a ?b WHERE { ?x <%s> ?a, ?b FILTER(str(?a) < str(?b)) } ORDER BY ?x ?a ?b"
_DIFFERENT = _PREFIXES + """
SELECT ?a ?b WHERE {
  { ?a owl:differentFrom ?b }
  UNION { ?all a owl:AllDifferent ; owl:distinctMembers|owl:members ?list .
          ?list rdf:rest*/rdf:first ?a, ?b }
}"""
_WHY = {"a": "typed {via}", "domain": "as the subject of {via}", "range": "as the object of {via}"}


def culprits(graph: Graph, where=None) -> list[str]:
    """Why ``graph`` is inconsistent, as sentences, where a query can tell (at most 20 of each
    kind); ``where(node, predicate)`` names the file that states a statement, for the prefix."""
    from pyoxigraph import Literal
    from rdflib import URIRef

    from msc_kg.load import oxigraph_copy

    store = oxigraph_copy(graph)

    def stated(*statements) -> str:  # "file: ", or "file, other: ", or "" without ``where``
        if where is None:
            return ""
        return ", ".join(dict.fromkeys(where(URIRef(s.value), URIRef(p.value)) for s, p in statements)) + ": "

    pairs = sorted({tuple(sorted((row["a"].value, row["b"].value))) for row in store.query(_DISJOINT)})
    out = []
    if pairs:
        classes = {}  # individual -> class -> its first reason to have it: (how, via, subject)
        listed = ", ".join(sorted({f"<{c}>" for pair in pairs for c in pair}))
        for row in store.query(_CLASSES % listed):
            reasons = classes.setdefault(row["x"], {})
            reasons.setdefault(row["c"].value, (row["how"].value, row["via"], row["s"]))
        for x, reasons in classes.items():
            for a, b in pairs:
                if a in reasons and b in reasons and len(out) < 20:
                    out.append(f"{stated(_statement(*reasons[a]), _statement(*reasons[b]))}{_name(x)} "
                               f"is {_side(a, *reasons[a])} and {_side(b, *reasons[b])}, which are disjoint")
    typings = len(out)
    different = {frozenset((row["a"], row["b"])) for row in store.query(_DIFFERENT)}
    for p in (row["p"] for row in store.query(_FUNCTIONAL)):  # one simple query each: as one
        for row in store.query(_TWO_VALUES % p.value):  # query, the engine's plan took 0 s or 80
            x, a, b = row["x"], row["a"], row["b"]
            if frozenset((a, b)) in different or isinstance(a, Literal) and isinstance(b, Literal):
                if len(out) < typings + 20:
                    out.append(f"{stated((x, p))}{_name(x)} has two values of {_name(p)}, a "
                               f"functional property: {_name(a)} and {_name(b)}, which are different")
    return out


def _side(cls: str, how: str, via, subject) -> str:
    """One class of a disjoint pair, and why the individual has it."""
    if how == "a" and via.value == cls:
        return f"a {_short(cls)}"
    return f"a {_short(cls)} ({_WHY[how].format(via=_name(via))})"


def _statement(how: str, via, subject) -> tuple:
    """The (subject, predicate) of the statement that gives an individual a class."""
    from pyoxigraph import NamedNode

    return subject, NamedNode(str(RDF.type)) if how == "a" else via


def _name(term) -> str:
    """A pyoxigraph term for a message: msc:…/mscd:… or <iri>, _:label, or a literal as written."""
    from pyoxigraph import NamedNode

    return _short(term.value) if isinstance(term, NamedNode) else str(term)


def _short(iri: str) -> str:
    """``iri`` as msc:… or mscd:… where it is one of the project's, else in angle brackets."""
    for prefix, namespace in (("msc", MSC), ("mscd", MSCD)):
        if iri.startswith(namespace) and iri[len(namespace):].replace("-", "").replace("_", "").isalnum():
            return f"{prefix}:{iri[len(namespace):]}"
    return f"<{iri}>"


def reason(graph: Graph, where=None) -> ReasonerResult:
    """Run HermiT on the graph; raise ReasonerUnavailable when Java is missing. ``where(node,
    predicate)``, as Loaded.where, names the files of an inconsistency's statements."""
    if not java_available():
        raise ReasonerUnavailable(JAVA_MISSING)
    import owlready2

    with tempfile.TemporaryDirectory() as tmp:  # the graph as the release writes it (build/msc-kg.owl)
        path = Path(tmp) / "graph.owl"
        path.write_text(rdfxml(graph), encoding="utf-8")
        world = owlready2.World()
        try:
            onto = world.get_ontology(path.as_uri()).load()
        except owlready2.OwlReadyOntologyParsingError as exc:  # validation refuses what RDF/XML
            # cannot carry; anything else is told without the temporary file's name
            raise MscKgError("the reasoner could not read the graph as RDF/XML (written from the "
                             f"validated data): {str(exc).replace(str(path), 'the graph')[:400]}") from None
        try:
            with onto:
                owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)
        except owlready2.OwlReadyInconsistentOntologyError:
            return ReasonerResult(consistent=False, culprits=culprits(graph, where))
        except owlready2.OwlReadyJavaError as exc:  # Java present but HermiT could not run
            if datatype := _UNSUPPORTED.search(str(exc)):  # the data's fault, not the reasoner's
                raise Inconsistent(
                    f"HermiT refuses a literal of datatype <{datatype.group(1)}>: it is outside the "
                    "OWL 2 datatype map (https://www.w3.org/TR/owl2-syntax/#Datatype_Maps), so a data "
                    "property may not take it; use an annotation property (as msc:statusDate does) "
                    "or a datatype of the map.") from None
            raise ReasonerUnavailable(f"HermiT could not run: {str(exc).strip()[:400]}") from exc
        unsat = sorted(str(c.iri) for c in world.inconsistent_classes()
                       if c is not owlready2.Nothing)  # unsatisfiable by definition, not news
    return ReasonerResult(consistent=True, unsatisfiable=unsat)


# HermiT's message for a literal outside the OWL 2 datatype map names its datatype in quotes
_UNSUPPORTED = re.compile(r"UnsupportedDatatypeException.*?'([^']+)'", re.DOTALL)


def check_without_reasoner(graph: Graph, where=None) -> None:
    """Raise Inconsistent when the queries of ``culprits`` find the graph inconsistent: run where
    HermiT is not (no Java, or --no-reason), so that a build never writes a release a reasoner
    would refuse (a cell line typed an NK cell, disjoint classes, was built without Java and
    published as conforming: ontology audit). Without HermiT, what no query reads is not found."""
    found = culprits(graph, where)
    if found:
        raise Inconsistent("The ontology with its data is INCONSISTENT (found by queries; HermiT did "
                           "not run):" + "".join(f"\n  {c}" for c in found))


def check(graph: Graph, where=None) -> ReasonerResult:
    """Reason and raise Inconsistent when the graph is inconsistent or has unsatisfiable classes."""
    result = reason(graph, where)
    if not result.consistent or result.unsatisfiable:
        raise Inconsistent(result.text())
    return result
