"""The /data view: the SPARQL 1.1 Graph Store HTTP Protocol, read-only (GET and HEAD).

``GET /data?default`` is the default graph, ``GET /data?graph=<IRI>`` one named graph (indirect
graph identification, https://www.w3.org/TR/sparql11-http-rdf-update/#indirect-graph-identification),
each in a negotiated RDF syntax (Turtle unless asked otherwise; the best acceptable one left when
that one cannot carry the graph, see msc_kg.server.unwritable); ``GET /data`` with neither is the
whole dataset, in N-Quads, TriG or JSON-LD; a ``format`` parameter may stand in for Accept, as on
/sparql. A graph comes whole: the row cap of query results does not apply (the time and memory
limits do). The store is read-only, so PUT, POST, DELETE and PATCH get 405. Responses carry an ETag
and Cache-Control, as query results do, and are kept in the same response cache; under server.py a
download of more than STREAM_MIN statements is sent while it is written instead, in bounded memory.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator

import pyoxigraph as ox
from werkzeug.wrappers import Request, Response

from msc_kg.server import negotiate, protocol, unwritable
from msc_kg.server.endpoint import (Wanted, engine_error, error, preconditions, refusal,
                                    requested_format)
from msc_kg.server.engine import SORTED_MAX, EngineError, Unwritable, write_graph
from msc_kg.server.protocol import ProtocolError
from msc_kg.server.unwritable import CannotCarry

READ_METHODS = ("GET", "HEAD", "OPTIONS")
# Downloads of more statements than this are sent while they are written (msc_kg.server.stream),
# not kept in the response cache: at about 140 bytes a statement in N-Triples they would pass the
# cache's largest body (a quarter of its 64 MB) anyway.
STREAM_MIN = 200_000
ALLOW = ", ".join(READ_METHODS)


def target(args) -> str | None:
    """The graph a request names: "" the default graph, an IRI a named graph, None the dataset;
    ProtocolError (400) for a malformed request."""
    unknown = sorted(set(args) - {"default", "graph", *protocol.FORMAT_PARAMS})
    if unknown:  # a mistyped ?default would otherwise get the whole dataset
        raise ProtocolError(400, f"Unknown parameter(s) {', '.join(unknown)}: the graph store takes "
                                 "?default or ?graph=<IRI> (or neither, for the whole dataset), and a "
                                 "format.")
    graphs = args.getlist("graph")
    if "default" in args and graphs:
        raise ProtocolError(400, "Give either ?default or ?graph=<IRI>, not both.")
    if len(args.getlist("default")) > 1 or len(graphs) > 1:
        raise ProtocolError(400, "Name one graph per request (?default or one ?graph=<IRI>).")
    if "default" in args:
        if args["default"]:
            raise ProtocolError(400, "?default takes no value.")
        return ""
    if not graphs:
        return None
    try:
        return ox.NamedNode(graphs[0]).value  # absolute IRI, no spaces or '<>"{}|^`\'
    except ValueError:
        raise ProtocolError(400, f"Not a valid absolute IRI for ?graph: {graphs[0]!r}") from None


def view(state, request: Request) -> Response:
    """Answer one Graph Store Protocol request to /data."""
    if request.method not in READ_METHODS:
        return error(405, f"{request.method} is not allowed: this graph store is read-only "
                          f"(allowed: {ALLOW}).", {"Allow": ALLOW})
    if request.method == "OPTIONS":
        return Response(b"", status=200, mimetype="text/plain", headers={"Allow": ALLOW})
    try:
        graph = target(request.args)
        given = requested_format(request.args)
    except ProtocolError as exc:
        return error(exc.status, exc.message)
    table = negotiate.DATASET if graph is None else negotiate.GRAPH
    wanted = Wanted(given or request.headers.get("Accept"), given is not None)
    choice = negotiate.choose(wanted.accept, table)
    if choice is None:
        what = "the dataset" if graph is None else "a graph"
        return error(406, f"No acceptable format for {what}; offered: {negotiate.offered(table)}.",
                     {"Vary": "Accept"})
    refused: list[CannotCarry] = []
    while True:  # RFC 9110 §15.5.7: 406 only when no acceptable syntax can carry the graph
        answer = _download(state, request, graph, choice)
        if type(answer) is not CannotCarry:
            return answer
        refused.append(answer)
        choice = wanted.after(table, {r.choice[1] for r in refused})
        if choice is None:
            return refusal(refused)


def _download(state, request: Request, graph: str | None, choice) -> Response | CannotCarry:
    """``graph`` in the syntax of ``choice`` (media type, format key), or that the syntax cannot
    carry it (kept in the cache, as the answer is, under the key of both)."""
    media, fmt = choice
    key = ("graph-store", graph, choice)  # the media type too: text/plain and N-Triples differ
    cached = state.cache.get(key)
    size = statements(state.stats, graph)
    if cached is None and hasattr(state.engine, "stream") and size > STREAM_MIN:
        return _streamed(state, request, graph, choice, key, size)
    if cached is None:
        job = {"dump": graph, "graph_fmt": fmt, "union": state.config["union_default_graph"]}
        try:
            found = state.engine.run(job)
            reason = unwritable.problem(found.body, fmt)
        except Unwritable as exc:  # answers the engine does not write (see endpoint._evaluate)
            reason = exc.reason
        except EngineError as exc:
            return engine_error(exc)
        cached = (CannotCarry(b"", reason, True, choice) if reason is not None else
                  (found.body, negotiate.content_type(media), _headers(state, key)))
        state.cache.put(key, cached)
    if type(cached) is CannotCarry:
        return cached
    body, ctype, headers = cached
    return preconditions(request, headers) or Response(body, content_type=ctype, headers=headers)


def statements(stats: dict, graph: str | None) -> int:
    """How many statements the download of ``graph`` holds (see ``target``), from the counts made
    at start-up (the store is read-only); 0 for a named graph the store does not hold."""
    if graph is None:
        return stats["triples"] + sum(stats["graphs"].values())
    return stats["triples"] if graph == "" else stats["graphs"].get(graph, 0)


def _headers(state, key) -> dict:
    return {"Vary": "Accept", "ETag": state.cache.tag(key),
            "Cache-Control": f"public, max-age={state.config['cache_max_age']}"}


def _streamed(state, request: Request, graph: str | None, choice, key,
              size: int) -> Response | CannotCarry:
    """A graph of ``size`` statements, too large to keep in the cache, sent while it is written
    (chunked transfer coding over HTTP/1.1), by an engine that reads the store in the serving
    process (server.py's); or that the syntax of ``choice`` cannot carry it."""
    media, fmt = choice
    try:  # checked before the first byte is sent, which fixes the status, and before the
        reason = _unwritable(state, graph, fmt)  # preconditions, which a 406 overrides (RFC 9110
    except EngineError as exc:  # §13.2.1), as it does for a smaller graph's
        return engine_error(exc)
    if reason is not None:  # the caller tries the next acceptable syntax
        return CannotCarry(b"", reason, True, choice)
    headers = _headers(state, key)
    unchanged = preconditions(request, headers)
    if unchanged is not None:
        return unchanged
    write = functools.partial(write_graph, state.engine.store, graph, fmt,
                              state.config["union_default_graph"], large=size > SORTED_MAX)
    body = state.engine.stream(write)
    if request.method == "GET":  # a HEAD never reads it, so nothing is written
        try:
            body = _primed(body)
        except EngineError as exc:  # no query slot: said before any header is sent
            return engine_error(exc)
    return Response(body, content_type=negotiate.content_type(media), headers=headers)


# What a streamed download's syntax may not carry (see msc_kg.server.unwritable), looked for in the
# graph itself: the first literal holding a character XML 1.0 cannot carry (IRIs, language tags and
# datatypes cannot hold one), as an object or a triple term's; the names RDF/XML writes as
# elements, properties and classes, a triple term's property too (each tried through the writer);
# a triple term.
_LOOK_FOR = {
    "rdfxml": ("SELECT ?o WHERE { %s BIND(IF(isTRIPLE(?o), OBJECT(?o), ?o) AS ?v) "
               "FILTER(isLITERAL(?v) && REGEX(STR(?v), "
               '"[\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\uFFFE\\uFFFF]")) } LIMIT 1',
               "SELECT DISTINCT ?n WHERE { %s BIND(?p AS ?n) }",
               "SELECT DISTINCT ?c WHERE { %s FILTER(?p = <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
               "&& isIRI(?o)) BIND(?o AS ?c) }",
               "SELECT DISTINCT ?n WHERE { %s FILTER(isTRIPLE(?o)) BIND(PREDICATE(?o) AS ?n) }"),
    "jsonld": ("SELECT ?o WHERE { %s FILTER(isTRIPLE(?o)) } LIMIT 1",),
}
_STATEMENTS = "?s ?p ?o"
_DATASET_STATEMENTS = "{ ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } }"
# The queries above look one level into triple terms. Statements whose triple term holds another
# (RDF 1.2 nests them through objects, to any depth) are written as RDF/XML and that body searched,
# as a smaller download's is, up to NESTED_MAX of them (hostile testing: a literal or property two
# levels in went out in a 200 that no XML parser reads).
NESTED_MAX = 10_000
_NESTED = ("CONSTRUCT { ?s ?p ?o } WHERE { %s FILTER(isTRIPLE(?o) && isTRIPLE(OBJECT(?o))) } "
           f"LIMIT {NESTED_MAX + 1}")


def _unwritable(state, graph: str | None, fmt: str) -> str | None:
    """Why ``graph`` ("" the default graph, None the dataset) cannot be written in ``fmt``, or None:
    one query per kind of trouble, once per graph, syntax and serving process (the store is
    read-only), before a streamed download starts, where a smaller one's written body is searched
    (endpoint.refuse_unwritable)."""
    key = (graph, fmt)
    if key not in state.unwritable:  # kept once every query has answered (EngineError otherwise)
        reason = None
        for query in _LOOK_FOR.get(fmt, ()):
            pattern = _DATASET_STATEMENTS if graph is None else _STATEMENTS
            job = {"query": query % pattern, "form": "SELECT", "results_fmt": "json",
                   "max_rows": state.config["max_rows"],
                   "union": state.config["union_default_graph"] and graph == "",
                   "default_graph": [graph] if graph else None}
            rows = json.loads(state.engine.run(job).body)["results"]["bindings"]
            reason = next(filter(None, map(_trouble, rows)), None)
            if reason is not None:
                break
        if reason is None and fmt == "rdfxml":
            reason = _nested_trouble(state, graph)
        state.unwritable[key] = reason
    return state.unwritable[key]


def _nested_trouble(state, graph: str | None) -> str | None:
    """unwritable's reason for the statements of ``graph`` with nested triple terms, written as
    RDF/XML (see _NESTED), or None."""
    pattern = _DATASET_STATEMENTS if graph is None else _STATEMENTS
    job = {"query": _NESTED % pattern, "form": "CONSTRUCT", "graph_fmt": "rdfxml",
           "max_rows": NESTED_MAX + 1, "union": state.config["union_default_graph"] and graph == "",
           "default_graph": [graph] if graph else None}
    found = state.engine.run(job)
    if found.rows > NESTED_MAX:
        return unwritable.NESTED_UNCHECKED
    return unwritable.problem(found.body, "rdfxml")


def _trouble(row: dict) -> str | None:
    """unwritable's reason for one row of a _LOOK_FOR query."""
    if "n" in row or "c" in row:  # a property, a class
        return unwritable.name_problem(row["n" if "n" in row else "c"]["value"], as_property="n" in row)
    if row["o"]["type"] == "triple":
        return unwritable.TRIPLE_TERMS
    return unwritable.xml_problem(row["o"]["value"].encode())


def _primed(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """``chunks`` with its first chunk already taken (so that its errors come first), closing it
    when closed."""
    first = next(chunks, b"")

    def rest() -> Iterator[bytes]:
        try:
            yield first
            yield from chunks
        finally:
            chunks.close()

    return rest()
