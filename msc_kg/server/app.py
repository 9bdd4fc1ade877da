"""The Flask application factory: wires data, engine and routes (thin) together."""

from __future__ import annotations

import atexit
import functools
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pyoxigraph as ox
from flask import Flask, Response, render_template, request
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import RequestRedirect

from msc_kg import paths
from msc_kg.namespaces import MSC, MSCD
from msc_kg.server import allocator
from msc_kg.server import config as config_mod
from msc_kg.server import dataset, describe, documents, endpoint, graphstore, negotiate, pages, sortrisk
from msc_kg.server.cache import ResponseCache
from msc_kg.server.engine import Engine, EngineError, NotAcceptable
from msc_kg.server.inline import InlineEngine
from msc_kg.server.results import write_triples

ROBOTS = "User-agent: *\nDisallow: /sparql\nAllow: /data$\nDisallow: /data\n"


# The landing page's script and stylesheet, read once: (bytes, content type) by file name
_STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
STATIC_FILES = {p.name: (p.read_bytes(), _STATIC_TYPES[p.suffix])
                for p in sorted((Path(__file__).parent / "static").iterdir()) if p.suffix in _STATIC_TYPES}


@dataclass
class State:
    """Everything the routes need, stored in ``app.extensions['msc_kg']``."""

    config: dict
    engine: Engine
    stats: dict
    cache: ResponseCache
    examples: list
    about: dict
    literal_kinds: sortrisk.GraphKinds  # of the store, for safety.check
    # per (graph, syntax) of a download too large to search after writing, why the syntax cannot
    # carry it, or None (graphstore._unwritable)
    unwritable: dict = field(default_factory=dict)
    documents: dict = field(default_factory=dict)  # path → OWL document served there (documents.py)
    triple_terms: bool | None = None  # whether the graph holds any (pages.ANY_TRIPLE_TERM), once asked
    templates: object = None  # the Flask app's Jinja environment, for a page answered outside its
    # contexts (endpoint.SparqlFirst: the service description's)
    large_checks: threading.BoundedSemaphore = field(  # the safety checks of large queries
        default_factory=lambda: threading.BoundedSemaphore(endpoint.LARGE_CHECKS))  # at once


def _about(store: ox.Store) -> dict:
    """Title and description of the served ontology, if it declares them."""
    q = """SELECT ?title ?desc WHERE { ?o a <http://www.w3.org/2002/07/owl#Ontology>
           OPTIONAL { ?o <http://purl.org/dc/terms/title> ?title }
           OPTIONAL { ?o <http://purl.org/dc/terms/description> ?desc } } LIMIT 1"""
    for row in store.query(q):
        return {"title": row["title"].value if row["title"] else None,
                "description": row["desc"].value if row["desc"] else None}
    return {"title": None, "description": None}


def create_app(graph=None, config: dict | None = None) -> Flask:
    """Build the endpoint for ``graph`` (pyoxigraph Store, rdflib graph, or None = the release)."""
    cfg = config_mod.merge(config)
    if graph is None:
        graph, manifest = dataset.release()
        if cfg["manifest"] is None:
            cfg["manifest"] = manifest
    store = dataset.from_graph(graph)
    # Everything that reads the store directly happens here, before the workers fork.
    stats = describe.statistics(store, cfg["union_default_graph"])
    about = _about(store)
    kinds = sortrisk.GraphKinds(sortrisk.literal_kinds(store))
    if cfg["engine"] == "inline":
        engine = InlineEngine(store, timeout=cfg["timeout"], processes=cfg["workers"],
                              slots=cfg["query_slots"], memory_mb=cfg["memory_mb"],
                              queue_ms=cfg["queue_ms"])
    else:
        engine = Engine(store, workers=cfg["workers"], timeout=cfg["timeout"], memory_mb=cfg["memory_mb"])
    atexit.register(engine.close)

    app = Flask(__name__, static_folder=None)  # served as documents (static_files): werkzeug's
    # file sending answered If-Match: * with 412 and several ranges with 416 (hostile testing)
    app.config["MAX_CONTENT_LENGTH"] = cfg["max_body"]
    app.extensions["msc_kg"] = State(cfg, engine, stats, ResponseCache(cfg["cache_size"], cfg["cache_mb"] * 1024 * 1024),
                                     pages.example_queries(cfg["queries_dir"]), about, kinds)
    files, records = cfg["documents"], None
    if files is None:  # the release's, when it is what is served, as its manifest vouches for them
        files = ([paths.BUILD_DIR / "msc-kg-ontology.owl", paths.BUILD_DIR / "msc-kg.owl"]
                 if cfg["manifest"] is not None else [])
        records = (cfg["manifest"] or {}).get("artefacts")
    app.extensions["msc_kg"].documents = documents.named(files, records)
    app.extensions["msc_kg"].templates = app.jinja_env
    _routes(app)
    app.wsgi_app = endpoint.SparqlFirst(app.wsgi_app, app.extensions["msc_kg"], app.url_map)
    return app


def _routes(app: Flask) -> None:
    """Register routes, CORS and error handlers."""
    state: State = app.extensions["msc_kg"]
    union = state.config["union_default_graph"]  # entity pages read the default graph /sparql does
    memory = allocator.in_use()  # shown by /health: the serving processes are forked with it

    @app.route("/sparql", methods=["GET", "POST", "OPTIONS"])
    @app.route("/sparql/", methods=["GET", "POST", "OPTIONS"])
    def sparql():  # GET, HEAD and POST are answered by endpoint.SparqlFirst before Flask
        if request.method == "OPTIONS":  # the CORS preflight, at any spelling of the path
            return _sparql_preflight()
        return _sparql_elsewhere(request.url_rule.rule)

    def _sparql_preflight() -> Response:
        return Response(b"", status=200, mimetype="text/plain", headers={"Allow": "GET, HEAD, OPTIONS, POST"})

    def _sparql_elsewhere(path: str) -> Response:
        """308 to ``path`` for a query sent to another spelling of it: the router reads "//sparql"
        (a base URL ending in "/", then "/sparql") as /sparql, and every query there was answered
        200 with an empty body (hostile testing). A 308 keeps the method and body (RFC 9110
        §15.4.9), as werkzeug's own redirect of "/sparql//" does."""
        given = request.environ.get("PATH_INFO", "")
        if given == path:  # SparqlFirst is not in front: a redirect would come back here
            return endpoint.error(500, f"500 Internal Server Error: {path} was not answered by "
                                       "the query endpoint.")
        # the query string as it came: a header value carries printable ASCII
        query = quote(request.query_string, safe="".join(map(chr, range(33, 127))))
        return endpoint.error(308, f"308 Permanent Redirect: the endpoint is {path}, not {given}: "
                                   "send the request there.",
                              {"Location": _public(path + (f"?{query}" if query else ""))})

    def _public(target: str) -> str:
        """Where a redirect sends the client for ``target`` (a path and query): under --base-url
        when it is given, else the path itself. The router's own redirects ("/id//x") named
        http://<Host>/…: plain http behind a TLS proxy, where a 308 sends a POSTed query again in
        the clear, and outside the service behind a path prefix (hostile testing)."""
        base = state.config["base_url"]
        return base + target.lstrip("/") if base else target

    @app.route("/data", methods=graphstore.READ_METHODS)  # writes: the 405 of http_error below,
    def graph_store():  # which the router tells before a body is read (SparqlFirst.unsent)
        # SPARQL 1.1 Graph Store Protocol, read-only (msc_kg.server.graphstore)
        return graphstore.view(state, request)

    @app.get("/static/<path:name>")
    def static_file(name):
        found = STATIC_FILES.get(name)
        if found is None:
            raise NotFound()
        return endpoint.validated(request, found[0], found[1], {}, state.config)

    @app.get("/robots.txt")
    def robots():  # crawlers may read entity pages and take the dump VoID names (void:dataDump,
        # /data; it was disallowed: linked-data review), not run queries or download graph by graph.
        # The longest matching rule wins (RFC 9309 §2.2.2); "$" ends a path.
        return Response(ROBOTS, mimetype="text/plain")

    @app.get("/.well-known/void")
    def void():  # VoID's well-known location (https://www.w3.org/TR/void/#well-known)
        return endpoint.service_description(state, request, counts=True)

    @app.get("/service")
    def service_vocabulary():  # the document of the service terms (mscs:maxRows, …) the service
        # description uses: https://w3id.org/msc-kg/service#maxRows did not dereference
        choice = endpoint.negotiated(request, negotiate.GRAPH)
        if not isinstance(choice, tuple):
            return choice  # a 400 or 406
        triples = [ox.Triple(*t) for t in describe.service_terms()]
        body = write_triples(iter(triples), choice[1], len(triples), describe.PREFIXES)[0]
        return endpoint.validated(request, body, negotiate.content_type(choice[0]), {"Vary": "Accept"},
                                  state.config)

    @app.get("/health")
    def health():
        # serving processes alive, where the supervisor runs several (server.py): "workers" said
        # 2 while one was gone and could not be replaced (hostile testing); "degraded" then
        balance = getattr(state.engine, "balance", None)
        serving = balance.live() if balance is not None else state.engine.size
        return {"status": "ok" if serving >= state.engine.size else "degraded",
                "triples": state.stats["triples"], "workers": state.engine.size,
                "serving_processes": serving, "process": os.getpid(), "allocator": memory,
                "worker_restarts": state.engine.restarts, "cached_responses": len(state.cache)}, \
            {"Cache-Control": "no-store"}  # a probe through a cache must see the state now

    @app.get("/")
    def landing():  # with validators, as the other documents (an If-Match naming a tag got 200)
        page = render_template("landing.html", stats=state.stats, about=state.about,
                               examples=state.examples, cfg=state.config,
                               # "<" escaped: a query's "</script>" cannot end the block
                               examples_json=json.dumps(state.examples).replace("<", "\\u003c"))
        return endpoint.validated(request, page.encode("utf-8"), "text/html; charset=utf-8", {}, state.config)

    @app.get("/id/<path:local>")
    def instance(local):
        return _entity(MSCD + local)

    @app.get("/entity/<path:local>")
    def entity_short(local):
        return _entity(MSCD + local)

    @app.get("/ontology/<path:local>")
    def term(local):
        return _entity(MSC + local)

    @app.get("/ontology")
    @app.get("/ontology/")  # the namespace IRI of its terms (a 404 before: linked-data review)
    def ontology():
        """The ontology's own IRI: its document for an RDF client where the release's is served
        (documents.py), else (and for a browser) its page: the ontology's header."""
        doc = state.documents.get("/ontology")
        if doc is None:
            return _entity(MSC.rstrip("/"))
        choice = endpoint.negotiated(request, negotiate.ENTITY)
        if isinstance(choice, tuple) and choice[1] == "html":
            return _entity(MSC.rstrip("/"))
        # RDF/XML to a client that names no syntax, as at the version IRIs: owlready2 sends no
        # Accept, and could not read the Turtle it got (a first user's walkthrough)
        return _document(doc, endpoint.negotiated(request, negotiate.OWL_DOCUMENT))

    def _document_at(where: str) -> Response:
        return _document(state.documents[where], endpoint.negotiated(request, negotiate.OWL_DOCUMENT))

    def _document(doc: documents.Document, choice) -> Response:
        """An OWL document in the negotiated syntax (else the 400 or 406 ``choice`` is), with its
        validators (304 and 412 as /data)."""
        if not isinstance(choice, tuple):
            return choice
        media, fmt = choice
        return endpoint.validated(request, doc.body(fmt), negotiate.content_type(media), {"Vary": "Accept"},
                                  state.config, tag=doc.tag(media, fmt))

    for where in state.documents:  # the version IRIs and the full release (/msc-kg-full.owl)
        if where not in ("/ontology", "/ontology/"):
            app.add_url_rule(where, f"document {where}", functools.partial(_document_at, where))

    @app.get("/entity")
    def entity_by_iri():
        iris = request.args.getlist("iri")
        if len(iris) > 1:  # /sparql refuses a repeated query alike (the first was taken)
            return endpoint.error(400, f"Give one entity: ?iri= is given {len(iris)} times.")
        iri = iris[0] if iris else None
        if not iri:
            return endpoint.error(400, "Give the entity as ?iri=<absolute IRI>.")
        return _entity(iri)

    def _entity(iri: str) -> Response:
        try:
            node = str(ox.NamedNode(iri))  # validated and written as <...>: safe to splice in
        except ValueError:
            return endpoint.error(400, f"Not a valid IRI: {iri!r}")
        wanted = endpoint.wanted_by(request)  # format= too (it was ignored: hostile testing)
        choice = endpoint.negotiated(request, negotiate.ENTITY, wanted)
        if not isinstance(choice, tuple):  # a bad format parameter (400), or no acceptable format
            return (choice.status_code == 406 and _absent(iri, node)) or choice  # (406) for one there is
        cap = min(state.config["max_rows"], pages.MAX_ROWS)  # statements shown
        rows = (cap + 1) * pages.LABELS  # with the labels of their other ends
        job = {"query": pages.ENTITY_SELECT.format(e=node, limit=cap + 1), "results_fmt": "json",
               "max_rows": rows, "union": union}
        try:
            found = state.engine.run(job)
            out, inc, label, cut = pages.entity_rows(found.body, cap)
            cut = cut or found.truncated  # a row cap past LABELS labels a node
            if not out and not inc:
                return _not_found(iri, node)
            blanks = {}
            if choice[1] != "html":
                choice, body, closure_cut = _entity_graph(node, cap, rows, wanted, choice)
                cut = cut or closure_cut
            elif any(row["x"]["type"] == "bnode" for row in out):  # shown nested, not as labels
                described = state.engine.run(_closure_job(node, cap))
                blanks, cut = pages.blank_nodes(described.body), cut or described.truncated
        except NotAcceptable:  # not reachable: the format was negotiated above
            raise
        except EngineError as exc:
            return endpoint.engine_error(exc)
        if choice is None:
            return body  # the 406: no acceptable syntax carries the graph
        if choice[1] == "html":
            body = render_template("entity.html", iri=iri, label=label, out=out, inc=inc,
                                   link=pages.local_link, plink=pages.property_link,
                                   short=_short, quote=quote, blanks=blanks,
                                   items=functools.partial(pages.list_items, blanks),
                                   cut=cap if cut else None)
            return endpoint.validated(request, body.encode("utf-8"), "text/html; charset=utf-8",
                                      _cap_headers(cut, cap), state.config)
        return endpoint.validated(request, body, negotiate.content_type(choice[0]),
                                  _cap_headers(cut, cap), state.config)

    def _entity_graph(node: str, cap: int, rows: int, wanted, choice):
        """(choice, body, cut) of an entity's RDF in the negotiated syntax or, where that cannot
        carry it, the best acceptable one left (HTML: no body, the page is rendered); (None, the
        406, cut) when none is (RFC 9110 §15.5.7: a browser's */*;q=0.8 got a 406: hostile
        testing). With what its statements lead to (pages.ENTITY_CLOSURE), written with them as
        one graph; ``cut`` when that was cut at the row cap."""
        described = state.engine.run(_closure_job(node, cap))
        closure, cut = described.body, described.truncated
        # written as N-Triples, then as chosen: where the syntax may not carry it, or to be joined
        spare = bool(closure) or wanted.spare(choice, negotiate.ENTITY)
        job = {"query": pages.ENTITY_CONSTRUCT.format(e=node, limit=cap),
               "graph_fmt": "ntriples" if spare else choice[1], "max_rows": rows, "grouped": True,
               "union": union}
        body = state.engine.run(job).body
        if closure:  # one graph, sorted as the engine sorts an entity's (each statement once)
            joined = ox.parse(body + closure, format=ox.RdfFormat.N_TRIPLES, lenient=True)
            body, _, cut_here = write_triples(dict.fromkeys(joined), "ntriples", 2 * rows, grouped=True)
            cut = cut or cut_here
        if not spare:
            refusal = endpoint.refuse_unwritable(body, choice[1], graph=True)
            return (choice, body, cut) if refusal is None else (None, refusal, cut)
        refused: list = []
        choice, body = endpoint.carried(wanted, negotiate.ENTITY, choice, body, 2 * rows, refused,
                                        grouped=True)
        return (choice, body, cut) if choice is not None else (None, endpoint.refusal(refused), cut)

    def _closure_job(node: str, cap: int) -> dict:
        """The job of what the entity's first ``cap`` statements lead to (pages.ENTITY_CLOSURE), as
        many statements at most (with the labels' budget, a page of 2 statements sent 20 022 under
        a cap of 1 000: hostile testing)."""
        return {"query": pages.ENTITY_CLOSURE.format(e=node, doc=node[1:-1].split("#", 1)[0], limit=cap),
                "graph_fmt": "ntriples", "max_rows": cap, "union": union}

    def _cap_headers(cut: bool, cap: int) -> dict:
        """An entity page's headers, saying so when it shows only the first ``cap`` statements,
        as /sparql says it of its rows (it was cut silently: hostile testing)."""
        headers = {"Vary": "Accept", "X-SPARQL-Max-Rows": str(cap)}
        if cut:
            headers |= {"X-SPARQL-Truncated": "true", "X-SPARQL-Rows": str(cap)}
        return headers

    def _absent(iri: str, node: str) -> Response | None:
        """The 404 of an entity asked for in a syntax not offered, where it has no statement, else
        None (it got 406, which says the resource is there: hostile testing)."""
        job = {"query": pages.ENTITY_SELECT.format(e=node, limit=1), "results_fmt": "json",
               "max_rows": pages.LABELS, "union": union}
        try:
            out, inc, _, _ = pages.entity_rows(state.engine.run(job).body, 1)
        except EngineError as exc:
            return endpoint.engine_error(exc)
        return None if out or inc else _not_found(iri, node)

    def _not_found(iri: str, node: str) -> Response:
        """The 404 of an entity with no statement (Vary: Accept, as the entity's other answers)."""
        return endpoint.error(404, f"404 Not Found: {iri} is {_missing(node)}.", {"Vary": "Accept"})

    def _missing(node: str) -> str:
        """Why an entity has no page: absent, or used only as a property or inside triple terms
        (hostile testing: the page of rdfs:label said it was not in the graph, which uses it
        thousands of times)."""
        if state.triple_terms is None:  # a scan of the graph: once, not for every 404
            job = {"query": pages.ANY_TRIPLE_TERM, "results_fmt": "json", "max_rows": 1, "union": union}
            state.triple_terms = json.loads(state.engine.run(job).body)["boolean"]
        uses_of = [(pages.ENTITY_AS_PROPERTY, "as the property")]
        if state.triple_terms:
            uses_of.append((pages.ENTITY_IN_TRIPLE_TERMS, "inside the triple term"))
        for query, where in uses_of:
            job = {"query": query.format(e=node), "results_fmt": "json", "max_rows": 1, "union": union}
            uses = int(json.loads(state.engine.run(job).body)["results"]["bindings"][0]["n"]["value"])
            if uses:
                return (f"not described in this graph: it occurs only {where} of "
                        f"{uses} statement{'s' if uses > 1 else ''}")
        return "not in this graph"

    def _short(iri: str) -> str:
        from msc_kg.server.results import PREFIXES

        return pages.short(iri, PREFIXES)

    @app.before_request
    def preflight_of_a_missing_resource():
        """OPTIONS of a resource that is not there gets GET's error: Flask's automatic OPTIONS
        answered 200, and allowed GET, for /static/x, /id/<unknown> and the like (hostile
        testing). /sparql and /data answer their own OPTIONS. A path the router redirects
        ("/sparql//", "/entity//x") is preflighted as the resource it redirects to: a preflight
        cannot follow a redirect, and "//sparql" was answered as /sparql already."""
        if request.method != "OPTIONS":
            return None
        endpoint_name, args = request.endpoint, request.view_args
        redirect = request.routing_exception
        if isinstance(redirect, RequestRedirect):
            adapter = app.create_url_adapter(request)
            target = unquote(urlsplit(redirect.new_url).path)  # as the router reads a path
            endpoint_name, args = adapter.match(target, method="OPTIONS")
            if endpoint_name == "sparql":
                return _sparql_preflight()
            allowed = adapter.allowed_methods(target)
        elif endpoint_name in (None, "sparql", "graph_store"):
            return None
        answer = app.make_response(app.view_functions[endpoint_name](**(args or {})))
        if answer.status_code >= 400:  # a raised HTTPException: its error
            return answer
        if isinstance(redirect, RequestRedirect):
            return Response(b"", status=200, headers={"Allow": ", ".join(sorted(allowed))})
        return None

    @app.after_request
    def cors(resp: Response) -> Response:
        return endpoint.add_cors(resp, request, state.config)

    @app.after_request
    def redirected(resp: Response) -> Response:
        """The router's own redirects ("/id//x") sent under _public, as the endpoint's are."""
        if isinstance(request.routing_exception, RequestRedirect) and "Location" in resp.headers:
            moved = urlsplit(request.routing_exception.new_url)
            resp.headers["Location"] = _public(moved.path + (f"?{moved.query}" if moved.query else ""))
        return resp

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 405 and request.path == "/data":  # a write (PUT, POST …) or a method no
            return graphstore.view(state, request)  # protocol names: the read-only store's 405
        return endpoint.http_error(exc, state.config)
