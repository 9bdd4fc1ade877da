"""This endpoint and the Oxigraph server (in memory) under wrk, a load generator written in C.

    apt-get install wrk                      # or any wrk 4 on the PATH
    python benchmarks/native.py              # 10⁵ triples; ~1 min
    python benchmarks/native.py --size 1e4 --connections 1,8,32 --seconds 10

The benchmark's own clients (benchmarks/load.py) are Python threads on the same cores as the
servers, which spend about 0.2 ms of their own on each request and so narrow every gap on short
queries; wrk does not. Two workloads, both cold (a Lua script puts a unique unused PREFIX in front
of each query, as load.nonce does): the label lookup alone, and the synthetic mix
(benchmarks/queries.py MIX without the heavy self-join) in turn. Both servers run at once, with
their defaults (the Oxigraph server without ``--timeout-s``: with it, it died under wrk's load,
a thread per query for the timeout failing to start), and are measured one after the other, each
level ``--rounds`` times; prints
requests a second and wrk's mean latency, and writes benchmarks/results/native-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402
from load import ACCEPT  # noqa: E402
from queries import HEAVY, MIX, form  # noqa: E402
from run import RESULTS, start_oxigraph_memory, start_this  # noqa: E402

LUA = """local queries = {%s}
local n = 0
local function enc(s)
  return (s:gsub("[^%%w%%-_%%.~]", function(c) return string.format("%%%%%%02X", string.byte(c)) end))
end
request = function()
  n = n + 1
  local q = queries[(n %% #queries) + 1]
  local text = "PREFIX nonce" .. n .. "x" .. math.random(1000000000) .. ": <urn:nonce:" .. n .. ">\\n" .. q[1]
  return wrk.format("GET", "%s?query=" .. enc(text), {["Accept"] = q[2]})
end
"""


def script(queries: dict[str, str], path: str) -> str:
    """The Lua script sending ``queries`` in turn, each made unique, to ``path``."""
    entries = ",".join("{%s, %s}" % (_lua(q), _lua(ACCEPT[form(q)])) for q in queries.values())
    return LUA % (entries, path)


def _lua(text: str) -> str:
    """``text`` as a Lua string literal (its UTF-8 bytes as they are: LuaJIT reads no \\u escape)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_LATENCY = re.compile(r"Latency\s+([\d.]+)(us|ms|s)\b")
_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, lua: Path, connections: int, seconds: float) -> dict:
    """One wrk run (its ``figures``)."""
    done = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "-s", str(lua), url],
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"wrk on {url} exited {done.returncode}: {done.stderr or done.stdout}")
    return figures(done.stdout)


def figures(out: str) -> dict:
    """What ``wrk`` printed, as requests a second, mean latency (ms), non-2xx answers and socket
    errors."""
    latency, rate = _LATENCY.search(out), _RATE.search(out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": float(rate.group(1)),
            "mean_ms": round(float(latency.group(1)) * _UNIT[latency.group(2)], 3),
            "non_2xx": int(bad.group(1)) if bad else 0, "socket_errors": errors.group(1) if errors else None}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="1e5", help="triples of the generated graph (default: %(default)s)")
    p.add_argument("--connections", default="1,8", help="wrk connections per level (default: %(default)s)")
    p.add_argument("--seconds", type=float, default=5.0, help="seconds per run (default: %(default)s)")
    p.add_argument("--rounds", type=int, default=2, help="runs per level and server (default: %(default)s)")
    args = p.parse_args(argv)
    if shutil.which("wrk") is None:
        print("error: wrk is not on the PATH (apt-get install wrk)", file=sys.stderr)
        return 2
    path = generate.ensure(generate.parse_size(args.size))
    levels = [int(c) for c in args.connections.split(",")]
    workloads = {"label_lookup": {"label_lookup": MIX["label_lookup"]},
                 "mix": {k: v for k, v in MIX.items() if k not in HEAVY}}
    servers = [start_this(path, 30.0), start_oxigraph_memory(path, None)]
    time.sleep(2)  # every serving process up and warm
    results: dict = {"size": path.name, "seconds": args.seconds, "runs": {}}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, queries in workloads.items():
                for srv in servers:
                    base, _, where = srv.url.partition("://")[2].partition("/")
                    lua = Path(tmp) / f"{name}-{srv.name}.lua"
                    lua.write_text(script(queries, "/" + where))
                    for c in levels:
                        runs = [wrk(f"http://{base}", lua, c, args.seconds) for _ in range(args.rounds)]
                        print(f"{name} {srv.name} x{c}: " + ", ".join(f"{r['rps']:.0f}/s" for r in runs),
                              file=sys.stderr, flush=True)
                        results["runs"].setdefault(name, {}).setdefault(srv.name, {})[str(c)] = runs
    finally:
        for srv in servers:
            srv.stop()
    print(f"### {path.name}: requests/s (mean latency ms), cold, {args.rounds} runs of {args.seconds:g} s each\n")
    print("| workload | server | " + " | ".join(f"{c} connections" for c in levels) + " |")
    print("|---|---|" + "---|" * len(levels))
    for name, by_server in results["runs"].items():
        for server, by_level in by_server.items():
            cells = [", ".join(f"{r['rps']:.0f} ({r['mean_ms']:g})" for r in by_level[str(c)]) for c in levels]
            print(f"| {name} | {server} | " + " | ".join(cells) + " |")
    bad = sum(r["non_2xx"] for s in results["runs"].values() for lv in s.values() for rs in lv.values() for r in rs)
    print(f"\nnon-2xx answers: {bad}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"native-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"JSON: {out}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
