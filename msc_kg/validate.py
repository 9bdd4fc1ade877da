"""Validate the graph: SHACL shapes (pySHACL) and evidence quotes against the review's text."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rdflib import Graph, Namespace, URIRef
from rdflib.namespace import RDF, SH

from msc_kg import paths
from msc_kg.load import MSC, Loaded, parse_file
from msc_kg.source import normalise, review_text

MSCNS = Namespace(MSC)


@dataclass(frozen=True)
class Problem:
    """One reason the data does not conform: where, which node, what is wrong."""

    file: str
    focus: str
    path: str
    message: str

    def line(self) -> str:
        path = f" {self.path}" if self.path else ""
        return f"{self.file}: {self.focus}{path}: {self.message}"


@dataclass
class Report:
    """The outcome of validation: conforming or a list of problems."""

    problems: list[Problem] = field(default_factory=list)

    @property
    def conforms(self) -> bool:
        return not self.problems

    def text(self) -> str:
        if self.conforms:
            return "Conforms: the data satisfies every shape and every evidence quote is in the review."
        lines = [f"Does not conform: {len(self.problems)} problem(s)"]
        lines += ["  " + p.line() for p in sorted(set(self.problems), key=lambda p: (p.file, p.focus, p.message))]
        return "\n".join(lines)


def shapes_graph(shapes_dir: Path | None = None) -> Graph:
    """All SHACL shapes of shapes/ in one graph."""
    graph = Graph()
    for path in sorted(Path(shapes_dir or paths.SHAPES_DIR).glob("*.ttl")):
        graph += parse_file(path)
    return graph


def _short(graph: Graph, node) -> str:
    try:
        return node.n3(graph.namespace_manager)
    except Exception:  # blank nodes and odd literals: fall back to their string form
        return str(node)


def shacl_problems(loaded: Loaded, shapes: Graph) -> list[Problem]:
    """Run pySHACL (SHACL Core + paths, no inference) and turn each result into a Problem."""
    from pyshacl import validate

    conforms, results, _ = validate(loaded.graph, shacl_graph=shapes, inference="none",
                                    advanced=True, allow_warnings=True)
    if conforms:
        return []
    problems = []
    for result in results.subjects(RDF.type, SH.ValidationResult):
        focus = results.value(result, SH.focusNode)
        path = results.value(result, SH.resultPath)
        message = results.value(result, SH.resultMessage)
        value = results.value(result, SH.value)
        text = str(message) if message else "violates a shape"
        if value is not None and (path is None or str(value) not in text):
            text += f" (value: {_short(loaded.graph, value)})"
        problems.append(Problem(loaded.where(focus), _short(loaded.graph, focus),
                                _short(loaded.graph, path) if isinstance(path, URIRef) else "", text))
    return problems


def evidence_problems(loaded: Loaded, text: str | None = None) -> list[Problem]:
    """Every msc:evidence quote must occur in the cleaned review text."""
    text = review_text() if text is None else text
    problems = []
    for subject, quote in loaded.graph.subject_objects(MSCNS.evidence):
        if normalise(str(quote)) not in text:
            problems.append(Problem(loaded.where(subject), _short(loaded.graph, subject), "msc:evidence",
                                    f"evidence sentence not found in source/review.txt: \"{str(quote)[:80]}\""))
    return problems


def validate_loaded(loaded: Loaded, shapes: Graph | None = None) -> Report:
    """Validate a loaded graph against the shapes and the review text."""
    shapes = shapes if shapes is not None else shapes_graph()
    return Report(shacl_problems(loaded, shapes) + evidence_problems(loaded))
