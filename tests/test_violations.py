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


def test_the_unused_mediator_check_can_fail():
    """A mediator nothing refers to is found; once a finding names it, it is not."""
    import pyoxigraph as ox

    from msc_kg.query import rows

    msc, mscd = "https://w3id.org/msc-kg/ontology/", "https://w3id.org/msc-kg/id/"
    rdf_type = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    extra = ox.Store()
    extra.add(ox.Quad(ox.NamedNode(mscd + "orphan"), rdf_type, ox.NamedNode(msc + "Mediator")))
    query = (paths.QUERIES_DIR / "violations" / "mediator-not-used-violation.rq").read_text()
    assert rows(extra, query) == [{"mediator": mscd + "orphan"}]
    extra.add(ox.Quad(ox.NamedNode(mscd + "f"), ox.NamedNode(msc + "mediator"), ox.NamedNode(mscd + "orphan")))
    assert rows(extra, query) == []
