"""Counts of the graph: findings per section, per MSC source (actor), per cancer, per tumour effect."""

from __future__ import annotations

from msc_kg.namespaces import MSC
from msc_kg.query import rows

PREFIXES = f"""PREFIX msc: <{MSC}>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
"""

TOTALS = PREFIXES + """
SELECT ?what (COUNT(DISTINCT ?x) AS ?n) WHERE {
  VALUES (?what ?class) { ("findings" msc:Finding) ("claims" msc:Claim) ("quantitative outcomes" msc:QuantitativeOutcome)
                          ("cell lines" msc:CellLine) ("mediators" msc:Mediator) ("clinical trials" msc:ClinicalTrial)
                          ("Table 1 entries" msc:Table1Entry) }
  OPTIONAL { ?x a/rdfs:subClassOf* ?class }
} GROUP BY ?what ORDER BY ?what"""

BY_SECTION = PREFIXES + """
SELECT ?key (COUNT(?f) AS ?n) WHERE {
  ?f a msc:Finding ; msc:inSection ?s . ?s rdfs:label ?title ; msc:sectionNumber ?num .
  BIND(IF(STRSTARTS(?title, ?num), ?title, CONCAT(?num, " ", ?title)) AS ?key)  # not "Figure 2 Figure 2."
} GROUP BY ?key ORDER BY ?key"""

BY_ACTOR = PREFIXES + """
SELECT ?key (COUNT(?f) AS ?n) WHERE {
  ?f a msc:Finding ; msc:actor ?a . ?a rdfs:label ?key .
} GROUP BY ?key ORDER BY DESC(?n) ?key"""

BY_CANCER = PREFIXES + """
SELECT ?key (COUNT(DISTINCT ?f) AS ?n) WHERE {
  ?f a msc:Finding . { ?f msc:targetCancer ?c }
  UNION { ?f (msc:targetCellLine|msc:inducingCellLine)/msc:modelsCancer ?c }
  ?c rdfs:label ?key .
} GROUP BY ?key ORDER BY DESC(?n) ?key"""

BY_EFFECT = PREFIXES + """
SELECT ?key (COUNT(?f) AS ?n) WHERE {
  ?f a msc:Finding . OPTIONAL { ?f msc:tumourEffect/rdfs:label ?e }
  BIND(COALESCE(?e, "no rule applies") AS ?key)
} GROUP BY ?key ORDER BY ?key"""

TABLES = {"totals": TOTALS, "findings per section": BY_SECTION, "findings per actor": BY_ACTOR,
          "findings per cancer": BY_CANCER, "findings per tumour effect": BY_EFFECT}


def stats(store=None) -> dict[str, dict[str, int]]:
    """Every count table, as {table: {key: count}}."""
    if store is None:
        from msc_kg.release import load_release

        store, _ = load_release()
    out = {}
    for name, query in TABLES.items():
        key = "what" if name == "totals" else "key"
        out[name] = {r[key]: int(r["n"]) for r in rows(store, query)}
    return out


def stats_text(figures: dict[str, dict[str, int]]) -> str:
    """The count tables as aligned plain text."""
    lines = []
    for name, table in figures.items():
        lines.append(f"{name}:")
        width = max((len(k) for k in table), default=0)
        lines += [f"  {k.ljust(width)}  {v:>4}" for k, v in table.items()]
        lines.append("")
    return "\n".join(lines)
