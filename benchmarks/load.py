"""Load test of a running SPARQL endpoint (issue 8 item 3): 1, 8 and 32 concurrent clients.

    python benchmarks/load.py --url http://127.0.0.1:8000/sparql [--pid PID]
    python benchmarks/load.py --data build/msc-kg.nt          # starts server.py itself

Each level sends a bounded number of requests (``--requests``, default 2000) within a bounded
time (``--seconds``, default 30) over a mixed query set (benchmarks/queries.py MIX without the
heavy self-join, plus the competency queries), one keep-alive connection per client thread.
``--cold`` makes every query unique (an unused PREFIX in front) so that no response comes from a
cache.
Reports throughput, p50/p95/p99 latency, errors (non-2xx, timeouts, wrong/empty bodies) and the
server's RSS (sum over the process tree: supervisor + serving processes) before and after each level.
Writes JSON to benchmarks/results/load-<time>.json. Exit status 1 if any request failed.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

from queries import HEAVY, MIX, competency, form  # noqa: E402

ACCEPT = {"SELECT": "application/sparql-results+json", "ASK": "application/sparql-results+json",
          "CONSTRUCT": "application/n-triples", "DESCRIBE": "application/n-triples"}


# ---------------------------------------------------------------- processes and memory
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out += [int(c) for c in fh.read().split()]
    except OSError:
        pass
    return out


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += _children(p)
    return seen


def _status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory(pid: int) -> dict:
    """RSS of the process tree (MB), its PSS (shared pages counted once) and the main VmHWM."""
    pids = tree(pid)
    return {"rss_mb": round(sum(_status_kb(p, "VmRSS") for p in pids) / 1024, 1),
            "pss_mb": round(sum(_pss_kb(p) for p in pids) / 1024, 1),
            "main_hwm_mb": round(_status_kb(pid, "VmHWM") / 1024, 1),
            "processes": len(pids)}


def wait_http(url: str, proc: subprocess.Popen | None, limit: float) -> None:
    """Wait until ``url`` answers (any status below 500) or raise."""
    deadline = time.monotonic() + limit
    u = urllib.parse.urlsplit(url)
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"server exited {proc.returncode}: {err[-2000:]}")
        try:
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=2)
            c.request("GET", u.path or "/")
            r = c.getresponse()
            r.read()
            c.close()
            if r.status < 500:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {limit:g} s")


def start_msc(data: list[str], port: int | None = None, timeout: float = 30.0,
              max_rows: int = 10_000_000, extra: list[str] | None = None, peak: dict | None = None):
    """Start this project's ``server.py --data ...``; return (proc, endpoint URL, seconds to ready).
    With ``peak``, the process tree's PSS is sampled every 0.25 s until it answers, and the
    highest figure put in ``peak["pss_mb"]`` (the graph is loaded in a process that has exited
    by then, so no high-water mark shows it afterwards)."""
    port = port or free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py"), "--host", "127.0.0.1", "--port", str(port),
         "--timeout", str(timeout), "--max-rows", str(max_rows), "--data", *data, *(extra or [])],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ready = threading.Event()
    if peak is not None:
        def sample():
            while not ready.wait(0.25):
                peak["pss_mb"] = max(peak.get("pss_mb", 0.0), memory(proc.pid)["pss_mb"])

        threading.Thread(target=sample, daemon=True).start()
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc, limit=600)
    except Exception:
        stop(proc)
        raise
    finally:
        ready.set()
    return proc, f"http://127.0.0.1:{port}/sparql", time.perf_counter() - t


def stop(proc: subprocess.Popen | None, grace: float = 10.0) -> None:
    """SIGTERM the process we started, SIGKILL it if it does not exit."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


# ---------------------------------------------------------------- HTTP client
class Client:
    """One keep-alive HTTP connection to a SPARQL endpoint (GET ?query=...)."""

    def __init__(self, url: str, timeout: float = 30.0):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.path = u.hostname, u.port, u.path or "/"
        self.timeout = timeout
        self.conn = None

    def query(self, q: str, headers: dict | None = None) -> tuple[int, bytes, dict]:
        """(status, body, headers); reconnects once if the server closed the connection."""
        hdrs = {"Accept": ACCEPT[form(q)]}
        hdrs.update(headers or {})
        target = self.path + "?" + urllib.parse.urlencode({"query": q})
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request("GET", target, headers=hdrs)
                r = self.conn.getresponse()
                body = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.close()
                return r.status, body, dict(r.getheaders())
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt:
                    raise
            except Exception:
                self.close()
                raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def count_results(q: str, body: bytes) -> int:
    """Rows of a JSON result, 1 for ASK, lines of N-Triples."""
    if form(q) in ("CONSTRUCT", "DESCRIBE"):
        return sum(1 for line in body.splitlines() if line.strip() and not line.startswith(b"#"))
    doc = json.loads(body)
    return 1 if "boolean" in doc else len(doc["results"]["bindings"])


_nonce = itertools.count()
_nonce_lock = threading.Lock()


def nonce(q: str) -> str:
    """``q`` made unique by an unused PREFIX declaration in front.

    Not a comment, which a cache keyed on the query's tokens would ignore (msc-kg's is keyed on
    its exact text; others may not be): an extra declaration is a different token stream for
    every cache while no engine's evaluation changes.
    """
    with _nonce_lock:
        k = next(_nonce)
    return f"PREFIX nonce{os.getpid()}x{k}: <urn:nonce:{k}>\n{q}"


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100 * (len(s) - 1)))))
    return s[k]


def drive(url: str, queries: dict[str, str], clients: int, requests: int, seconds: float,
          cold: bool = True, timeout: float = 30.0, expected: dict[str, int] | None = None) -> dict:
    """``clients`` threads share ``requests`` requests (stop at ``seconds``); return the figures."""
    names = sorted(queries)
    if not names:
        return {"clients": clients, "requests": 0, "seconds": 0.0, "throughput_rps": 0.0,
                "p50_ms": None, "p95_ms": None, "p99_ms": None, "mean_ms": None, "errors": 0,
                "error_samples": [], "cold": cold}
    counter = itertools.count()
    lock = threading.Lock()
    lat: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + seconds

    def worker(idx: int) -> None:
        cl = Client(url, timeout)
        try:
            while time.monotonic() < deadline:
                with lock:
                    k = next(counter)
                if k >= requests:
                    return
                name = names[(k * 7 + idx) % len(names)]
                q = nonce(queries[name]) if cold else queries[name]
                t = time.perf_counter()
                try:
                    status, body, _ = cl.query(q)
                    dt = time.perf_counter() - t
                    if status != 200:
                        err = f"{name}: HTTP {status} {body[:200]!r}"
                    elif expected and name in expected and count_results(q, body) != expected[name]:
                        err = f"{name}: {count_results(q, body)} results, expected {expected[name]}"
                    else:
                        err = None
                except Exception as exc:  # noqa: BLE001 — any failure is an error of the run
                    dt, err = time.perf_counter() - t, f"{name}: {type(exc).__name__}: {exc}"
                with lock:
                    lat.append(dt)
                    if err:
                        errors.append(err)
        finally:
            cl.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(seconds + timeout + 5)
    wall = time.perf_counter() - t0
    ms = [x * 1000 for x in lat]
    return {"clients": clients, "requests": len(lat), "seconds": round(wall, 3),
            "throughput_rps": round(len(lat) / wall, 1) if wall else 0.0,
            "p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2),
            "p99_ms": round(percentile(ms, 99), 2),
            "mean_ms": round(statistics.fmean(ms), 2) if ms else float("nan"),
            "errors": len(errors), "error_samples": errors[:5], "cold": cold}


def mixed_queries(include_competency: bool = True) -> dict[str, str]:
    qs = {k: v for k, v in MIX.items() if k not in HEAVY}
    if include_competency:
        qs.update(competency())
    return qs


def expected_counts(url: str, queries: dict[str, str], timeout: float = 60.0,
                    timings: dict | None = None) -> dict[str, int]:
    """Result sizes from one sequential pass (errors here raise: the set must be answerable);
    the seconds each query took go into ``timings`` when given."""
    cl = Client(url, timeout)
    out = {}
    try:
        for name, q in queries.items():
            t = time.perf_counter()
            status, body, _ = cl.query(q)
            if timings is not None:
                timings[name] = time.perf_counter() - t
            if status != 200:
                raise RuntimeError(f"{name}: HTTP {status}: {body[:300]!r}")
            out[name] = count_results(q, body)
    finally:
        cl.close()
    return out


def run_levels(url: str, pid: int | None, levels=(1, 8, 32), requests: int = 2000,
               seconds: float = 30.0, cold: bool = True, queries: dict | None = None,
               check: bool = True, slow_ms: float = 1000.0) -> dict:
    """Every concurrency level in turn, with the server's memory before and after each.
    Queries slower than ``slow_ms`` alone are left out (they test the timeout, not load)."""
    queries = queries or mixed_queries()
    timings: dict[str, float] = {}
    expected = expected_counts(url, queries, timings=timings) if check else None
    slow = sorted(k for k, v in timings.items() if v * 1000 > slow_ms)
    queries = {k: v for k, v in queries.items() if k not in slow}
    report = {"url": url, "queries": sorted(queries), "left_out_slow": slow, "levels": []}
    if pid:
        report["memory_start"] = memory(pid)
    for n in levels:
        before = memory(pid) if pid else None
        res = drive(url, queries, n, requests, seconds, cold=cold, expected=expected)
        res["memory_before"], res["memory_after"] = before, memory(pid) if pid else None
        report["levels"].append(res)
    if pid:
        time.sleep(1.0)
        report["memory_end"] = memory(pid)
    return report


def table(report: dict) -> str:
    rows = ["| clients | requests | req/s | p50 ms | p95 ms | p99 ms | errors | RSS before → after MB |",
            "|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in report["levels"]:
        mem = (f"{r['memory_before']['rss_mb']} → {r['memory_after']['rss_mb']}"
               if r.get("memory_before") else "n/a")
        rows.append(f"| {r['clients']} | {r['requests']} | {r['throughput_rps']} | {r['p50_ms']} | "
                    f"{r['p95_ms']} | {r['p99_ms']} | {r['errors']} | {mem} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--url", help="SPARQL endpoint of a running server")
    g.add_argument("--data", nargs="+", help="start server.py --data FILE... on a free port")
    p.add_argument("--pid", type=int, help="server process id (for memory figures with --url)")
    p.add_argument("--clients", default="1,8,32", help="concurrency levels (default: %(default)s)")
    p.add_argument("--requests", type=int, default=2000, help="requests per level")
    p.add_argument("--seconds", type=float, default=30.0, help="time limit per level")
    p.add_argument("--cold", action="store_true", help="defeat the result cache (unique queries)")
    p.add_argument("--no-competency", action="store_true", help="only the synthetic query mix")
    args = p.parse_args(argv)
    proc = None
    url, pid = args.url, args.pid
    if args.data:
        proc, url, ready = start_msc(args.data)
        pid = proc.pid
        print(f"server ready in {ready:.2f} s at {url}")
    try:
        report = run_levels(url, pid, [int(x) for x in args.clients.split(",")], args.requests,
                            args.seconds, cold=args.cold,
                            queries=mixed_queries(not args.no_competency))
    finally:
        stop(proc)
    print(table(report))
    if report["left_out_slow"]:
        print(f"left out (slower than 1 s alone): {', '.join(report['left_out_slow'])}")
    if report.get("memory_start"):
        print(f"server memory: start {report['memory_start']}  end {report['memory_end']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"load-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")
    return 1 if any(r["errors"] for r in report["levels"]) else 0


if __name__ == "__main__":
    raise SystemExit(main())
