"""The /sparql view: protocol → safety → negotiation → cache → engine → HTTP response.

Status codes (SPARQL 1.1 Protocol §2.1.5, RFC 9110 §15): 200 results; 304 when If-None-Match
matches the ETag; 400 malformed / missing / repeated query or bad parameters (the parser's message
with line:column); 403 update or non-allowed SERVICE; 406 no acceptable format (or none
acceptable can carry the answer: the best one left answers otherwise); 413 body over
``max_body``; 412 a POST whose If-None-Match matches, or an If-Match other than "*"; 415 wrong
POST content type or a compressed body; 502 an allowed SERVICE failed;
503 timeout or worker resource limit. Every query response carries ``X-SPARQL-Max-Rows``; a capped
one also ``X-SPARQL-Truncated: true`` and ``X-SPARQL-Rows`` — never a silent truncation; one
calling extension functions the engine does not know, ``X-SPARQL-Unknown-Functions``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.test import EnvironBuilder, run_wsgi_app
from werkzeug.wrappers import Request, Response

from msc_kg.server import describe, negotiate, protocol, safety, unwritable
from msc_kg.server.engine import EngineError, NotAcceptable, QuerySyntaxError, ResourceLimit, Unwritable
from msc_kg.server.documents import weak_tag
from msc_kg.server.results import PREFIXES, write_triples
from msc_kg.server.unwritable import CannotCarry

_PRINTABLE = "".join(map(chr, range(33, 127)))  # a header carries an IRI as a URI (RFC 3987 §3.1)
_HEADER_ROOM = 4096  # characters of X-SPARQL-Unknown-Functions: clients refuse header lines past 64 KB or less
# Allow (405) and Retry-After (503) too: neither is safelisted (Fetch), and a browser client such as
# YASGUI could not read when to retry after a timeout (linked-data review)
CORS_EXPOSE = ("X-SPARQL-Max-Rows, X-SPARQL-Truncated, X-SPARQL-Rows, X-SPARQL-Unknown-Functions, "
               "ETag, Retry-After, Allow")


def error(status: int, message: str, headers: dict | None = None) -> Response:
    """A plain-text error response."""
    resp = Response(message.rstrip() + "\n", status=status, mimetype="text/plain")
    resp.headers.update(headers or {})
    return resp


def engine_error(exc: EngineError) -> Response:
    """The response to a job the engine did not complete (a 503 says when to retry). A 404 (a
    graph /data does not hold) varies with Accept as the 406 does: the same URL gets either."""
    headers = {503: {"Retry-After": "5"}, 406: {"Vary": "Accept"}, 404: {"Vary": "Accept"}}.get(exc.status, {})
    return error(exc.status, exc.message, headers)


def http_error(exc: HTTPException, cfg: dict) -> Response:
    """A werkzeug HTTP error (404, 405, 413, ...) as a plain-text response naming the limit."""
    headers = {}
    if exc.code == 405:
        headers["Allow"] = ", ".join(sorted(getattr(exc, "valid_methods", None) or []))
    message = exc.description
    if exc.code == 413:
        message = f"Request body too large: the limit is {cfg['max_body']} bytes (--max-body)."
    return error(exc.code or 500, f"{exc.code} {exc.name}: {message}", headers)


CORS_HEADERS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": CORS_EXPOSE}
CORS_LINES = "".join(f"{name}: {value}\r\n" for name, value in CORS_HEADERS.items())


def add_cors(resp: Response, request: Request | None, cfg: dict) -> Response:
    """CORS headers (Fetch standard): any origin may read responses; preflights are answered."""
    if cfg["cors"]:
        resp.headers.update(CORS_HEADERS)
        if request is not None and request.method == "OPTIONS" and resp.status_code < 400:
            # the methods the resource allows, and none where there is no resource: POST was
            # offered on read-only ones, which then answered 405, and a 404 listed methods
            # (hostile testing)
            resp.headers["Access-Control-Allow-Methods"] = resp.headers.get("Allow", "GET, OPTIONS")
            resp.headers["Access-Control-Allow-Headers"] = (
                request.headers.get("Access-Control-Request-Headers")
                or "Accept, Content-Type, If-None-Match, If-Match")
            resp.headers["Access-Control-Max-Age"] = "86400"
    return resp


@dataclass(slots=True)
class QueryHTTP:
    """The parts of a /sparql GET or POST that the protocol needs, without a framework's parsing."""

    method: str
    query_string: bytes
    body: bytes | None = None
    content_type: str | None = None
    accept: str | None = None
    if_none_match: str | None = None
    content_encoding: str | None = None
    if_match: str | None = None


QUERY_METHODS = ("GET", "POST", "HEAD")  # HEAD: a GET whose body the HTTP server leaves out
# The endpoint's paths: /sparql/ too, as the SPARQL 1.1 Protocol's examples write it ("POST /sparql/")
# and as clients given a base URL often ask.
PATHS = ("/sparql", "/sparql/")
_DIRECT_HEADERS = {b"accept": "accept", b"content-type": "content_type",
                   b"if-none-match": "if_none_match", b"content-encoding": "content_encoding",
                   b"if-match": "if_match"}


def _query_http(method: str, query_string: bytes, headers, body: bytes | None) -> QueryHTTP:
    """The QueryHTTP of a request given as its parts, ``headers`` as (name, value) bytes; a header
    given more than once is its values joined by commas (RFC 9110 §5.3)."""
    req = QueryHTTP(method, query_string, body)
    for name, value in headers:
        attr = _DIRECT_HEADERS.get(name.lower())
        if attr is not None:
            text = value.decode("latin-1")
            old = getattr(req, attr)
            setattr(req, attr, text if old is None else f"{old},{text}")
    return req


class SparqlFirst:
    """WSGI middleware answering GET/POST/HEAD /sparql without Flask's routing and contexts.

    Measured on a label lookup: Flask's request context, URL adapter and response hooks cost about
    a fifth of the endpoint's own time per request; every other path goes to the Flask app.
    ``direct`` answers the same requests for msc_kg.server.http without building a WSGI environ.
    """

    def __init__(self, flask_wsgi, state, url_map=None):
        self.flask_wsgi = flask_wsgi
        self.state = state
        self.url_map = url_map  # the Flask app's routes, for unsent's 404 and 405

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") not in PATHS or environ.get("REQUEST_METHOD") not in QUERY_METHODS:
            return self.flask_wsgi(environ, start_response)
        request = Request(environ)
        request.max_content_length = self.state.config["max_body"]
        try:
            body = request.get_data(cache=False) if request.method == "POST" else None
            resp = query_view(self.state, QueryHTTP(
                request.method, request.query_string, body, environ.get("CONTENT_TYPE"),
                environ.get("HTTP_ACCEPT"), environ.get("HTTP_IF_NONE_MATCH"),
                environ.get("HTTP_CONTENT_ENCODING"), environ.get("HTTP_IF_MATCH")))
            if resp is None:
                resp = service_description(self.state, request)
        except HTTPException as exc:
            resp = http_error(exc, self.state.config)
        return add_cors(resp, request, self.state.config)(environ, start_response)

    def unsent(self, method: str, path: str, headers) -> tuple[int, str, dict | None] | None:
        """(status, message, headers) of the refusal a request's head decides, whatever its body:
        the 404 or 405 of a path and method no route takes (POST /data: the store is read-only),
        and for a /sparql POST a type, encoding or charset the endpoint does not read; else None.
        Told instead of inviting a body for nothing to a client waiting for 100 Continue (RFC 9110
        §10.1.1), and instead of 413 to one whose body is over --max-body (a POST of a large
        graph to /data was told to send less, and then that the store is read-only)."""
        refused = self._misrouted(method, path)
        if refused is not None or method != "POST" or path not in PATHS:
            return refused
        req = _query_http(method, b"", headers, None)
        try:
            protocol.post_media_type(req.content_type, req.content_encoding)
        except protocol.ProtocolError as exc:
            return exc.status, exc.message, exc.headers
        return None

    def _misrouted(self, method: str, path: str) -> tuple[int, str, dict | None] | None:
        """The app's own 404 or 405 for ``method`` on ``path`` where no route takes them, as it
        answers them (asked without a body, which it does not read then); else None."""
        if self.url_map is None or path[:1] != "/":  # "OPTIONS *" is the server's (http.Server)
            return None
        try:
            self.url_map.bind("localhost").match(path, method)
        except (NotFound, MethodNotAllowed):
            pass
        except HTTPException:  # a redirect the router makes ("/id//x"): the request is taken
            return None
        else:
            return None
        # a HEAD is asked as a GET: the refusal's text is its message; the path as it is (a
        # decoded "?" is part of it), WSGI's latin-1 string as the HTTP server gives it
        environ = EnvironBuilder(method="GET" if method == "HEAD" else method,
                                 environ_overrides={"PATH_INFO": path}).get_environ()
        body, status, headers = run_wsgi_app(self, environ, buffered=True)
        code = int(status.split(" ", 1)[0])
        if code not in (404, 405):
            return None
        return (code, b"".join(body).decode("utf-8").rstrip("\n"),
                {"Allow": headers["Allow"]} if "Allow" in headers else None)

    def direct(self, method: str, path: str, query_string: bytes, headers, body: bytes):
        """(status line, headers, body) for a /sparql query request given as its parts, or None
        for anything else (the service description, other paths): those go through WSGI."""
        if path not in PATHS or method not in QUERY_METHODS:
            return None
        req = _query_http(method, query_string, headers, body if method == "POST" else None)
        resp = query_view(self.state, req)
        if resp is None:
            return None
        cfg = self.state.config
        if isinstance(resp, Plain):
            if resp.lines is not None:
                return resp.status, resp.lines, resp.body
            head = resp.headers
            if cfg["cors"]:
                head |= CORS_HEADERS
            return resp.status, head.items(), resp.body
        add_cors(resp, None, cfg)
        return resp.status, resp.headers.to_wsgi_list(), resp.get_data()


def requested_format(args) -> str | None:
    """The Accept header a document's format/output/results parameters stand for (protocol.
    format_accept), or None; ProtocolError (400) for an unknown name or a disagreement. The
    documents a browser opens honour them as /sparql and /data do: the service description and
    entity pages answered Turtle to ``format=ntriples`` (hostile testing)."""
    return protocol.format_accept(v for k in protocol.FORMAT_PARAMS for v in args.getlist(k))


def wanted_by(request: Request) -> Wanted | Response:
    """What a request for a document accepts (its format parameter, else its Accept header), or
    the 400 for a bad format parameter."""
    try:
        given = requested_format(request.args)
    except protocol.ProtocolError as exc:
        return error(exc.status, exc.message)
    return Wanted(given or request.headers.get("Accept"), given is not None)


def negotiated(request: Request, table, wanted: Wanted | Response | None = None) -> tuple[str, str] | Response:
    """The (media type, syntax) of ``table`` a document request asks for (format parameter, else
    Accept; ``wanted``, where the caller read it already), or its 400 (a bad format parameter) or
    406 (none acceptable, naming those offered)."""
    wanted = wanted_by(request) if wanted is None else wanted
    if not isinstance(wanted, Wanted):
        return wanted
    choice = negotiate.choose(wanted.accept, table)
    if choice is None:
        return error(406, f"No acceptable format; offered: {negotiate.offered(table)}.", {"Vary": "Accept"})
    return choice


def service_description(state, request: Request, counts: bool = False) -> Response:
    """GET /sparql without a query: the service description, pointing to the VoID document for
    the counts (see describe.service_description); ``counts``: the VoID document itself, at
    /.well-known/void (VoID §7.2), with them. Turtle unless negotiated otherwise."""
    wanted = wanted_by(request)
    if not isinstance(wanted, Wanted):
        return wanted  # a bad format parameter
    choice = negotiate.choose(wanted.accept, negotiate.ENTITY)  # HTML for a browser, which only a
    if choice is None:  # client preferring it gets (the header's link downloaded Turtle: user walkthrough)
        return error(406, f"No acceptable format; the service description is available as "
                          f"{negotiate.offered(negotiate.ENTITY)}.", {"Vary": "Accept"})
    media, fmt = choice
    cfg = state.config
    root = cfg["base_url"] or request.url_root  # behind a proxy, the request's scheme and path
    # are not the clients' (an https service was described as http: linked-data review)
    endpoint = root + "sparql"
    triples = describe.service_description(endpoint, state.stats, cfg["manifest"],
                                           cfg["union_default_graph"], cfg["max_rows"],
                                           cfg["timeout"], bool(cfg["service_allow"]),
                                           root + "data", None if counts else root + ".well-known/void")
    body, _, _ = write_triples(iter(triples), "turtle" if fmt == "html" else fmt, len(triples), describe.PREFIXES)
    if fmt == "html":  # answered outside Flask's contexts (SparqlFirst), with its templates
        page = state.templates.get_template("service.html")
        body = page.render(endpoint=endpoint, turtle=body.decode(), formats=_SD_FORMATS).encode()
    return validated(request, body, negotiate.content_type(media), {"Vary": "Accept"}, cfg)


_SD_FORMATS = (("Turtle", "text/turtle"), ("N-Triples", "application/n-triples"),
               ("RDF/XML", "application/rdf+xml"), ("JSON-LD", "application/ld+json"))


def validated(request: Request, body: bytes, ctype: str, headers: dict, cfg: dict,
              tag: str | None = None) -> Response:
    """A document for the request (an entity page, the service description, an OWL document),
    with an ETag of its bytes (or ``tag``, one kept for them) and Cache-Control as query answers
    have, and its preconditions evaluated (304, 412): they had neither, so no cache could
    revalidate them (linked-data review)."""
    headers = {**headers, "ETag": tag or weak_tag(body + ctype.encode()),  # of the type too: two
               # types, one body (JSON-LD as application/json) are two representations
               "Cache-Control": f"public, max-age={cfg['cache_max_age']}"}
    return preconditions(request, headers) or Response(body, content_type=ctype, headers=headers)


def query_view(state, request: QueryHTTP) -> Response | Plain | None:
    """Answer one SPARQL 1.1 Protocol query request; None when it asks for no query (the caller
    then answers with the service description)."""
    try:
        req = protocol.parse(request.method, request.content_type, request.query_string, request.body,
                             request.content_encoding)
    except protocol.ProtocolError as exc:
        return error(exc.status, exc.message, exc.headers)
    if req is None:
        return None
    sent = req.query
    if req.query[0] == "\ufeff":  # a byte order mark (a file saved by some editors) is not part
        req.query = req.query[1:]  # of the query, as the CLI reads it (utf-8-sig)
    try:
        req.query = safety.decode_codepoint_escapes(req.query)
    except safety.Refused as exc:
        return error(exc.status, exc.message)
    if req.query is not sent:
        req.sent = sent
        if protocol.blank(req.query):  # escapes spelling white space or "#" (\u0023): the
            # engine's "expected [_]" told nothing (the text as sent was checked by parse)
            return error(400, "Missing query: once its \\u escapes are read, the query holds only "
                              "white space and comments.")
    accept = req.accept or request.accept
    results_choice = negotiate.choose(accept, negotiate.RESULTS)
    graph_choice = negotiate.choose(accept, negotiate.GRAPH)
    header = None  # the kind of answer Accept decides beside a format parameter, and Accept
    if req.accept is not None and (results_choice is None) != (graph_choice is None):
        # A format parameter naming a syntax of one kind of answer only (turtle: graphs; csv:
        # results) leaves the other kind to Accept: SPARQLWrapper, set to TURTLE once, sends
        # format=turtle with "Accept: */*" for its SELECTs too, and was refused 406 (client interop)
        if results_choice is None:
            results_choice = negotiate.choose(request.accept, negotiate.RESULTS)
            header = (negotiate.RESULTS, request.accept)
        else:
            graph_choice = negotiate.choose(request.accept, negotiate.GRAPH)
            header = (negotiate.GRAPH, request.accept)
    # Looked up before the safety checks: a cached answer's text passed them when it was first
    # asked (refusals and volatile queries are never kept; that a syntax cannot carry an answer is,
    # as CannotCarry), and the checks cost up to 0.2 ms of a longer query's time, more than the
    # cached answer itself.
    cached = state.cache.get(_key(req, results_choice, graph_choice))
    if cached is None or type(cached) is CannotCarry:
        cached = _answer(state, req, Wanted(accept, req.accept is not None, header), results_choice,
                         graph_choice, cached)
        if not isinstance(cached, tuple):
            return cached  # an error response
    body_bytes, ctype, headers, lines = cached
    if request.if_match is not None and (failed := if_match_fails(request.if_match, headers)):
        return failed
    # "*" holds against any answer, a volatile one's too, which has no tag (RFC 9110 §13.1.2: it
    # was answered 200: linked-data review)
    if request.if_none_match and ("ETag" in headers and etag_matches(request.if_none_match, headers["ETag"])
                                  or request.if_none_match.strip() == "*"):
        if request.method == "POST":  # 304 answers GET and HEAD only (RFC 9110 §13.1.2)
            return error(412, "Precondition Failed: the answer's entity tag matches If-None-Match; "
                              "a POST gets 304 Not Modified only as a GET (RFC 9110 §13.1.2).",
                         {"ETag": headers["ETag"]} if "ETag" in headers else None)
        return Plain(b"", None, headers, "304 Not Modified")
    return Plain(body_bytes, ctype, headers, lines=lines)


def _key(req, results_choice, graph_choice) -> tuple:
    """The response cache's key of a query's answer in the syntaxes chosen for results and graphs."""
    return (req.query, results_choice, graph_choice,
            tuple(req.default_graph) if req.default_graph is not None else None,
            tuple(req.named_graphs) if req.named_graphs is not None else None)


@dataclass(slots=True)
class Wanted:
    """What a request accepts, for the syntax it is answered in when the negotiated one cannot
    carry the answer (msc_kg.server.unwritable)."""

    accept: str | None
    named: bool  # by a format/output/results parameter: that syntax or none (406)
    header: tuple | None = None  # (table, Accept header) of the kind of answer a format parameter
    # naming a syntax of the other kind only leaves to Accept (query_view)

    def _for(self, table) -> tuple[str | None, bool]:
        if self.header is not None and table is self.header[0]:
            return self.header[1], False
        return self.accept, self.named

    def names(self, table) -> bool:
        """Whether a format parameter named the syntax of ``table``'s kind of answer."""
        return self._for(table)[1]

    def after(self, table, refused) -> tuple[str, str] | None:
        """The best acceptable syntax of ``table`` but those of ``refused`` (format keys), or None:
        none is left, or the client named its syntax by a parameter."""
        accept, named = self._for(table)
        return None if named else negotiate.fallback(accept, table, refused)

    def spare(self, choice, table, refused=()) -> bool:
        """Whether a graph to be written in ``choice`` is to be written as N-Triples first, which
        carry every graph (carried): its syntax may not carry it, and another is acceptable."""
        return (choice is not None and choice[1] in unwritable.MAY_NOT_CARRY and
                self.after(table, {choice[1], *(r.choice[1] for r in refused)}) is not None)


def _answer(state, req, wanted: Wanted, results_choice, graph_choice, cached) -> tuple | Response:
    """The answer no cached one holds for the negotiated syntaxes (``cached``: None, or that one of
    them cannot carry it), evaluated; where the negotiated syntax cannot carry it, the cached or
    evaluated answer in the best acceptable syntax left (RFC 9110 §15.5.7), or a 406 when none is."""
    refused: list[CannotCarry] = []
    while True:
        if cached is None:
            cached = _evaluate(state, req, wanted, results_choice, graph_choice, refused)
        if type(cached) is not CannotCarry:
            return cached
        refused.append(cached)
        table = negotiate.GRAPH if cached.graph else negotiate.RESULTS
        choice = wanted.after(table, {r.choice[1] for r in refused})
        if choice is None:
            return refusal(refused)
        if cached.graph:
            graph_choice = choice
        else:  # evaluated again in that syntax: see _evaluate
            results_choice = choice
        cached = state.cache.get(_key(req, results_choice, graph_choice))


def _evaluate(state, req, wanted: Wanted, results_choice, graph_choice,
              refused: list) -> tuple | CannotCarry | Response:
    """Check and evaluate a query no cached answer holds: (body, content type, headers, header
    lines), kept in the cache unless the query is volatile; CannotCarry, kept alike, when the
    negotiated syntax cannot carry the answer; or an error response.

    A graph whose negotiated syntax may not carry it, when another is acceptable, is written as
    N-Triples by the engine and here in the first acceptable syntax that carries it (``refused``
    gets those that do not): the query is evaluated once. Query results XML cannot carry are
    evaluated again in the syntax to fall back on (``_answer``): writing every XML answer from
    another syntax instead cost 1.5 times what evaluating and writing it did (10⁴-10⁵ rows)."""
    cfg = state.config
    try:
        scan = _checked(state, req.query)
    except ResourceLimit as exc:
        return engine_error(exc)
    except safety.Refused as exc:
        return (_syntax_error(state, req, exc.parse_first)
                or error(exc.status, safety.position_as_sent(exc.message, req.sent) if req.sent else exc.message))
    forms = {"SELECT": (results_choice, negotiate.RESULTS), "ASK": (results_choice, negotiate.RESULTS),
             "CONSTRUCT": (graph_choice, negotiate.GRAPH), "DESCRIBE": (graph_choice, negotiate.GRAPH)}
    # No acceptable syntax for the query's form: a 406, but a malformed query's 400 first, as the
    # Oxigraph server tells it (a malformed CONSTRUCT asked for as JSON results got 406, and the
    # client never saw its mistake: differential testing). The engine parses it then, with an
    # empty store: a job like any other, under the timeout, the memory watchdog and isolation
    # (parsed in the serving thread with no limit, an ASK of doubled strings asked for as Turtle
    # evaluated until the kernel killed the process at 24 GB: hostile testing).
    unanswerable = scan.form in forms and forms[scan.form][0] is None
    if unanswerable and scan.services:  # the engine would call them parsing it (an ASK is
        # evaluated whole): a 406 at once, though a malformed query is not told so first
        return _not_acceptable(scan.form, forms[scan.form][1], wanted)
    spare = wanted.spare(graph_choice, negotiate.GRAPH, refused)
    job = {
        "query": req.query, "form": scan.form, "base": cfg["base_iri"], "union": cfg["union_default_graph"],
        "default_graph": req.default_graph, "named_graphs": req.named_graphs,
        "results_fmt": results_choice[1] if results_choice and not unanswerable else None,
        "graph_fmt": None if unanswerable else "ntriples" if spare else graph_choice[1] if graph_choice else None,
        "max_rows": cfg["max_rows"],
        "isolate": scan.isolate,  # the inline engine evaluates it in a separate process
        "services": bool(scan.services),  # a RuntimeError is then the remote's (engine._execute)
        "parse_only": unanswerable,  # evaluated with an empty store: its 400, else NotAcceptable
    }
    try:
        outcome = state.engine.run(job)
    except NotAcceptable as exc:
        table = negotiate.GRAPH if exc.message == "graph" else negotiate.RESULTS
        return _not_acceptable(scan.form if unanswerable else exc.message, table, wanted)
    except Unwritable as exc:  # answers the engine does not write (triple terms in JSON-LD, an
        found = CannotCarry(b"", exc.reason, True, graph_choice)  # RDF/XML syntax term as property)
        return _kept(state, req, scan, results_choice, graph_choice, found)
    except QuerySyntaxError as exc:
        return _malformed(exc, req)
    except EngineError as exc:
        return engine_error(exc)
    graph = outcome.kind == "graph"
    if graph and spare:
        graph_choice, outcome.body = carried(
            wanted, negotiate.GRAPH, graph_choice, outcome.body, cfg["max_rows"], refused,
            keep=lambda found: _kept(state, req, scan, results_choice, graph_choice, found))
        if graph_choice is None:
            return refusal(refused)
    elif (reason := unwritable.problem(outcome.body, outcome.fmt)) is not None:
        found = CannotCarry(b"", reason, graph, graph_choice if graph else results_choice)
        return _kept(state, req, scan, results_choice, graph_choice, found)
    chosen = graph_choice if graph else results_choice
    key = _key(req, results_choice, graph_choice)  # of the syntax answered in: its own ETag
    headers = {"Vary": "Accept", "X-SPARQL-Max-Rows": str(cfg["max_rows"])}
    if outcome.truncated:
        headers["X-SPARQL-Truncated"] = "true"
        headers["X-SPARQL-Rows"] = str(outcome.rows)
    if outcome.unknown_functions:  # evaluated as errors (see engine.evaluate)
        headers["X-SPARQL-Unknown-Functions"] = _listed(outcome.unknown_functions)
    if scan.volatile:  # no entity tag either: the next answer differs
        headers["Cache-Control"] = "no-store"
    else:
        headers["Cache-Control"] = f"public, max-age={cfg['cache_max_age']}"
        headers["ETag"] = state.cache.tag(key)
    ctype = negotiate.content_type(chosen[0])
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    lines = f"Content-Type: {ctype}\r\n{lines}{CORS_LINES if cfg['cors'] else ''}"
    answer = (outcome.body, ctype, headers, lines)
    if not scan.volatile:
        state.cache.put(key, answer)
    return answer


# The safety check of a query of more than LARGE_QUERY characters (a POST body of up to --max-body)
# holds one of LARGE_CHECKS slots of its process (State.large_checks): reading 900 KB of "<" took
# 1.4 s and about 85 MB, in the connection's thread, outside the query slots and the watchdog,
# and 64 such requests at once took a serving process past 3.6 GB and answered none in 10 s
# (native-load audit). A query of LARGE_QUERY characters takes at most about 0.1 s and 6 MB.
LARGE_QUERY = 65536
LARGE_CHECKS = 2


def _checked(state, query: str) -> safety.Scan:
    """safety.check of ``query``; a large one (LARGE_QUERY) takes one of its process's slots for
    checking them, or gets ResourceLimit when none frees up within the timeout."""
    cfg = state.config
    if len(query) <= LARGE_QUERY:
        return safety.check(query, cfg["base_iri"], cfg["service_allow"], state.literal_kinds)
    if not state.large_checks.acquire(timeout=cfg["timeout"]):
        raise ResourceLimit(f"The {LARGE_CHECKS} slots for checking queries of more than {LARGE_QUERY} "
                            f"characters stayed busy for {cfg['timeout']:g} s; retry later.")
    try:
        return safety.check(query, cfg["base_iri"], cfg["service_allow"], state.literal_kinds)
    finally:
        state.large_checks.release()


def _listed(functions, room: int = _HEADER_ROOM) -> str:
    """The unknown functions as <IRI>s while they fit in a header of ``room`` characters, then their count."""
    iris = [f"<{quote(i, safe=_PRINTABLE)}>" for i in functions]
    shown, length = [], 0
    for iri in iris:
        if length + len(iri) + 12 > room:  # room left for " (NNNN more)"
            return " ".join(shown + [f"({len(iris) - len(shown)} more)"])
        shown.append(iri)
        length += len(iri) + 1
    return " ".join(shown)


def _malformed(exc: QuerySyntaxError, req) -> Response:
    """The 400 of a syntax error, its position counted in the query as the client sent it, and the
    prefixes the query uses undeclared, which the engine's message does not name."""
    message = safety.position_as_sent(exc.message, req.sent) if req.sent is not None else exc.message
    missing = safety.undeclared_prefixes(req.query)
    if missing:
        known = [f"PREFIX {p} <{PREFIXES[p[:-1]]}>" for p in missing if p[:-1] in PREFIXES]
        message = (message.rstrip("\n") + f"\nThe query uses the prefix{'es' if len(missing) > 1 else ''} "
                   f"{', '.join(missing)} without declaring {'them' if len(missing) > 1 else 'it'}"
                   + (f" ({'; '.join(known)})" if known else "") + ".")
    return engine_error(QuerySyntaxError(message))


def _syntax_error(state, req, text: str | None) -> Response | None:
    """The 400 of a refused query's syntax error, found by the engine parsing ``text`` (what
    safety.Refused asks to parse first; None: nothing to parse) with an empty store, or None. An
    ordering is parsed apart, as check would have it evaluated (orders_unread_values), its words
    perhaps joined ("ORDERBY": a query refused as glued)."""
    if text is None:
        return None
    job = {"query": text, "form": None, "base": state.config["base_iri"], "results_fmt": None,
           "graph_fmt": None, "max_rows": 1, "parse_only": True, "isolate": "ORDER" in text.upper()}
    try:
        state.engine.run(job)
    except QuerySyntaxError as exc:
        return _malformed(exc, req)
    except (NotAcceptable, EngineError):  # it parses (NotAcceptable): the refusal stands
        pass
    return None


def _kept(state, req, scan, results_choice, graph_choice, found: CannotCarry) -> CannotCarry:
    """``found``, kept in the cache under the key of the answer in its syntax unless the query is
    volatile: the next request for that syntax falls back (or gets its 406) without evaluating."""
    if not scan.volatile:
        key = (_key(req, results_choice, found.choice) if found.graph
               else _key(req, found.choice, graph_choice))
        state.cache.put(key, found)
    return found


def carried(wanted: Wanted, table, choice, ntriples: bytes, max_rows: int, refused: list,
            grouped: bool = False, keep=None) -> tuple[tuple[str, str] | None, bytes]:
    """A graph written as N-Triples (see Wanted.spare) in the negotiated ``choice`` or, where its
    syntax cannot carry it, the best acceptable syntax of ``table`` left: (choice, body); (None,
    b"") when none is left (``refused`` says why), an HTML choice with no body (the caller renders
    the page). ``keep`` is given each CannotCarry found."""
    while choice is not None and choice[1] != "html":
        body, reason = unwritable.written_as(ntriples, choice[1], max_rows, grouped)
        if reason is None:
            return choice, body
        refused.append(CannotCarry(b"", reason, True, choice))
        if keep is not None:
            keep(refused[-1])
        choice = wanted.after(table, {r.choice[1] for r in refused})
    return choice, b""


def refusal(refused: list) -> Response:
    """The 406 for an answer no acceptable syntax can carry, naming why for each one tried."""
    reasons = ", and ".join(dict.fromkeys(r.reason for r in refused))
    return unwritable_refusal(reasons, refused[0].graph)


def unwritable_refusal(reason: str, graph: bool) -> Response:
    """406 for an answer that ``reason`` (msc_kg.server.unwritable) keeps from its syntax."""
    return error(406, unwritable.refusal_text(reason, graph), {"Vary": "Accept"})


def refuse_unwritable(body: bytes, fmt: str, graph: bool) -> Response | None:
    """unwritable_refusal of a written ``body`` in ``fmt``, if its syntax cannot carry it."""
    reason = unwritable.problem(body, fmt)
    return None if reason is None else unwritable_refusal(reason, graph)


def if_match_fails(if_match: str, headers: dict) -> Response | None:
    """412 unless If-Match is "*" (RFC 9110 §13.1.1): it compares entity tags strongly, and every
    tag this server gives is weak (see msc_kg.server.cache), so no listed tag can match. Asked
    after the answer is known: a request that would fail without the condition fails as it would
    (§13.2.1)."""
    if if_match.strip() == "*":
        return None
    return error(412, "Precondition Failed: If-Match compares entity tags strongly (RFC 9110 "
                      "§13.1.1) and this server's tags are weak (W/), so none can match; only "
                      "If-Match: * holds.", {k: headers[k] for k in ("ETag", "Vary") if k in headers})


def preconditions(request: Request, headers: dict) -> Response | None:
    """412 for an If-Match other than "*" (if_match_fails), 304 when the request's If-None-Match
    matches the response's ETag, else None: for a GET or HEAD whose response ``headers`` are known."""
    if_match = request.headers.get("If-Match")
    if if_match is not None and (failed := if_match_fails(if_match, headers)):
        return failed
    inm = request.headers.get("If-None-Match")
    if inm and etag_matches(inm, headers["ETag"]):
        return Response(status=304, headers=headers)
    return None


def etag_matches(if_none_match: str, tag: str) -> bool:
    """If-None-Match against our ``tag`` by weak comparison (RFC 9110 §13.1.2): the opaque
    parts are compared, with or without "W/". A field that is no list of entity tags matches
    nothing (a tag found inside 'xyz"…"' got a 304: hostile testing)."""
    if if_none_match.strip() == "*":
        return True
    return _TAG_LIST.fullmatch(if_none_match) is not None and tag.removeprefix("W/") in _ENTITY_TAG.findall(if_none_match)


_ENTITY_TAG = re.compile(r'"[^"]*"')
# RFC 9110 §8.8.3 and §5.6.1: entity-tags separated by commas, with optional whitespace; the
# opaque part's characters (etagc) are any but '"', space and controls
_ONE_TAG = r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"'
_TAG_LIST = re.compile(rf"[ \t,]*{_ONE_TAG}(?:[ \t]*,[ \t,]*{_ONE_TAG})*[ \t,]*")


class Plain:
    """A 200 (or 304) response as a bare WSGI app: measured, building a werkzeug Response for every
    result cost about 40 µs of a small query's time. Flask accepts it too (as a WSGI callable).

    ``lines``, when given, are its header lines as sent (Content-Type, ``headers`` and the CORS
    headers, each ending in CRLF), rendered once per cached result for msc_kg.server.http.
    """

    __slots__ = ("body", "headers", "status", "lines")

    def __init__(self, body: bytes, content_type: str | None, headers: dict, status: str = "200 OK",
                 lines: str | None = None):
        self.body = body
        self.status = status
        self.lines = lines
        self.headers = ({"Content-Type": content_type, "Content-Length": str(len(body)), **headers}
                        if content_type else dict(headers))

    def __call__(self, environ, start_response):
        start_response(self.status, list(self.headers.items()))
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [self.body]


# What a query's result is, by its form (or by the kind of result the engine reports)
_RESULT_NAMES = {"SELECT": "a SELECT result", "results": "a SELECT result", "ASK": "an ASK result",
                 "boolean": "an ASK result", "CONSTRUCT": "a CONSTRUCT result",
                 "DESCRIBE": "a DESCRIBE result", "graph": "an RDF graph"}


def _not_acceptable(form: str, table, wanted: Wanted | None = None) -> Response:
    """406 naming what the query's form can be served as, and the format parameter's syntax where
    one asked for it (SPARQLWrapper's users saw a 406 that seemed to refuse "Accept: */*")."""
    asked = f" (the format parameter asks for {wanted.accept})" if wanted is not None and wanted.names(table) else ""
    return error(406, f"No acceptable format for {_RESULT_NAMES[form]}{asked}; offered: "
                      f"{negotiate.offered(table)}.", {"Vary": "Accept"})

