"""The W3C SPARQL query test suites (SPARQL 1.0 "data-r2", SPARQL 1.1 query): fetch and read them.

The suites are not committed (8 MB). rdflib's source distribution on PyPI carries a copy of the
official files (w3c/rdf-tests: ``test/data/suites/w3c/{sparql11,dawg-data-r2}``), so they are
fetched once with pip, which uses whatever package index the machine is set up for, and kept in
``.cache/w3c/`` (git-ignored). ``MSC_KG_W3C_SUITE`` may name a directory that already holds the
two folders. ``cases()`` reads the manifests into one record per test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from rdflib import RDF, Graph, Namespace, URIRef
from rdflib.collection import Collection

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "w3c"
CARRIER = "rdflib==7.6.0"  # the source distribution that carries the suites
SUITES = ("sparql11", "dawg-data-r2")

MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
QT = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-query#")
DAWGT = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-dawg#")

# The SPARQL 1.1 folders of query tests (update, entailment, protocol and service tests need more
# than one query endpoint over one dataset); SERVICE syntax is in syntax-fed.
SPARQL11_QUERY_DIRS = ("aggregates", "bind", "bindings", "construct", "csv-tsv-res", "exists",
                       "functions", "grouping", "json-res", "negation", "project-expression",
                       "property-path", "subquery", "syntax-query", "syntax-fed")
KINDS = {MF.PositiveSyntaxTest: "positive", MF.PositiveSyntaxTest11: "positive",
         MF.NegativeSyntaxTest: "negative", MF.NegativeSyntaxTest11: "negative",
         MF.QueryEvaluationTest: "eval", MF.CSVResultFormatTest: "eval"}


@dataclass
class Case:
    """One test of a manifest: its id, kind (positive/negative syntax, eval) and files."""

    id: str
    kind: str
    query: Path
    data: list[Path] = field(default_factory=list)
    graph_data: list[Path] = field(default_factory=list)
    result: Path | None = None  # mf:result, the expected answer (evaluation tests)
    lax: bool = False  # mf:resultCardinality mf:LaxCardinality: duplicates may differ (REDUCED)


def suite_root() -> Path | None:
    """The folder holding ``sparql11/`` and ``dawg-data-r2/``, fetched if need be; None if it
    cannot be had (no index reachable)."""
    given = os.environ.get("MSC_KG_W3C_SUITE")
    if given:
        return Path(given) if all((Path(given) / s).is_dir() for s in SUITES) else None
    if all((CACHE / s).is_dir() for s in SUITES):
        return CACHE
    try:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                            "--no-binary", ":all:", CARRIER, "--dest", tmp],
                           check=True, capture_output=True, timeout=600)
            sdist = next(Path(tmp).glob("*.tar.gz"))
            staging = Path(tmp) / "suites"
            with tarfile.open(sdist) as tar:
                members = [m for m in tar.getmembers()
                           if any(f"/test/data/suites/w3c/{s}/" in m.name for s in SUITES)]
                tar.extractall(staging, members=members, filter="data")
            found = next(staging.glob("*/test/data/suites/w3c"))
            CACHE.mkdir(parents=True, exist_ok=True)
            for suite in SUITES:
                shutil.rmtree(CACHE / suite, ignore_errors=True)
                shutil.move(str(found / suite), CACHE / suite)
    except (subprocess.SubprocessError, OSError, StopIteration, tarfile.TarError):
        return None
    return CACHE


def _path(iri) -> Path:
    return Path(unquote(urlparse(str(iri)).path))


def cases(root: Path) -> list[Case]:
    """Every query syntax and query evaluation test of the suites under ``root``, in manifest order
    (withdrawn tests left out)."""
    todo = [root / "sparql11" / d / "manifest.ttl" for d in SPARQL11_QUERY_DIRS]
    todo += [root / "dawg-data-r2" / "manifest-syntax.ttl", root / "dawg-data-r2" / "manifest-evaluation.ttl"]
    seen: set[Path] = set()
    out: list[Case] = []
    while todo:
        manifest = todo.pop(0)
        if manifest in seen or not manifest.is_file():
            continue
        seen.add(manifest)
        g = Graph().parse(manifest, format="turtle", publicID=manifest.as_uri())
        for m in g.subjects(RDF.type, MF.Manifest):
            for included in g.objects(m, MF.include):
                todo.extend(_path(i) for i in Collection(g, included))
            for entries in g.objects(m, MF.entries):
                prefix = manifest.parent.relative_to(root).as_posix()
                out.extend(c for e in Collection(g, entries) if (c := _case(g, e, prefix)) is not None)
    return out


def _case(g: Graph, entry, prefix: str) -> Case | None:
    if (entry, DAWGT.approval, DAWGT.Withdrawn) in g:
        return None
    action = g.value(entry, MF.action)
    kinds = {KINDS[t] for t in g.objects(entry, RDF.type) if t in KINDS}
    if not kinds and action is not None and g.value(action, QT.query) is not None:
        kinds = {"eval"}  # data-r2 leaves some evaluation tests untyped
    if len(kinds) != 1 or action is None:
        return None  # update, protocol or other tests
    kind = kinds.pop()
    name = f"{prefix}#{urlparse(str(entry)).fragment or str(entry).rsplit('/', 1)[-1]}"
    if kind != "eval":
        return Case(name, kind, _path(action))
    result = g.value(entry, MF.result)
    return Case(name, kind, _path(g.value(action, QT.query)),
                sorted(_path(d) for d in g.objects(action, QT.data)),
                sorted(_path(d) for d in g.objects(action, QT.graphData)),
                _path(result) if isinstance(result, URIRef) else None,
                (entry, MF.resultCardinality, MF.LaxCardinality) in g)

