"""The real `python server.py` process on loopback: HTTP, exit codes, SIGTERM drain, port in use."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from server_fixtures import DATA, ENGINE_ABORT_START, SMALL_TRIPLES, SORT_ABORT, SORT_ABORT_STATUS

ROOT = Path(__file__).resolve().parent.parent
# 12 triples joined 9 times: 5e9 rows, far beyond any test timeout
HEAVY = "SELECT (COUNT(*) AS ?n) WHERE { " + " ".join(f"?s{i} ?p{i} ?o{i} ." for i in range(9)) + " }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(*args: str, workers: str | None = "2") -> subprocess.Popen:
    """``server.py ARGS`` with two serving processes, which the tests count on (``workers`` None:
    the default number, which depends on the machine's cores; see serve.serving_processes)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if workers is not None and "--workers" not in args:
        args = (*args, "--workers", workers)
    return subprocess.Popen([sys.executable, str(ROOT / "server.py"), *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_ready(port: int, proc: subprocess.Popen, limit: float = 15.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited {proc.returncode}: {proc.stderr.read()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("server did not become ready")


def get(port: int, query: str, accept: str = "application/sparql-results+json", timeout: float = 10):
    url = f"http://127.0.0.1:{port}/sparql?" + urllib.parse.urlencode({"query": query})
    req = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


@pytest.fixture(scope="module")
def running():
    """`python server.py --data small.ttl` on a free loopback port, stopped by PID."""
    port = free_port()
    proc = start("--data", str(DATA / "small.ttl"), "--port", str(port), "--timeout", "1")
    try:
        wait_ready(port, proc)
        yield port, proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)


def test_query_over_http(running):
    port, _ = running
    status, headers, body = get(port, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    assert status == 200
    assert headers["Content-Type"] == "application/sparql-results+json"
    assert json.loads(body)["results"]["bindings"][0]["n"]["value"] == str(SMALL_TRIPLES)
    assert headers["X-SPARQL-Max-Rows"] == "100000"


@pytest.mark.parametrize("method, path, ctype, status, message", [
    ("POST", "/data?default", "text/turtle", 405,
     b"POST is not allowed: this graph store is read-only (allowed: GET, HEAD, OPTIONS).\n"),
    ("PUT", "/data?graph=http://e/g", "text/turtle", 405,
     b"PUT is not allowed: this graph store is read-only (allowed: GET, HEAD, OPTIONS).\n"),
    ("POST", "/nowhere", "text/turtle", 404, None),
    ("POST", "/sparql", "text/turtle", 415, None),  # a type /sparql does not read: told first
    ("POST", "/sparql", "application/sparql-query", 413,
     b"Request body too large: the limit is 1000000 bytes (--max-body).\n"),
])
@pytest.mark.parametrize("expect", [False, True])
def test_the_answer_a_head_decides_comes_whatever_its_body(running, method, path, ctype, status, message,
                                                           expect):
    """A large graph sent to /data got 413 (send less), then 405 once it was small enough; a
    client waiting for 100 Continue was invited to send it for nothing. The head decides: 405 at
    once, the same answer a small body gets; a query too large for /sparql is still 413."""
    from test_server_http import exchange

    port, _ = running
    raw = exchange(("127.0.0.1", port), f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n"
                   f"Content-Length: {2_000_000 if not expect or status == 413 else 10}\r\n".encode()
                   + (b"Expect: 100-continue\r\n" if expect else b"") + b"\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), raw[:300]
    assert message is None or body == message
    if status == 405:
        assert b"\r\nAllow: GET, HEAD, OPTIONS\r\n" in head + b"\r\n"


def test_options_of_the_server_waiting_for_100_continue_is_answered(running):
    """OPTIONS * asks about the server, which no route of the app names: it is invited to send
    its body and answered 204, not refused as a path the router does not know."""
    port, _ = running
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"OPTIONS * HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n"
                  b"Connection: close\r\n\r\n")
        assert s.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(b"ab")
        assert s.recv(65536).startswith(b"HTTP/1.1 204 No Content\r\n")


def test_timeout_over_http_while_others_are_served(running):
    port, proc = running
    before = health(port)["worker_restarts"]
    heavy = {}

    def run():
        t = time.monotonic()
        heavy["status"], heavy["headers"], heavy["body"] = get(port, HEAVY)
        heavy["elapsed"] = time.monotonic() - t

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.2)
    t = time.monotonic()
    status, _, _ = get(port, "ASK { ?s ?p ?o }")
    assert status == 200 and time.monotonic() - t < 1.0
    thread.join(10)
    assert heavy["status"] == 503 and heavy["elapsed"] < 3.0
    assert b"timed out after 1 s" in heavy["body"]
    # the watchdog's 503 carries what the endpoint's own 503s carry
    assert heavy["headers"]["Retry-After"] == "5"
    assert heavy["headers"]["Access-Control-Allow-Origin"] == "*"
    # its process retires once its other requests are done: wait for the supervisor to count it,
    # so that the next test on this server reads a settled count (on a loaded machine it read 0,
    # then 2 after its own timeout)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and health(port)["worker_restarts"] == before:
        time.sleep(0.1)
    assert health(port)["worker_restarts"] == before + 1
    assert len(serving_pids(proc)) == 2  # and for its replacement to serve


def stop_server(proc: subprocess.Popen) -> None:
    """SIGTERM, which must end the server within 30 s (it is killed, and the test fails, if not)."""
    os.kill(proc.pid, signal.SIGTERM)
    try:
        assert proc.wait(30) == 0
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        raise AssertionError("the server did not stop within 30 s of SIGTERM") from None


def health(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
        return json.loads(r.read())


def serving_pids(proc: subprocess.Popen, limit: float = 15.0, count: int = 2) -> set[int]:
    """The serving processes of the supervisor ``proc`` once its children are exactly ``count`` of
    them: no loader making a replacement, no retiring process finishing its requests (or those
    seen after ``limit`` s)."""
    path = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    deadline = time.monotonic() + limit
    while True:
        pids = {int(p) for p in path.read_text().split()} if path.exists() else set()
        if len(pids) == count and all(_comm(p) == "msc-kg serve" for p in pids) or time.monotonic() > deadline:
            return {p for p in pids if _comm(p) == "msc-kg serve"}
        time.sleep(0.05)


def _comm(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def test_a_retirement_is_told_on_stderr():
    """A serving process retired by the watchdog said nothing, while the 503 of a server left
    without one says to see its log (native-load audit)."""
    port = free_port()
    proc = start("--data", str(DATA / "small.ttl"), "--port", str(port), "--timeout", "1")
    try:
        wait_ready(port, proc)
        status, _, _ = get(port, HEAVY)
        assert status == 503
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and health(port)["worker_restarts"] == 0:
            time.sleep(0.1)
    finally:
        stop_server(proc)
    err = proc.stderr.read()
    assert re.search(r"msc-kg: serving process \d+ retires: a query ran past --timeout \(1 s\), and the "
                     r"engine cannot stop it; it serves until a new one is loaded, then finishes its "
                     r"requests\n", err), err


def test_queries_timing_out_together_leave_the_server_serving():
    """Queries that time out at once retire every serving process; each still takes connections
    until its replacement serves. Before, none did, and the requests right after got the
    supervisor's 503 "No serving process is running" until replacements were loaded."""
    port = free_port()
    proc = start("--data", str(DATA / "small.ttl"), "--port", str(port), "--timeout", "1")
    try:
        wait_ready(port, proc)
        with ThreadPoolExecutor(8) as pool:
            heavy = list(pool.map(lambda _: get(port, HEAVY)[0], range(8)))
        after = [get(port, f"ASK {{ ?s ?p ?o }} # {i}") for i in range(5)]
        deadline = time.monotonic() + 10
        while (retired := health(port)["worker_restarts"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop_server(proc)
    assert heavy == [503] * 8 and retired == 2  # both processes ran one of them
    assert [(status, body) for status, _, body in after] == [(200, b'{"head":{},"boolean":true}')] * 5


def test_timed_out_process_is_replaced(running):
    """The process that ran a runaway query retires; a fresh one takes its place and is counted."""
    port, proc = running
    before, pids = health(port)["worker_restarts"], serving_pids(proc)
    assert len(pids) == 2
    status, _, body = get(port, HEAVY)
    assert status == 503 and b"timed out after 1 s" in body
    deadline, after = time.monotonic() + 15, pids
    while time.monotonic() < deadline and after == pids:
        time.sleep(0.1)
        after = serving_pids(proc)
    assert len(after) == 2 and len(after - pids) == 1  # one replaced, the runaway stopped with it
    assert health(port)["worker_restarts"] == before + 1
    assert get(port, "ASK { ?s ?p ?o }")[0] == 200


def test_crashed_serving_process_is_replaced(running):
    port, proc = running
    pids = serving_pids(proc)
    victim = min(pids)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and victim in serving_pids(proc):
        time.sleep(0.1)
    assert victim not in serving_pids(proc) and len(serving_pids(proc)) == 2
    assert all(get(port, "ASK { ?s ?p ?o }")[0] == 200 for _ in range(5))


def test_an_engine_abort_is_a_400_and_costs_no_serving_process(running):
    """The query is answered (once the engine is fixed) or, while the engine aborts on it, the
    worker it ran in dies and the client is told why; no serving process dies, and the next
    such query is evaluated by a fresh worker."""
    port, proc = running
    pids = serving_pids(proc)
    before = health(port)["worker_restarts"]
    for _ in range(2):
        status, _, body = get(port, SORT_ABORT)
        assert status == SORT_ABORT_STATUS
        assert SORT_ABORT_STATUS == 200 or body.startswith(ENGINE_ABORT_START)
    assert serving_pids(proc) == pids
    assert all(get(port, "ASK { ?s ?p ?o }")[0] == 200 for _ in range(5))
    # one count for the server, whichever serving process answers: each added its own isolation
    # workers' replacements, so probes went back and forth (hostile testing)
    answers = [health(port) for _ in range(12)]
    assert {a["worker_restarts"] for a in answers} == {before + 2 * (SORT_ABORT_STATUS == 400)}
    assert len({a["process"] for a in answers}) == 2


def test_memory_hungry_query_is_stopped_over_http():
    """Past --memory-mb the serving process answers 503 and is replaced; the next query answers."""
    port = free_port()
    proc = start("--data", str(DATA / "small.ttl"), "--port", str(port), "--timeout", "60",
                 "--memory-mb", "64")
    try:
        wait_ready(port, proc)
        q = ('SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n ?o . ?q ?r ?t '
             'BIND(CONCAT(STR(?a), STR(?d), STR(?g), STR(?j), STR(RAND())) AS ?x) } ORDER BY ?x')
        t = time.monotonic()
        status, _, body = get(port, q, timeout=70)
        assert status == 503 and b"memory limit" in body, body
        assert time.monotonic() - t < 45
        assert get(port, "ASK { ?s ?p ?o }")[0] == 200
    finally:
        stop_server(proc)


def test_isolated_queries_share_the_memory_limit():
    """Each isolation worker had the whole --memory-mb to itself, so queries running apart at once
    took their sum: eight took 13 GB against 2 x 2 GB (hostile testing). Three that take about
    130 MB each against a limit of 300 MB: the worker that grew most is stopped while the serving
    process and its workers have grown past the limit together, and at least one is answered."""
    port = free_port()
    proc = start("--data", str(DATA / "small.ttl"), "--port", str(port), "--timeout", "30",
                 "--memory-mb", "300", "--workers", "1")
    binds = " ".join(f"BIND(CONCAT(?a{i - 1}, ?a{i - 1}) AS ?a{i})" for i in range(1, 21))
    query = (f'SELECT ?k (COUNT(*) AS ?n) WHERE {{ BIND("{"0123456789abcdef" * 4}" AS ?a0) {binds} '
             + " ".join(f"?s{i} ?p{i} ?o{i} ." for i in range(6))
             + ' VALUES ?k { 1 "a" } } GROUP BY ?k ORDER BY ?k')  # ordered apart: VALUES mixes kinds
    answers = []
    try:
        wait_ready(port, proc)
        threads = [threading.Thread(target=lambda i=i: answers.append(get(port, f"{query} # {i}", timeout=60)))
                   for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses = sorted(status for status, _, _ in answers)
        assert 200 in statuses and 503 in statuses, answers
        assert all(b"memory limit" in body for status, _, body in answers if status == 503), answers
        assert get(port, "ASK { ?s ?p ?o }")[0] == 200
    finally:
        stop_server(proc)


def _serving(proc: subprocess.Popen) -> set[int]:
    """The supervisor's children that are serving processes, now."""
    path = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    return {int(p) for p in path.read_text().split() if _comm(int(p)) == "msc-kg serve"}


def test_a_process_past_twice_its_memory_limit_ends_without_waiting_for_slow_readers():
    """A client that does not read a large response holds up a retiring process; the query that
    went over the memory limit cannot be stopped and took memory all that time (found by hostile
    testing: 12 GB against a 2 GB limit). Past twice its limit the process ends at once."""
    port = free_port()
    proc = start("--data", str(DATA / "small.ttl"), "--port", str(port), "--timeout", "60",
                 "--memory-mb", "64", "--workers", "1")
    slow = None
    try:
        wait_ready(port, proc)
        (first,) = _serving(proc)
        numbers = " ".join(map(str, range(100)))
        big = (f"SELECT ?v WHERE {{ VALUES ?a {{ {numbers} }} VALUES ?b {{ {numbers} }} "
               f"VALUES ?c {{ 1 2 3 4 5 6 7 8 9 10 }} BIND(CONCAT(STR(?a), \"{'x' * 200}\") AS ?v) }}")
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(f"GET /sparql?{urllib.parse.urlencode({'query': big})} HTTP/1.1\r\n"
                     "Host: localhost\r\n\r\n".encode())  # 25 MB of results, never read
        time.sleep(1)
        bomb = ('SELECT (STRLEN(?a28) AS ?n) WHERE { BIND("aaaaaaaaaa" AS ?a0) '
                + " ".join(f"BIND(CONCAT(?a{i}, ?a{i}) AS ?a{i + 1})" for i in range(28)) + " }")
        status, _, body = get(port, bomb, timeout=70)
        assert status == 503 and b"memory limit" in body, body
        deadline = time.monotonic() + 10
        while first in _serving(proc) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert first not in _serving(proc)  # it did not wait the 65 s for the slow reader
        assert get(port, "ASK { ?s ?p ?o }")[0] == 200
    finally:
        if slow is not None:
            slow.close()
        stop_server(proc)
    assert f"serving process {first} ends: a query went on taking memory past twice its limit" \
        in proc.stderr.read()


def test_port_in_use_is_a_clear_error(running):
    port, _ = running
    proc = start("--data", str(DATA / "small.ttl"), "--port", str(port))
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in err


def test_bad_data_file_stops_startup():
    proc = start("--data", str(DATA / "turtle-syntax-error.ttl"), "--port", str(free_port()))
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert "turtle-syntax-error.ttl: line 3, column" in err


def test_help_exits_0():
    proc = subprocess.run([sys.executable, str(ROOT / "server.py"), "--help"], cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=20)
    assert proc.returncode == 0 and "--service-allow" in proc.stdout


@pytest.mark.parametrize("option, message", [
    ("--port=70000", "argument --port: 70000 is out of range (at least 0, at most 65535)"),
    ("--port=http", "argument --port: 'http' is not a whole number"),
    ("--workers=0", "argument --workers: 0 is out of range (at least 1, at most 256)"),
    ("--timeout=-1", "argument --timeout: -1 is not a number of seconds above 0"),
    ("--timeout=nan", "argument --timeout: nan is not a number of seconds above 0"),
    ("--query-slots=0", "argument --query-slots: 0 is out of range (at least 1, at most 4096)"),
    ("--queue-ms=-1", "argument --queue-ms: -1 is not a number of milliseconds 0 or more"),
    ("--queue-ms=inf", "argument --queue-ms: inf is not a number of milliseconds 0 or more"),
    ("--queue-ms=soon", "argument --queue-ms: 'soon' is not a number of milliseconds"),
    ("--max-rows=-5", "argument --max-rows: -5 is out of range (at least 1, at most 1000000000)"),
    # past the row cap's islice and the clock's time_t: every query got 500 (bad-input audit)
    ("--max-rows=9223372036854775807",
     "argument --max-rows: 9223372036854775807 is out of range (at least 1, at most 1000000000)"),
    ("--timeout=1e10", "argument --timeout: 1e10 is out of range (at most 31536000 seconds)"),
    ("--memory-mb=-3", "argument --memory-mb: -3 is out of range (at least 0, at most 1073741824)"),
    ("--max-connections=0", "argument --max-connections: 0 is out of range (at least 1, at most 1000000)"),
    ("--max-connections-per-client=-1", "argument --max-connections-per-client: -1 is out of range (at least 0, "
                                         "at most 1000000)"),
])
def test_bad_option_values_stop_startup_with_a_message(option, message):
    """Before, --port 70000 ended in a traceback and --workers 0 or --timeout -1 started a server
    that served nothing or stopped every query at once."""
    proc = subprocess.run([sys.executable, str(ROOT / "server.py"), option, "--data", str(DATA / "small.ttl")],
                          cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True,
                          text=True, timeout=20)
    assert proc.returncode == 2 and proc.stderr.endswith(f"server.py: error: {message}\n"), proc.stderr


def test_sigterm_drains_in_flight_and_exits_0():
    """A request in flight when SIGTERM arrives still gets its answer; then the exit code is 0."""
    port = free_port()
    proc = start("--data", str(DATA / "small.ttl"), "--port", str(port), "--timeout", "1.5")
    try:
        wait_ready(port, proc)
        result = {}

        def run():  # a slow request: ends with the 1.5 s timeout answer
            result["status"], _, _ = get(port, HEAVY)

        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGTERM)
        thread.join(10)
        assert result["status"] == 503  # answered, not dropped
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)


def test_xxe_file_stops_startup_without_reading():
    """--data with an RDF/XML external entity: start-up refused (exit 2), no local file content shown."""
    proc = start("--data", str(DATA / "rdfxml-external-entity.rdf"), "--port", str(free_port()))
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert "rdfxml-external-entity.rdf" in err
    hostname = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").exists() else None
    if hostname:
        assert hostname not in out + err.replace(str(DATA), "")


def test_entity_bomb_stops_startup_with_a_message(tmp_path):
    """--data with a "billion laughs" RDF/XML file: exit 2 and a message, not an aborted process."""
    from test_server_xmlguard import laughs

    bomb = tmp_path / "laughs.rdf"
    bomb.write_text(laughs())
    proc = start("--data", str(bomb), "--port", str(free_port()))
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert f"error: {bomb}: its entity 'l5' would expand to 10,000,000 characters" in err


def test_serving_processes_do_not_outlive_a_killed_supervisor():
    """Killed, the supervisor leaves none of its serving processes — as many as the default
    gives (serve.serving_processes: here a small file), each answering /health."""
    from msc_kg.server.serve import serving_processes

    port = free_port()
    proc = start("--data", str(DATA / "small.ttl"), "--port", str(port), workers=None)
    expected = serving_processes([DATA / "small.ttl"])
    try:
        wait_ready(port, proc)
        children = serving_pids(proc, count=expected)
        assert len(children) == expected
        assert health(port)["workers"] == expected
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in children):
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}/status").exists() and "zombie" not in
                   Path(f"/proc/{pid}/status").read_text() for pid in children)


NESTED = {  # each at the deepest nesting the endpoint accepts (safety.MAX_NESTING = 200)
    "groups": "SELECT * WHERE " + "{ " * 199 + "?s ?p ?o" + " }" * 199,
    "brackets": "SELECT (" + "(" * 198 + "1" + ")" * 198 + " AS ?x) WHERE {}",
    "optional": "SELECT * WHERE { ?s ?p ?o " + "OPTIONAL { ?s ?p ?o " * 99 + "}" * 99 + " }",
    "subqueries": "SELECT * WHERE { " + "{ SELECT * WHERE " * 66 + "{ ?s ?p ?o }" + " }" * 66 + " }",
    "paths": "SELECT * WHERE { ?s " + "(" * 198 + "<http://e/p>" + ")*" * 198 + " ?o }",
    "not-exists": "ASK { " + "FILTER NOT EXISTS { " * 99 + "?s ?p ?o" + " }" * 99 + " }",
}


def test_hostile_requests_over_http_leave_every_process_alive():
    """Pathological queries at the nesting limit, huge VALUES, catastrophic regex and broken
    requests get 2xx/4xx (or the timeout) from the real server; no serving process crashes."""
    port = free_port()
    proc = start("--data", str(DATA / "small.ttl"), "--port", str(port), "--timeout", "5")
    try:
        wait_ready(port, proc)
        pids = serving_pids(proc)
        statuses = {name: get(port, q, timeout=30)[0] for name, q in NESTED.items()}
        values = " ".join(f"({i})" for i in range(20_000))
        statuses["values"] = post(port, f"SELECT (COUNT(*) AS ?n) WHERE {{ VALUES (?v) {{ {values} }} }}")
        statuses["regex"] = post(port, 'SELECT * WHERE { BIND("%s!" AS ?x) FILTER(REGEX(?x, "^(a+)+$")) }'
                                 % ("a" * 5000))
        statuses["too-deep"] = get(port, "SELECT * WHERE " + "{ " * 400 + "?s ?p ?o" + " }" * 400)[0]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)))  # TLS hello
            statuses["tls-hello"] = int(s.recv(4096).split(b" ")[1])
        assert statuses == dict.fromkeys([*NESTED, "values", "regex"], 200) | {
            "too-deep": 400, "tls-hello": 400}
        assert serving_pids(proc) == pids and health(port)["worker_restarts"] == 0
    finally:
        stop_server(proc)


def post(port: int, query: str) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/sparql", data=query.encode(), method="POST",
                                 headers={"Content-Type": "application/sparql-query"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_long_chains_over_http_answer_or_time_out():
    """Each chain of test_server_hostile.CHAINS at 4 900 links, on the real server (queries run in
    the connection threads): an answer or the timeout's 503, never a dropped connection."""
    from test_server_hostile import CHAINS

    port = free_port()
    proc = start("--data", str(DATA / "small.ttl"), "--port", str(port), "--timeout", "2")
    try:
        wait_ready(port, proc)
        timeouts = 0
        for kind, make in sorted(CHAINS.items()):
            req = urllib.request.Request(f"http://127.0.0.1:{port}/sparql", data=make(4900).encode(),
                                         headers={"Content-Type": "application/sparql-query"})
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    status, body = r.status, r.read()
            except urllib.error.HTTPError as e:
                status, body = e.code, e.read()
            assert status == 200 or (status == 503 and b"timed out" in body), (kind, status, body)
            timeouts += status == 503
        assert health(port)["worker_restarts"] == timeouts  # retirements only: no crash
    finally:
        stop_server(proc)


@pytest.mark.parametrize("target", [
    "/static/..%2f..%2f..%2f..%2fetc%2fpasswd", "/static/../../../../etc/passwd",
    "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "//etc/passwd", "/id/..%2f..%2fetc%2fpasswd",
])
def test_path_traversal_reads_no_local_file(running, target):
    port, _ = running
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    assert raw.startswith(b"HTTP/1.1 404 ") and b"root:" not in raw


def test_runaway_frees_its_query_slot_when_stopped():
    """One slot per process: a query waiting behind a runaway runs as soon as the runaway is
    answered with 503, well before its own time limit."""
    port = free_port()
    proc = start("--data", str(DATA / "small.ttl"), "--port", str(port), "--timeout", "2",
                 "--workers", "1", "--query-slots", "1")
    try:
        wait_ready(port, proc)
        heavy = {}
        thread = threading.Thread(target=lambda: heavy.update(status=get(port, HEAVY)[0]))
        thread.start()
        time.sleep(0.3)
        t = time.monotonic()
        status, _, _ = get(port, "ASK { ?s ?p ?o }")
        waited = time.monotonic() - t
        thread.join(10)
        assert heavy["status"] == 503 and status == 200
        assert 1.0 < waited < 3.5  # it waited for the runaway's 2 s limit, not for its own
    finally:
        stop_server(proc)


def test_connections_are_balanced_over_serving_processes():
    """Eight keep-alive connections opened one after another end up four in each of the two
    serving processes (msc_kg.server.balance); the kernel alone often split them 6/2."""
    import http.client
    from collections import Counter

    port = free_port()
    proc = start("--data", str(DATA / "small.ttl"), "--port", str(port), "--workers", "2")
    conns = []
    try:
        wait_ready(port, proc)
        serving_pids(proc)
        time.sleep(0.3)  # both serving processes waiting on the socket
        owners = Counter()
        for _ in range(8):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/health")
            owners[json.loads(conn.getresponse().read())["process"]] += 1
            conns.append(conn)
        assert sorted(owners.values()) == [4, 4], owners
    finally:
        for conn in conns:
            conn.close()
        stop_server(proc)


def test_balance_defers_only_to_a_live_less_busy_process():
    from msc_kg.server.balance import Balance

    mine = Balance(3)
    other = Balance(0)
    other.counts, other.busy = mine.counts, mine.busy  # two serving processes sharing the arrays
    mine.join(0)
    mine.set(2)
    assert not mine.defer(2)  # no other process serves yet
    other.join(1)  # 0 open connections
    assert mine.defer(2) and not other.defer(0)
    other.set(2)
    assert not mine.defer(2)  # equal: both may accept
    other.leave()  # retired: its slot is free, and it writes no more
    other.set(0)
    assert list(mine.counts) == [2, -1, -1] and not mine.defer(5)
    other.join(1)
    mine.clear(1)  # the supervisor saw it die
    assert not mine.defer(5)


def test_balance_counts_the_queries_each_process_evaluates():
    """What InlineEngine._take_turn reads: the queries all serving processes are evaluating; a
    process that retires or dies counts for none."""
    from msc_kg.server.balance import Balance

    mine = Balance(2)
    other = Balance(0)
    other.counts, other.busy = mine.counts, mine.busy  # two serving processes sharing the arrays
    mine.join(0)
    other.join(1)
    mine.evaluating(1)
    mine.evaluating(1)
    other.evaluating(1)
    assert list(mine.busy) == [2, 1] and mine.evaluated() == other.evaluated() == 3
    mine.evaluating(-1)
    assert mine.evaluated() == 2
    other.leave()  # retired: its slot counts for nothing, and it writes no more
    other.evaluating(-1)
    assert list(mine.busy) == [1, 0]
    other.join(1)
    other.evaluating(1)
    mine.clear(1)  # the supervisor saw it die
    assert mine.evaluated() == 1
    # a query holding this process's turn counts before it publishes itself: a second query here
    # saw a core free in that moment and ran beside it (test_server_limits, under load)
    mine.evaluating(-1)
    other.busy[1] = 1
    assert (mine.evaluated(), mine.evaluated(1), mine.evaluated(0)) == (1, 2, 1)
    mine.evaluating(1)
    assert mine.evaluated(1) == 2


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def test_the_supervisor_never_holds_the_graph(tmp_path):
    """A loader process loads the graph, forks the serving processes and exits: they become the
    supervisor's children, and the supervisor's memory never held the graph (so N serving
    processes make N copies of it, not N + 1)."""
    data = tmp_path / "big.nt"
    with data.open("w") as fh:
        for i in range(200_000):
            fh.write(f'<http://e/s{i}> <http://e/p{i % 7}> "value {i}" .\n')
    port = free_port()
    proc = start("--data", str(data), "--port", str(port))
    try:
        wait_ready(port, proc, limit=60)
        pids = serving_pids(proc)
        assert len(pids) == 2
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert {_comm(int(p)) for p in children} == {"msc-kg serve"}  # the loader is gone
        supervisor_peak = _status_kb(proc.pid, "VmHWM")
        assert all(_status_kb(p, "VmRSS") > supervisor_peak + 40_000 for p in pids), (
            supervisor_peak, [_status_kb(p, "VmRSS") for p in pids])
        assert get(port, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", "text/csv")[2] == b"n\r\n200000\r\n"
    finally:
        stop_server(proc)


@pytest.mark.parametrize("how", ["changed", "was removed"])
def test_a_replacement_is_not_loaded_from_changed_data(tmp_path, how):
    """The files changed since the start: the replacement of a crashed serving process is not
    made (it would answer from other data than the other process); the supervisor says why and
    the other process goes on serving."""
    data = tmp_path / "small.ttl"
    data.write_bytes((DATA / "small.ttl").read_bytes())
    port = free_port()
    proc = start("--data", str(data), "--port", str(port))
    try:
        wait_ready(port, proc)
        victim, survivor = sorted(serving_pids(proc))
        if how == "changed":
            with data.open("a") as fh:
                fh.write("<http://e/new> <http://e/p> <http://e/o> .\n")
        else:
            data.unlink()
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and victim in serving_pids(proc, limit=0):
            time.sleep(0.1)
        time.sleep(1)  # a replacement would be serving by now
        assert serving_pids(proc, limit=0) == {survivor}
        status, _, body = get(port, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", "text/csv")
        assert (status, body) == (200, f"n\r\n{SMALL_TRIPLES}\r\n".encode())
    finally:
        stop_server(proc)
    err = proc.stderr.read()
    assert f"msc-kg: serving process {victim} ended unexpectedly (signal SIGKILL); starting another" in err
    assert re.search(r"msc-kg: no new serving process for slot\(s\) \[[01]\]: " + re.escape(str(data))
                     + f" {how}" + r" since the server started; restart the server to serve it \(a "
                     r"serving process loading it now would answer differently from the others\); "
                     r"trying again in 10 s", err), err


def test_without_a_subreaper_each_serving_process_loads_for_itself():
    """Where PR_SET_CHILD_SUBREAPER is missing (not Linux), each serving process is a loader of
    its own, a child of the supervisor: it serves, is replaced when it dies, and stops on SIGTERM."""
    port = free_port()
    code = ("import sys\n"
            "from msc_kg.server import supervise\n"
            "real = supervise._prctl\n"
            "def prctl(option, value):\n"
            "    if option == supervise.PR_SET_CHILD_SUBREAPER:\n"
            "        print('refused PR_SET_CHILD_SUBREAPER', flush=True)\n"
            "        return False\n"
            "    return real(option, value)\n"
            "supervise._prctl = prctl\n"
            "from msc_kg.server.serve import main\n"
            f"raise SystemExit(main(['--data', {str(DATA / 'small.ttl')!r}, '--port', '{port}', "
            "'--workers', '2']))\n")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_ready(port, proc)
        pids = serving_pids(proc)
        assert len(pids) == 2
        victim = min(pids)
        os.kill(victim, signal.SIGKILL)
        deadline, after = time.monotonic() + 15, pids
        while time.monotonic() < deadline and victim in after:
            time.sleep(0.1)
            after = serving_pids(proc)
        assert len(after) == 2 and victim not in after
        assert get(port, "ASK { ?s ?p ?o }")[0] == 200
    finally:
        stop_server(proc)
    assert proc.stdout.read().startswith("refused PR_SET_CHILD_SUBREAPER\nmsc-kg SPARQL endpoint on")


def test_entity_tags_agree_across_serving_processes_and_replacements():
    """Each serving process answers a query with the same ETag, a replacement included (it loads
    the graph again, but takes the supervisor's tag salt), so If-None-Match works whichever answers."""
    port = free_port()
    proc = start("--data", str(DATA / "small.ttl"), "--port", str(port))
    query = "/sparql?" + urllib.parse.urlencode({"query": "SELECT * WHERE { ?s ?p ?o }"})

    def tags_by_process() -> dict[int, str]:
        conns, seen = [], {}
        try:
            # held open together, the balance spreads connections over both processes; more are
            # opened until both have answered (a replacement still loading takes none yet)
            deadline = time.monotonic() + 15
            while len(conns) < 4 or len(set(seen.values())) < 2 and time.monotonic() < deadline:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conns.append(conn)
                conn.request("GET", "/health")
                seen[conn] = json.loads(conn.getresponse().read())["process"]
                if len(conns) >= 4 and len(set(seen.values())) < 2:
                    time.sleep(0.05)
            tags = {}
            for conn, pid in seen.items():
                conn.request("GET", query, headers={"Accept": "application/sparql-results+json"})
                response = conn.getresponse()
                response.read()
                tags.setdefault(pid, set()).add(response.getheader("ETag"))
            return tags
        finally:
            for conn in conns:
                conn.close()

    try:
        wait_ready(port, proc)
        victim = min(serving_pids(proc))
        before = tags_by_process()
        os.kill(victim, signal.SIGKILL)
        deadline, pids = time.monotonic() + 15, {victim}
        while time.monotonic() < deadline and (victim in pids or len(pids) != 2):
            time.sleep(0.1)
            pids = serving_pids(proc)
        after = tags_by_process()
        assert len(before) == 2 and len(after) == 2 and set(after) == pids, (before, after, pids)
        assert len({tag for tags in [*before.values(), *after.values()] for tag in tags}) == 1, (before, after)
    finally:
        stop_server(proc)


def _driven(tmp_path, how: str, wait: bool = True, env: dict | None = None):
    """tests/data/supervise_driver.py on a free port, its first serving process loaded (``wait``)."""
    port, flag = free_port(), tmp_path / "fail"
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "data" / "supervise_driver.py"),
                             str(port), str(flag), how], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, **(env or {})))
    if wait:
        wait_ready(port, proc)
    return port, flag, proc


def test_requests_during_the_first_load_wait_for_the_first_serving_process(tmp_path):
    """Only once a serving process was started does the supervisor answer 503 while none serves:
    a request sent while the server first loaded got it as soon as the load was done."""
    port, _, proc = _driven(tmp_path, "error", wait=False, env={"SLOW_START": "1"})
    try:
        deadline = time.monotonic() + 10
        while True:  # connected while the graph loads: it waits in the listen queue
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=10)
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        with conn:
            conn.sendall(b"GET /sparql?query=ASK%7B%7D HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            raw = b"".join(iter(lambda: conn.recv(65536), b""))
        assert raw.startswith(b"HTTP/1.1 200 OK\r\n"), raw[:200]
    finally:
        stop_server(proc)


def test_while_no_serving_process_is_left_the_supervisor_answers_503(tmp_path):
    """Connections waited unanswered while loaders failed and nothing served (hostile testing)."""
    port, flag, proc = _driven(tmp_path, "error")
    try:
        flag.touch()
        for pid in serving_pids(proc, count=1):
            os.kill(pid, signal.SIGKILL)
        deadline, answer = time.monotonic() + 10, None
        while time.monotonic() < deadline and (answer is None or answer[0] != 503):
            try:
                answer = get(port, "ASK {}", timeout=2)
            except OSError:
                time.sleep(0.1)
        status, headers, body = answer
        assert status == 503 and headers["Retry-After"] == "0.3"
        assert body == (b"No serving process is running: a new one is being loaded (see the "
                        b"server's log if this lasts); retry shortly.\n")
        assert headers["Access-Control-Allow-Origin"] == "*"  # a browser can read it
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:  # HEAD: no body
            s.sendall(b"HEAD /sparql HTTP/1.1\r\nHost: x\r\n\r\n")
            raw = b"".join(iter(lambda: s.recv(65536), b""))
        assert raw.startswith(b"HTTP/1.1 503 ") and raw.endswith(b"\r\n\r\n"), raw
        flag.unlink()  # the next loader succeeds
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and get(port, "ASK {}", timeout=2)[0] != 200:
            time.sleep(0.1)
        assert get(port, "ASK {}")[0] == 200 and proc.poll() is None
    finally:
        stop_server(proc)


def test_loaders_that_keep_crashing_end_the_server(tmp_path):
    """Each loader failed alike once code changed on disk, and the supervisor tried forever with
    nothing serving; after GIVE_UP of them in a row it ends, for a process manager to restart it."""
    port, flag, proc = _driven(tmp_path, "crash")
    try:
        flag.touch()
        for pid in serving_pids(proc, count=1):
            os.kill(pid, signal.SIGKILL)
        assert proc.wait(20) == 1
        err = proc.stderr.read()
        assert err.count("ImportError: cannot import name 'added_in_upgrade'") == 3
        assert err.rstrip().endswith(
            "msc-kg: 3 loaders in a row ended early (see above) and no serving process is left; "
            "stopping, so that the server can be started afresh (code changed on disk under a "
            "running server does this)")
    finally:
        if proc.poll() is None:
            stop_server(proc)


def test_changed_data_is_loaded_once_no_serving_process_is_left(tmp_path):
    """Once every serving process is gone, none serves the data as first loaded: the files are
    loaded as they are now (with new entity tags) rather than leaving the server with none."""
    data = tmp_path / "small.ttl"
    data.write_bytes((DATA / "small.ttl").read_bytes())
    port = free_port()
    proc = start("--data", str(data), "--port", str(port))
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    try:
        wait_ready(port, proc)
        _, old_headers, _ = get(port, count, "text/csv")
        with data.open("a") as fh:
            fh.write("<http://e/new> <http://e/p> <http://e/o> .\n")
        for pid in serving_pids(proc):
            os.kill(pid, signal.SIGKILL)
        deadline, answer = time.monotonic() + 20, None
        while time.monotonic() < deadline and answer != (200, f"n\r\n{SMALL_TRIPLES + 1}\r\n".encode()):
            time.sleep(0.2)
            try:
                status, headers, body = get(port, count, "text/csv", timeout=2)
            except OSError:  # no serving process took the connection yet
                continue
            answer = (status, body)
        assert answer == (200, f"n\r\n{SMALL_TRIPLES + 1}\r\n".encode())
        assert headers["ETag"] != old_headers["ETag"]
    finally:
        stop_server(proc)
    err = proc.stderr.read()
    assert (f"msc-kg: {data} changed since the server started and no serving process is left; "
            "loading the files as they are now") in err


def test_the_loader_settles_what_it_holds_before_forking():
    """What the loader holds is frozen out of the garbage collector's reach (a full collection in
    a serving process walked the whole app: 20 ms on the release), and unfrozen again here."""
    import gc

    from msc_kg.server.supervise import settle

    held = [object()]
    assert any(o is held for o in gc.get_objects())
    try:
        settle()
        assert gc.get_freeze_count() > 0
        assert not any(o is held for o in gc.get_objects())  # in the permanent generation
    finally:
        gc.unfreeze()
    assert any(o is held for o in gc.get_objects())
