"""Load the ontology and the curated triples into one rdflib Graph, all files or nothing."""

from __future__ import annotations

import contextlib
import errno
import logging
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, Namespace, URIRef

from msc_kg import paths
from msc_kg.errors import SourceParseError, SourceUnreadable
from msc_kg.namespaces import IMPORT_MODULE_ONTOLOGY, MSC, MSCD
from msc_kg.server import jsonguard, xmlguard
from msc_kg.server.dataset import (EXTENSIONS, RELATIVE_BASE, base_for, parse_error, relative_iri,
                                   too_large, unknown_extension)

MSCNS = Namespace(MSC)  # the ontology namespace as rdflib terms (MSCNS.evidence)
_XSD_STRING = ox.NamedNode("http://www.w3.org/2001/XMLSchema#string")


@dataclass
class Loaded:
    """The merged graph, the files it came from and which file stated each subject."""

    graph: Graph
    files: list[Path]
    origin: dict[URIRef, Path] = field(default_factory=dict)
    stated: dict[tuple, list[Path]] = field(default_factory=dict)  # (subject, predicate) -> files

    def where(self, node, predicate=None) -> str:
        """The file a subject was stated in, for error reports; with ``predicate``, every file
        that states it with that predicate (a statement added in another file was blamed on the
        subject's first: hostile testing)."""
        files = self.stated.get((node, predicate)) if predicate is not None else None
        if files:
            return ", ".join(map(str, files))
        origin = self.origin.get(node)
        return str(origin) if origin else "(derived)"


def ontology_files(root: Path | None = None) -> list[Path]:
    """The ontology's files: the ontology, its rule table and its import module (not instance data)."""
    base = Path(root) if root else paths.ROOT
    return [base / "ontology" / "msc-kg.ttl", base / "ontology" / "tumour-effect-rules.ttl",
            base / "ontology" / "imports" / "external-terms.ttl"]


def source_files(root: Path | None = None) -> list[Path]:
    """The files the graph is built from: the ontology's files and every triples/*.ttl. An ontology
    file that is missing is listed all the same, so that loading names it ("file not found"): left
    out, the rule table's absence gave a conforming release with 6 of 238 tumour effects
    (packaging review)."""
    base = Path(root) if root else paths.ROOT
    files = ontology_files(base)
    for entry in sorted((base / "triples").iterdir()) if (base / "triples").is_dir() else ():
        if entry.name.startswith("."):  # hidden: an editor's lock (".#x.ttl", a dangling link,
            continue  # failed the build) or backup, which "ls" does not show either (hostile testing)
        if entry.name.endswith(".ttl"):  # a dangling link too: parse_file says "file not found"
            files.append(entry)
        elif not entry.name.endswith("~"):  # editors' backups
            # aside, anything else would be left out without a word (hostile testing: x.TTL,
            # x.trig, a subfolder)
            raise SourceParseError(entry, None, "is not read: the sources are the triples/*.ttl "
                                                "files; rename it to .ttl or move it out of triples/")
    return files


def parse_file(path: Path) -> Graph:
    """Parse one RDF file, or raise SourceParseError naming the file and the line.

    Oxigraph's parser reads it, as the server's ``--data`` does, in the format the server's table
    gives its extension (msc_kg.server.dataset.EXTENSIONS; an extension it does not name is
    refused): it gives the line and column of an error, fetches no remote JSON-LD ``@context`` and
    does not recurse in Python (rdflib's Turtle parser ran out of recursion depth on deep
    collections: hostile testing). Its triples are then copied term by term into the rdflib Graph
    that pySHACL needs."""
    path = Path(path)
    if not path.exists():  # a link that leads nowhere, or round in a loop, exists no more
        try:
            path.stat()
        except OSError as exc:  # "file not found" of a symbolic link loop (bad-input testing)
            if path.is_symlink() and exc.strerror and exc.errno != errno.ENOENT:
                raise SourceUnreadable(path, None, f"cannot be read: {exc.strerror}") from None
        dangling = " (a symbolic link to nothing)" if path.is_symlink() else ""
        raise SourceParseError(path, None, f"file not found{dangling}")
    if not path.is_file():  # a folder, or a FIFO that would block forever
        raise SourceParseError(path, None, "is not a regular file")
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise SourceParseError(path, None, unknown_extension(path))
    label = fmt.name.lower()  # "does not parse as turtle", "as json-ld"
    try:
        if fmt == ox.RdfFormat.RDF_XML:  # the server's guards: no entity bomb, well-formed XML
            xmlguard.guard(path)
        if fmt == ox.RdfFormat.JSON_LD:  # and no nesting the JSON-LD parser cannot take
            jsonguard.check(path)
        parser = ox.parse(path=path, format=fmt, base_iri=base_for(fmt),  # relative IRIs refused
                          rename_blank_nodes=True)  # "_:b" of two files are two nodes, as in rdflib
        graph = Graph()
        with _quiet_casts():
            for quad in parser:  # a named graph's triples are read into the one graph
                graph.add((_term(path, quad.subject), _term(path, quad.predicate),
                           _term(path, quad.object)))
    except SyntaxError as exc:  # Oxigraph's has the line; its message the line and column
        if "Invalid UTF-8" in exc.msg:
            raise SourceParseError.not_utf8(path, path.read_bytes(),
                                            "; RDF files are read as UTF-8") from None
        line, _, reason = parse_error(path, fmt, exc)  # said plainly where Oxigraph does not
        raise SourceParseError(path, line, f"does not parse as {label}: {reason}") from None
    except ValueError as exc:  # the guards' messages start with the line
        found = re.match(r"line (\d+)", str(exc))
        raise SourceParseError(path, int(found.group(1)) if found else None,
                               f"does not parse as {label}: {exc}") from None
    except OSError as exc:  # unreadable
        raise SourceUnreadable(path, None, f"cannot be read: {exc}") from None
    except MemoryError as exc:  # one statement over the parser's buffer: said as serve --data says it
        raise SourceParseError(path, None, too_large(exc)) from None
    for prefix, namespace in parser.prefixes.items():  # known once the whole file is read
        graph.bind(prefix, namespace)
    return graph


def _term(path: Path, term):
    """An Oxigraph term as rdflib's, or SourceParseError for the RDF 1.2 terms rdflib cannot hold."""
    if isinstance(term, ox.NamedNode):
        if reason := relative_iri(term.value):
            raise SourceParseError(path, _line_of(path, *_written(term.value)), reason)
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Triple):
        raise SourceParseError(path, _line_of(path, "<<", 'parseType="Triple"', "parseType='Triple'"),
                               "uses RDF 1.2 triple terms (<<( … )>>), which the validator (rdflib, "
                               "pySHACL) cannot read")
    if term.direction is not None:  # rdflib has no base direction; dropping it would validate
        # other data than the server serves
        raise SourceParseError(path, _line_of(path, f"--{term.direction}", '"@direction"', ":dir="),
                               f"uses RDF 1.2 base direction ({term.direction}), which the validator "
                               "(rdflib, pySHACL) cannot read")
    if term.language is not None:
        return Literal(term.value, lang=term.language)
    if term.datatype == _XSD_STRING:  # a plain "x", as rdflib's parsers give it
        return Literal(term.value)
    if reason := relative_iri(term.datatype.value):  # rdf:datatype="mytype" (hostile testing)
        raise SourceParseError(path, _line_of(path, *_written(term.datatype.value)), reason)
    # as written: rdflib's normalising turned "yes"^^xsd:boolean into "false", which the
    # validation report then quoted as the faulty value (hostile testing)
    return Literal(term.value, datatype=URIRef(term.datatype.value), normalize=False)


def _line_of(path: Path | None, *needles: str) -> int | None:
    """The first line of ``path`` holding one of ``needles``, for a refusal the parser gives no
    position of (RDF 1.2 terms and relative IRIs were refused naming no line: hostile testing)."""
    try:
        data = Path(path).read_bytes() if path is not None else b""
    except OSError:
        return None
    found = [at for at in (data.find(n.encode()) for n in needles) if at >= 0]
    return data.count(b"\n", 0, min(found)) + 1 if found else None


def _written(iri: str) -> tuple[str, ...]:
    """How a relative IRI, read against the loader's base, may be written: <x>, "x" or 'x'."""
    relative = iri[len(RELATIVE_BASE):]
    return f"<{relative}>", f'"{relative}"', f"'{relative}'"


@contextlib.contextmanager
def _quiet_casts():
    """Without rdflib's warnings and logged tracebacks for a literal its datatype does not fit:
    validation reports it, naming the node; they looked like a crash (hostile testing)."""
    logger = logging.getLogger("rdflib.term")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        logger.setLevel(level)


def oxigraph_copy(graph: Graph) -> ox.Store:
    """An Oxigraph store holding ``graph``'s triples, to query it with Oxigraph's engine (the
    quality checks of validation, the reasoner's look for disjoint typings)."""
    store = ox.Store()  # blank nodes keep their labels, so a check's answer names the node the
    # file's report names (a violation was "(derived): _:be15…" under a label of its own: hostile testing)
    store.bulk_extend(ox.parse(graph.serialize(format="nt", encoding="utf-8"),
                               format=ox.RdfFormat.N_TRIPLES, rename_blank_nodes=False))
    return store


def rdflib_term(term):
    """An Oxigraph term of a query answer as rdflib's (as the loader copies a file's)."""
    return _term(None, term)


def load(files: list[Path] | None = None) -> Loaded:
    """Parse every file first, then merge: a file that does not parse leaves nothing loaded."""
    files = [Path(f) for f in (files if files is not None else source_files())]
    parsed = [(f, parse_file(f)) for f in files]
    merged = Graph()
    origin: dict[URIRef, Path] = {}
    stated: dict[tuple, list[Path]] = {}
    for path, graph in parsed:
        for prefix, ns in graph.namespaces():
            merged.bind(prefix, ns, override=False)
        for triple in graph:
            merged.add(triple)
        for subject, predicate in set(graph.subject_predicates()):
            origin.setdefault(subject, path)
            stated.setdefault((subject, predicate), []).append(path)
    merged.bind("msc", MSC)
    merged.bind("mscd", MSCD)
    # the import module's declarations are merged, its ontology header is not: two owl:Ontology
    # headers in one file, and OWL API gave the graph the module's comment (ontology-tool audit)
    merged.remove((URIRef(IMPORT_MODULE_ONTOLOGY), None, None))
    return Loaded(merged, files, origin, stated)
