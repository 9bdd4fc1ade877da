"""Queries evaluated in isolation workers under concurrency: a flood, and slow ones beside quick ones.

    python benchmarks/isolation.py                          # 10⁵-triple scaled graph, ~1 min
    python benchmarks/isolation.py --data FILE --flood 600

A query with ORDER BY that brings values of its own runs in an isolation worker of the serving
process (see README, "Known engine fault"; msc_kg.server.engine.GROW_AFTER). Two figures:

- flood: ``--clients`` clients send ``--flood`` such queries in all (each orders a VALUES list
  joined with every label); the total time, which forking too eagerly makes worse;
- slow beside quick: ``--slow`` clients loop a query that runs until the server's ``--timeout``
  (3 s here) while one client alternates a label lookup and a quick isolated query; the quick
  isolated query's latency is bounded by GROW_AFTER, not by the slow queries' timeout, as long as
  the serving process may fork isolation workers (inline.isolation_workers).

Prints a table and writes benchmarks/results/isolation-<time>.json.
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from load import RESULTS, Client, nonce, start_msc, stop  # noqa: E402

LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"
FLOOD = f"SELECT ?v ?l WHERE {{ VALUES ?v {{ 3 1 2 }} OPTIONAL {{ ?s {LABEL} ?l }} }} ORDER BY ?v ?l LIMIT 5"
SLOW = ("SELECT ?k (COUNT(*) AS ?n) WHERE { BIND(1 AS ?k) ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } "
        "GROUP BY ?k ORDER BY ?k")
QUICK = "SELECT ?v WHERE { VALUES ?v { 3 1 2 } } ORDER BY ?v"
LOOKUP = f"SELECT ?l WHERE {{ ?s {LABEL} ?l }} LIMIT 1"
_count_lock = threading.Lock()


def _count(counter: collections.Counter, key) -> None:
    with _count_lock:  # client threads share the counters
        counter[key] += 1


def flood(url: str, clients: int, total: int) -> dict:
    """``total`` isolated queries over ``clients`` threads; seconds in all and status counts."""
    statuses: collections.Counter = collections.Counter()
    share = [total // clients + (i < total % clients) for i in range(clients)]

    def run(n: int) -> None:
        client = Client(url, timeout=120)
        for _ in range(n):
            _count(statuses, client.query(nonce(FLOOD))[0])
        client.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=run, args=(n,)) for n in share]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"queries": total, "clients": clients, "seconds": round(time.perf_counter() - start, 2),
            "statuses": dict(statuses)}


def slow_beside_quick(url: str, slow_clients: int, seconds: float) -> dict:
    """Slow isolated queries looping beside one client timing quick ones."""
    stop_at = time.monotonic() + seconds
    slow: collections.Counter = collections.Counter()
    quick: dict[str, list] = {"lookup": [], "isolated": []}
    quick_status: collections.Counter = collections.Counter()

    def run_slow() -> None:
        client = Client(url, timeout=120)
        while time.monotonic() < stop_at:
            _count(slow, client.query(nonce(SLOW))[0])
        client.close()

    def run_quick() -> None:
        client = Client(url, timeout=120)
        time.sleep(0.5)  # let the slow queries take the workers first
        while time.monotonic() < stop_at:
            for name, q in (("lookup", LOOKUP), ("isolated", QUICK)):
                t = time.perf_counter()
                status = client.query(nonce(q))[0]
                quick[name].append(time.perf_counter() - t)
                _count(quick_status, (name, status))
            time.sleep(0.05)
        client.close()

    threads = [threading.Thread(target=run_slow) for _ in range(slow_clients)]
    threads.append(threading.Thread(target=run_quick))
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    def ms(values: list) -> dict:
        return {"n": len(values), "median_ms": round(statistics.median(values) * 1e3, 1) if values else None,
                "max_ms": round(max(values) * 1e3, 1) if values else None}

    return {"slow_clients": slow_clients, "seconds": seconds, "slow_statuses": dict(slow),
            "lookup": ms(quick["lookup"]), "isolated": ms(quick["isolated"]),
            "quick_statuses": {f"{k[0]} {k[1]}": v for k, v in quick_status.items()}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(RESULTS / "scaled-100000-seed7.nt"),
                   help="graph to serve (benchmarks/generate.py makes the scaled ones)")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--flood", type=int, default=1200, help="isolated queries in the flood")
    p.add_argument("--slow", type=int, default=6, help="clients looping slow isolated queries")
    p.add_argument("--seconds", type=float, default=20.0, help="length of the slow-beside-quick run")
    args = p.parse_args(argv)
    if not Path(args.data).exists():
        p.error(f"{args.data} does not exist: run benchmarks/generate.py (or benchmarks/run.py) first")
    report = {"data": args.data}
    proc, url, _ = start_msc([args.data])
    try:
        report["flood"] = flood(url, args.clients, args.flood)
    finally:
        stop(proc)
    proc, url, _ = start_msc([args.data], timeout=3.0)
    try:
        report["slow_beside_quick"] = slow_beside_quick(url, args.slow, args.seconds)
    finally:
        stop(proc)
    f, s = report["flood"], report["slow_beside_quick"]
    print("| scenario | figure |\n|---|---|")
    print(f"| flood: {f['queries']} isolated queries, {f['clients']} clients | {f['seconds']} s, "
          f"statuses {f['statuses']} |")
    print(f"| {s['slow_clients']} clients looping 3 s isolated queries: quick isolated query | "
          f"median {s['isolated']['median_ms']} ms, max {s['isolated']['max_ms']} ms "
          f"({s['isolated']['n']} sent) |")
    print(f"| same: label lookup | median {s['lookup']['median_ms']} ms, max {s['lookup']['max_ms']} ms |")
    print(f"| statuses | slow {s['slow_statuses']}, quick {s['quick_statuses']} |")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"isolation-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=1))
    print(f"wrote {out}")
    ok = set(f["statuses"]) <= {200} and all(k.endswith(" 200") for k in s["quick_statuses"])
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
