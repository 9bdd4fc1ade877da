"""Table 1's links to the body (msc:supportedBy) keep the rule stated at the top of table-1.ttl.

A finding supports an entry when its actor is the entry's MSC source or a subclass, but not an
engineered MSC (Table 1 is of normal MSCs: "human tissue-derived normal MSCs"), its cancer
(msc:targetCancer, or its target or inducing cell line's msc:modelsCancer) is the entry's cancer or a subclass, and its
derived tumour effect is the entry's reported effect. Checked both ways on the built release.
"""

from __future__ import annotations

from msc_kg.query import rows

P = """PREFIX msc: <https://w3id.org/msc-kg/ontology/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
"""
FITS = """
  ?f a msc:Finding ; msc:actor ?a ; msc:tumourEffect ?effect .
  ?a rdfs:subClassOf* ?type .
  FILTER NOT EXISTS { ?a rdfs:subClassOf* msc:EngineeredMSC }
  { ?f msc:targetCancer ?c } UNION { ?f (msc:targetCellLine|msc:inducingCellLine)/msc:modelsCancer ?c }
  ?c rdfs:subClassOf* ?cancer .
"""
ENTRY = "?e a msc:Table1Entry ; msc:mscType ?type ; msc:cancer ?cancer ; msc:reportedEffect ?effect ."
ID = "https://w3id.org/msc-kg/id/"


def pairs(store, query: str) -> list[tuple[str, str]]:
    return [(r["e"].removeprefix(ID), r["f"].removeprefix(ID)) for r in rows(store, P + query)]


def test_every_link_fits_the_rule(store):
    assert pairs(store, f"""SELECT DISTINCT ?e ?f WHERE {{ {ENTRY} ?e msc:supportedBy ?f .
        FILTER NOT EXISTS {{ {FITS} }} }} ORDER BY ?e ?f""") == []


def test_every_fitting_finding_is_linked(store):
    assert pairs(store, f"""SELECT DISTINCT ?e ?f WHERE {{ {ENTRY} {FITS}
        FILTER NOT EXISTS {{ ?e msc:supportedBy ?f }} }} ORDER BY ?e ?f""") == []
