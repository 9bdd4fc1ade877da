"""Query execution: a pool of forked worker processes with a hard timeout and a row cap.

This is the engine of an app made with ``create_app`` (embedding, the Flask test client); the
``server.py`` endpoint runs queries inline in its serving processes instead (msc_kg.server.inline
and supervise), saving the worker round-trip. Both share ``_execute`` and ``outcome``.

Why processes (measured with pyoxigraph 0.5.13): ``Store.query`` releases the GIL while Oxigraph
evaluates (a ticker thread kept running during a cartesian product), but it offers no way to
cancel a running query, so a thread that times out would keep burning a core until the query ends
— possibly never. Each worker is therefore a process forked *after* the graph is loaded (the
store's pages are shared copy-on-write); the app sends it a job over a pipe and waits with
``poll(deadline)``. On timeout the worker is SIGKILLed — the work really stops — and a fresh one
is forked, while the other workers keep answering other clients. A worker that dies (the
parser's recursion, the per-worker memory limit) is replaced the same way. The app's process
never queries the store after the pool starts, so forking from a threaded server is safe: the
child runs only the job loop and first closes every inherited socket and pipe but its own.
Measured on the project graph (15 596 triples): a job's pipe round-trip costs 0.12 ms; a
cartesian product with a 3 s limit answered 503 after 3.02 s while simple queries from another
client took at most 15 ms.
"""

from __future__ import annotations

import os
import queue
import re
import resource
import signal
import stat
import threading
import time
from dataclasses import dataclass
from itertools import chain, islice
from multiprocessing.connection import Connection

import pyoxigraph as ox

from msc_kg.server import results, safety, unwritable


# Stack of every thread that evaluates queries: Oxigraph's parser and planner recurse (see
# safety.MAX_OPERATORS); 64 MB is address space, only the pages a query really uses are resident.
QUERY_STACK = 64 * 1024 * 1024


class EngineError(Exception):
    """A query that did not produce a result; ``status`` and ``message`` go to the client."""

    status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class QuerySyntaxError(EngineError):
    """The engine's parser rejected the query (its message carries line:column)."""

    status = 400


class QueryRefused(EngineError):
    """A well-formed query this endpoint will not answer: too many unknown extension functions,
    or one the engine aborted on (ENGINE_ABORT)."""

    status = 400


class NotAcceptable(EngineError):
    """No acceptable media type for the kind of result the query produced."""

    status = 406


class Unwritable(EngineError):
    """An answer the negotiated syntax cannot carry; ``reason`` says why (msc_kg.server.unwritable)."""

    status = 406

    def __init__(self, reason: str):
        super().__init__(unwritable.refusal_text(reason, graph=True))
        self.reason = reason


class QueryTimeout(EngineError):
    """The query ran past the time limit and its worker was killed (the inline engine's
    watchdog answers such a query itself, see inline.py)."""

    status = 503


class ResourceLimit(EngineError):
    """The worker died (memory limit or parser recursion), or no worker or query slot became
    free in time."""

    status = 503


class GraphNotFound(EngineError):
    """A Graph Store Protocol request named a graph the store does not hold."""

    status = 404


class ServerBug(EngineError):
    """An unexpected exception inside the worker: a bug of this server, answered with 500."""

    status = 500


class EvaluationError(EngineError):
    """The engine failed while evaluating (e.g. an allowed SERVICE endpoint failed)."""

    status = 502


# What a query that made the engine abort its process is told (see safety.orders_apart).
ENGINE_ABORT = ("The engine aborted on this query. Oxigraph 0.5 does so when it orders values it "
                "cannot compare consistently (numbers beside strings, date-times or times with "
                "and without a time zone, dates or durations beside strings) and when it runs out "
                "of memory; order by STR() or DATATYPE() first, or leave such values out.")


MEMORY_MESSAGE = ("The query went over the memory limit of a query worker (--memory-mb) and was "
                  "stopped; simplify it or add LIMIT, then retry.")


def rss_bytes(pid: int | str = "self") -> int:
    """The resident set size in bytes of this process, or of ``pid`` (0 where /proc is not
    available or the process is gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


_PAGE = os.sysconf("SC_PAGE_SIZE")


def timeout_message(limit: float) -> str:
    """What a client is told when its query ran past ``limit`` seconds and was stopped."""
    return f"Query timed out after {limit:g} s and was stopped; simplify it or add LIMIT."


@dataclass
class Outcome:
    """A successful query: the body in the chosen format and what the row cap did."""

    kind: str  # "results", "boolean" or "graph"
    fmt: str
    body: bytes
    rows: int
    truncated: bool
    unknown_functions: tuple = ()  # extension functions the query calls that are evaluated as errors


def _execute(store: ox.Store, job: dict) -> tuple:
    """Run one job in a worker; return a picklable tuple for the server."""
    try:
        if "dump" in job:
            return _dump(store, job["dump"], job["graph_fmt"], job.get("union", False))
        return _answer(store, job)
    except OSError as exc:  # Oxigraph reports evaluation failures (e.g. SERVICE) as OSError,
        reason = unwritable.writer_problem(exc)  # and a writer's refusal of an answer as well
        return ("error", str(exc)) if reason is None else ("unwritable", reason)
    except RuntimeError as exc:  # and an allowed SERVICE's answer it cannot read (truncated,
        if type(exc) is not RuntimeError or not job.get("services"):  # malformed) as RuntimeError
            raise  # itself: a 500 (hostile testing); its subclasses (RecursionError, …) are not that
        return ("error", f"An allowed SERVICE endpoint's answer could not be read: {exc}")


def _answer(store: ox.Store, job: dict) -> tuple:
    """_execute for a query; one marked ``parse_only`` (no format its form has was accepted) is
    evaluated with an empty store, for its syntax error or the "not_acceptable" reply."""
    if job.get("parse_only"):
        store = ox.Store()
    # A protocol dataset (default-graph-uri, named-graph-uri) replaces the union default graph
    # (SPARQL 1.1 Protocol §2.1.4); the engine refuses both at once (a 500: hostile testing)
    union = (job.get("union", False) and job.get("default_graph") is None and job.get("named_graphs") is None
             # and the query's own (FROM, SPARQL 1.1 Query §13.2): the union overrode it (hostile testing)
             and not safety.declares_dataset(job["query"]))
    kwargs = {"base_iri": job.get("base"), "use_default_graph_as_union": union}
    if job.get("default_graph") is not None:
        kwargs["default_graph"] = [ox.NamedNode(i) for i in job["default_graph"]]
    if job.get("named_graphs") is not None:
        kwargs["named_graphs"] = [ox.NamedNode(i) for i in job["named_graphs"]]
    max_rows = job["max_rows"]
    try:
        result, bounded = _query(store, job["query"], job.get("form"), max_rows, kwargs)
        unknown = tuple(f.value for f in kwargs.get("custom_functions") or ())
        if isinstance(result, ox.QueryBoolean):
            fmt = job.get("results_fmt")
            if fmt is None:
                return ("not_acceptable", "boolean")
            return ("ok", "boolean", fmt, results.write_boolean(result, fmt), 1, False, unknown)
        if isinstance(result, ox.QuerySolutions):
            fmt = job.get("results_fmt")
            if fmt is None:
                return ("not_acceptable", "results")
            # Oxigraph's CSV writer quotes literals only: an IRI holding a comma (RFC 3987 allows
            # it) or a triple term made a row of more fields than the header (hostile testing)
            write = results.write_bounded if bounded and fmt != "csv" else results.write_solutions
            return ("ok", "results", fmt, *write(result, fmt, max_rows), unknown)
        fmt = job.get("graph_fmt")
        if fmt is None:
            return ("not_acceptable", "graph")
        if fmt == "html":  # entity pages render HTML themselves from N-Triples
            fmt = "ntriples"
        return ("ok", "graph", fmt, *results.write_triples(result, fmt, max_rows,
                                                           grouped=job.get("grouped", False)), unknown)
    except SyntaxError as exc:
        return ("syntax", str(exc))
    except QueryRefused as exc:
        return ("refused", exc.message)


# The union of all graphs as triples, each once (the default graph of --union-default-graph).
_UNION = "CONSTRUCT { ?s ?p ?o } WHERE { SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o } }"
# Turtle, TriG and RDF/XML downloads of up to this many statements are written sorted, each
# subject's statements together under it; larger ones stream in the store's order. Measured on the
# msc-kg graph (17 451 triples): Turtle 1.59 -> 1.09 MB, 18 -> 90 ms (once: then cached).
SORTED_MAX = 50_000


def _dump(store: ox.Store, graph: str | None, fmt: str, union: bool) -> tuple:
    """A Graph Store Protocol read: the whole ``graph`` ("" the default graph, None the dataset)
    in ``fmt``, never cut at the row cap; ("missing", iri) for a graph the store does not hold."""
    if graph and not store.contains_named_graph(ox.NamedNode(graph)):
        return ("missing", graph)
    return ("ok", "graph", fmt, write_graph(store, graph, fmt, union), 0, False, ())


def write_graph(store: ox.Store, graph: str | None, fmt: str, union: bool, output=None,
                large: bool = False) -> bytes | None:
    """_write_graph, with RDF/XML's node labels made XML names (results.fix_rdfxml)."""
    if fmt != "rdfxml":
        return _write_graph(store, graph, fmt, union, output, large)
    if output is None:
        return results.fix_rdfxml(_write_graph(store, graph, fmt, union, None, large))
    fixed = results.FixedRdfXml(output)
    _write_graph(store, graph, fmt, union, fixed, large)
    fixed.flush()
    return None


def _write_graph(store: ox.Store, graph: str | None, fmt: str, union: bool, output=None,
                 large: bool = False) -> bytes | None:
    """Write ``graph`` ("" the default graph, an IRI a named graph the store holds, None the
    dataset) in ``fmt`` into the binary file-like ``output``, or return it as bytes without one.
    Up to SORTED_MAX statements in a prefixed syntax are written sorted, more in the store's order;
    ``large``: the caller knows there are more (so they are not counted first)."""
    rdf_format = results.RDF_FORMATS[fmt]
    prefixes = results.PREFIXES if fmt in results.PREFIXED else None
    grouped = prefixes is not None and not large  # sorted if it is small enough
    union_default = graph == "" and union
    if graph is None or union_default:
        source = None
    else:
        source = ox.DefaultGraph() if graph == "" else ox.NamedNode(graph)
    statements = (store.query(_UNION, use_default_graph_as_union=True) if union_default
                  else store.quads_for_pattern(None, None, None, source) if grouped else None)
    if grouped:
        first = list(islice(statements, SORTED_MAX + 1))
        if len(first) <= SORTED_MAX:
            first.sort(key=results.statement_order)
            if graph is not None or not rdf_format.supports_datasets:  # a graph, in TriG too
                # in the default graph, as store.dump writes one too large to sort (it was in its
                # named graph up to SORTED_MAX statements: hostile testing)
                first = [ox.Triple(q.subject, q.predicate, q.object) for q in first]
            return ox.serialize(first, output, format=rdf_format, prefixes=prefixes)
        statements = chain(first, statements)
    if union_default:
        return ox.serialize(statements, output, format=rdf_format, prefixes=prefixes)
    return store.dump(output, format=rdf_format, from_graph=source, prefixes=prefixes)  # the
    # store's own order


def outcome(reply: tuple) -> Outcome:
    """The Outcome of a worker's reply tuple (see ``_execute``), or the EngineError it stands for."""
    status = reply[0]
    if status == "ok":
        return Outcome(*reply[1:])
    if status == "syntax":
        raise QuerySyntaxError(f"Malformed query: {reply[1]}")
    if status == "refused":
        raise QueryRefused(reply[1])
    if status == "not_acceptable":
        raise NotAcceptable(reply[1])
    if status == "unwritable":
        raise Unwritable(reply[1])
    if status == "missing":
        raise GraphNotFound(f"The graph <{reply[1]}> is not in this store.")
    if status == "limit":
        raise ResourceLimit(reply[1])
    if status == "bug":
        raise ServerBug(f"Internal error while evaluating the query: {reply[1]}")
    raise EvaluationError(f"Query evaluation failed: {reply[1]}")


def _query(store: ox.Store, query: str, form: str | None, max_rows: int, kwargs: dict):
    """Evaluate ``query``; return (result, whether a SELECT's rows are bounded by max_rows + 1)."""
    plan = results.limit_plan(query, max_rows) if form == "SELECT" else None
    if plan == "append":
        try:
            return evaluate(store, f"{query}\nLIMIT {max_rows + 1}", kwargs), True
        except SyntaxError:  # a trailing VALUES clause, or a malformed query: run it as written
            plan = None
    return evaluate(store, query, kwargs), plan == "own"


# Oxigraph refuses a query that calls a function it does not know. SPARQL treats a call of an
# unsupported extension function as an expression error (FILTER false, BIND unbound), as Jena
# does, and the W3C syntax tests count such queries as valid: each unknown function is therefore
# registered as one that always fails, and the query runs; the response names them.
_UNKNOWN_FUNCTION = re.compile(r"The custom function <([^>]*)> is not supported")
MAX_UNKNOWN_FUNCTIONS = 32


def _fails(*args):
    return None  # pyoxigraph: None is an evaluation error


def evaluate(store: ox.Store, query: str, kwargs: dict):
    """``store.query`` with unknown extension functions evaluated as errors (kept in
    ``kwargs["custom_functions"]``)."""
    while True:
        try:
            return store.query(query, **kwargs)
        except RuntimeError as exc:
            found = _UNKNOWN_FUNCTION.fullmatch(str(exc))
            if found is None:
                raise
            functions = kwargs.setdefault("custom_functions", {})
            if len(functions) >= MAX_UNKNOWN_FUNCTIONS:
                raise QueryRefused(f"The query calls more than {MAX_UNKNOWN_FUNCTIONS} functions this "
                                   f"endpoint does not know (one is <{found.group(1)}>); it offers "
                                   "SPARQL 1.1's functions and XSD casts.") from None
            functions[ox.NamedNode(found.group(1))] = _fails


def _close_inherited(keep: set[int]) -> None:
    """In a fresh worker: close inherited sockets and pipes (client connections, listeners)."""
    try:
        fds = [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:
        return
    for fd in fds:
        if fd in keep or fd < 3:
            continue
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            continue
        if stat.S_ISSOCK(mode) or stat.S_ISFIFO(mode):
            os.close(fd)


def _worker_main(store, jobs: Connection, replies: Connection, memory_mb: int | None) -> None:
    """The worker: its job loop runs in a thread with a QUERY_STACK-sized stack."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when workers stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    threading.stack_size(QUERY_STACK)
    loop = threading.Thread(target=_job_loop, args=(store, jobs, replies))
    loop.start()  # before the memory limit: the new stack is address space too
    if memory_mb:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = _vm_size() + memory_mb * 1024 * 1024
        if hard == resource.RLIM_INFINITY or limit < hard:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    loop.join()


def _job_loop(store, jobs: Connection, replies: Connection) -> None:
    """Receive a job, answer it, until the server closes the pipe."""
    while True:
        try:
            job = jobs.recv()
        except (EOFError, OSError):
            return
        try:
            reply = _execute(store, job)
        except MemoryError:
            reply = ("limit", "the query needed more memory than a worker may use")
        except Exception as exc:  # noqa: BLE001 — a server bug: reported as 500, worker survives
            reply = ("bug", f"{type(exc).__name__}: {exc}")
        replies.send(reply)


def _vm_size() -> int:
    """This process's virtual memory size in bytes (0 if unknown)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass
class _Worker:
    pid: int
    jobs: Connection
    replies: Connection
    born: int = 0  # its resident bytes when forked (its parent's then), see Engine._out_of_memory


# How long a job waits for a busy pool's worker before forking one of its own (Engine max_workers).
# Measured with 8 clients sending 1 200 isolated queries at 10⁵ triples on 2 cores (the serving
# processes' one worker each took 42 s for them, in turns): a fork for every job that found the
# worker busy took 56 s, since each fresh worker pays again for the first touch of the graph's
# pages, and forking after 0.2 s of waiting 52 s; after 1 s, 42 s. So a flood of such queries stays
# queued, and a job behind a slow query gets a worker of its own after this long.
GROW_AFTER = 1.0


class Engine:
    """Runs queries on ``store`` in ``workers`` forked processes, each job bounded by ``timeout``.

    With ``max_workers`` above ``workers``, a job that waited GROW_AFTER s with every worker busy
    forks one more for itself, up to ``max_workers``, which ends with the job: each worker copies
    the pages of the store it touches, so an idle pool holds no more than ``workers`` such copies.
    """

    def __init__(self, store: ox.Store, *, workers: int = 2, timeout: float = 30.0,
                 memory_mb: int | None = 2048, max_workers: int | None = None, on_restart=None):
        self.store = store
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.size = workers
        self.max_size = max(workers, max_workers or workers)
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: dict[int, _Worker] = {}
        self._lock = threading.Lock()
        self._forking = 0  # workers being added by _grow, counted against max_size
        self._busy: dict[int, _Worker] = {}  # pid -> worker, while it runs a job
        self._over_memory: set[int] = set()  # pids stopped by stop_for_memory
        self.restarts = 0
        self.on_restart = on_restart  # called for each worker replaced after a failure
        self._closed = False
        for _ in range(workers):
            self._idle.put(self._spawn())

    def _spawn(self) -> _Worker:
        """Fork one worker sharing the loaded store copy-on-write."""
        with self._lock:
            job_r, job_w = os.pipe()
            rep_r, rep_w = os.pipe()
            pid = os.fork()
            if pid == 0:  # child
                code = 0
                try:
                    _close_inherited({job_r, rep_w})
                    _worker_main(self.store, Connection(job_r, writable=False),
                                 Connection(rep_w, readable=False), self.memory_mb)
                except BaseException:  # noqa: BLE001 — a worker must never return into the server
                    code = 1
                finally:
                    os._exit(code)
            os.close(job_r)
            os.close(rep_w)
            worker = _Worker(pid, Connection(job_w, readable=False), Connection(rep_r, writable=False),
                             rss_bytes())
            self._all[pid] = worker
            return worker

    def _retire(self, worker: _Worker, replace: bool = True, failed: bool = True) -> tuple[int, int]:
        """Kill and reap a worker and, if ``replace``, put a fresh one in the pool; return the
        signal that ended the old one (0 if unknown) and its peak resident bytes. ``failed``
        counts it in ``restarts``."""
        try:
            os.kill(worker.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        ended = peak = 0
        try:
            _, status, usage = os.wait4(worker.pid, 0)
            ended = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
            peak = usage.ru_maxrss * 1024
        except ChildProcessError:
            pass
        worker.jobs.close()
        worker.replies.close()
        with self._lock:
            self._all.pop(worker.pid, None)
        self.restarts += failed
        if failed and self.on_restart is not None:
            self.on_restart()
        if replace and not self._closed:
            self._idle.put(self._spawn())
        return ended, peak

    def _out_of_memory(self, worker: _Worker, peak: int) -> bool:
        """Whether a worker that aborted most likely ran out of memory: it grew by half its
        limit or more (Oxigraph aborts when an allocation fails; hostile testing found such
        queries told they had met the engine's ordering fault)."""
        return bool(self.memory_mb) and peak - worker.born >= self.memory_mb * 1024 * 1024 // 2

    def busy_growth(self) -> list[tuple[int, int]]:
        """(resident bytes grown since its fork, pid) of each worker running a job now."""
        out = []
        for pid, worker in list(self._busy.items()):
            resident = rss_bytes(pid)
            if resident:
                out.append((resident - worker.born, pid))
        return out

    def stop_for_memory(self, pid: int) -> None:
        """Kill the worker ``pid``, whose job is then answered as over the memory limit."""
        self._over_memory.add(pid)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            self._over_memory.discard(pid)

    def _grow(self) -> _Worker | None:
        """A new worker for the caller's job, or None when the pool is at ``max_size``."""
        with self._lock:
            if self._closed or len(self._all) + self._forking >= self.max_size:
                return None
            self._forking += 1
        try:
            return self._spawn()
        finally:
            with self._lock:
                self._forking -= 1

    def run(self, job: dict, timeout: float | None = None) -> Outcome:
        """Execute ``job`` (see ``_execute``) and return its Outcome or raise an EngineError."""
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        try:
            worker, extra = self._idle.get(timeout=min(limit, GROW_AFTER)), False
        except queue.Empty:
            worker = self._grow()
            extra = worker is not None
        if worker is None:
            try:
                worker = self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise ResourceLimit(
                    f"All {self.max_size} query workers stayed busy for {limit:g} s; retry later."
                ) from None
        self._busy[worker.pid] = worker
        try:
            worker.jobs.send(job)
            ready = worker.replies.poll(max(0.0, deadline - time.monotonic()))
            reply = worker.replies.recv() if ready else None
        except (EOFError, OSError):
            # An abort on a query whose ordering may mix kinds of literal is most likely the
            # engine's ordering fault (safety.orders_apart), unless the worker grew by half its
            # memory limit or more: a memory-hungry query aborts as well.
            self._busy.pop(worker.pid, None)
            ended, peak = self._retire(worker, replace=not extra)
            if worker.pid in self._over_memory:
                self._over_memory.discard(worker.pid)
                raise ResourceLimit(MEMORY_MESSAGE) from None
            if self._out_of_memory(worker, peak):
                raise ResourceLimit(MEMORY_MESSAGE) from None
            if ended == signal.SIGABRT and job.get("isolate"):
                raise QueryRefused(ENGINE_ABORT) from None
            raise ResourceLimit(
                "The query stopped its worker (memory limit or nesting too deep for the parser)."
            ) from None
        self._busy.pop(worker.pid, None)
        if reply is None:
            self._retire(worker, replace=not extra)
            raise QueryTimeout(timeout_message(limit))
        if extra:
            self._retire(worker, replace=False, failed=False)
        else:
            self._idle.put(worker)
        return outcome(reply)

    def close(self) -> None:
        """Stop every worker (used at shutdown and by tests)."""
        self._closed = True
        with self._lock:
            workers = list(self._all.values())
            self._all.clear()
        for worker in workers:
            worker.jobs.close()
            try:
                os.kill(worker.pid, signal.SIGKILL)
                os.waitpid(worker.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            worker.replies.close()
