"""Shared fixtures: the assembled graph and a built release, each made once per test session."""

from __future__ import annotations

import pytest

from msc_kg.build import assemble


@pytest.fixture(scope="session")
def assembled():
    """The project's graph (sources + derived facts) and its validation report."""
    return assemble()


@pytest.fixture(scope="session")
def graph(assembled):
    """The full rdflib graph of the project."""
    return assembled[0].graph


@pytest.fixture(scope="session")
def release(tmp_path_factory):
    """A release built into a temporary folder (no reasoner: it has its own test)."""
    from msc_kg.build import build

    out = tmp_path_factory.mktemp("build")
    built = build(out_dir=out, reasoner=False, write_owl=False)
    return out, built.manifest


@pytest.fixture(scope="session")
def store(release):
    """A pyoxigraph Store loaded from the temporary release (the way the endpoint loads it)."""
    from msc_kg.release import load_release

    out, _ = release
    return load_release(out)[0]
