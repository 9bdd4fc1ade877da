"""Load the ontology and the curated triples into one rdflib Graph, all files or nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import Graph, URIRef

from msc_kg import paths
from msc_kg.errors import SourceParseError
from msc_kg.namespaces import MSC, MSCD

# rdflib's parsers name the line in different ways; these cover Turtle/N-Triples and RDF/XML.
_LINE_PATTERNS = [re.compile(r"at line (\d+)"), re.compile(r"line (\d+)"), re.compile(r":(\d+):\d+:")]
_FORMATS = {".ttl": "turtle", ".nt": "nt", ".owl": "xml", ".rdf": "xml", ".jsonld": "json-ld",
            ".nq": "nquads", ".trig": "trig"}


@dataclass
class Loaded:
    """The merged graph, the files it came from and which file stated each subject."""

    graph: Graph
    files: list[Path]
    origin: dict[URIRef, Path] = field(default_factory=dict)

    def where(self, node) -> str:
        """The file a subject was stated in, for error reports."""
        origin = self.origin.get(node)
        return str(origin) if origin else "(derived)"


def source_files(root: Path | None = None) -> list[Path]:
    """The files the graph is built from: the ontology, its rule table, its import module and every triples/*.ttl."""
    base = Path(root) if root else paths.ROOT
    files = [base / "ontology" / "msc-kg.ttl", base / "ontology" / "tumour-effect-rules.ttl",
             base / "ontology" / "imports" / "external-terms.ttl"]
    files += sorted((base / "triples").glob("*.ttl"))
    return [f for f in files if f.exists()]


def _first_bad_utf8(path: Path) -> tuple[int, int, str]:
    """(line, column in bytes, reason) of the first bytes of ``path`` that are not UTF-8."""
    for number, raw in enumerate(path.read_bytes().splitlines(keepends=True), 1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return number, exc.start + 1, exc.reason
    return 0, 0, "not UTF-8"  # not reached: the file failed to decode


def parse_file(path: Path) -> Graph:
    """Parse one RDF file, or raise SourceParseError naming the file and the line."""
    path = Path(path)
    fmt = _FORMATS.get(path.suffix.lower(), "turtle")
    graph = Graph()
    if path.exists() and not path.is_file():  # a folder, or a FIFO that would block forever
        raise SourceParseError(path, None, "is not a regular file")
    data = None
    if fmt in ("json-ld", "xml") and path.is_file():
        try:  # rdflib would fetch a JSON-LD file's remote @context; Oxigraph's parser does not
            if fmt == "json-ld":
                data = _json_ld_as_ntriples(path)
            else:  # the server's guards: no entity bomb, well-formed XML
                from msc_kg.server import xmlguard

                xmlguard.guard(path)
        except (ValueError, SyntaxError) as exc:  # Oxigraph's SyntaxError has the line;
            found = re.match(r"line (\d+)", str(exc))  # xmlguard's message starts with it
            line = getattr(exc, "lineno", None) or (int(found.group(1)) if found else None)
            raise SourceParseError(path, line, f"does not parse as {fmt}: {exc}") from exc
    try:
        if data is not None:
            graph.parse(data=data, format="nt")
        else:
            graph.parse(path, format=fmt)
    except FileNotFoundError as exc:
        raise SourceParseError(path, None, "file not found") from exc
    except UnicodeDecodeError as exc:  # the position is in the bytes read, not in the file
        line, column, reason = _first_bad_utf8(path)
        raise SourceParseError(path, line, f"is not UTF-8 text (column {column}: {reason}); RDF "
                                           "files are read as UTF-8") from exc
    except Exception as exc:  # rdflib raises many parser-specific types; all mean "bad syntax"
        message = str(exc).strip().splitlines()
        text = " ".join(line.strip() for line in message if line.strip())
        line = next((int(m.group(1)) for p in _LINE_PATTERNS if (m := p.search(text))), None)
        raise SourceParseError(path, line, f"does not parse as {fmt}: {text[:500]}") from exc
    return graph


def _json_ld_as_ntriples(path: Path) -> str:
    """A JSON-LD file read by Oxigraph, which refuses remote contexts instead of fetching them (rdflib
    fetched them: hostile testing), as N-Triples for rdflib."""
    import pyoxigraph as ox

    triples = [ox.Triple(q.subject, q.predicate, q.object)
               for q in ox.parse(path=path, format=ox.RdfFormat.JSON_LD)]
    return ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES).decode("utf-8")


def load(files: list[Path] | None = None) -> Loaded:
    """Parse every file first, then merge: a file that does not parse leaves nothing loaded."""
    files = [Path(f) for f in (files if files is not None else source_files())]
    parsed = [(f, parse_file(f)) for f in files]
    merged = Graph()
    origin: dict[URIRef, Path] = {}
    for path, graph in parsed:
        for prefix, ns in graph.namespaces():
            merged.bind(prefix, ns, override=False)
        for triple in graph:
            merged.add(triple)
        for subject in set(graph.subjects()):
            origin.setdefault(subject, path)
    merged.bind("msc", MSC)
    merged.bind("mscd", MSCD)
    return Loaded(merged, files, origin)
