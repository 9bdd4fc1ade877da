"""The /data view: the SPARQL 1.1 Graph Store HTTP Protocol, read-only (GET and HEAD).

``GET /data?default`` is the default graph, ``GET /data?graph=<IRI>`` one named graph (indirect
graph identification, https://www.w3.org/TR/sparql11-http-rdf-update/#indirect-graph-identification),
each in a negotiated RDF syntax (Turtle unless asked otherwise); ``GET /data`` with neither is the
whole dataset, in N-Quads, TriG or JSON-LD; a ``format`` parameter may stand in for Accept, as on
/sparql. A graph comes whole: the row cap of query results does not apply (the time and memory
limits do). The store is read-only, so PUT, POST, DELETE and PATCH get 405. Responses carry an ETag
and Cache-Control, as query results do, and are kept in the same response cache.
"""

from __future__ import annotations

import pyoxigraph as ox
from werkzeug.wrappers import Request, Response

from msc_kg.server import negotiate, protocol
from msc_kg.server.endpoint import engine_error, error, etag_matches
from msc_kg.server.engine import EngineError
from msc_kg.server.protocol import ProtocolError

READ_METHODS = ("GET", "HEAD", "OPTIONS")
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
        accept = protocol.format_accept(v for k in protocol.FORMAT_PARAMS for v in request.args.getlist(k))
    except ProtocolError as exc:
        return error(exc.status, exc.message)
    table = negotiate.DATASET if graph is None else negotiate.GRAPH
    choice = negotiate.choose(accept or request.headers.get("Accept"), table)
    if choice is None:
        what = "the dataset" if graph is None else "a graph"
        return error(406, f"No acceptable format for {what}; offered: {negotiate.offered(table)}.",
                     {"Vary": "Accept"})
    media, fmt = choice
    key = ("graph-store", graph, fmt)
    cached = state.cache.get(key)
    if cached is None:
        job = {"dump": graph, "graph_fmt": fmt, "union": state.config["union_default_graph"]}
        try:
            found = state.engine.run(job)
        except EngineError as exc:
            return engine_error(exc)
        headers = {"Vary": "Accept", "ETag": state.cache.tag(key),
                   "Cache-Control": f"public, max-age={state.config['cache_max_age']}"}
        cached = (found.body, negotiate.content_type(media), headers)
        state.cache.put(key, cached)
    body, ctype, headers = cached
    inm = request.headers.get("If-None-Match")
    if inm and etag_matches(inm, headers["ETag"]):
        return Response(status=304, headers=headers)
    return Response(body, content_type=ctype, headers=headers)
