"""Run SPARQL on the built graph (pyoxigraph) and the project's query files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from msc_kg import paths

_HEADER = re.compile(r"^#\s*(Purpose|Returns):\s*(.+)$", re.MULTILINE)


@dataclass(frozen=True)
class QueryFile:
    """A query of queries/: its name, purpose, what it returns and its text."""

    name: str
    purpose: str
    returns: str
    text: str


def query_files(folder: Path | None = None) -> list[QueryFile]:
    """The competency queries (queries/*.rq, not the derive/ or violations/ ones)."""
    out = []
    for path in sorted(Path(folder or paths.QUERIES_DIR).glob("*.rq")):
        text = path.read_text(encoding="utf-8")
        header = dict(_HEADER.findall(text))
        out.append(QueryFile(path.stem, header.get("Purpose", ""), header.get("Returns", ""), text))
    return out


def rows(store, query: str) -> list[dict[str, str]]:
    """SELECT results as a list of {variable: value} with plain string values (None if unbound)."""
    solutions = store.query(query)
    names = [v.value for v in solutions.variables]
    return [{n: (s[n].value if s[n] is not None else None) for n in names} for s in solutions]


def run_query(text: str, fmt: str = "table", store=None) -> str:
    """Run a query on the release and render it (table, json, csv, tsv; Turtle for graphs)."""
    import pyoxigraph

    if store is None:
        from msc_kg.release import load_release

        store, _ = load_release()
    result = store.query(text)
    if isinstance(result, bool):
        return ("true" if result else "false") + "\n"
    if isinstance(result, pyoxigraph.QueryTriples):
        return result.serialize(format=pyoxigraph.RdfFormat.TURTLE).decode()
    if fmt == "table":
        names = [v.value for v in result.variables]
        lines = ["\t".join(names)]
        lines += ["\t".join(s[n].value if s[n] is not None else "" for n in names) for s in result]
        return "\n".join(lines) + "\n"
    formats = {"json": pyoxigraph.QueryResultsFormat.JSON, "csv": pyoxigraph.QueryResultsFormat.CSV,
               "tsv": pyoxigraph.QueryResultsFormat.TSV}
    return result.serialize(format=formats[fmt]).decode()
