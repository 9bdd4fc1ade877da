"""A small load run (issue 8 items 3 and acceptance): the real ``server.py`` process, 32 client
threads, a few thousand requests over the mixed query set (benchmarks/load.py), bounded to ~30 s.

Asserts zero errors (non-200, wrong result size, connection failures) and that the server's
memory (RSS summed over the supervisor and its serving processes) grows by less than
RSS_BOUND_MB between the end of a warm-up pass and the end of the run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import load  # noqa: E402

RSS_BOUND_MB = 50
REQUESTS = 3000
SECONDS = 30.0
CLIENTS = 32
SLOW_S = 0.25


def _data() -> Path:
    built = ROOT / "build" / "msc-kg.nt"
    return built if built.exists() else ROOT / "tests" / "data" / "server" / "small.ttl"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc for memory")
def test_32_clients_thousands_of_requests_no_errors_bounded_memory():
    proc, url, _ = load.start_msc([str(_data())], timeout=10.0)
    try:
        queries = load.mixed_queries(include_competency=True)
        timings: dict[str, float] = {}
        expected = load.expected_counts(url, queries, timings=timings)  # warm-up; right answers
        # a query that alone takes longer than SLOW_S tests the timeout, not load: left out
        queries = {k: v for k, v in queries.items() if timings[k] < SLOW_S}
        # a cold pass so that every serving process has touched every query shape
        load.drive(url, queries, CLIENTS, 2 * len(queries), 10.0, cold=True, expected=expected)
        before = load.memory(proc.pid)
        half = REQUESTS // 2
        cold = load.drive(url, queries, CLIENTS, half, SECONDS / 2, cold=True, expected=expected)
        warm = load.drive(url, queries, CLIENTS, half, SECONDS / 2, cold=False, expected=expected)
        after = load.memory(proc.pid)
        assert proc.poll() is None, "the server died under load"
    finally:
        load.stop(proc)
    for run in (cold, warm):
        assert run["errors"] == 0, run["error_samples"]
    assert cold["requests"] + warm["requests"] >= 1000, (cold, warm)  # really a few thousand
    growth = after["rss_mb"] - before["rss_mb"]
    assert growth < RSS_BOUND_MB, f"RSS grew {growth:.1f} MB ({before} -> {after})"
