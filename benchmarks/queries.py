"""The benchmark query mix (works on the real build and on every generated size).

``MIX`` holds the synthetic workload of issue 7; ``competency()`` adds the project's competency
queries (``queries/*.rq``, read at run time). ``TRIVIAL`` names the lookups the acceptance
criterion holds to < 2 ms; ``HEAVY`` those left out of throughput runs (they grow faster than
linearly on purpose, to show it).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

P = """PREFIX msc: <https://w3id.org/msc-kg/ontology/>
PREFIX mscd: <https://w3id.org/msc-kg/id/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX oa: <http://www.w3.org/ns/oa#>
"""

MIX: dict[str, str] = {
    # trivial: one index lookup
    "label_lookup": P + "SELECT ?label WHERE { msc:Glioma rdfs:label ?label }",
    "ask_exists": P + "ASK { ?f msc:actor msc:UmbilicalCordMSC }",
    # rdfs:subClassOf* closure + labels
    "subclass_closure": P + """SELECT ?c ?label WHERE {
  ?c rdfs:subClassOf* msc:Cancer ; rdfs:label ?label } ORDER BY ?label""",
    # Table-1-style matrix: MSC source x tumour effect
    "table1_matrix": P + """SELECT ?actor ?effect (COUNT(DISTINCT ?f) AS ?n) WHERE {
  ?f a msc:Finding ; msc:actor ?a ; msc:tumourEffect ?e .
  ?a rdfs:subClassOf* msc:MesenchymalStromalCell ; rdfs:label ?actor . ?e rdfs:label ?effect .
} GROUP BY ?actor ?effect ORDER BY ?actor ?effect""",
    # contradictions: materialised at build time vs the naive self-join
    "contradictions_materialised": P + """SELECT ?a ?b WHERE {
  ?a msc:contradicts ?b . FILTER(STR(?a) < STR(?b)) } ORDER BY ?a ?b""",
    "contradictions_selfjoin": P + """SELECT ?a ?b WHERE {
  ?a a msc:Finding ; msc:actor ?actor ; msc:outcome ?outcome ; msc:effectDirection ?da .
  ?b a msc:Finding ; msc:actor ?actor ; msc:outcome ?outcome ; msc:effectDirection ?db .
  FILTER(STR(?a) < STR(?b) && ?da != ?db && ?da != msc:Modulates && ?db != msc:Modulates)
  ?a msc:targetCellLine ?line . ?b msc:targetCellLine ?line .
} ORDER BY ?a ?b""",
    "optional": P + """SELECT ?f ?line ?acc ?med WHERE {
  ?f msc:actor msc:UmbilicalCordMSC ; msc:outcome msc:Apoptosis .
  OPTIONAL { ?f msc:targetCellLine ?line OPTIONAL { ?line msc:cellosaurusAccession ?acc } }
  OPTIONAL { ?f msc:mediator ?med } }""",
    "text_contains": P + """SELECT ?s ?label WHERE {
  ?s rdfs:label ?label FILTER(CONTAINS(LCASE(?label), "glioma")) }""",
    "text_regex": P + """SELECT ?s ?label WHERE {
  ?s rdfs:label ?label FILTER(REGEX(?label, "^SYN-1[0-9]*[AB]$", "i")) }""",
    "construct": P + """CONSTRUCT { ?f msc:actor ?a ; msc:targetCellLine ?l . } WHERE {
  ?f msc:targetCellLine ?l ; msc:actor ?a . ?l msc:modelsCancer/rdfs:subClassOf* msc:Glioma }""",
    "describe": P + "DESCRIBE mscd:finding-syn-0000010",
    "order_limit_page": P + """SELECT ?f ?label WHERE { ?f a msc:Finding ; rdfs:label ?label }
ORDER BY ?label LIMIT 50 OFFSET 100""",
    "values_join": P + """SELECT ?line ?f ?outcome WHERE {
  VALUES ?line { """ + " ".join(f"mscd:cellline-SYN{k}" for k in range(0, 40, 2)) + """ }
  ?f msc:targetCellLine ?line ; msc:outcome ?outcome }""",
    "path_3hop": P + """SELECT ?cancer (COUNT(?f) AS ?n) WHERE {
  ?f msc:targetCellLine/msc:modelsCancer/rdfs:subClassOf ?c . ?c rdfs:label ?cancer
} GROUP BY ?cancer ORDER BY DESC(?n) ?cancer""",
}

TRIVIAL = {"label_lookup", "ask_exists"}
HEAVY = {"contradictions_selfjoin"}


def competency(queries_dir: Path = ROOT / "queries") -> dict[str, str]:
    """The project's competency queries ``queries/*.rq`` (not derive/ or violations/)."""
    return {f"cq:{p.stem}": p.read_text(encoding="utf-8") for p in sorted(queries_dir.glob("*.rq"))}


def form(query: str) -> str:
    """SELECT, ASK, CONSTRUCT or DESCRIBE (first keyword outside comments, IRIs and strings)."""
    text = re.sub(r"#[^\n]*", "", query)
    text = re.sub(r"<[^>\s]*>|\"[^\"]*\"|'[^']*'", " ", text)
    m = re.search(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", text, re.I)
    return m.group(1).upper() if m else "SELECT"
