"""Quality checks as queries: every queries/violations/*-violation.rq returns no row."""

from pathlib import Path

import pytest

from msc_kg import paths

VIOLATIONS = sorted((paths.QUERIES_DIR / "violations").glob("*-violation.rq"))


def test_there_are_violation_queries():
    assert len(VIOLATIONS) >= 8


@pytest.mark.parametrize("query", VIOLATIONS, ids=lambda p: p.stem)
def test_violation_query_returns_nothing(query: Path, store):
    from msc_kg.query import rows

    found = rows(store, query.read_text(encoding="utf-8"))
    assert found == [], f"{query.name}: {found[:10]}"


def test_a_violation_query_can_fail(store):
    """The label check finds an unlabelled own class when one is added."""
    import pyoxigraph

    from msc_kg.query import rows

    extra = pyoxigraph.Store()
    extra.add(pyoxigraph.Quad(pyoxigraph.NamedNode("https://w3id.org/msc-kg/ontology/Unlabelled"),
                              pyoxigraph.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
                              pyoxigraph.NamedNode("http://www.w3.org/2002/07/owl#Class")))
    query = (paths.QUERIES_DIR / "violations" / "own-term-without-label-violation.rq").read_text()
    assert rows(extra, query) == [{"term": "https://w3id.org/msc-kg/ontology/Unlabelled"}]
