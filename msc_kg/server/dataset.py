"""Build the pyoxigraph Store to serve: the project's release, an injected graph, or RDF files.

Files are streamed into Oxigraph by its bulk loader (Turtle, TriG, N-Triples, N-Quads, N3, RDF/XML,
JSON-LD), all into a fresh store that is only handed over when every file parsed, so a bad file
never leaves a half-loaded graph. Oxigraph's RDF/XML parser does not resolve external entities (XXE) and its
JSON-LD parser does not fetch remote contexts; both are regression-tested. It does expand internal
entities without a limit, and serves what it read of a truncated file, so RDF/XML passes
msc_kg.server.xmlguard first (entity sizes, then well-formedness with a line and column).
"""

from __future__ import annotations

import os
from pathlib import Path

import pyoxigraph as ox

from msc_kg.server import jsonguard, xmlguard

# The one table of RDF file extensions: serve --data, msc-kg validate --with and the build's
# sources (msc_kg.load) read a file by it, and refuse one it does not name (hostile testing:
# validate had a table of its own, which read .xml, .json, .nquads and .txt files as Turtle).
EXTENSIONS = {
    ".ttl": ox.RdfFormat.TURTLE, ".turtle": ox.RdfFormat.TURTLE,
    ".trig": ox.RdfFormat.TRIG,
    ".nt": ox.RdfFormat.N_TRIPLES, ".ntriples": ox.RdfFormat.N_TRIPLES,
    ".nq": ox.RdfFormat.N_QUADS, ".nquads": ox.RdfFormat.N_QUADS,
    ".n3": ox.RdfFormat.N3,
    ".rdf": ox.RdfFormat.RDF_XML, ".owl": ox.RdfFormat.RDF_XML, ".xml": ox.RdfFormat.RDF_XML,
    ".jsonld": ox.RdfFormat.JSON_LD, ".json": ox.RdfFormat.JSON_LD,
}
_BOM = b"\xef\xbb\xbf"  # U+FEFF in UTF-8


def unknown_extension(path: Path) -> str:
    """Why ``path`` is not read: EXTENSIONS does not name its extension (the known ones listed)."""
    known = ", ".join(sorted(EXTENSIONS))
    if not path.suffix:
        return f"no RDF file extension (known: {known})"
    return f"unknown RDF file extension {path.suffix!r} (known: {known})"


def parse_error(path: Path, fmt: ox.RdfFormat, exc: SyntaxError) -> tuple[int | None, int | None, str]:
    """The line, column and reason of Oxigraph's SyntaxError on ``path``, said plainly where its
    message names no position or another problem than the real one (hostile testing): a byte order
    mark, an RDF/XML entity that is external or single-quoted (msc_kg.server.xmlguard), a JSON-LD
    context that would have to be fetched (msc_kg.server.jsonguard); an invisible character of the
    message is named (``<U+FEFF>``), not printed raw."""
    message = exc.args[0] if exc.args else str(exc)
    if (exc.lineno, exc.offset) == (1, 1) and _starts_with_bom(path):
        return 1, 1, (f"the file starts with a byte order mark (U+FEFF), which the {fmt.name} parser "
                      "does not accept; save it as UTF-8 without a byte order mark")
    if fmt == ox.RdfFormat.RDF_XML and "<!ENTITY" in message and (found := xmlguard.refused_entity(path)):
        return found
    if fmt == ox.RdfFormat.JSON_LD and "LoadDocumentCallback" in message:
        line, reason = jsonguard.remote_context(path)
        return line, None, reason
    if "No scheme found in an absolute IRI" in message:
        message += (" (a relative IRI: data files are read without a base, so write each IRI in full "
                    "or with a prefix, or declare @base)")
    return exc.lineno, exc.offset, "".join(c if c.isprintable() else f"<U+{ord(c):04X}>" for c in message)


def _relative_in(store: ox.Store) -> str | None:
    """relative_iri's reason for the first IRI of ``store`` under RELATIVE_BASE, or None."""
    found = store.query(f"""SELECT ?x WHERE {{ {{ ?x ?p ?o }} UNION {{ ?s ?x ?o }} UNION {{ ?s ?p ?x }}
                           UNION {{ GRAPH ?x {{ ?s ?p ?o }} }}
                           UNION {{ ?s ?p ?o FILTER(isLiteral(?o)) BIND(DATATYPE(?o) AS ?x) }}
                           FILTER(isIRI(?x) && STRSTARTS(STR(?x), "{RELATIVE_BASE}")) }} LIMIT 1""")
    return next((relative_iri(row["x"].value) for row in found), None)


def _starts_with_bom(path: Path) -> bool:
    """Whether ``path`` begins with a UTF-8 byte order mark."""
    with open(path, "rb") as stream:
        return stream.read(len(_BOM)) == _BOM


# The base of the syntaxes whose parsers name no line for a relative IRI (RDF/XML) or drop it
# without a word when there is no base (JSON-LD): an IRI under it was relative in the file, and is
# refused after the parse. The line-based syntaxes are read without a base: their parser refuses a
# relative IRI at its line. (With the file's own IRI as base, a relative IRI became a file: IRI
# of this machine's path, served and released: hostile testing.)
RELATIVE_BASE = "http://relative-iri.invalid/"
NO_LINE_FORMATS = {ox.RdfFormat.RDF_XML, ox.RdfFormat.JSON_LD}


def base_for(fmt: ox.RdfFormat) -> str | None:
    """The base IRI a data file in ``fmt`` is read with (see RELATIVE_BASE)."""
    return RELATIVE_BASE if fmt in NO_LINE_FORMATS else None


def relative_iri(iri: str) -> str | None:
    """The reason to refuse a data file holding ``iri``, read with base_for's base, or None."""
    if iri.startswith(RELATIVE_BASE):
        return (f"holds the relative IRI <{iri[len(RELATIVE_BASE):]}>: data files are read without a "
                "base, so write each IRI in full")
    return None


def too_large(exc: MemoryError) -> str:
    """What a MemoryError of Oxigraph's parser means for the file it read."""
    if "buffer maximal size" in str(exc):
        return (f"one statement (a literal or a line) is longer than the parser's buffer allows "
                f"({exc}); split it or shorten it")
    return f"out of memory while loading ({exc or 'no detail'})"


class DataError(Exception):
    """A data file that cannot be served: names the file, the position and the reason."""


LABELLED = {ox.RdfFormat.N_TRIPLES, ox.RdfFormat.N_QUADS}  # every blank node has a label


def missing(path: Path) -> str | None:
    """Why ``path`` does not exist as far as reading it goes ("no such file", or the system's
    reason: a loop of symbolic links was "no such file", hostile testing), or None if it does."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:
        return (exc.strerror or str(exc)).lower()
    return None


def load_files(paths) -> ox.Store:
    """Parse every file into one new Store, or raise DataError for the first that fails.

    A single N-Triples or N-Quads file keeps its blank-node labels (measured at 10⁶ triples:
    6–17% slower than the bulk loader, same peak memory), so every load of it answers with the
    same ones: each serving process loads the graph for itself when it replaces another
    (msc_kg.server.supervise). Otherwise the bulk loader draws new labels at each load, as it
    must where labels of two files could meet or a syntax lets blank nodes go unlabelled."""
    paths = list(map(Path, paths))
    store = ox.Store()
    for path in paths:
        fmt = EXTENSIONS.get(path.suffix.lower())
        if fmt is None:
            raise DataError(f"{path}: {unknown_extension(path)}")
        if not os.access(path, os.R_OK) or not path.is_file():
            reason = missing(path) or "not a readable file"
            raise DataError(f"{path}: cannot read: {reason}")
        try:  # streamed from the file by Oxigraph (measured: 5e6 triples in <60 s, <4 GiB)
            if fmt == ox.RdfFormat.RDF_XML:
                xmlguard.guard(path)  # Oxigraph would expand a "billion laughs" until it
                # aborts, and serve what it read of a truncated file
            if fmt == ox.RdfFormat.JSON_LD:
                jsonguard.check(path)  # Oxigraph's parser recurses into every level
            if len(paths) == 1 and fmt in LABELLED:
                store.bulk_extend(ox.parse(path=path, format=fmt, rename_blank_nodes=False))
            else:
                store.bulk_load(path=path, format=fmt, base_iri=base_for(fmt))
                if fmt in NO_LINE_FORMATS and (reason := _relative_in(store)):
                    raise DataError(f"{path}: {reason}")
        except SyntaxError as exc:
            line, column, reason = parse_error(path, fmt, exc)
            where = f"line {line}" + (f", column {column}" if column else "") if line else "position unknown"
            raise DataError(f"{path}: {where}: {reason}") from None
        except (ValueError, OSError) as exc:
            raise DataError(f"{path}: {exc}") from None
        except MemoryError as exc:  # Oxigraph's parsers hold one statement in a bounded buffer
            raise DataError(f"{path}: {too_large(exc)}.") from None
    return store


def from_graph(graph) -> ox.Store:
    """A Store for an injected graph: a Store as is, an rdflib Graph/Dataset copied over N-Quads."""
    if isinstance(graph, ox.Store):
        return graph
    serialize = getattr(graph, "serialize", None)
    if serialize is None:
        raise TypeError(f"cannot serve a {type(graph).__name__}: give a pyoxigraph Store or an rdflib graph")
    fmt = "nquads" if hasattr(graph, "contexts") else "nt"
    data = serialize(format=fmt, encoding="utf-8")
    store = ox.Store()
    store.load(data, format=ox.RdfFormat.N_QUADS if fmt == "nquads" else ox.RdfFormat.N_TRIPLES)
    return store


class NonConforming(DataError):
    """The built graph fails validation or the reasoner; the message is their report."""


class InvalidSource(DataError):
    """A source file of the release does not parse (exit status 1, as validate and build give)."""


def release(rebuild: bool = True):
    """The project's validated built graph and its manifest (msc_kg.release.load_release; with
    ``rebuild`` False, the release as built, without checking it against the sources)."""
    try:
        from msc_kg.errors import Inconsistent, MscKgError, SourceParseError, SourceUnreadable, ValidationFailed
        from msc_kg.release import load_release
    except ImportError as exc:  # the build pipeline is not installed
        raise DataError(
            f"the built graph is not available ({exc}); run `msc-kg build` or pass --data FILE"
        ) from None
    try:
        return load_release(rebuild=rebuild)
    except (ValidationFailed, Inconsistent) as exc:  # built on demand and refused
        raise NonConforming(str(exc)) from None
    except SourceUnreadable as exc:  # an I/O error: exit 2, as validate's (bad-input audit)
        raise DataError(str(exc)) from None
    except SourceParseError as exc:  # exit 2 here and 1 from validate for the same file (hostile
        raise InvalidSource(str(exc)) from None  # testing)
    except MscKgError as exc:  # a source file that does not parse, a missing reasoner, ...
        raise DataError(str(exc)) from None
