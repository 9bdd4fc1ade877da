"""Portability: the release's N-Triples bulk-load into the Oxigraph server (``pip install oxigraph``,
its on-disk RocksDB mode) and every competency query gives there the answers it gives here."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pyoxigraph as ox
import pytest

QUERIES = Path(__file__).resolve().parent.parent / "queries"
NAMES = sorted(p.stem for p in QUERIES.glob("*.rq"))
OXIGRAPH = shutil.which("oxigraph") or str(Path(sys.executable).parent / "oxigraph")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def oxigraph_server(release, tmp_path_factory):
    """``oxigraph load`` the release's msc-kg.nt, then ``oxigraph serve-read-only`` on loopback."""
    if not Path(OXIGRAPH).exists():
        pytest.skip("the Oxigraph server is not installed (pip install oxigraph)")
    out, _ = release
    db = tmp_path_factory.mktemp("oxigraph-db")
    subprocess.run([OXIGRAPH, "load", "--location", str(db), "--file", str(out / "msc-kg.nt")],
                   check=True, capture_output=True, timeout=120)
    port = _free_port()
    proc = subprocess.Popen([OXIGRAPH, "serve-read-only", "--location", str(db),
                             "--bind", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/query"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "?query=" + urllib.parse.quote("ASK {}"), timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("the Oxigraph server did not start")
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)


def _term(term) -> str | None:
    """A result cell as N-Triples text (None when unbound); a "; "-joined GROUP_CONCAT list is
    sorted first, as its order is not defined and differs between the two stores' indexes."""
    if isinstance(term, ox.Literal) and "; " in term.value:
        parts = "; ".join(sorted(term.value.split("; ")))
        term = ox.Literal(parts, language=term.language) if term.language else ox.Literal(
            parts, datatype=term.datatype)
    return None if term is None else str(term)


def _their_rows(url: str, query: str) -> Counter:
    """The rows the Oxigraph server answers, as a multiset of tuples of terms."""
    req = urllib.request.Request(url, data=query.encode(), method="POST", headers={
        "Content-Type": "application/sparql-query", "Accept": "application/sparql-results+json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        body = resp.read()
    parsed = ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)
    names = [v.value for v in parsed.variables]
    return Counter(tuple(_term(row[n]) for n in names) for row in parsed)


def _our_rows(store, query: str) -> Counter:
    result = store.query(query)
    names = [v.value for v in result.variables]
    return Counter(tuple(_term(row[n]) for n in names) for row in result)


@pytest.mark.parametrize("name", NAMES)
def test_competency_query_same_answer_on_oxigraph_server(oxigraph_server, store, name):
    query = (QUERIES / f"{name}.rq").read_text(encoding="utf-8")
    ours = _our_rows(store, query)
    assert ours, f"{name} returns no rows here"
    assert _their_rows(oxigraph_server, query) == ours


def test_release_loads_completely(oxigraph_server, store):
    """The server holds exactly as many triples as the release."""
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    assert _their_rows(oxigraph_server, count) == _our_rows(store, count)


def test_the_engine_keeps_values_not_every_datatype(release, store):
    """What the README says the engine changes, and nothing else: Oxigraph keeps a typed literal by
    its value, so xsd:nonNegativeInteger (the Web Annotation positions) comes back as xsd:integer
    and a decimal in its canonical form ("5.0" as "5"); every other literal is served as released."""
    out, _ = release
    xsd = "http://www.w3.org/2001/XMLSchema#"
    released = Counter(str(t.object) for t in ox.parse(path=str(out / "msc-kg.nt"),
                                                     format=ox.RdfFormat.N_TRIPLES)
                       if isinstance(t.object, ox.Literal))
    served = Counter(str(q.object) for q in store if isinstance(q.object, ox.Literal))
    gone, new = released - served, served - released
    changed = Counter()
    for text, n in gone.items():
        lit = next(ox.parse(f"<x:s> <x:p> {text} .", format=ox.RdfFormat.N_TRIPLES)).object
        kind = lit.datatype.value.removeprefix(xsd)
        if kind == "nonNegativeInteger":
            target = f'"{int(lit.value)}"^^<{xsd}integer>'
        else:
            assert kind == "decimal", text  # "5.0" -> "5": trailing zeros and point dropped
            target = f'"{format(Decimal(lit.value).normalize(), "f")}"^^<{xsd}decimal>'
        new[target] -= n
        changed[kind] += n
    assert not +new and not -new  # each served form accounts for the released ones it replaced
    assert changed["nonNegativeInteger"] > 0 and changed["decimal"] > 0
