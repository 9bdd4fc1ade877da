"""The benchmark's summary of issue #7's acceptance figures (benchmarks/run.py ``acceptance``),
on hand-made results whose answers are known."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import run  # noqa: E402


def _fig(ms, **extra):
    return {"median_ms": ms, "p95_ms": ms, "n": 5, **extra}


RESULTS = {
    "queries": {
        "label_lookup": {"msc-kg": _fig(0.3), "oxigraph-mem": _fig(0.2), "rdflib-endpoint": _fig(3.0)},
        "table1_matrix": {"msc-kg": _fig(16.0), "oxigraph-mem": _fig(15.0), "inproc-oxigraph": _fig(12.5),
                          "inproc-oxigraph-written": _fig(14.0), "rdflib-endpoint": _fig(3000.0)},
        "optional": {"msc-kg": _fig(1.2), "oxigraph-mem": _fig(1.5), "inproc-oxigraph": _fig(1.0),
                     "rdflib-endpoint": _fig(18.0)},
        "path_3hop": {"msc-kg": _fig(5.5), "oxigraph-mem": _fig(5.0), "inproc-oxigraph": _fig(11.0),
                      "inproc-oxigraph-written": _fig(11.5), "rdflib-endpoint": {"timeout": True}},
        "construct": {"msc-kg": {"error": "HTTP 500"}, "oxigraph-mem": _fig(8.0)},
    },
    "throughput": {"msc-kg": {"8": {"throughput_rps": 270.0, "errors": 1}},
                   "oxigraph-mem": {"8": {"throughput_rps": 300.0, "errors": 0}}},
}


def test_acceptance_figures_from_one_size():
    acc = run.acceptance(RESULTS)
    assert acc == {
        # label_lookup is trivial; construct has no figure of this server
        "vs_oxigraph": {"queries": 3, "at_most_oxigraph": 1, "median_ratio": 1.067,
                        "worst": ["path_3hop", 1.1]},
        "vs_rdflib_endpoint": {"queries": 3, "at_least_20x": 1, "least": ["label_lookup", 10.0]},
        "trivial_ms": {"label_lookup": 0.3},
        "throughput_8_vs_oxigraph": 0.9,
        "errors": 2,  # construct's error and one in throughput
        "over_inprocess_10ms": {"queries": 2, "most": ["table1_matrix", 28.0]},
        # the same two queries against the runs that also write the answer: 16/14, 5.5/11.5
        "over_written_10ms": {"queries": 2, "most": ["table1_matrix", 14.3]},
        "oxigraph_over_inprocess_10ms": {"queries": 2, "most": ["table1_matrix", 20.0]},
    }
    lines = run._acceptance_lines(99526, acc)
    assert lines[1] == ("- cold median at most the Oxigraph server's (memory) on 1 of 3 non-trivial "
                        "queries; median ratio 1.067×, the highest 1.1× (path_3hop)")
    assert lines[-2:] == [
        "- added over the in-process engine, on the 2 queries of 10 ms and more there: at most "
        "28.0% (table1_matrix); the Oxigraph server at most 20.0% (table1_matrix)",
        "- added over the in-process engine writing the answer (JSON, N-Triples) on those 2: at "
        "most 14.3% (table1_matrix)"]


def test_acceptance_without_peers_names_only_what_was_measured():
    acc = run.acceptance({"queries": {"optional": {"msc-kg": _fig(1.2)}}, "throughput": {}})
    assert acc == {"trivial_ms": {}, "errors": 0}
    assert run._acceptance_lines(10, acc)[1:] == ["- errors (per-query figures and throughput): 0"]


def test_servers_are_timed_in_alternating_blocks_over_rounds():
    """http_time: each server's warm-up and timed requests come in ROUNDS blocks, the order of the
    servers reversing from round to round, and each gets its ``reps`` timed requests in all."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    log: list[str] = []

    def serve(name):
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                log.append(name)
                body = b'{"head": {"vars": []}, "results": {"bindings": [{}]}}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        return httpd, run.Server(name, None, f"http://127.0.0.1:{httpd.server_port}/sparql", 0.0)

    (ha, a), (hb, b) = serve("a"), serve("b")
    try:
        figs = run.http_time([a, b], "SELECT * {}", reps=7, budget=60.0, timeout=10.0, cold=True)
    finally:
        ha.shutdown()
        hb.shutdown()
    runs = [[name, len(list(block))] for name, block in itertools.groupby(log)]
    assert run.ROUNDS == 3 and run.WARMUP == 2
    # round 1: a, b (2 warm-up + 3 timed each); round 2: b, a (2 each); round 3: a, b (2 each)
    assert runs == [["a", 5], ["b", 7], ["a", 4], ["b", 2]]
    assert [f["n"] for f in figs] == [7, 7]
    assert [f["rows"] for f in figs] == [1, 1]


WRK_OUTPUT = """Running 4s test @ http://127.0.0.1:39521
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   749.23us  313.37us   5.35ms   74.89%
    Req/Sec    10.03k   412.77    10.71k    70.00%
  39917 requests in 4.00s, 21.78MB read
  Socket errors: connect 0, read 2, write 0, timeout 0
  Non-2xx or 3xx responses: 3
Requests/sec:   9978.15
Transfer/sec:      5.44MB
"""


def test_native_benchmark_reads_what_wrk_prints():
    import native

    assert native.figures(WRK_OUTPUT) == {"rps": 9978.15, "mean_ms": 0.749, "non_2xx": 3,
                                          "socket_errors": "connect 0, read 2, write 0, timeout 0"}
    seconds = WRK_OUTPUT.replace("749.23us", "1.20s").replace("  Non-2xx or 3xx responses: 3\n", "")
    assert native.figures(seconds)["mean_ms"] == 1200.0 and native.figures(seconds)["non_2xx"] == 0


def test_native_benchmark_script_quotes_each_query_as_lua():
    """Quotes, backslashes and line ends in a query are escaped; its UTF-8 text is kept (LuaJIT,
    which wrk embeds, reads no \\u escapes)."""
    import native

    text = native.script({"q": 'SELECT * { ?s ?p "a\\"b\\\\c" }\n# é', "a": "ASK {}"}, "/sparql")
    assert '{"SELECT * { ?s ?p \\"a\\\\\\"b\\\\\\\\c\\" }\\n# é", "application/sparql-results+json"}' in text
    assert '{"ASK {}", "application/sparql-results+json"}' in text
    assert 'wrk.format("GET", "/sparql?query=" .. enc(text)' in text


def test_throughput_mix_leaves_out_only_what_the_servers_driven_did_not_answer():
    queries = {"label_lookup": "q1", "table1_matrix": "q2", "path_3hop": "q3", "construct": "q4",
               "contradictions_selfjoin": "q5"}
    mix = run.throughput_mix(queries, RESULTS["queries"], {"msc-kg", "oxigraph-mem"})
    # rdflib-endpoint's timeout on path_3hop leaves it in; this server's error on construct and
    # the heavy self-join do not
    assert mix == {"label_lookup": "q1", "table1_matrix": "q2", "path_3hop": "q3"}
    assert "path_3hop" not in run.throughput_mix(queries, RESULTS["queries"], {"rdflib-endpoint"})
