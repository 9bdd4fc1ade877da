"""Limits: the hard timeout (work really stops, others keep being served), row cap, cache."""

from __future__ import annotations

import csv
import io
import json
import os
import threading
import time

import pyoxigraph as ox
import pytest
from server_fixtures import close, make_app, server_app, server_client  # noqa: F401

CARTESIAN = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
SIMPLE = "ASK { ?s ?p ?o }"


@pytest.fixture(scope="module")
def big_app():
    """2 000 triples (a cartesian product of three patterns is 8e9 rows), timeout 1 s."""
    store = ox.Store()
    ex = "http://example.org/"
    store.extend([ox.Quad(ox.NamedNode(f"{ex}s{i}"), ox.NamedNode(f"{ex}p{i % 7}"),
                          ox.Literal(str(i)), ox.DefaultGraph()) for i in range(2000)])
    app = make_app(store, timeout=1.0, workers=2, max_rows=100)
    yield app
    close(app)


def test_timeout_stops_the_query_and_others_are_served(big_app):
    """A cartesian product ends with 503 within limit + 2 s; meanwhile a simple query answers < 1 s."""
    engine = big_app.extensions["msc_kg"].engine
    restarts = engine.restarts
    result = {}

    def heavy():
        start = time.monotonic()
        resp = big_app.test_client().get("/sparql", query_string={"query": CARTESIAN})
        result["status"], result["body"], result["elapsed"] = resp.status_code, resp.data, time.monotonic() - start

    thread = threading.Thread(target=heavy)
    thread.start()
    time.sleep(0.2)
    start = time.monotonic()
    resp = big_app.test_client().get("/sparql", query_string={"query": SIMPLE})
    simple_elapsed = time.monotonic() - start
    thread.join(10)
    assert resp.status_code == 200 and simple_elapsed < 1.0
    assert result["status"] == 503
    assert b"Query timed out after 1 s and was stopped" in result["body"]
    assert result["elapsed"] < 1.0 + 2.0
    assert engine.restarts == restarts + 1
    # the worker was killed: no process of the pool is still computing
    assert len(engine._all) == engine.size
    ok = big_app.test_client().get("/sparql", query_string={"query": SIMPLE})
    assert ok.status_code == 200


def test_timeout_header_has_retry_after(big_app):
    resp = big_app.test_client().get("/sparql", query_string={"query": CARTESIAN})
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "5"


def test_killed_worker_is_gone(big_app):
    engine = big_app.extensions["msc_kg"].engine
    before = set(engine._all)
    big_app.test_client().get("/sparql", query_string={"query": CARTESIAN})
    gone = before - set(engine._all)
    assert len(gone) == 1
    pid = gone.pop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_row_cap_announced_and_truncation_flagged(big_app):
    client = big_app.test_client()
    resp = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p ?o }"})
    assert resp.status_code == 200
    assert resp.headers["X-SPARQL-Max-Rows"] == "100"
    assert resp.headers["X-SPARQL-Truncated"] == "true"
    assert resp.headers["X-SPARQL-Rows"] == "100"
    assert len(json.loads(resp.data)["results"]["bindings"]) == 100
    small = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 100"})
    assert small.headers["X-SPARQL-Max-Rows"] == "100"
    assert "X-SPARQL-Truncated" not in small.headers


INT = "<http://www.w3.org/2001/XMLSchema#integer>"
ROWS_IN = {  # how many result rows each format's body holds
    "application/sparql-results+json": lambda b: len(json.loads(b)["results"]["bindings"]),
    "application/sparql-results+xml": lambda b: b.count(b"<result>"),
    "text/csv": lambda b: len(list(csv.reader(io.StringIO(b.decode(), newline="")))) - 1,
    "text/tab-separated-values": lambda b: b.count(b"\n") - 1,
}


@pytest.mark.parametrize("accept", sorted(ROWS_IN))
@pytest.mark.parametrize("query, rows, truncated", [
    ("SELECT ?s WHERE { ?s ?p ?o } LIMIT 100", 100, False),  # exactly the cap: not truncated
    ("SELECT ?s WHERE { ?s ?p ?o } LIMIT 101", 100, True),  # its own LIMIT above the cap
    (f"SELECT ?s WHERE {{ ?s ?p ?o FILTER({INT}(?o) < 100) }}", 100, False),  # 100 rows, no LIMIT
    (f"SELECT ?s WHERE {{ ?s ?p ?o FILTER({INT}(?o) < 101) }}", 100, True),  # one row too many
    ("SELECT ?s WHERE { ?s ?p ?o } OFFSET 1950", 50, False),
    ("SELECT ?s ?x WHERE { ?s ?p ?o } VALUES ?x { 1 }", 100, True),  # a trailing VALUES clause
    ("SELECT ?s WHERE { ?s ?p ?o } # LIMIT 5", 100, True),  # a LIMIT in a comment is no limit
    (f'SELECT ?s ?t WHERE {{ ?s ?p ?o BIND("a\\r\\nb,{{x}}" AS ?t) FILTER({INT}(?o) < 100) }}', 100, False),
    (f'SELECT ?s ?t WHERE {{ ?s ?p ?o BIND("a\\r\\nb,{{x}}" AS ?t) FILTER({INT}(?o) < 101) }}', 100, True),
])
def test_row_cap_in_every_format(big_app, accept, query, rows, truncated):
    """The cap is exact whichever writer runs (Oxigraph's or the capped one), in every format."""
    resp = big_app.test_client().get("/sparql", query_string={"query": query},
                                     headers={"Accept": accept})
    assert resp.status_code == 200, resp.data
    assert ROWS_IN[accept](resp.data) == rows
    assert resp.headers.get("X-SPARQL-Truncated") == ("true" if truncated else None)
    assert resp.headers.get("X-SPARQL-Rows") == ("100" if truncated else None)


@pytest.mark.parametrize("query, plan", [
    ("SELECT * { ?s ?p ?o }", "append"),
    ("SELECT * { ?s ?p ?o } LIMIT 5", "own"),
    ("SELECT * { ?s ?p ?o } limit 100\n", "own"),
    ("SELECT * { ?s ?p ?o } LIMIT 5 OFFSET 10", "own"),
    ("SELECT * { ?s ?p ?o } OFFSET 10 LIMIT 5", "own"),
    ("SELECT * { ?s ?p ?o } LIMIT 101", None),
    ("SELECT * { ?s ?p ?o } # LIMIT 5", "append"),
    ("SELECT * { { SELECT * { ?s ?p ?o } LIMIT 5 } }", "append"),
    ("SELECT ?LIMIT { ?s ?p ?LIMIT } ORDER BY ?LIMIT", "append"),
])
def test_limit_plan(query, plan):
    from msc_kg.server.results import limit_plan
    assert limit_plan(query, 100) == plan


def test_row_cap_on_construct(big_app):
    resp = big_app.test_client().get("/sparql", query_string={"query": "CONSTRUCT WHERE { ?s ?p ?o }"},
                                     headers={"Accept": "application/n-triples"})
    assert resp.headers["X-SPARQL-Truncated"] == "true"
    assert resp.data.count(b"\n") == 100


def test_worker_crash_is_contained(server_app, monkeypatch):
    """A worker that dies mid-query yields 503 and is replaced; the next query answers."""
    engine = server_app.extensions["msc_kg"].engine
    worker = engine._idle.get()
    os.kill(worker.pid, 9)
    engine._idle.put(worker)
    client = server_app.test_client()
    statuses = [client.get("/sparql", query_string={"query": f"ASK {{ ?s ?p {i} }}"}).status_code
                for i in range(engine.size + 1)]
    assert 503 in statuses
    assert statuses[-1] == 200
    assert len(engine._all) == engine.size


def test_etag_and_304(server_client):
    q = {"query": "SELECT ?s WHERE { ?s a ?c } ORDER BY ?s"}
    first = server_client.get("/sparql", query_string=q)
    tag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, max-age=300"
    again = server_client.get("/sparql", query_string=q, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.data == b""
    other = server_client.get("/sparql", query_string=q, headers={"If-None-Match": '"nope"'})
    assert other.status_code == 200 and other.data == first.data
    # weak comparison (RFC 9110 §13.1.2): the tag is weak; a list, "*" and the strong form match
    assert tag.startswith('W/"') and len(tag) == 36
    for given in (f'"nope", {tag}', "*", tag.removeprefix("W/")):
        assert server_client.get("/sparql", query_string=q,
                                 headers={"If-None-Match": given}).status_code == 304, given
    csv = server_client.get("/sparql", query_string=q, headers={"Accept": "text/csv"})
    assert csv.headers["ETag"] != tag  # another representation, another tag


def test_post_with_a_matching_etag_is_412(server_client):
    """RFC 9110 §13.1.2: a request other than GET or HEAD whose If-None-Match matches gets 412, not
    304 (hostile testing found a POST answered 304); one that does not match is answered."""
    q = {"query": "SELECT ?s WHERE { ?s a ?c } ORDER BY DESC(?s)"}
    tag = server_client.post("/sparql", data=q).headers["ETag"]
    for given in (tag, "*"):
        resp = server_client.post("/sparql", data=q, headers={"If-None-Match": given})
        assert resp.status_code == 412 and resp.headers["ETag"] == tag
        assert resp.data == (b"Precondition Failed: the answer's entity tag matches If-None-Match; a "
                             b"POST gets 304 Not Modified only as a GET (RFC 9110 \xc2\xa713.1.2).\n")
    resp = server_client.post("/sparql", data=q, headers={"If-None-Match": '"nope"'})
    assert resp.status_code == 200 and resp.headers["ETag"] == tag


def test_if_match_holds_only_for_any(server_client):
    """RFC 9110 §13.1.1: If-Match compares strongly, and the answers' tags are weak, so only "*"
    holds; any list of tags gets 412 (it was ignored: hostile testing). A request that fails
    without the condition fails as it would (§13.2.1)."""
    q = {"query": "SELECT ?s WHERE { ?s a ?c } ORDER BY ?s"}
    tag = server_client.get("/sparql", query_string=q).headers["ETag"]
    assert tag.startswith('W/"')
    assert server_client.get("/sparql", query_string=q, headers={"If-Match": " * "}).status_code == 200
    for given in (tag, tag.removeprefix("W/"), '"other", ' + tag):
        for send in (server_client.get, server_client.post):
            resp = (send("/sparql", query_string=q, headers={"If-Match": given}) if send == server_client.get
                    else send("/sparql", data=q, headers={"If-Match": given}))
            assert resp.status_code == 412 and resp.headers["ETag"] == tag, (given, send)
            assert resp.data == (b"Precondition Failed: If-Match compares entity tags strongly (RFC "
                                 b"9110 \xc2\xa713.1.1) and this server's tags are weak (W/), so none "
                                 b"can match; only If-Match: * holds.\n")
    bad = server_client.get("/sparql", query_string={"query": "SELECT WHERE {"}, headers={"If-Match": tag})
    assert bad.status_code == 400


def test_cache_serves_repeat_without_engine(server_app):
    state = server_app.extensions["msc_kg"]
    q = {"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o . FILTER(true) }"}
    client = server_app.test_client()
    client.get("/sparql", query_string=q)
    hits = state.cache.hits
    client.get("/sparql", query_string=q)
    assert state.cache.hits == hits + 1


def test_cache_answers_before_the_safety_checks(server_app, monkeypatch):
    """A repeated query is answered from the cache without being checked again (its text passed
    the checks when first asked); a refused one is checked, and refused, every time."""
    from msc_kg.server import safety

    checked = []
    real = safety.check
    monkeypatch.setattr(safety, "check", lambda query, *args: checked.append(query) or real(query, *args))
    client = server_app.test_client()
    q = {"query": "SELECT ?s WHERE { ?s ?p ?o FILTER(true) } ORDER BY ?s LIMIT 3"}
    assert [client.get("/sparql", query_string=q).status_code for _ in range(3)] == [200] * 3
    assert len(checked) == 1
    refused = {"query": "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }"}
    assert [client.get("/sparql", query_string=refused).status_code for _ in range(2)] == [403] * 2
    assert len(checked) == 3


def test_cache_key_is_the_query_text_format_and_dataset(server_app):
    """The same text, format and dataset hit the cache; any other text (even only another layout),
    format or dataset is another entry with its own entity tag."""
    state = server_app.extensions["msc_kg"]
    client = server_app.test_client()
    base = 'SELECT ?s WHERE { ?s ?p "a  b" FILTER(true) }'
    first = client.get("/sparql", query_string={"query": base})
    hits = state.cache.hits
    assert client.get("/sparql", query_string={"query": base}).headers["ETag"] == first.headers["ETag"]
    assert state.cache.hits == hits + 1
    for other in ({"query": base.replace("a  b", "a b")}, {"query": base.replace("{ ", "{")},
                  {"query": base, "default-graph-uri": "http://example.org/g"}):
        assert client.get("/sparql", query_string=other).headers["ETag"] != first.headers["ETag"]
    assert client.get("/sparql", query_string={"query": base},
                      headers={"Accept": "text/csv"}).headers["ETag"] != first.headers["ETag"]
    assert state.cache.hits == hits + 1


def test_volatile_query_not_cached(server_client):
    q = {"query": "SELECT (RAND() AS ?r) WHERE {}"}
    a = server_client.get("/sparql", query_string=q)
    b = server_client.get("/sparql", query_string=q)
    assert a.headers["Cache-Control"] == "no-store"
    assert a.data != b.data
    assert "ETag" not in a.headers  # a tag would claim the next answer is the same
    # "*" holds against any current answer, a volatile one's too (RFC 9110 §13.1.2)
    assert server_client.get("/sparql", query_string=q, headers={"If-None-Match": "*"}).status_code == 304


def test_cache_is_bounded_by_bytes():
    """Entries are evicted by total body size as well as by count; huge bodies are not kept."""
    from msc_kg.server.cache import ResponseCache

    cache = ResponseCache(size=100, max_bytes=1000)
    for i in range(10):
        cache.put(i, (b"x" * 200, "text/plain", {}))
    assert cache.bytes == 1000 and len(cache) == 5 and cache.get(4) is None and cache.get(9)
    cache.put("big", (b"y" * 251, "text/plain", {}))  # over a quarter of the budget
    assert cache.get("big") is None and cache.bytes == 1000
    cache.put(9, (b"z" * 10, "text/plain", {}))  # replacing an entry frees its bytes
    assert cache.bytes == 810


def test_cache_counts_the_query_texts_of_its_keys():
    """Long queries with short answers (a 990 KB comment before ASK {}) kept 250 MB in a process
    whose cache counted only bodies: the texts of a key (query, dataset IRIs) count too."""
    from msc_kg.server.cache import ResponseCache

    cache = ResponseCache(size=100, max_bytes=1000)
    key = ("#" * 143 + "\nASK {}", ("application/sparql-results+json", "json"), None,
           ("http://e/g",), None)
    cache.put(key, (b"x" * 10, "text/plain", {}))
    assert cache.bytes == 150 + 31 + 4 + 10 + 10
    for i in range(10):
        cache.put(("#" * 189 + f"{i}", None, None, None, None), (b"x" * 10, "text/plain", {}))
    assert cache.bytes == 1000 and len(cache) == 5 and cache.get(key) is None
    cache.put(("#" * 251, None, None, None, None), (b"", "text/plain", {}))  # over a quarter
    assert len(cache) == 5 and cache.bytes == 1000


def test_inline_engine_query_slots_bound_concurrency():
    """With one slot busy, another query waits and, past its limit, gets 503 naming the slots."""
    from msc_kg.server.engine import ResourceLimit
    from msc_kg.server.inline import InlineEngine
    from server_fixtures import small_store

    engine = InlineEngine(small_store(), timeout=5.0, slots=1)
    slow = "SELECT (COUNT(*) AS ?n) WHERE { " + " ".join(f"?s{i} ?p{i} ?o{i} ." for i in range(6)) + " }"
    job = {"query": slow, "form": "SELECT", "results_fmt": "json", "max_rows": 10}
    started = threading.Event()

    def hold():
        started.set()
        engine.run(job)

    holder = threading.Thread(target=hold)
    holder.start()
    started.wait()
    time.sleep(0.05)
    with pytest.raises(ResourceLimit, match=r"All 1 query slots of this server process stayed busy for 0\.1 s"):
        engine.run({"query": "ASK {}", "form": "ASK", "results_fmt": "json", "max_rows": 10}, timeout=0.1)
    holder.join(10)
    assert engine.run({"query": "ASK {}", "form": "ASK", "results_fmt": "json", "max_rows": 10}).body


class _Timed:
    """Stands in for the engine's evaluation: each call takes ``seconds`` and the most calls
    running at once are counted (inline._execute is replaced by ``__call__``)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.running = self.most = 0

    def __call__(self, store, job):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(job["seconds"])
        with self.lock:
            self.running -= 1
        return ("ok", "boolean", "json", b"true", 1, False, ())


@pytest.fixture
def timed(monkeypatch) -> _Timed:
    """The inline engine's evaluation replaced by a _Timed."""
    from msc_kg.server import inline

    stand_in = _Timed()
    monkeypatch.setattr(inline, "_execute", stand_in)
    return stand_in


def _at_once(engine, seconds: list[float], gap: float = 0.0) -> list[float]:
    """Run jobs of these durations on ``engine``, each thread started ``gap`` s after the last;
    return the seconds each took, from its start."""
    took = [0.0] * len(seconds)

    def one(k):
        t = time.monotonic()
        engine.run({"query": "ASK {}", "form": "ASK", "seconds": seconds[k]})
        took[k] = time.monotonic() - t

    threads = [threading.Thread(target=one, args=(k,)) for k in range(len(seconds))]
    for th in threads:
        th.start()
        time.sleep(gap)
    for th in threads:
        th.join(10)
    return took


@pytest.mark.parametrize("queue_ms, most", [(5000, 1), (0, 3)])
def test_inline_engine_evaluates_one_query_at_a_time_while_it_may(timed, queue_ms, most):
    """A serving process evaluates its queries one after the other (cheaper than side by side,
    InlineEngine._take_turn) when they may wait long enough; with --queue-ms 0, all at once."""
    from msc_kg.server import inline

    engine = inline.InlineEngine(ox.Store(), processes=inline.cores(), slots=4, queue_ms=queue_ms)
    took = _at_once(engine, [0.2, 0.2, 0.2], gap=0.02)
    assert timed.most == most
    assert max(took) >= (0.55 if most == 1 else 0.2)


def test_inline_engine_quick_query_waits_at_most_queue_ms_behind_a_slow_one(timed):
    """A quick query arriving behind a slow one waits --queue-ms from the slow one's start, then
    runs beside it: it is not held up for the slow query's whole time."""
    from msc_kg.server import inline

    engine = inline.InlineEngine(ox.Store(), processes=inline.cores(), slots=4, queue_ms=150)
    slow, quick = _at_once(engine, [1.0, 0.05], gap=0.05)
    assert timed.most == 2 and slow >= 1.0
    assert 0.1 <= quick < 0.5  # ~0.1 s of waiting, then its own 0.05 s


@pytest.mark.parametrize("others, most", [(0, 2), (1, 1)])
def test_a_query_waits_its_turn_only_while_every_core_is_busy(timed, monkeypatch, others, most):
    """On two cores with two serving processes: while the other process evaluates nothing, a core
    is free and a second query here runs at once, however long it might wait (a third waits: both
    cores are busy then); while the other evaluates a query, they take turns."""
    from msc_kg.server import inline
    from msc_kg.server.balance import Balance

    monkeypatch.setattr(inline, "cores", lambda: 2)
    engine = inline.InlineEngine(ox.Store(), processes=2, slots=4, queue_ms=5000)
    engine.balance = Balance(2)  # this process in slot 0, the other's count in slot 1
    engine.balance.join(0)
    engine.balance.busy[1] = others
    _at_once(engine, [0.2, 0.2, 0.2], gap=0.02)
    assert timed.most == most and engine.balance.busy[0] == 0


def test_queue_ms_reaches_the_inline_engine():
    """--queue-ms is 100 by default and the queue_ms setting sets the inline engine's wait."""
    from msc_kg.server.inline import cores
    from msc_kg.server.serve import build_parser
    from server_fixtures import make_app

    assert build_parser().parse_args([]).queue_ms == 100.0
    assert build_parser().parse_args(["--queue-ms", "0"]).queue_ms == 0.0
    app = make_app(engine="inline", workers=cores(), queue_ms=7)
    assert app.extensions["msc_kg"].engine.queue_s == 0.007


@pytest.mark.parametrize("processes, queue_s", [(4, 0.02), (6, 0.02), (2, 0.0), (1, 0.0)])
def test_no_waiting_with_fewer_serving_processes_than_cores(monkeypatch, processes, queue_s):
    """On 4 cores with fewer than 4 serving processes (--workers 1 for a large graph, say), a query
    evaluated beside another uses a core that would idle, so none waits for its turn."""
    from msc_kg.server import inline

    monkeypatch.setattr(inline, "cores", lambda: 4)
    assert inline.InlineEngine(ox.Store(), processes=processes, queue_ms=20).queue_s == queue_s


@pytest.mark.parametrize("cores, megabytes, processes", [
    (2, 14.7, 3),  # 10⁵ triples of N-Triples: one process more than the cores
    (2, 64, 3),  # the most that gets one more
    (2, 64.001, 2),  # a larger graph: one copy of it per core
    (2, 741, 2),  # 5·10⁶ triples
    (1, 0.5, 2),
    (8, 3, 5),  # at most 4, and one more
    (8, 900, 4),
])
def test_default_serving_processes_by_cores_and_data(monkeypatch, tmp_path, cores, megabytes, processes):
    """Without --workers the server runs a serving process per core (at most 4) and one more while
    the data files hold at most SPARE_PROCESS_MB: each copy of a larger graph costs memory."""
    from msc_kg.server import inline, serve

    monkeypatch.setattr(inline, "cores", lambda: cores)
    half = int(megabytes * 2**20) // 2
    files = [tmp_path / "a.nt", tmp_path / "b.ttl"]
    for path, size in zip(files, (half, int(megabytes * 2**20) - half)):
        with open(path, "wb") as fh:
            fh.truncate(size)  # sparse: no disk written
    assert serve.serving_processes(files) == processes
    assert serve.serving_processes([*files, tmp_path / "missing.nt"]) == processes  # the load says why
    assert serve.build_parser().parse_args([]).workers is None
    assert serve.build_parser().parse_args(["--workers", "2"]).workers == 2


@pytest.mark.parametrize("accept", ["application/n-triples", "application/n-quads"])
@pytest.mark.parametrize("query, lines, truncated", [
    ("CONSTRUCT WHERE { ?s ?p ?o }", 100, True),  # 2 000 triples, cut to the cap
    ("CONSTRUCT WHERE { ?s ?p ?o } LIMIT 100", 100, False),  # exactly the cap
    (f'CONSTRUCT {{ ?s <http://e/t> "a\\\\nb" }} WHERE {{ ?s ?p ?o FILTER({INT}(?o) < 7) }}', 7, False),
])
def test_row_cap_on_line_based_graph_formats(big_app, accept, query, lines, truncated):
    resp = big_app.test_client().get("/sparql", query_string={"query": query}, headers={"Accept": accept})
    assert resp.status_code == 200 and resp.data.endswith(b" .\n")
    assert resp.data.count(b"\n") == lines
    assert sum(1 for _ in ox.parse(resp.data, format=ox.RdfFormat.N_QUADS)) == lines  # whole statements
    assert resp.headers.get("X-SPARQL-Truncated") == ("true" if truncated else None)


@pytest.fixture(scope="module")
def twice_typed_app():
    """300 blank nodes of two types each: a CONSTRUCT of one triple per node makes each twice
    (the engine leaves out a repeated triple only when it has no blank node)."""
    store = ox.Store()
    kind = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    store.extend([ox.Quad(node, kind, ox.NamedNode(f"http://e/T{k}"), ox.DefaultGraph())
                  for node in (ox.BlankNode() for _ in range(300)) for k in range(2)])
    app = make_app(store, max_rows=100)
    yield app
    close(app)


@pytest.mark.parametrize("accept", ["application/n-triples", "application/n-quads", "text/turtle"])
@pytest.mark.parametrize("query, triples, truncated", [
    ("CONSTRUCT { <http://e/s> <http://e/p> ?x } WHERE { ?x a ?t }", 100, True),  # 300 triples, cut
    ("CONSTRUCT { <http://e/s> <http://e/p> ?x } WHERE { ?x a ?t } LIMIT 120", 60, False),
])
def test_a_graph_answer_holds_each_triple_once(twice_typed_app, accept, query, triples, truncated):
    """A CONSTRUCT's answer is a set of triples (SPARQL 1.1 §16.2): the engine wrote a triple once
    for each solution that made it, and the cap counted the repeats (hostile testing: an answer
    cut at 100 000 triples held 54 396)."""
    resp = twice_typed_app.test_client().get("/sparql", query_string={"query": query},
                                             headers={"Accept": accept})
    assert resp.status_code == 200
    fmt = ox.RdfFormat.TURTLE if accept == "text/turtle" else ox.RdfFormat.N_QUADS
    parsed = [q.triple for q in ox.parse(resp.data, format=fmt)]
    assert len(parsed) == len(set(parsed)) == triples
    if accept != "text/turtle":
        assert resp.data.count(b"\n") == triples
    assert resp.headers.get("X-SPARQL-Truncated") == ("true" if truncated else None)


def test_json_row_bound_is_an_upper_bound_and_tight():
    """The JSON row bound (which decides whether rows must be recounted) never undercounts —
    not with a variable named "type", empty rows or braces in literals — and is exact otherwise."""
    from msc_kg.server.results import _row_bound

    store = ox.Store()
    s, p = ox.NamedNode("http://e/s"), ox.NamedNode("http://e/p")
    store.add(ox.Quad(s, p, ox.Literal('{"type":"uri"} } {')))
    store.add(ox.Quad(s, p, ox.Literal("x", language="en")))
    for query, rows, bound in [
        ("SELECT ?type ?o WHERE { ?type ?p ?o }", 2, 4),  # two literal braces counted as rows
        ("SELECT ?type WHERE { ?type ?p ?o FILTER(LANG(?o) = 'en') }", 1, 1),
        ("SELECT ?x WHERE { ?s ?p ?o }", 2, 2),  # rows without bindings: {}
        ("SELECT * WHERE { VALUES ?x { 1 2 3 } OPTIONAL { ?x ?y ?z } }", 3, 3),
        ("SELECT ?x WHERE { FILTER(false) }", 0, 0),
    ]:
        body = store.query(query).serialize(format=ox.QueryResultsFormat.JSON)
        assert len(json.loads(body)["results"]["bindings"]) == rows
        assert _row_bound(body, "json", 0) == bound, query  # cap 0: every stage runs
        assert _row_bound(body, "json", 10_000) == len(body) // 3  # short body: its length tells


def test_warm_touches_every_graph_and_never_raises():
    from msc_kg.server.inline import WARM_QUERIES, warm
    from server_fixtures import small_store

    store = small_store()
    store.add(ox.Quad(ox.NamedNode("http://e/s"), ox.NamedNode("http://e/p"), ox.Literal("x"),
                      ox.NamedNode("http://e/g")))
    counts = [next(iter(store.query(q)))["n"].value for q in WARM_QUERIES]
    assert counts == ["13", "13"]  # the 12 default-graph triples and the named graph's one
    assert warm(store) is None

    class Broken:
        def query(self, q):
            raise OSError("gone")

    assert warm(Broken()) is None


def test_after_a_memory_breach_later_queries_are_not_stopped_for_it(monkeypatch):
    """The query that went over the memory limit still holds the memory while its process retires;
    a query that came after it was answered 503 "went over its memory limit" at the next check
    (hostile testing). It is stopped only by its own timeout now."""
    import time

    from msc_kg.server import inline

    class Server:  # records what the watchdog answers, for whom
        def __init__(self):
            self.answered = []

        def hijack(self, client, request_no, status, message, headers=None):
            self.answered.append((client, status, message))
            return True

    resident = [0]  # the process's resident bytes as the watchdog reads them
    monkeypatch.setattr(inline, "rss_bytes", lambda: resident[0])
    retired = []
    server = Server()
    dog = inline.Watchdog(server, timeout=60, memory_mb=1, retire=retired.append, tick=0.01)
    dog.ceiling = 1 << 62  # this test's process must not end
    resident[0] = 16 << 20  # over the 1 MB limit
    dog.jobs[0] = (time.monotonic() + 60, "first", 1, None)
    deadline = time.monotonic() + 5
    while not server.answered and time.monotonic() < deadline:
        time.sleep(0.01)
    dog.jobs[1] = (time.monotonic() + 0.2, "second", 1, None)
    time.sleep(0.1)
    assert retired == ["memory"] and [c for c, _, _ in server.answered] == ["first"]
    assert "memory limit" in server.answered[0][2]
    time.sleep(0.3)  # past its own deadline: stopped for that
    assert [c for c, _, _ in server.answered] == ["first", "second"]
    assert server.answered[1][2] == "Query timed out after 60 s and was stopped; simplify it or add LIMIT."


def test_a_memory_breach_after_a_timeout_retires_the_process_again(monkeypatch):
    """A process retired for a timeout takes connections until its replacement serves; if it then
    goes over the memory limit, it is retired again, for memory, and so stops taking them at once."""
    from msc_kg.server import inline

    class Server:
        def hijack(self, client, request_no, status, message, headers=None):
            return True

    resident = [0]
    monkeypatch.setattr(inline, "rss_bytes", lambda: resident[0])
    retired = []
    dog = inline.Watchdog(Server(), timeout=60, memory_mb=1, retire=retired.append, tick=0.01)
    dog.ceiling = 1 << 62  # this test's process must not end
    dog.jobs[0] = (time.monotonic() - 1, "late", 1, None)  # past its deadline
    deadline = time.monotonic() + 5
    while not retired and time.monotonic() < deadline:
        time.sleep(0.01)
    dog.jobs[1] = (time.monotonic() + 60, "grows", 1, None)
    time.sleep(0.05)
    assert retired == ["timeout"]
    resident[0] = 16 << 20  # over the 1 MB limit
    while len(retired) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert retired == ["timeout", "memory"] and dog.reason == "memory"


def test_the_memory_of_a_process_retired_for_a_timeout_is_watched_with_no_query_running(monkeypatch):
    """The query that ran past the timeout still runs while its process serves on until its
    replacement does; growing past the limit then, with no other query running, it went unseen
    (hostile review: 238 to 675 MB against a 287 MB limit). It retires the process again."""
    from msc_kg.server import inline

    class Server:
        def hijack(self, client, request_no, status, message, headers=None):
            return True

    resident = [0]
    monkeypatch.setattr(inline, "rss_bytes", lambda: resident[0])
    retired = []
    dog = inline.Watchdog(Server(), timeout=60, memory_mb=1, retire=retired.append, tick=0.01)
    dog.ceiling = 1 << 62  # this test's process must not end
    dog.jobs[0] = (time.monotonic() - 1, "late", 1, None)
    deadline = time.monotonic() + 5
    while not retired and time.monotonic() < deadline:
        time.sleep(0.01)
    resident[0] = 16 << 20  # the stuck query grows; nothing else runs
    while len(retired) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert retired == ["timeout", "memory"]


def test_the_watchdog_outlives_a_failing_retirement(capsys):
    """retire() raising (no thread could start in it: hostile review) killed the watchdog thread:
    the timed-out request was never answered and later runaways ran on unwatched."""
    from msc_kg.server import inline

    answered = []

    class Server:
        def hijack(self, client, request_no, status, message, headers=None):
            answered.append(client)
            return True

    def retire(reason):
        raise RuntimeError("can't start new thread")

    dog = inline.Watchdog(Server(), timeout=60, memory_mb=None, retire=retire, tick=0.01)
    dog.jobs[0] = (time.monotonic() - 1, "first", 1, None)
    deadline = time.monotonic() + 5
    while not answered and time.monotonic() < deadline:
        time.sleep(0.01)
    dog.jobs[1] = (time.monotonic() - 1, "second", 1, None)
    while len(answered) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert answered == ["first", "second"]
    assert "RuntimeError: can't start new thread" in capsys.readouterr().err


# Well formed, and long to evaluate without any data: 10⁸ combinations of its own values.
_VALUES = " ".join(str(i) for i in range(100))
OWN_PRODUCT = ("ASK { " + " ".join(f"VALUES ?{v} {{ {_VALUES} }}" for v in "abcd")
               + " FILTER(?a + ?b + ?c + ?d < 0) }")


def test_a_query_no_accepted_format_has_is_parsed_under_the_timeout(big_app):
    """An ASK asked for as Turtle gets its 406 only once the engine has parsed it (a malformed one
    gets 400): that check ran in the serving thread with no limit, and an ASK of doubled strings
    grew a serving process to 24 GB (hostile testing). Now it is a job like any other: stopped at
    the timeout, and a malformed query still gets its 400."""
    start = time.monotonic()
    resp = big_app.test_client().get("/sparql", query_string={"query": OWN_PRODUCT},
                                     headers={"Accept": "text/turtle"})
    assert resp.status_code == 503 and b"Query timed out after 1 s" in resp.data
    assert time.monotonic() - start < 1.0 + 2.0
    resp = big_app.test_client().get("/sparql", query_string={"query": "ASK { ?s ?p ?o }"},
                                     headers={"Accept": "text/turtle"})
    assert resp.status_code == 406 and b"No acceptable format for an ASK result" in resp.data
    resp = big_app.test_client().get("/sparql", query_string={"query": "ASK { ?s ?p }"},
                                     headers={"Accept": "text/turtle"})
    assert resp.status_code == 400 and resp.data.startswith(b"Malformed query: ")


def test_large_queries_are_checked_a_few_at_a_time():
    """The safety check of a query of more than LARGE_QUERY characters takes one of its process's
    few slots for it: 64 POSTs of 900 KB of "<" at once took a serving process past 3.6 GB,
    checked in the connections' threads outside every limit (native-load audit). With the slots
    busy past the timeout, 503; a small query is checked as ever."""
    from msc_kg.server import endpoint
    from server_fixtures import make_app

    app = make_app(engine="inline", workers=1, timeout=0.3)
    try:
        state = app.extensions["msc_kg"]
        assert endpoint.LARGE_CHECKS == 2 and state.large_checks.acquire(False) and state.large_checks.acquire(False)
        large = "ASK {}" + " " * endpoint.LARGE_QUERY
        client = app.test_client()
        busy = client.post("/sparql", data=large.encode(), content_type="application/sparql-query")
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "5"
        assert busy.data == (b"The 2 slots for checking queries of more than 65536 characters stayed busy "
                             b"for 0.3 s; retry later.\n")
        assert client.post("/sparql", data=b"ASK {}", content_type="application/sparql-query").status_code == 200
        state.large_checks.release()
        assert client.post("/sparql", data=large.encode(), content_type="application/sparql-query").status_code == 200
        state.large_checks.release()
    finally:
        close(app)


def test_a_quick_query_is_not_held_behind_a_flood_of_slow_ones(timed):
    """By default a serving process evaluates up to 64 queries at once (--query-slots), so a quick
    query arriving behind 16 slow ones runs beside them at once, as in the Oxigraph server, which
    shares the cores among all. With 4 slots it waited in line behind the flood: 24 connections
    of one-second queries held label lookups up to 6 s, and 64 such connections 13 s."""
    from msc_kg.server.serve import build_parser
    from server_fixtures import make_app

    assert build_parser().parse_args([]).query_slots == 64
    engine = make_app(engine="inline", workers=1).extensions["msc_kg"].engine
    took = _at_once(engine, [1.0] * 16 + [0.0], gap=0.005)
    assert timed.most == 17 and took[-1] < 0.5
