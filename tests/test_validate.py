"""Validation: the real data conforms; each negative fixture triggers exactly its violation."""

from pathlib import Path

import pytest

from msc_kg.load import load, source_files
from msc_kg.build import full_graph
from msc_kg.validate import shapes_graph, validate_loaded

INVALID = sorted((Path(__file__).parent / "data" / "invalid").glob("*.ttl"))


def expectation(path: Path) -> tuple[str, str]:
    """The `# expect: <focus> | <message>` line heading each fixture."""
    first = path.read_text(encoding="utf-8").splitlines()[0]
    focus, message = first.removeprefix("# expect:").split("|", 1)
    return focus.strip(), message.strip()


@pytest.fixture(scope="module")
def shapes():
    return shapes_graph()


def base_files():
    """The ontology and the entity files a fixture refers to (no findings: keeps the test fast)."""
    keep = {"msc-kg.ttl", "tumour-effect-rules.ttl", "review.ttl", "cell-lines.ttl", "mediators.ttl"}
    return [p for p in source_files() if p.name in keep]


def test_real_data_conforms(assembled):
    _, report = assembled
    assert report.conforms, report.text()


def test_there_are_at_least_fifteen_negative_fixtures():
    assert len(INVALID) >= 15


@pytest.mark.parametrize("fixture", INVALID, ids=lambda p: p.stem)
def test_negative_fixture_triggers_its_violation(fixture, shapes):
    focus, message = expectation(fixture)
    loaded = full_graph(load(base_files() + [fixture]))
    report = validate_loaded(loaded, shapes)
    assert not report.conforms
    mine = [p for p in report.problems if p.focus == focus]
    assert mine, report.text()
    assert all(p.file == str(fixture) for p in mine)
    assert any(message in p.message for p in mine), "\n".join(p.line() for p in mine)
    # the fixture breaks nothing else (pySHACL also reports the offending value of a sh:node)
    others = [p for p in report.problems if p.focus != focus]
    assert all(p.focus in " ".join(m.message for m in mine) for p in others), report.text()
