"""OWL 2 reasoning with HermiT (through owlready2): consistency and unsatisfiable classes."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import Graph, Literal
from rdflib.namespace import XSD

from msc_kg.errors import Inconsistent, ReasonerUnavailable

JAVA_MISSING = ("HermiT needs a Java runtime and none was found (install one, e.g. "
                "`apt-get install default-jre-headless`, or set JAVA_HOME); "
                "reasoning was skipped, everything else works.")


@dataclass
class ReasonerResult:
    """What HermiT concluded about the ontology with its data."""

    consistent: bool
    unsatisfiable: list[str] = field(default_factory=list)

    def text(self) -> str:
        if not self.consistent:
            return "HermiT: the ontology with its data is INCONSISTENT."
        if self.unsatisfiable:
            return "HermiT: unsatisfiable classes: " + ", ".join(self.unsatisfiable)
        return "HermiT: consistent, no unsatisfiable class."


def java_available() -> bool:
    """True when a `java` executable is on PATH (owlready2 runs HermiT with it)."""
    return shutil.which("java") is not None


# HermiT accepts only the OWL 2 datatype map (https://www.w3.org/TR/owl2-syntax/#Datatype_Maps);
# xsd:date and the Gregorian types are outside it, so their values reach HermiT as plain strings.
_OUTSIDE_OWL2_MAP = {XSD.date, XSD.gYear, XSD.gYearMonth, XSD.time, XSD.duration}


def owl2_datatypes_only(graph: Graph) -> Graph:
    """A copy of the graph whose literals all use datatypes of the OWL 2 datatype map."""
    out = Graph()
    for s, p, o in graph:
        if isinstance(o, Literal) and o.datatype in _OUTSIDE_OWL2_MAP:
            o = Literal(str(o))
        out.add((s, p, o))
    return out


def reason(graph: Graph) -> ReasonerResult:
    """Run HermiT on the graph; raise ReasonerUnavailable when Java is missing."""
    if not java_available():
        raise ReasonerUnavailable(JAVA_MISSING)
    import owlready2

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "graph.owl"
        owl2_datatypes_only(graph).serialize(path, format="xml")
        world = owlready2.World()
        onto = world.get_ontology(path.as_uri()).load()
        try:
            with onto:
                owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)
        except owlready2.OwlReadyInconsistentOntologyError:
            return ReasonerResult(consistent=False)
        except owlready2.OwlReadyJavaError as exc:  # Java present but HermiT could not run
            raise ReasonerUnavailable(f"HermiT could not run: {str(exc).strip()[:400]}") from exc
        unsat = sorted(str(c.iri) for c in world.inconsistent_classes())
    return ReasonerResult(consistent=True, unsatisfiable=unsat)


def check(graph: Graph) -> ReasonerResult:
    """Reason and raise Inconsistent when the graph is inconsistent or has unsatisfiable classes."""
    result = reason(graph)
    if not result.consistent or result.unsatisfiable:
        raise Inconsistent(result.text())
    return result
