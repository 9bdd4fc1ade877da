"""The benchmark's summary of issue #7's acceptance figures (benchmarks/run.py ``acceptance``),
on hand-made results whose answers are known."""

from __future__ import annotations

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
                          "rdflib-endpoint": _fig(3000.0)},
        "optional": {"msc-kg": _fig(1.2), "oxigraph-mem": _fig(1.5), "inproc-oxigraph": _fig(1.0),
                     "rdflib-endpoint": _fig(18.0)},
        "path_3hop": {"msc-kg": _fig(5.5), "oxigraph-mem": _fig(5.0), "inproc-oxigraph": _fig(11.0),
                      "rdflib-endpoint": {"timeout": True}},
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
    }
    lines = run._acceptance_lines(99526, acc)
    assert lines[1] == ("- cold median at most the Oxigraph server's (memory) on 1 of 3 non-trivial "
                        "queries; median ratio 1.067×, the highest 1.1× (path_3hop)")
    assert lines[-1] == ("- added over the in-process engine, on the 2 queries of 10 ms and more "
                         "there: at most 28.0% (table1_matrix)")


def test_acceptance_without_peers_names_only_what_was_measured():
    acc = run.acceptance({"queries": {"optional": {"msc-kg": _fig(1.2)}}, "throughput": {}})
    assert acc == {"trivial_ms": {}, "errors": 0}
    assert run._acceptance_lines(10, acc)[1:] == ["- errors (per-query figures and throughput): 0"]
