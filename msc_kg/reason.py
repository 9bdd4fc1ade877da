"""OWL 2 reasoning with HermiT (through owlready2): consistency and unsatisfiable classes."""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import Graph

from msc_kg.errors import Inconsistent, MscKgError, ReasonerUnavailable
from msc_kg.namespaces import MSC, MSCD

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
                " No individual is typed with two disjoint classes: look at property assertions "
                "against domains, ranges and disjoint or functional properties.")
            return "HermiT: the ontology with its data is INCONSISTENT." + why
        if self.unsatisfiable:
            return "HermiT: unsatisfiable classes: " + ", ".join(self.unsatisfiable)
        return "HermiT: consistent, no unsatisfiable class."


def java_available() -> bool:
    """True when a `java` executable is on PATH (owlready2 runs HermiT with it)."""
    return shutil.which("java") is not None


# Individuals typed, through rdfs:subClassOf*, with two classes declared disjoint: the usual way
# curated data contradicts the ontology, and one a query names (HermiT's error names nothing).
_DISJOINT_TYPES = """
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT DISTINCT ?x ?a ?b WHERE {
  { ?a owl:disjointWith ?b }
  UNION { ?all a owl:AllDisjointClasses ; owl:members/rdf:rest*/rdf:first ?a, ?b FILTER(?a != ?b) }
  ?x a/rdfs:subClassOf* ?a , ?b .
} ORDER BY ?x ?a ?b LIMIT 20
"""


def disjoint_typings(graph: Graph) -> list[str]:
    """Each individual of ``graph`` typed with two disjoint classes, as a sentence."""
    from msc_kg.load import oxigraph_copy

    store = oxigraph_copy(graph)
    seen, out = set(), []
    for row in store.query(_DISJOINT_TYPES):
        x, a, b = (_short(row[k].value) for k in ("x", "a", "b"))
        if (x, b, a) not in seen:
            seen.add((x, a, b))
            out.append(f"{x} is typed {a} and {b}, which are disjoint")
    return out


def _short(iri: str) -> str:
    """``iri`` as msc:… or mscd:… where it is one of the project's, else in angle brackets."""
    for prefix, namespace in (("msc", MSC), ("mscd", MSCD)):
        if iri.startswith(namespace) and iri[len(namespace):].replace("-", "").replace("_", "").isalnum():
            return f"{prefix}:{iri[len(namespace):]}"
    return f"<{iri}>"


def reason(graph: Graph) -> ReasonerResult:
    """Run HermiT on the graph; raise ReasonerUnavailable when Java is missing."""
    if not java_available():
        raise ReasonerUnavailable(JAVA_MISSING)
    import owlready2

    with tempfile.TemporaryDirectory() as tmp:  # the graph as the release writes it (build/msc-kg.owl)
        path = Path(tmp) / "graph.owl"
        graph.serialize(path, format="xml")
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
            return ReasonerResult(consistent=False, culprits=disjoint_typings(graph))
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


def check(graph: Graph) -> ReasonerResult:
    """Reason and raise Inconsistent when the graph is inconsistent or has unsatisfiable classes."""
    result = reason(graph)
    if not result.consistent or result.unsatisfiable:
        raise Inconsistent(result.text())
    return result
