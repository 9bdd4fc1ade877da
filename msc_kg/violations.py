"""The quality checks of queries/violations/*-violation.rq as validation problems (each row one)."""

from __future__ import annotations

import os
from pathlib import Path

from rdflib import Graph

from msc_kg import paths
from msc_kg.errors import MscKgError, SourceUnreadable, support_text
from msc_kg.load import oxigraph_copy, rdflib_term


def queries(folder: Path | None = None) -> list[Path]:
    """The violation queries, in name order; MscKgError when there is none (validation then said
    the data passed "every quality check": hostile testing)."""
    folder = Path(folder or paths.QUERIES_DIR / "violations")
    # Listed, not globbed: glob() takes a folder it cannot list for an empty one ("no quality
    # check": stop 39). A check not named *-violation.rq was never run, without a word
    # (packaging review): it is refused, as triples/ refuses what it skips.
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        raise SourceUnreadable(folder, None, f"the quality checks cannot be read: {exc.strerror}") from None
    found = [folder / name for name in names if name.endswith("-violation.rq")]
    for name in names:
        if name.endswith(".rq") and not name.endswith("-violation.rq"):
            raise MscKgError(f"{folder / name}: is not run: the quality checks are the *-violation.rq "
                             "files of queries/violations; rename it or move it out")
    if not found:
        raise MscKgError(f"{folder}: no *-violation.rq quality check; the data cannot be validated "
                         "without them")
    return found


def purpose(text: str) -> str:
    """A query's "# Purpose:" line: the rule a row of its breaks."""
    for line in text.splitlines():
        if line.startswith("# Purpose:"):
            return line.removeprefix("# Purpose:").strip()
    return "a quality check of queries/violations"


def rows(graph: Graph, folder: Path | None = None):
    """(query file, rule, row as {variable: rdflib term}) for every row any violation query finds
    in ``graph`` (evaluated by Oxigraph on a copy of it)."""
    store = oxigraph_copy(graph)
    for path in queries(folder):
        text = support_text(path)
        try:
            solutions = store.query(text)
        except SyntaxError as exc:  # a traceback naming no file (hostile testing)
            raise MscKgError(f"{path}: does not parse as SPARQL: {exc}") from None
        names = [v.value for v in solutions.variables]
        for solution in solutions:
            yield path, purpose(text), {n: rdflib_term(solution[n]) for n in names
                                        if solution[n] is not None}
