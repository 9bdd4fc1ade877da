"""Deterministic generator of msc-kg-shaped graphs of a given size (N-Triples, streamed).

    python benchmarks/generate.py --size 1e5 [--seed 7] [--seed-graph build/msc-kg.nt] [--out FILE]

The shape is taken from the real build (``build/msc-kg.nt``):

* the ontology part (every triple whose subject is a ``msc:`` term) is copied verbatim, so the
  project's competency queries find their classes (msc:Glioma, msc:MesenchymalStromalCell, ...);
* the class hierarchies grow: synthetic subclasses are hung under the real cancer, cell, outcome and
  mediator classes (and under earlier synthetic ones, so trees get deeper), ~1 % of the triples,
  each with a label and a definition;
* cell lines (~1/170 of the triples) with label, names as written, species, ``modelsCancer`` and
  Cellosaurus accession; mediators (~1/160) with type, label and alternative labels;
* findings — the bulk — with the real distributions (weighted by their frequency in the build) of
  actor, effect direction, outcome, setting, target cancer / cell type, mechanism; a cell line
  (90 %), mediators, reference number, section, evidence sentence and a Web-Annotation anchor
  (SpecificResource + TextQuoteSelector + TextPositionSelector), the derived ``msc:tumourEffect``
  (from the real rule table: direction x outcome) and the materialised ``msc:contradicts`` links
  computed with the rule of ``queries/derive/contradictions.rq`` (grouped by key, so linear);
* claims (~1 finding in 3) citing findings.

The output is a pure function of (size, seed, seed graph). Findings are emitted until the size is
reached, then the contradiction links; the file has ``size`` triples give or take one finding.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_SEED_GRAPH = ROOT / "build" / "msc-kg.nt"

MSC = "https://w3id.org/msc-kg/ontology/"
ID = "https://w3id.org/msc-kg/id/"
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"
SUBCLASS = "<http://www.w3.org/2000/01/rdf-schema#subClassOf>"
DEFINITION = "<http://purl.obolibrary.org/obo/IAO_0000115>"
ALTLABEL = "<http://www.w3.org/2004/02/skos/core#altLabel>"
OWL_CLASS = "<http://www.w3.org/2002/07/owl#Class>"
NAMED_IND = "<http://www.w3.org/2002/07/owl#NamedIndividual>"
XSD_INT = "^^<http://www.w3.org/2001/XMLSchema#integer>"
PROV_DERIVED = "<http://www.w3.org/ns/prov#wasDerivedFrom>"
OA = "http://www.w3.org/ns/oa#"

WORDS = ("mesenchymal stromal cells promote inhibit tumour growth proliferation apoptosis "
         "migration invasion metastasis angiogenesis secretion exosomes cytokine signalling "
         "xenograft nude mice co-culture conditioned medium expression pathway increased reduced "
         "glioma breast hepatocellular leukaemia lymphoma colon lung prostate ovarian melanoma "
         "umbilical cord adipose bone marrow derived human cells line model effect through").split()


def m(local: str) -> str:
    return f"<{MSC}{local}>"


def i(local: str) -> str:
    return f"<{ID}{local}>"


def lit(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class Weighted:
    """Deterministic weighted choice over a list of (item, weight)."""

    def __init__(self, counts: Counter):
        self.items = sorted(counts)  # sorted: independent of dict/hash order
        self.cum = list(itertools.accumulate(counts[k] for k in self.items))

    def add(self, item, weight: float) -> None:
        self.items.append(item)
        self.cum.append(self.cum[-1] + weight if self.cum else weight)

    def pick(self, rng: random.Random):
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.cum[-1])]


def read_seed(path: Path):
    """The ontology triples (verbatim lines) and the value distributions of the real findings."""
    tbox: list[str] = []
    by_subject: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.startswith("<"):
                continue
            s, rest = line.split(" ", 1)
            p, o = rest.split(" ", 1)
            o = o.rstrip().rstrip(".").rstrip()
            if s.startswith(f"<{MSC}") and not o.startswith("_:"):
                tbox.append(line if line.endswith("\n") else line + "\n")
            by_subject[s][p].append(o)
    finding_t, cellline_t = m("Finding"), m("CellLine")
    dist: dict[str, Counter] = defaultdict(Counter)
    mediator_types: Counter = Counter()
    rules: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for s, props in by_subject.items():
        types = props.get(RDF_TYPE, [])
        if finding_t in types:
            for key in ("actor", "effectDirection", "outcome", "setting", "targetCancer",
                        "targetCellType", "mechanism", "inSection"):
                for o in props.get(m(key), []):
                    dist[key][o] += 1
                if key in ("targetCancer", "targetCellType", "mechanism"):
                    dist[key + "?"][bool(props.get(m(key)))] += 1
            dist["targetCellLine?"][bool(props.get(m("targetCellLine")))] += 1
            dist["mediators"][len(props.get(m("mediator"), []))] += 1
            for d in props.get(m("effectDirection"), []):
                for o in props.get(m("outcome"), []):
                    for e in props.get(m("tumourEffect"), []):
                        rules[(d, o)][e] += 1
        elif cellline_t in types:
            for o in props.get(m("modelsCancer"), []):
                dist["modelsCancer"][o] += 1
            for o in props.get(m("species"), []):
                dist["species"][o] += 1
        for p_med in props.get(m("mediator"), []):
            for t in by_subject.get(p_med, {}).get(RDF_TYPE, []):
                if t != NAMED_IND:
                    mediator_types[t] += 1
    dist["mediatorType"] = mediator_types
    rule = {k: v.most_common(1)[0][0] for k, v in rules.items()}
    return tbox, dist, rule


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def generate(size: int, out: Path, seed: int = 7, seed_graph: Path = DEFAULT_SEED_GRAPH) -> dict:
    """Write about ``size`` triples to ``out``; return counts (triples, findings, ...)."""
    rng = random.Random(seed)
    tbox, dist, rule = read_seed(seed_graph)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".part")
    n = 0
    buf: list[str] = []
    fh = open(tmp, "w", encoding="utf-8", buffering=1 << 20)

    def emit(s: str, p: str, o: str) -> None:
        nonlocal n
        buf.append(f"{s} {p} {o} .\n")
        n += 1
        if len(buf) >= 8192:
            fh.write("".join(buf))
            buf.clear()

    for line in tbox:
        buf.append(line)
        n += 1

    pick = {k: Weighted(v) for k, v in dist.items()}
    # 1. grow the hierarchies: ~1 % of the triples are synthetic classes (4 triples each)
    families = ("targetCancer", "actor", "targetCellType", "outcome", "mediatorType")
    n_classes = max(10, size // 400)
    for k in range(n_classes):
        fam = families[k % len(families)]
        parent = pick[fam].pick(rng)
        if not parent.startswith(f"<{MSC}"):
            parent = pick["targetCancer"].pick(rng)
        cls = m(f"Synthetic{fam[0].upper()}{fam[1:]}{k}")
        emit(cls, RDF_TYPE, OWL_CLASS)
        emit(cls, SUBCLASS, parent)
        emit(cls, LABEL, lit(f"synthetic {fam} subtype {k} ({sentence(rng, 2)})"))
        emit(cls, DEFINITION, lit(sentence(rng, 10)))
        pick[fam].add(cls, pick[fam].cum[-1] / (len(pick[fam].items) * 2))  # rarer than real ones
        if fam == "targetCancer":
            pick["modelsCancer"].add(cls, pick["modelsCancer"].cum[-1] / (len(pick["modelsCancer"].items) * 2))

    # 2. cell lines (~11 triples each, ~6 % of the triples)
    n_lines = max(20, size // 170)
    for k in range(n_lines):
        cl = i(f"cellline-SYN{k}")
        name = f"SYN-{k}{rng.choice('ABCDEFGHKLMPRSTU')}"
        emit(cl, RDF_TYPE, m("CellLine"))
        emit(cl, RDF_TYPE, NAMED_IND)
        emit(cl, LABEL, lit(name))
        emit(cl, m("nameInReview"), lit(name.replace("-", "")))
        emit(cl, m("species"), pick["species"].pick(rng))
        emit(cl, m("modelsCancer"), pick["modelsCancer"].pick(rng))
        if rng.random() < 0.9:
            emit(cl, m("cellosaurusAccession"), lit(f"CVCL_{k:04X}"))
            emit(cl, m("cellosaurusName"), lit(name))
    # 3. mediators (~5 triples each)
    n_med = max(20, size // 160)
    for k in range(n_med):
        md = i(f"mediator-SYN{k}")
        emit(md, RDF_TYPE, pick["mediatorType"].pick(rng))
        emit(md, RDF_TYPE, NAMED_IND)
        emit(md, LABEL, lit(f"MED{k}"))
        emit(md, ALTLABEL, lit(f"mediator {k} {rng.choice(WORDS)}"))
        if rng.random() < 0.5:
            emit(md, ALTLABEL, lit(f"M{k}-{rng.choice(WORDS)}"))
    # sections
    n_sections = max(10, size // 2000)
    for k in range(n_sections):
        sec = i(f"section-syn-{k}")
        emit(sec, RDF_TYPE, m("ReviewSection"))
        emit(sec, LABEL, lit(f"Section {k}: {sentence(rng, 3)}"))
        emit(sec, m("sectionNumber"), lit(str(k)) + XSD_INT)

    # 4. findings until the size is reached (~30 triples each) + claims; contradictions at the end
    modulates = m("Modulates")
    growth = {m("CellProliferation"), m("CellViability"), m("TumourGrowth")}
    groups: dict[tuple, list[tuple[str, str]]] = defaultdict(list)
    review = i("review")
    f = 0
    claims = 0
    recent: list[tuple] = []
    reserve = max(1, size // 60)  # room for the contradiction links written at the end
    while n < size - reserve or f == 0:
        fid = f"finding-syn-{f:07d}"
        fi = i(fid)
        replicate = recent[rng.randrange(len(recent))] if recent and rng.random() < 0.3 else None
        if replicate:  # another study of the same actor, outcome and target (as in the review)
            actor, outcome, r_line, r_cancer, r_celltype = replicate
        else:
            actor, outcome = pick["actor"].pick(rng), pick["outcome"].pick(rng)
        direction = pick["effectDirection"].pick(rng)
        emit(fi, RDF_TYPE, m("Finding"))
        emit(fi, LABEL, lit(f"finding {f}: {sentence(rng, 6)}"))
        emit(fi, m("actor"), actor)
        emit(fi, m("effectDirection"), direction)
        emit(fi, m("outcome"), outcome)
        emit(fi, m("setting"), pick["setting"].pick(rng))
        emit(fi, m("statementOf"), review)
        emit(fi, m("inSection"), i(f"section-syn-{rng.randrange(n_sections)}"))
        ref = rng.randrange(1, 120)
        emit(fi, m("referenceNumber"), lit(str(ref)) + XSD_INT)
        line = cancer = celltype = None
        if replicate:
            line, cancer, celltype = r_line, r_cancer, r_celltype
        else:
            if pick["targetCellLine?"].pick(rng):
                # skewed towards the first lines (a few well-studied lines, a long tail)
                line = i(f"cellline-SYN{int(n_lines * rng.random() ** 2)}")
            if pick["targetCancer?"].pick(rng):
                cancer = pick["targetCancer"].pick(rng)
            if pick["targetCellType?"].pick(rng):
                celltype = pick["targetCellType"].pick(rng)
            recent.append((actor, outcome, line, cancer, celltype))
            if len(recent) > 64:
                recent.pop(0)
        if line is not None:
            emit(fi, m("targetCellLine"), line)
        if cancer is not None:
            emit(fi, m("targetCancer"), cancer)
        if celltype is not None:
            emit(fi, m("targetCellType"), celltype)
        if pick["mechanism?"].pick(rng):
            emit(fi, m("mechanism"), pick["mechanism"].pick(rng))
        for _ in range(pick["mediators"].pick(rng)):
            emit(fi, m("mediator"), i(f"mediator-SYN{int(n_med * rng.random() ** 2)}"))
        effect = rule.get((direction, outcome))
        if effect:
            emit(fi, m("tumourEffect"), effect)
        ev = f"{sentence(rng, 14)} [{ref}]."
        emit(fi, m("evidence"), lit(ev))
        anchor = f"<{ID}{fid}#anchor>"
        emit(fi, PROV_DERIVED, anchor)
        emit(anchor, RDF_TYPE, f"<{OA}SpecificResource>")
        emit(anchor, f"<{OA}hasSource>", review)
        q, pos = f"<{ID}{fid}#quote>", f"<{ID}{fid}#position>"
        emit(anchor, f"<{OA}hasSelector>", q)
        emit(anchor, f"<{OA}hasSelector>", pos)
        emit(q, RDF_TYPE, f"<{OA}TextQuoteSelector>")
        emit(q, f"<{OA}exact>", lit(ev))
        emit(q, f"<{OA}prefix>", lit(sentence(rng, 3)))
        emit(q, f"<{OA}suffix>", lit(sentence(rng, 3)))
        emit(pos, RDF_TYPE, f"<{OA}TextPositionSelector>")
        start = rng.randrange(100_000)
        emit(pos, f"<{OA}start>", lit(str(start)) + XSD_INT)
        emit(pos, f"<{OA}end>", lit(str(start + len(ev))) + XSD_INT)
        if direction != modulates:
            compared = "growth" if outcome in growth else outcome  # as the rule compares them
            if line is not None:
                groups[(actor, compared, "L", line)].append((fi, direction))
            else:
                if cancer is not None:
                    groups[(actor, compared, "T", cancer)].append((fi, direction))
                if celltype is not None:
                    groups[(actor, compared, "T", celltype)].append((fi, direction))
        if f % 3 == 2:  # a claim citing this finding
            c = i(f"claim-syn-{claims}")
            emit(c, RDF_TYPE, m("Claim"))
            emit(c, LABEL, lit(f"claim {claims}: {sentence(rng, 5)}"))
            emit(c, m("about"), actor)
            emit(c, m("supportedBy"), fi)
            claims += 1
        f += 1
    pairs = set()
    for members in groups.values():
        for (a, da), (b, db) in itertools.combinations(members, 2):
            if da != db and a != b:
                pairs.add((a, b) if a < b else (b, a))
    for a, b in sorted(pairs):
        emit(a, m("contradicts"), b)
        emit(b, m("contradicts"), a)
    fh.write("".join(buf))
    fh.close()
    tmp.replace(out)
    return {"triples": n, "findings": f, "claims": claims, "cell_lines": n_lines,
            "mediators": n_med, "synthetic_classes": n_classes, "contradiction_pairs": len(pairs)}


def path_for(size: int, seed: int) -> Path:
    return RESULTS / f"scaled-{size}-seed{seed}.nt"


def ensure(size: int, seed: int = 7, seed_graph: Path = DEFAULT_SEED_GRAPH) -> Path:
    """The generated file for (size, seed), generated only if missing."""
    out = path_for(size, seed)
    if not out.exists():
        generate(size, out, seed, seed_graph)
    return out


def parse_size(text: str) -> int:
    return int(float(text))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=parse_size, action="append", required=True,
                   help="number of triples, e.g. 1e5 (repeatable)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--seed-graph", type=Path, default=DEFAULT_SEED_GRAPH)
    p.add_argument("--out", type=Path, help="output file (one --size only)")
    args = p.parse_args(argv)
    if not args.seed_graph.exists():
        print(f"error: {args.seed_graph} not found; run `python -m msc_kg.cli build --no-reason`",
              file=sys.stderr)
        return 2
    for size in args.size:
        out = args.out or path_for(size, args.seed)
        t = time.perf_counter()
        info = generate(size, out, args.seed, args.seed_graph)
        print(f"{out}: {info} in {time.perf_counter() - t:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
