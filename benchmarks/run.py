"""The msc-kg benchmark: this endpoint vs the Oxigraph server, rdflib-endpoint and rdflib, by size.

    python benchmarks/run.py --quick                    # sizes 1e4,1e5; < 2 min on 2 cores
    python benchmarks/run.py                            # sizes 1e4,1e5,1e6; < 10 min on 2 cores
    python benchmarks/run.py --sizes 1e4,1e5,1e6,5e6    # adds the 5·10⁶ load check (longer)

Per size (graphs from benchmarks/generate.py, cached in benchmarks/results/):
* load time and memory: in-process pyoxigraph (``Store.bulk_load``), rdflib ``Graph.parse``,
  this project's ``server.py --data FILE`` (process start → /health answers; RSS/PSS of the
  supervisor and its serving processes, and the highest PSS sampled while it loaded), ``oxigraph
  serve`` in memory (start + POST /store) and on disk (``oxigraph load`` + ``serve-read-only``),
  ``rdflib-endpoint serve FILE``;
* per query (benchmarks/queries.py MIX + queries/*.rq): median and p95, in-process (pyoxigraph;
  rdflib only up to --rdflib-max triples) and over HTTP on loopback; this server, the Oxigraph
  server in memory and in-process pyoxigraph side by side (all three running; for each query each
  sends a block of its requests back to back, then the next, over three rounds in alternating
  order, so that drifts of the machine's speed touch them alike); in-process pyoxigraph is timed
  twice, counting the rows and writing the answer as the HTTP clients ask for it (JSON results,
  N-Triples: work every server does besides evaluating). HTTP figures are *cold*
  (each request carries a unique unused PREFIX, so no result cache answers); this project's server is
  also measured *warm* (the same text repeated: its LRU cache answers);
* download of the default graph as N-Triples through the Graph Store Protocol (this server's
  ``/data?default``, the Oxigraph server's ``/store?default``): the first request and the next three;
* throughput with 1, 8 and 32 client threads over the mixed set (bounded requests and seconds);
* scaling exponents: the log-log slope of load time and of each query median versus triples;
* the acceptance figures of issue #7 (``acceptance``): how many non-trivial queries this server
  answers at most in the Oxigraph server's time, and at least 20x faster than rdflib-endpoint,
  the trivial lookups' medians, throughput at 8 clients against the Oxigraph server's, errors,
  and the most this server (and the Oxigraph server) adds over the in-process engine on queries of
  10 ms and more, and over the in-process engine writing the answer.

Every query runs under a time limit (in-process engines run in a child process that is killed
and restarted on timeout). Prints Markdown tables, writes benchmarks/results/bench-<time>.json.
Peers that are not installed (``pip install oxigraph rdflib-endpoint uvicorn``) are skipped.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import multiprocessing as mp
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402
from load import (Client, count_results, drive, free_port, memory, nonce,  # noqa: E402
                  start_msc, stop, wait_http)
from queries import HEAVY, MIX, TRIVIAL, competency  # noqa: E402

RESULTS = HERE / "results"
BIN = Path(sys.executable).parent


# ------------------------------------------------------------------ in-process engines (child)
def _engine_child(kind: str, path: str, conn) -> None:
    t = time.perf_counter()
    if kind == "pyoxigraph":
        import pyoxigraph as ox

        store = ox.Store()
        store.bulk_load(path=path, format=ox.RdfFormat.N_TRIPLES)

        def run(q):
            r = store.query(q)
            if isinstance(r, ox.QueryBoolean):
                return 1
            return sum(1 for _ in r)

        def write(q):  # what a server does besides: the answer written as the clients ask for it
            r = store.query(q)
            if isinstance(r, ox.QueryTriples):
                return r.serialize(format=ox.RdfFormat.N_TRIPLES)
            return r.serialize(format=ox.QueryResultsFormat.JSON)
    else:
        write = None
        import rdflib

        g = rdflib.Graph()
        g.parse(path, format="nt")

        def run(q):
            r = g.query(q)
            if r.type == "ASK":
                return 1
            return len(r.graph) if r.type in ("CONSTRUCT", "DESCRIBE") else sum(1 for _ in r)
    conn.send(("loaded", time.perf_counter() - t, _hwm_mb()))
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        _, q, reps, budget, warm = msg
        times, rows, written = [], None, []
        start = time.perf_counter()
        try:
            if warm:
                spent, rows = _timed(run, q)  # warm-up, untimed unless it spent the budget
                if spent > budget:
                    times.append(spent)
                    if write is not None:
                        written.append(_timed(write, q)[0])
            while len(times) < reps and time.perf_counter() - start <= budget:
                spent, rows = _timed(run, q)
                times.append(spent)
                if write is not None:  # each run followed by one that writes the answer
                    written.append(_timed(write, q)[0])
            conn.send(("ok", times, rows, written))
        except Exception as exc:  # noqa: BLE001
            conn.send(("error", f"{type(exc).__name__}: {exc}", None, None))


def _timed(fn, q: str) -> tuple[float, object]:
    """(seconds, result) of ``fn(q)``."""
    t = time.perf_counter()
    out = fn(q)
    return time.perf_counter() - t, out


def _hwm_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


class InProcess:
    """An engine loaded in a forked child; a query past ``timeout`` kills and reloads it."""

    def __init__(self, kind: str, path: Path, load_limit: float = 600):
        self.kind, self.path = kind, str(path)
        self.load_s, self.hwm_mb = self._start(load_limit)

    def _start(self, limit: float):
        ctx = mp.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_engine_child, args=(self.kind, self.path, child), daemon=True)
        self.proc.start()
        child.close()
        if not self.conn.poll(limit):
            self.close()
            raise TimeoutError(f"{self.kind} did not load {self.path} in {limit:g} s")
        _, load_s, hwm = self.conn.recv()
        return load_s, hwm

    def time(self, q: str, reps: int, budget: float, timeout: float) -> dict:
        """Median/p95 of ``q``: one untimed run, then up to ``reps`` timed within ``budget``."""
        out = self.samples(q, reps, budget, timeout)
        return out if isinstance(out, dict) else _summary(out[0], rows=out[1])

    def samples(self, q: str, reps: int, budget: float, timeout: float,
                warm: bool = True) -> tuple[list[float], int, list[float]] | dict:
        """(seconds of each timed run, rows, seconds of each run that also wrote the answer:
        pyoxigraph only, else empty) of ``q`` as ``time`` runs it (without the untimed first run
        unless ``warm``), or the figure of a timeout or error."""
        self.conn.send(("run", q, reps, budget, warm))
        if not self.conn.poll(timeout + 2 * budget):
            self.close()
            self._start(600)
            return {"timeout": True}
        status, a, b, c = self.conn.recv()
        if status != "ok":
            return {"error": a}
        return a, b, c

    def close(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)


def _summary(times: list[float], **extra) -> dict:
    ms = sorted(t * 1000 for t in times)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    return {"median_ms": round(statistics.median(ms), 3), "p95_ms": round(p95, 3), "n": len(ms),
            **extra}


# ------------------------------------------------------------------ HTTP servers
class Server:
    """A started HTTP endpoint: process, URL, load seconds, and how to stop it."""

    def __init__(self, name, proc, url, load_s, cleanup=None, restart=None, load_peak=None):
        self.name, self.proc, self.url, self.load_s = name, proc, url, load_s
        self.cleanup, self.restart = cleanup, restart
        self.load_peak = load_peak  # highest PSS (MB) of its process tree while it loaded

    def stop(self):
        stop(self.proc)
        if self.cleanup:
            self.cleanup()


def start_oxigraph_memory(path: Path, timeout: float | None) -> Server:
    """The Oxigraph server in memory, ``path`` loaded; ``timeout`` None: without --timeout-s (under
    thousands of requests a second its timeout thread per query failed to start, EAGAIN, and the
    server died: benchmarks/native.py)."""
    port = free_port()
    t = time.perf_counter()
    limit = [] if timeout is None else ["--timeout-s", str(int(math.ceil(timeout)))]
    proc = subprocess.Popen([str(BIN / "oxigraph"), "serve", "--bind", f"127.0.0.1:{port}", *limit],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_http(f"http://127.0.0.1:{port}/", proc, 30)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    with open(path, "rb") as fh:
        conn.request("POST", "/store?default", body=fh,
                     headers={"Content-Type": "application/n-triples",
                              "Content-Length": str(path.stat().st_size)})
        r = conn.getresponse()
        r.read()
    conn.close()
    if r.status >= 300:
        stop(proc)
        raise RuntimeError(f"oxigraph POST /store answered {r.status}")
    return Server("oxigraph-mem", proc, f"http://127.0.0.1:{port}/query", time.perf_counter() - t)


def start_oxigraph_disk(path: Path, timeout: float) -> Server:
    port = free_port()
    loc = RESULTS / f"oxigraph-db-{os.getpid()}"
    shutil.rmtree(loc, ignore_errors=True)
    t = time.perf_counter()
    subprocess.run([str(BIN / "oxigraph"), "load", "--location", str(loc), "--file", str(path)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc = subprocess.Popen([str(BIN / "oxigraph"), "serve-read-only", "--location", str(loc),
                             "--bind", f"127.0.0.1:{port}",
                             "--timeout-s", str(int(math.ceil(timeout)))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_http(f"http://127.0.0.1:{port}/", proc, 60)
    return Server("oxigraph-disk", proc, f"http://127.0.0.1:{port}/query", time.perf_counter() - t,
                  cleanup=lambda: shutil.rmtree(loc, ignore_errors=True))


def start_rdflib_endpoint(path: Path, timeout: float) -> Server:
    port = free_port()
    t = time.perf_counter()
    proc = subprocess.Popen([str(BIN / "rdflib-endpoint"), "serve", str(path), "--host", "127.0.0.1",
                             "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"  # rdflib-endpoint 0.6 serves SPARQL at the root
    wait_http(url + "?" + urllib.parse.urlencode({"query": "ASK {}"}), proc, 300)
    srv = Server("rdflib-endpoint", proc, url, time.perf_counter() - t)
    srv.restart = lambda: start_rdflib_endpoint(path, timeout)  # a timed-out query blocks it
    return srv


def start_this(path: Path, timeout: float) -> Server:
    peak: dict = {}
    proc, url, load_s = start_msc([str(path)], timeout=timeout, peak=peak)
    return Server("msc-kg", proc, url, load_s, load_peak=peak.get("pss_mb"))


WARMUP = 2  # untimed requests per query and server (this server forks 2 serving processes on 2 cores)
ROUNDS = 3  # each server's timed requests of a query come in this many blocks (see http_time)


class _Timer:
    """Timed requests of one query to one server, a block at a time (see ``http_time``)."""

    def __init__(self, srv: Server, q: str, reps: int, budget: float, timeout: float, cold: bool):
        self.srv, self.q, self.reps, self.budget, self.cold = srv, q, reps, budget, cold
        self.cl = Client(srv.url, timeout)
        self.k, self.spent, self.times, self.rows, self.first = 0, 0.0, [], None, None
        self.result: dict | None = None  # set when done

    def run(self, upto: int, budget: float) -> None:
        """Requests until ``upto`` of them are timed or ``budget`` seconds are spent in all (the
        warm-up requests come first); sets ``result`` when this server's figure is complete."""
        while self.result is None and len(self.times) < upto and (self.k <= WARMUP or self.spent <= budget):
            self.step()
        if self.result is None and (len(self.times) >= self.reps or self.spent > self.budget):
            self.finish()

    def finish(self) -> None:
        """Make the figure of the requests timed so far."""
        if self.result is None:
            self.result = _summary(self.times, rows=self.rows, first_ms=round(self.first * 1000, 3))
        self.cl.close()

    def step(self) -> None:
        """One request; sets ``result`` on an error, a timeout or a slow query's one sample."""
        try:
            text = nonce(self.q) if self.cold else self.q
            t = time.perf_counter()
            status, body, headers = self.cl.query(text)
            dt = time.perf_counter() - t
        except (TimeoutError, OSError) as exc:
            self.cl.close()
            if self.srv.restart:
                self.srv.stop()
                new = self.srv.restart()
                self.srv.proc, self.srv.url = new.proc, new.url
            self.result = {"timeout": True, "error": f"{type(exc).__name__}"}
            return
        self.spent += dt
        k, self.k = self.k, self.k + 1
        if status != 200:
            self.result = {"error": f"HTTP {status}: {body[:200]!r}"}
            self.cl.close()
            return
        if k == 0:
            try:
                self.rows, self.first = count_results(self.q, body), dt
            except (ValueError, KeyError, TypeError) as exc:  # a peer's cut or malformed answer
                # (the Oxigraph server on disk sent JSON cut at 94 bytes once): its error, not the run's end
                self.result = {"error": f"malformed answer ({type(exc).__name__}): {body[:200]!r}"}
                self.cl.close()
                return
        if k >= WARMUP:
            self.times.append(dt)
        elif dt > self.budget and k > 0:  # slow query: the budget allows one sample, never the
            # first request (its process may not have touched the graph yet: a fresh isolation
            # worker took 1.2 s for a query it then answered in 0.15 s at 10^6 triples)
            self.times.append(dt)
            self.finish()


def http_time(servers: list[Server], q: str, reps: int, budget: float, timeout: float,
              cold: bool, reverse: bool = False, engine: InProcess | None = None) -> list[dict]:
    """Median/p95 of ``q`` over HTTP on each server: untimed warm-up requests first, then up to
    ``reps`` timed within ``budget`` seconds. With several servers, each sends its requests back
    to back in blocks, one server after the other, over ROUNDS rounds whose order reverses from
    one to the next (``reverse``, which the caller alternates from query to query, sets the
    first), so that the servers are measured within seconds of each other, each in its own
    steady state, and a slow spell of the machine falls on more than one block. An in-process
    ``engine`` takes its turn after the servers (before them in reversed rounds); its two figures
    end the list: the runs counting the rows, then those writing the answer as the HTTP clients
    ask for it (JSON results, N-Triples), which a server must do too."""
    timers = [_Timer(srv, q, reps, budget, timeout, cold) for srv in servers]
    members: list = timers + ([engine] if engine is not None else [])
    engine_times: list[float] = []
    written: list[float] = []
    engine_fig, rows = None, None
    for r in range(ROUNDS):
        upto, share = math.ceil(reps * (r + 1) / ROUNDS), budget * (r + 1) / ROUNDS
        for m in (members[::-1] if reverse != (r % 2 == 1) else members):
            if isinstance(m, _Timer):
                m.run(upto, share)
            elif engine_fig is None and len(engine_times) < upto and sum(engine_times) <= share:
                out = m.samples(q, upto - len(engine_times), budget / ROUNDS, timeout, warm=r == 0)
                if isinstance(out, dict):
                    engine_fig = out
                else:
                    engine_times += out[0]
                    rows = out[1]
                    written += out[2]
    for t in timers:
        t.finish()
    figs = [t.result for t in timers]
    if engine is not None:
        figs.append(engine_fig or _summary(engine_times, rows=rows))
        figs.append(engine_fig or (_summary(written) if written else {"skipped": "not pyoxigraph"}))
    return figs


# The default graph through each server's Graph Store Protocol (rdflib-endpoint has none).
DOWNLOAD = {"msc-kg": "/data?default", "oxigraph-mem": "/store?default",
            "oxigraph-disk": "/store?default"}


def download(srv: Server, timeout: float, reps: int = 3) -> dict:
    """GET the default graph as N-Triples: the first request (cold), then ``reps`` more (this
    server keeps a download that fits its response cache, so they are warm for it)."""
    u = urllib.parse.urlsplit(srv.url)
    times, size = [], 0
    for _ in range(reps + 1):
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout + 60)
        try:
            t = time.perf_counter()
            conn.request("GET", DOWNLOAD[srv.name], headers={"Accept": "application/n-triples"})
            resp = conn.getresponse()
            size = len(resp.read())
            times.append(time.perf_counter() - t)
        except (TimeoutError, OSError) as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            conn.close()
        if resp.status != 200:
            return {"error": f"HTTP {resp.status}"}
    return {"first_ms": round(times[0] * 1000, 1), "median_ms": round(statistics.median(times[1:]) * 1000, 1),
            "mb": round(size / 2**20, 1)}


# ------------------------------------------------------------------ the run
def slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of log(y) on log(x)."""
    pts = [(math.log(x), math.log(y)) for x, y in points if x > 0 and y and y > 0]
    if len(pts) < 2:
        return None
    mx = statistics.fmean(p[0] for p in pts)
    my = statistics.fmean(p[1] for p in pts)
    den = sum((p[0] - mx) ** 2 for p in pts)
    return round(sum((p[0] - mx) * (p[1] - my) for p in pts) / den, 2) if den else None


def bench_size(size: int, args, queries: dict[str, str], log) -> dict:
    path = generate.ensure(size, args.seed)
    triples = sum(1 for _ in open(path, "rb"))
    res = {"size": size, "triples": triples, "file_mb": round(path.stat().st_size / 2**20, 1),
           "load": {}, "memory": {}, "queries": {}, "throughput": {}, "download": {}}
    log(f"== size {size} ({triples} triples, {path.name})")

    def record(target: str, name: str, fig: dict) -> None:
        res["queries"].setdefault(name, {})[target] = fig

    # in-process engines: rdflib's measured here, pyoxigraph's side by side with the HTTP servers
    engines = {"inproc-oxigraph": InProcess("pyoxigraph", path)}
    if size <= args.rdflib_max:
        engines["inproc-rdflib"] = InProcess("rdflib", path)
    for target, eng in engines.items():
        res["load"][target] = round(eng.load_s, 3)
        res["memory"][target] = {"main_hwm_mb": eng.hwm_mb}
        log(f"  {target}: loaded in {eng.load_s:.2f} s")
    if "inproc-rdflib" in engines:
        eng = engines.pop("inproc-rdflib")
        t_all = time.perf_counter()
        for name, q in queries.items():
            if time.perf_counter() - t_all > args.rdflib_budget:
                record("inproc-rdflib", name, {"skipped": "rdflib time budget spent"})
                continue
            record("inproc-rdflib", name, eng.time(q, args.reps, args.budget, args.rdflib_timeout))
        eng.close()
    inproc = engines["inproc-oxigraph"]

    # HTTP servers, in groups started together; this server and the Oxigraph server in memory,
    # the two closest, are measured side by side with the in-process engine (http_time)
    starters = {"msc-kg": start_this}
    if (BIN / "oxigraph").exists():
        starters["oxigraph-mem"] = start_oxigraph_memory
        if not args.no_disk:
            starters["oxigraph-disk"] = start_oxigraph_disk
    if (BIN / "rdflib-endpoint").exists() and size <= args.rdflib_max:
        starters["rdflib-endpoint"] = start_rdflib_endpoint
    groups = [["msc-kg", "oxigraph-mem"], ["oxigraph-disk"], ["rdflib-endpoint"]]
    for group in groups:
        servers = []
        engine = inproc if "msc-kg" in group else None
        try:
            for name in (n for n in group if n in starters):
                try:
                    srv = starters[name](path, args.timeout if name != "rdflib-endpoint"
                                         else args.rdflib_timeout)
                except Exception as exc:  # noqa: BLE001 — a peer that cannot start is reported
                    log(f"  {name}: could not start: {exc}")
                    res["load"][name] = f"failed: {exc}"
                    continue
                servers.append(srv)
                res["load"][name] = round(srv.load_s, 3)
                res["memory"][name] = {"after_load": memory(srv.proc.pid)}
                if srv.load_peak is not None:
                    res["memory"][name]["load_peak_pss_mb"] = srv.load_peak
                log(f"  {name}: serving after {srv.load_s:.2f} s, {res['memory'][name]['after_load']}")
            if servers:
                _http_group(servers, res, queries, args, record, log, engine)
        finally:
            for srv in servers:
                srv.stop()
            if engine is not None:
                engine.close()
    res["acceptance"] = acceptance(res)
    return res


def _http_group(servers: list[Server], res: dict, queries: dict[str, str], args, record, log,
                engine: InProcess | None = None) -> None:
    """Per-query figures (cold: interleaved over ``servers`` and the in-process ``engine``, if
    given; warm: this server alone), then throughput, one server after the other."""
    is_rdflib = servers[0].name == "rdflib-endpoint"
    limit = args.rdflib_timeout if is_rdflib else args.timeout
    t_all = time.perf_counter()
    for i, (qn, q) in enumerate(queries.items()):
        if is_rdflib and time.perf_counter() - t_all > args.rdflib_budget:
            record(servers[0].name, qn, {"skipped": "rdflib time budget spent"})
            continue
        figs = http_time(servers, q, args.reps, args.budget, limit, True, reverse=i % 2 == 1,
                         engine=engine)
        for srv, fig in zip(servers, figs):
            record(srv.name, qn, fig)
        if engine is not None:
            record("inproc-oxigraph", qn, figs[-2])
            record("inproc-oxigraph-written", qn, figs[-1])
    for srv in servers:
        if srv.name == "msc-kg":
            for qn, q in queries.items():
                record("msc-kg-warm", qn, http_time([srv], q, args.reps, args.budget, limit, False)[0])
    for srv in servers:
        if srv.name in DOWNLOAD:
            res["download"][srv.name] = download(srv, limit)
    mix = throughput_mix(queries, res["queries"], {srv.name for srv in servers})
    if is_rdflib:
        mix = {k: v for k, v in mix.items() if k in MIX}
    for srv in servers:
        tp_modes = [("cold", True)] + ([("warm", False)] if srv.name == "msc-kg" else [])
        if args.quick and srv.name == "oxigraph-disk":
            tp_modes = []  # --quick: the on-disk server gets per-query figures only
        for mode, cold in tp_modes:
            target = srv.name if mode == "cold" else f"{srv.name}-warm"
            for clients in args.clients:
                r = drive(srv.url, mix, clients, args.tp_requests if not is_rdflib else
                          max(20, args.tp_requests // 10), args.tp_seconds, cold=cold,
                          timeout=args.timeout)
                r.pop("cold", None)
                res["throughput"].setdefault(target, {})[str(clients)] = r
                log(f"  {target} x{clients}: {r['throughput_rps']} req/s, p50 {r['p50_ms']} ms,"
                    f" errors {r['errors']}")
        res["memory"][srv.name]["after_run"] = memory(srv.proc.pid)


def throughput_mix(queries: dict[str, str], figures: dict, servers: set[str]) -> dict[str, str]:
    """The queries the throughput runs send: all but the heavy ones and any that one of
    ``servers`` did not answer in the per-query runs (``figures``: query → target → figures).
    Those rdflib's in-process engine skipped or timed out on had been left out too, which left 3
    short queries of 13 in the mix of a --quick run."""
    return {k: v for k, v in queries.items() if k not in HEAVY
            and not any(f.get("timeout") or f.get("error") or f.get("skipped")
                        for target, f in figures.get(k, {}).items() if target in servers)}


def _median(q: dict, target: str) -> float | None:
    return (q.get(target) or {}).get("median_ms")


def acceptance(res: dict) -> dict:
    """The figures issue #7's acceptance names, from one size's results (see the module doc)."""
    qs, out = res["queries"], {}
    ratios = sorted((_median(q, "msc-kg") / _median(q, "oxigraph-mem"), n) for n, q in qs.items()
                    if n not in TRIVIAL and _median(q, "msc-kg") and _median(q, "oxigraph-mem"))
    if ratios:
        out["vs_oxigraph"] = {
            "queries": len(ratios), "at_most_oxigraph": sum(r <= 1 for r, _ in ratios),
            "median_ratio": round(statistics.median(r for r, _ in ratios), 3),
            "worst": [ratios[-1][1], round(ratios[-1][0], 3)]}
    speedups = sorted((_median(q, "rdflib-endpoint") / _median(q, "msc-kg"), n) for n, q in qs.items()
                      if _median(q, "msc-kg") and _median(q, "rdflib-endpoint"))
    if speedups:
        out["vs_rdflib_endpoint"] = {
            "queries": len(speedups), "at_least_20x": sum(r >= 20 for r, _ in speedups),
            "least": [speedups[0][1], round(speedups[0][0], 1)]}
    out["trivial_ms"] = {n: _median(qs[n], "msc-kg") for n in sorted(TRIVIAL) if n in qs}
    tp = res["throughput"]
    if "8" in tp.get("msc-kg", {}) and "8" in tp.get("oxigraph-mem", {}):
        out["throughput_8_vs_oxigraph"] = round(tp["msc-kg"]["8"]["throughput_rps"]
                                                / tp["oxigraph-mem"]["8"]["throughput_rps"], 3)
    out["errors"] = (sum(1 for q in qs.values() if (q.get("msc-kg") or {}).get("error")
                         or (q.get("msc-kg") or {}).get("timeout"))
                     + sum(v["errors"] for v in tp.get("msc-kg", {}).values()))
    for key, server, engine in (("over_inprocess_10ms", "msc-kg", "inproc-oxigraph"),
                                ("over_written_10ms", "msc-kg", "inproc-oxigraph-written"),
                                ("oxigraph_over_inprocess_10ms", "oxigraph-mem", "inproc-oxigraph")):
        # queries of 10 ms and more in-process (counting the rows), whichever engine figure
        over = sorted((_median(q, server) / _median(q, engine) - 1, n) for n, q in qs.items()
                      if (_median(q, "inproc-oxigraph") or 0) >= 10 and _median(q, server)
                      and _median(q, engine))
        if over:
            out[key] = {"queries": len(over), "most": [over[-1][1], round(100 * over[-1][0], 1)]}
    return out


def _acceptance_lines(triples: int, acc: dict) -> list[str]:
    out = [f"\n**Acceptance figures at {triples:,} triples** (issue #7)\n"]
    if v := acc.get("vs_oxigraph"):
        out.append(f"- cold median at most the Oxigraph server's (memory) on {v['at_most_oxigraph']} of "
                   f"{v['queries']} non-trivial queries; median ratio {v['median_ratio']}×, "
                   f"the highest {v['worst'][1]}× ({v['worst'][0]})")
    if v := acc.get("vs_rdflib_endpoint"):
        out.append(f"- at least 20× faster than rdflib-endpoint on {v['at_least_20x']} of {v['queries']} "
                   f"queries both answered; the least {v['least'][1]}× ({v['least'][0]})")
    if acc.get("trivial_ms"):
        out.append("- trivial lookups, median ms: " + ", ".join(f"{n} {v}" for n, v in acc["trivial_ms"].items()))
    if "throughput_8_vs_oxigraph" in acc:
        out.append(f"- throughput at 8 clients: {acc['throughput_8_vs_oxigraph']:.0%} of the Oxigraph server's")
    out.append(f"- errors (per-query figures and throughput): {acc['errors']}")
    if v := acc.get("over_inprocess_10ms"):
        out.append(f"- added over the in-process engine, on the {v['queries']} queries of 10 ms and more "
                   f"there: at most {v['most'][1]}% ({v['most'][0]})")
        if w := acc.get("oxigraph_over_inprocess_10ms"):
            out[-1] += f"; the Oxigraph server at most {w['most'][1]}% ({w['most'][0]})"
    if v := acc.get("over_written_10ms"):
        out.append(f"- added over the in-process engine writing the answer (JSON, N-Triples) on those "
                   f"{v['queries']}: at most {v['most'][1]}% ({v['most'][0]})")
    return out


TARGETS = ["inproc-oxigraph", "inproc-oxigraph-written", "inproc-rdflib", "msc-kg", "msc-kg-warm", "oxigraph-mem",
           "oxigraph-disk", "rdflib-endpoint"]


def _cell(fig: dict | None, p95: bool = False) -> str:
    if not fig:
        return "–"
    if fig.get("timeout"):
        return "timeout"
    if fig.get("skipped"):
        return "skip"
    if fig.get("error"):
        return "error"
    v = f"{fig['median_ms']:.3g}" if fig["median_ms"] < 100 else f"{fig['median_ms']:.0f}"
    return v + (f" / {fig['p95_ms']:.3g}" if p95 else "")


def _ratio(a: dict | None, b: dict | None) -> str:
    if a and b and "median_ms" in a and "median_ms" in b and b["median_ms"] > 0:
        return f"{a['median_ms'] / b['median_ms']:.2g}×"
    return "–"


def geo(values):
    v = [x for x in values if x and x > 0]
    return math.exp(statistics.fmean(math.log(x) for x in v)) if v else None


def markdown(report: dict) -> str:
    out = []
    sizes = report["sizes"]
    for s in sizes:
        targets = [t for t in TARGETS if any(t in q for q in s["queries"].values())]
        out.append(f"\n### {s['triples']:,} triples — median ms (msc-kg: median / p95)\n")
        out.append("| query | " + " | ".join(targets) + " | oxigraph-mem ÷ msc-kg | rdflib-endpoint ÷ msc-kg |")
        out.append("|---" * (len(targets) + 3) + "|")
        names = [n for n in s["queries"] if not n.startswith("cq:")]
        for n in names:
            q = s["queries"][n]
            cells = [_cell(q.get(t), p95=(t == "msc-kg")) for t in targets]
            out.append(f"| {n} | " + " | ".join(cells) + f" | {_ratio(q.get('oxigraph-mem'), q.get('msc-kg'))}"
                       f" | {_ratio(q.get('rdflib-endpoint'), q.get('msc-kg'))} |")
        cq = [n for n in s["queries"] if n.startswith("cq:")]
        if cq:
            cells = []
            for t in targets:
                figs = [s["queries"][n].get(t) or {} for n in cq]
                ok = [f["median_ms"] for f in figs if "median_ms" in f]
                g = geo(ok)
                cells.append(f"{g:.3g} ({len(ok)}/{len(cq)})" if g else "–")
            gm = geo([s["queries"][n]["oxigraph-mem"]["median_ms"] / s["queries"][n]["msc-kg"]["median_ms"]
                      for n in cq if "median_ms" in (s["queries"][n].get("oxigraph-mem") or {})
                      and "median_ms" in (s["queries"][n].get("msc-kg") or {})])
            out.append(f"| {len(cq)} competency queries (geo-mean, answered/all) | " + " | ".join(cells)
                       + f" | {f'{gm:.2g}×' if gm else '–'} | |")
        if s.get("acceptance"):
            out += _acceptance_lines(s["triples"], s["acceptance"])
        out.append(f"\n**Load / memory at {s['triples']:,} triples**\n")
        out.append("| engine | load s | memory MB (RSS of process tree / PSS) |\n|---|---:|---|")
        for t, v in s["load"].items():
            mem = s["memory"].get(t, {})
            if "after_run" in mem:
                m_ = f"{mem['after_load']['rss_mb']} / {mem['after_load']['pss_mb']} after load; " \
                     f"{mem['after_run']['rss_mb']} / {mem['after_run']['pss_mb']} after run"
                if "load_peak_pss_mb" in mem:
                    m_ += f"; PSS at most {mem['load_peak_pss_mb']} while loading"
            elif "main_hwm_mb" in mem:
                m_ = f"peak {mem['main_hwm_mb']} (in-process)"
            else:
                m_ = "–"
            out.append(f"| {t} | {v} | {m_} |")
        if s.get("download"):
            out.append(f"\n**Default graph download at {s['triples']:,} triples** (GET via the Graph Store "
                       "Protocol, N-Triples; ms)\n")
            out.append("| server | first | next 3 (median) | MB |\n|---|---:|---:|---:|")
            for t, v in s["download"].items():
                out.append(f"| {t} | {v.get('first_ms', v.get('error'))} | {v.get('median_ms', '–')} | "
                           f"{v.get('mb', '–')} |")
        if s["throughput"]:
            out.append(f"\n**Throughput at {s['triples']:,} triples** (req/s, p50 / p99 ms, errors)\n")
            levels = sorted({int(c) for v in s["throughput"].values() for c in v})
            out.append("| server | " + " | ".join(f"{c} clients" for c in levels) + " |")
            out.append("|---" * (len(levels) + 1) + "|")
            for t, v in s["throughput"].items():
                out.append(f"| {t} | " + " | ".join(
                    f"{v[str(c)]['throughput_rps']} ({v[str(c)]['p50_ms']} / {v[str(c)]['p99_ms']}, "
                    f"{v[str(c)]['errors']})" if str(c) in v else "–" for c in levels) + " |")
    if len(sizes) > 1 and report.get("exponents"):
        ex = report["exponents"]
        out.append("\n### Scaling exponent (log-log slope vs triples; 1 = linear, 2 = quadratic)\n")
        cols = [t for t in ("inproc-oxigraph", "msc-kg", "oxigraph-mem") if t in ex["load"] or
                any(t in v for v in ex["queries"].values())]
        out.append("| | " + " | ".join(cols) + " |\n" + "|---" * (len(cols) + 1) + "|")
        out.append("| load | " + " | ".join(str(ex["load"].get(t, "–")) for t in cols) + " |")
        for n, v in ex["queries"].items():
            if not n.startswith("cq:"):
                out.append(f"| {n} | " + " | ".join(str(v.get(t, "–")) for t in cols) + " |")
        cq = [v.get("inproc-oxigraph") for n, v in ex["queries"].items() if n.startswith("cq:")]
        cq = [x for x in cq if x is not None]
        if cq:
            out.append(f"| competency queries (in-process: median / max) | "
                       f"{statistics.median(cq):.2f} / {max(cq):.2f} | | |")
    return "\n".join(out)


def exponents(sizes: list[dict]) -> dict:
    ex = {"load": {}, "queries": {}}
    for t in ("inproc-oxigraph", "inproc-rdflib", "msc-kg", "oxigraph-mem", "oxigraph-disk"):
        pts = [(s["triples"], s["load"].get(t)) for s in sizes if isinstance(s["load"].get(t), float)]
        if (k := slope(pts)) is not None:
            ex["load"][t] = k
    for name in sizes[0]["queries"]:
        for t in ("inproc-oxigraph", "msc-kg", "oxigraph-mem"):
            pts = [(s["triples"], _median(s["queries"].get(name, {}), t)) for s in sizes]
            if (k := slope(pts)) is not None:
                ex["queries"].setdefault(name, {})[t] = k
    return ex


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default=None, help="comma-separated triple counts (default 1e4,1e5,1e6)")
    p.add_argument("--quick", action="store_true", help="sizes 1e4,1e5, fewer repetitions (< 2 min)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--reps", type=int, default=None, help="timed repetitions per query (default 15; quick 5)")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds of repetitions per query and engine (default 1.0; quick 0.3)")
    p.add_argument("--timeout", type=float, default=20.0, help="per-query limit in seconds")
    p.add_argument("--rdflib-max", type=generate.parse_size, default=100_000,
                   help="largest size given to rdflib and rdflib-endpoint (default 1e5)")
    p.add_argument("--rdflib-timeout", type=float, default=None, help="per-query limit for rdflib (5; quick 2)")
    p.add_argument("--rdflib-budget", type=float, default=None,
                   help="total seconds per rdflib engine and size (60; quick 5)")
    p.add_argument("--clients", default="1,8,32")
    p.add_argument("--tp-requests", type=int, default=None, help="requests per throughput level (1500; quick 300)")
    p.add_argument("--tp-seconds", type=float, default=None, help="seconds per throughput level (5; quick 1)")
    p.add_argument("--no-disk", action="store_true", help="skip the on-disk Oxigraph server")
    p.add_argument("--no-competency", action="store_true", help="skip queries/*.rq")
    args = p.parse_args(argv)
    q = args.quick
    args.sizes = [generate.parse_size(x) for x in (args.sizes or ("1e4,1e5" if q else "1e4,1e5,1e6")).split(",")]
    args.reps = args.reps or (5 if q else 15)
    args.budget = args.budget or (0.3 if q else 1.0)
    args.rdflib_timeout = args.rdflib_timeout or (2.0 if q else 5.0)
    args.rdflib_budget = args.rdflib_budget or (5.0 if q else 60.0)
    args.tp_requests = args.tp_requests or (300 if q else 1500)
    args.tp_seconds = args.tp_seconds or (1.0 if q else 5.0)
    args.clients = [int(c) for c in args.clients.split(",")]
    if not generate.DEFAULT_SEED_GRAPH.exists():
        print("error: build/msc-kg.nt is missing; run `python -m msc_kg.cli build --no-reason`",
              file=sys.stderr)
        return 2
    queries = dict(MIX)
    if not args.no_competency:
        queries.update(competency())
    t0 = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - t0:6.1f}s] {msg}", file=sys.stderr, flush=True)

    import pyoxigraph

    from msc_kg.server import allocator
    report = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "argv": sys.argv[1:],
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "platform": platform.platform(), "pyoxigraph": pyoxigraph.__version__,
                          # what this endpoint's server preloads (msc_kg.server.allocator)
                          "endpoint_allocator": allocator.wanted() or "system"},
              "settings": {k: v for k, v in vars(args).items()},
              "trivial": sorted(TRIVIAL), "heavy": sorted(HEAVY), "sizes": []}
    for size in args.sizes:
        report["sizes"].append(bench_size(size, args, queries, log))
    report["exponents"] = exponents(report["sizes"])
    report["seconds"] = round(time.perf_counter() - t0, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    print(markdown(report))
    print(f"\n{len(args.sizes)} sizes in {report['seconds']} s; JSON: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
