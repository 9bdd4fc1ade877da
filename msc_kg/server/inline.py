"""Query execution in the serving thread, with a watchdog that enforces the time and memory limits.

Used by ``server.py`` (see msc_kg.server.supervise), where each serving process is one of several
a loader forked for the supervisor. Running the query in the thread that owns the client
connection saves the two process wake-ups a worker round-trip costs (measured on loopback, label
lookup on 10⁵ triples: 1.2 ms → 0.9 ms per request), and pyoxigraph releases the GIL while it
evaluates, so one process can still run many queries at once (while every core is busy it runs
them one at a time, which costs less processor time, see InlineEngine._take_turn). Oxigraph cannot
cancel a running query, so a query past its deadline, or a process past its memory limit, is
handled by the watchdog thread: it answers the stuck request itself with 503
(msc_kg.server.http.Server.hijack) and retires the process — it stops accepting (after a
timeout, once its replacement serves: msc_kg.server.supervise), lets its other requests finish (a
second after a memory breach; none once that query has taken twice the limit), then exits, which
stops the query — while the supervisor has a fresh process made and the others keep serving.
"""

from __future__ import annotations

import functools
import itertools
import os
import queue
import sys
import threading
import time
import traceback
from collections.abc import Iterator

import pyoxigraph as ox

from msc_kg.server import http, stream
from msc_kg.server.engine import Engine, ResourceLimit, _execute, outcome, rss_bytes, timeout_message

ISOLATION_MOST = 4  # isolation workers a serving process runs at once, at most (isolation_workers)
TURN_POLL = 0.005  # seconds between a waiting query's looks for a free core (InlineEngine._take_turn)


def cores() -> int:
    """The processors this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class Watchdog:
    """Checks running queries every ``tick`` s; on a breach calls ``retire(reason)`` once.

    Running queries are kept in a dict, number → (deadline, connection, request number, release),
    without a lock: each dict operation is atomic, and ``pop`` decides who ends a job — the
    query's thread (``done``) or the watchdog — so exactly one of them frees its slot and answers.
    Measured, the lock and the job object this replaces cost 3-4 µs of a label lookup.
    """

    def __init__(self, server: http.Server, timeout: float, memory_mb: int | None, retire,
                 tick: float = 0.05, headers: dict | None = None, isolation=None, relieve=None):
        self.server = server
        self.headers = headers  # sent with its 503s, as the endpoint sends with its own
        self.timeout = timeout
        self.isolation = isolation  # gives this process's isolation workers (an Engine) or None
        self.start = start = rss_bytes()
        self.budget = memory_mb * 1024 * 1024 if memory_mb else None
        self.limit = start + memory_mb * 1024 * 1024 if memory_mb else None
        # Past this, after a breach of the limit, the process ends at once (see _run)
        self.ceiling = start + 2 * memory_mb * 1024 * 1024 if memory_mb else None
        self.retire = retire
        self.relieve = relieve  # called at every tick (supervise._child: relief after a timeout)
        self.tick = tick
        self.jobs: dict[int, tuple] = {}
        self._numbers = itertools.count()
        self.reason: str | None = None  # "memory" or "timeout", once breached (then it retired)
        threading.Thread(target=self._run, daemon=True, name="msc-kg-watchdog").start()

    def _run(self) -> None:
        while True:
            time.sleep(self.tick)
            try:
                self._check()
            except Exception:  # noqa: BLE001 — the watchdog must outlive a failure of its own
                traceback.print_exc()

    def _check(self) -> None:
        """One look at the running queries and the process's memory."""
        if self.reason == "memory" and rss_bytes() > self.ceiling:
            # The query that went over cannot be stopped and still takes memory while the
            # process drains (a client reading a large response slowly holds the drain):
            # measured, 12 GB against a 2 GB limit in 35 s. Ending now stops it.
            print(f"msc-kg: serving process {os.getpid()} ends: a query went on taking memory "
                  "past twice its limit", file=sys.stderr, flush=True)
            os._exit(1)
        now = time.monotonic()
        running = self.jobs.copy().items()  # copied in one step, not iterated while it changes
        # once retired for memory, the query that went over still holds it: the queries
        # that come after it are not stopped for that (the ceiling above guards the process).
        # Once retired for a timeout, the query that ran past it may grow while the process
        # still serves (supervise._child): watched with none running too (hostile review)
        over = (self.limit is not None and self.reason != "memory"
                and (len(running) > 0 or self.reason == "timeout") and rss_bytes() > self.limit)
        victims = [job for number, job in running if (over or now > job[0])
                   and self.jobs.pop(number, None) is not None]  # claimed here, not by done()
        if over or victims and self.reason is None:
            # retired first: no new connection comes to this process while it answers them
            # (one retired for a timeout takes them until its replacement serves, unless it
            # then goes over the memory limit: retired again, it stops at once)
            self.reason = "memory" if over else "timeout"
            try:
                self.retire(self.reason)
            except Exception:  # noqa: BLE001 — its victims are answered all the same
                traceback.print_exc()
        if self.budget is not None and self.isolation is not None:
            self._trim(self.isolation())
        for _, client, request_no, release in victims:
            if release is not None:
                release()  # its thread stays stuck until the process exits
            if over:
                message = ("The server process running this query went over its memory limit "
                           "and restarts; simplify the query or add LIMIT, then retry.")
            else:
                message = timeout_message(self.timeout)
            if client is not None:
                self.server.hijack(client, request_no, 503, message, self.headers)
        if self.relieve is not None:
            self.relieve()

    def _trim(self, workers) -> None:
        """Stop the isolation worker that grew most while this process and its workers running
        queries have grown past the limit together. Each worker's own limit (engine._worker_main)
        is the whole of it, so isolated queries at once took their sum: eight took 13 GB against
        the 2 x 2 GB of two serving processes (hostile testing)."""
        grown = workers.busy_growth() if workers is not None else []
        if grown and max(0, rss_bytes() - self.start) + sum(g for g, _ in grown) > self.budget:
            workers.stop_for_memory(max(grown)[1])

    def watch(self, deadline: float, release=None) -> int:
        """Watch the calling thread's query until ``deadline``; return its number for ``done``.
        ``release`` frees its query slot if the watchdog ends it."""
        client = http.current_connection()
        number = next(self._numbers)
        self.jobs[number] = (deadline, client, client.request_no if client else 0, release)
        return number

    def done(self, number: int) -> bool:
        """Forget job ``number``; False if the watchdog already answered for it."""
        return self.jobs.pop(number, None) is not None


def count(counter) -> None:
    """Add one to a shared multiprocessing.Value, which other processes add to as well."""
    with counter.get_lock():
        counter.value += 1


def isolation_workers(slots: int, memory_mb: int | None, loaded_mb: float) -> int:
    """Isolation workers a serving process may run at once: the one it keeps, and more, forked for
    queries that waited engine.GROW_AFTER s behind busy ones, as long as a copy of the loaded graph
    for each fits in ``memory_mb`` (the memory a serving process may add), and at most one per
    query slot and ISOLATION_MOST in all. Each copies the pages of the graph it touches (measured
    at 10⁶ triples: 292 of the process's 402 MB for the comparison of Table 1 with the body, 2 MB
    for a lookup), so a flood of such queries on a large graph could otherwise multiply that copy;
    and each is a process forked for a query, which a flood on a small graph must not multiply
    either (a process has 64 query slots by default)."""
    most = min(slots, ISOLATION_MOST)
    copies = int(memory_mb // max(loaded_mb, 1.0)) if memory_mb else most  # falsy: no limit
    return 1 + max(0, min(most - 1, copies))


class InlineEngine:
    """The engine interface of msc_kg.server.engine.Engine, evaluating in the calling thread."""

    def __init__(self, store: ox.Store, *, timeout: float = 30.0, processes: int = 1,
                 slots: int = 64, memory_mb: int | None = 2048, queue_ms: float = 100.0):
        self.store = store
        self.timeout = timeout
        self.size = processes
        self.slots = slots
        self.memory_mb = memory_mb
        # how long a query may wait for its turn (see _take_turn); none with fewer serving
        # processes than cores, where a query beside another uses a core that would idle
        self.cores = cores()
        self.queue_s = queue_ms / 1000 if processes >= self.cores else 0.0
        self.balance = None  # in a serving process: the counts the processes share (balance.py)
        self._turn = threading.Lock()  # held by the query this process evaluates on its own
        self._turn_since = 0.0  # when its holder took it (time.monotonic)
        self._slots = queue.SimpleQueue()  # one token per query evaluated at once in a process:
        for _ in range(slots):  # SimpleQueue is written in C; a Semaphore's acquire and release
            self._slots.put(None)  # in Python cost 3 µs of a label lookup (measured)
        self._release = functools.partial(self._slots.put, None)  # gives a slot back
        self._downloads = queue.SimpleQueue()  # as many large downloads at once, apart: a client
        for _ in range(slots):  # reading one slowly holds its slot as long as it likes, which
            self._downloads.put(None)  # must not keep queries waiting
        self.restart_counter = None  # a shared counter the supervisor keeps (supervise.py)
        self.watchdog: Watchdog | None = None  # set in each serving process
        self._sandbox: Engine | None = None  # isolation workers (start_isolation, or at first use)
        self._sandbox_lock = threading.Lock()
        # measured here, in the process that loaded the graph, before serving processes are forked
        self.isolation_workers = isolation_workers(slots, memory_mb, rss_bytes() / 2**20)

    @property
    def restarts(self) -> int:
        """Replacements of serving processes and isolation workers: the server's count, which
        every serving process adds its isolation workers' to, else this process's own. Each
        serving process added its own workers' count to the shared one when asked, so /health
        went back and forth between processes (hostile testing)."""
        if self.restart_counter is not None:
            return self.restart_counter.value
        return self._sandbox.restarts if self._sandbox is not None else 0

    def _count_restart(self) -> None:
        if self.restart_counter is not None:
            count(self.restart_counter)

    def run(self, job: dict, timeout: float | None = None):
        """Execute ``job`` and return its Outcome or raise an EngineError (as Engine.run).

        A job marked ``isolate`` (its ordering may mix numbers with other literals,
        safety.orders_apart) runs in a worker process of this serving process instead: if the
        engine aborts on it, the worker dies, the client is told why, and a fresh worker is
        forked. Such jobs take turns on the worker, but one that waited engine.GROW_AFTER s gets
        a worker of its own, which ends with it (up to ``isolation_workers``), so a slow job holds
        up the others that long.
        """
        limit = self.timeout if timeout is None else timeout
        self._take(self._slots, "query", limit)
        if job.get("isolate"):
            try:
                return self._isolated().run(job, limit)
            finally:
                self._release()
        watched = (self.watchdog.watch(time.monotonic() + limit, self._release)
                   if self.watchdog else None)
        turn = self._take_turn()
        balance = self.balance
        if balance is not None:
            balance.evaluating(1)
        try:
            reply = _execute(self.store, job)
        except MemoryError:
            reply = ("limit", "the query needed more memory than the server may use")
        except Exception as exc:  # noqa: BLE001 — a server bug: reported as 500
            reply = ("bug", f"{type(exc).__name__}: {exc}")
        finally:
            if balance is not None:
                balance.evaluating(-1)
            if turn:
                self._turn.release()
            if watched is None or self.watchdog.done(watched):
                self._release()
            else:  # the watchdog answered this request (not sent) and freed its slot
                reply = ("limit", "the watchdog already answered this request")
        return outcome(reply)

    def _take_turn(self) -> bool:
        """Wait for the query this process is evaluating, if it is young; True if this one now
        evaluates on its own (then release ``_turn`` after it), False if beside others.

        Beside another in the same process a query costs about 1.4x the processor time (measured
        on 10⁵ triples, 20 Table-1 matrix queries: 0.25 s in two threads of one process, 0.18 s in
        two processes, 0.35 s one after the other in one; the engine's shared locks, most likely:
        the Oxigraph server's threads pay it too, 45 ms of processor time for a scan alone and
        61 ms with two at once), so while every core is evaluating a query (``balance``, the counts
        the serving processes share) a query waits until the one running here ends, at most
        ``queue_s`` from its arrival, and not at all once the running one has taken ``queue_s``
        (a slow query does not hold up the quick ones for long; they then run beside it, up to
        the query slots). While a core is free, it runs at once. With fewer serving processes
        than cores ``queue_s`` is 0: a query beside another uses a core that would idle.

        Measured with 8 clients on the benchmark's mix at 10⁵ triples (5 rounds side by side):
        328 queries a second with ``queue_s`` 0.1, 308 with 0.02, 310 with 0 (the Oxigraph server
        298); p99 latency 83, 125 and 136 ms (163); the median 20, 17 and 13 ms (11), the price of
        waiting in line rather than sharing the cores.
        """
        turn = self._turn
        if turn.acquire(False):  # the common case, and never a wait
            self._turn_since = time.monotonic()
            return True
        arrived = time.monotonic()  # the turn is held: this process evaluates one query at least
        while True:
            wait = min(self._turn_since, arrived) + self.queue_s - time.monotonic()
            if wait <= 0 or self.balance is not None and self.balance.evaluated(1) < self.cores:
                return False  # waited enough, or a core is free
            if turn.acquire(timeout=min(wait, TURN_POLL)):
                self._turn_since = time.monotonic()
                return True

    def stream(self, write) -> Iterator[bytes]:
        """What ``write(output)`` writes into a binary file-like, in chunks sent while it writes
        (msc_kg.server.stream): a large graph download. It holds one of this process's download
        slots (as many as query slots, kept apart from them) until it ends; ResourceLimit at the
        first ``next`` if none frees up within the timeout. It is not under the watchdog's query
        deadline (a client reading slowly is no runaway query), and its memory stays bounded."""
        self._take(self._downloads, "download", self.timeout)
        try:
            yield from stream.chunks(write)
        finally:
            self._downloads.put(None)

    def _take(self, tokens: queue.SimpleQueue, kind: str, limit: float) -> None:
        """Take one of ``tokens`` (query or download slots), or ResourceLimit after ``limit`` s."""
        try:
            tokens.get(timeout=limit)
        except queue.Empty:
            raise ResourceLimit(f"All {self.slots} {kind} slots of this server process stayed busy "
                                f"for {limit:g} s; retry later.") from None

    def isolation(self) -> Engine | None:
        """The isolation workers, if any were forked yet."""
        return self._sandbox

    def start_isolation(self) -> None:
        """Fork the isolation worker now rather than at the first job that needs it."""
        self._isolated()

    def _isolated(self) -> Engine:
        with self._sandbox_lock:
            if self._sandbox is None:
                self._sandbox = Engine(self.store, workers=1, timeout=self.timeout,
                                       memory_mb=self.memory_mb, max_workers=self.isolation_workers,
                                       on_restart=self._count_restart)
            return self._sandbox

    def close(self) -> None:
        """Stop the isolation worker, if one was made (other queries run in the serving threads).

        Its copy of the store is the one it was forked with: after a change of the store, close
        the engine and the next isolated query forks a fresh worker."""
        with self._sandbox_lock:
            sandbox, self._sandbox = self._sandbox, None
        if sandbox is not None:
            sandbox.close()


# Every quad of every graph, then every term's text: what queries touch first.
WARM_QUERIES = (
    "SELECT (COUNT(*) AS ?n) WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }",
    "SELECT (COUNT(*) AS ?n) WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } "
    "FILTER(STRLEN(STR(?s)) + STRLEN(STR(?p)) + STRLEN(STR(?o)) >= 0) }",
)


def warm(store: ox.Store) -> None:
    """Touch the whole graph once in a fresh serving process, before it takes connections.

    Measured at 10⁶ triples, the first Table-1 matrix query in a process just forked took 646 ms
    and the next ones 192 ms: the first touch of each page of the shared graph is slow (Oxigraph
    writes to the pages it reads, so each is copied then). These two scans (1 s there, 9 s at
    5·10⁶ triples with two processes warming at once) take that cost before users' queries do.
    A failure only leaves the process cold.
    """
    for query in WARM_QUERIES:
        try:
            for _ in store.query(query):
                pass
        except Exception:  # noqa: BLE001 — warming is an optimisation, never a reason to fail
            return
