"""Cross-references to public ontologies and databases: read ontology/mappings.tsv, emit RDF, SSSOM and the import module."""

from __future__ import annotations

import csv
import json
import re
from functools import lru_cache
from pathlib import Path

from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from msc_kg import __version__, paths
from msc_kg.errors import MscKgError, SourceParseError, support_text
from msc_kg.load import MSC, MSCD
from msc_kg.namespaces import IMPORT_MODULE_ONTOLOGY

MAPPINGS_TSV = paths.ROOT / "ontology" / "mappings.tsv"
IMPORTS_DIR = paths.ROOT / "ontology" / "imports"
# Generated from the Bioregistry by ontology/imports/make_prefixes.py (run where bioregistry is installed).
PREFIX_MAP = IMPORTS_DIR / "bioregistry-prefixes.json"
TERM_LIST = IMPORTS_DIR / "external_terms.txt"
IMPORT_MODULE = IMPORTS_DIR / "external-terms.ttl"
IMPORT_MODULE_IRI = URIRef(IMPORT_MODULE_ONTOLOGY)

OBOINOWL = Namespace("http://www.geneontology.org/formats/oboInOwl#")
COLUMNS = ["subject_id", "subject_label", "predicate_id", "object_id", "object_label",
           "mapping_justification", "source", "comment"]
PREDICATES = {"skos:exactMatch": SKOS.exactMatch, "skos:closeMatch": SKOS.closeMatch,
              "skos:broadMatch": SKOS.broadMatch, "skos:narrowMatch": SKOS.narrowMatch,
              "skos:relatedMatch": SKOS.relatedMatch}  # related: a part (a chain, a subunit), an isomer
XREF_PREDICATES = {"skos:exactMatch"}  # oboInOwl:hasDbXref only where the match is exact
PROJECT_PREFIXES = {"msc": MSC, "mscd": MSCD}
# External terms that are OWL classes in their source ontology (declared in the import module).
CLASS_PREFIXES = ("CL", "UBERON", "MONDO", "NCIT", "DOID", "GO", "CHEBI", "NCBITaxon")
MAPPING_SET_ID = "https://w3id.org/msc-kg/mappings/msc-kg.sssom.tsv"
LICENSE = "https://creativecommons.org/licenses/by/4.0/"
IMPORT_HEADER = ("# Generated from ontology/imports/external_terms.txt and ontology/mappings.tsv by\n"
                 "# msc_kg.mappings.write_import_module() - do not edit; edit the term list and regenerate.\n")


@lru_cache(maxsize=1)
def prefix_records() -> tuple[dict, ...]:
    """The pinned Bioregistry prefix records (prefix, uri_prefix, pattern) the project uses;
    MscKgError naming the file where it is not such a map (a traceback before: packaging review)."""
    try:
        records = json.loads(support_text(PREFIX_MAP))["records"]
        if not all(isinstance(r, dict) and {"prefix", "uri_prefix"} <= set(r) for r in records):
            raise TypeError
        return tuple(records)
    except json.JSONDecodeError as exc:
        raise MscKgError(f"{PREFIX_MAP}:{exc.lineno}: is not JSON (column {exc.colno}: {exc.msg})") from None
    except (KeyError, TypeError):
        raise MscKgError(f'{PREFIX_MAP}: is not a prefix map: an object whose "records" list '
                         'holds objects with "prefix" and "uri_prefix"') from None


@lru_cache(maxsize=1)
def converter():
    """A curies Converter for external prefixes (from the Bioregistry) plus the project's msc:/mscd:."""
    import curies

    records = [{k: v for k, v in r.items() if k != "pattern"} for r in prefix_records()]
    records += [{"prefix": p, "uri_prefix": u} for p, u in PROJECT_PREFIXES.items()]
    return curies.Converter.from_extended_prefix_map(records)


def read_mappings(path: Path = MAPPINGS_TSV) -> list[dict[str, str]]:
    """The rows of the mapping table, as dicts keyed by column name; SourceParseError naming the
    line of the first row that is not a mapping the release can carry (each ended in a traceback,
    or was released as written: hostile testing)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:  # a byte order mark is no
            # part of the header (spreadsheets write one). No quoting: a field is what lies between
            # tabs; a stray '"' opening a field made the reader take every line up to the next '"'
            # as that field, and the rows in it were dropped without a word (bad-input audit)
            reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            if reader.fieldnames is None:
                raise SourceParseError(path, 1, f"the file is empty; its first line is the header: "
                                                f"{', '.join(COLUMNS)} (tab-separated)")
            if reader.fieldnames != COLUMNS:
                raise SourceParseError(path, 1, f"the columns must be {', '.join(COLUMNS)} "
                                                f"(tab-separated), not "
                                                f"{', '.join(reader.fieldnames or ['none'])}")
            rows, seen = [], {}
            for row in reader:
                line = reader.line_num
                problem = _row_problem(row, seen, line)
                if problem:
                    raise SourceParseError(path, line, problem)
                rows.append(dict(row))
            if not rows:  # a header alone validated, and the release carried no cross-reference
                raise SourceParseError(path, 2, "has no mapping under its header: a release without "
                                                "cross-references is not built (restore the rows)")
            return rows
    except UnicodeDecodeError:  # told where in the whole file (the error counts in a chunk)
        raise SourceParseError.not_utf8(path, Path(path).read_bytes()) from None
    except csv.Error as exc:
        raise SourceParseError(path, None, f"is not a tab-separated table: {exc}") from None


JUSTIFICATION = "semapv:ManualMappingCuration"  # every row is curated by hand (docs/CURATION.md)


def _row_problem(row: dict, seen: dict, line: int) -> str | None:
    """What is wrong with one row of the table (``seen``: the (subject, object) pairs of the rows
    before, with their lines), or None."""
    extra, missing = len(row.get(None) or ()), sum(row[c] is None for c in COLUMNS)
    if extra or missing:  # csv.DictReader's marks of a row longer or shorter than the header
        return f"has {len(COLUMNS) + extra - missing} fields; a row has {len(COLUMNS)}, tab-separated"
    if row["predicate_id"] not in PREDICATES:
        return f"unknown predicate {row['predicate_id']!r}; use one of {', '.join(PREDICATES)}"
    if row["mapping_justification"] != JUSTIFICATION:
        return (f"mapping_justification is {row['mapping_justification']!r}; the table is curated "
                f"by hand: {JUSTIFICATION}")
    if row["subject_id"].split(":", 1)[0] not in PROJECT_PREFIXES:
        return f"the subject {row['subject_id']!r} is not an msc: or mscd: term"
    for column in ("subject_id", "object_id"):
        if problem := _curie_problem(row[column]):
            return f"{column} {row[column]!r}: {problem}"
    for column in ("subject_label", "object_label"):
        if not row[column].strip():
            return f"{column} is empty"
    pair = (row["subject_id"], row["object_id"])
    if pair[0] == pair[1]:
        return f"maps {pair[0]} to itself"
    if pair in seen:
        return f"maps {pair[0]} to {pair[1]} again (line {seen[pair]}); one predicate a pair"
    seen[pair] = line
    label = seen.setdefault(("label", pair[1]), (row["object_label"], line))
    if label[0] != row["object_label"]:  # the SSSOM file and the import module take one
        return (f"labels {pair[1]} {row['object_label']!r}, but line {label[1]} labels it "
                f"{label[0]!r}; give one label")
    return None


@lru_cache(maxsize=1)
def _patterns() -> dict[str, str | None]:
    """Each known prefix's Bioregistry pattern for its identifiers (None: the project's own)."""
    return {r["prefix"]: r.get("pattern") for r in prefix_records()} | dict.fromkeys(PROJECT_PREFIXES)


def _curie_problem(curie: str) -> str | None:
    """Why ``curie`` is not a CURIE of a known prefix whose local part fits the prefix's pattern."""
    prefix, colon, local = curie.partition(":")
    known = _patterns()
    if not colon or not local:
        return "not a CURIE (prefix:identifier)"
    if prefix not in known:
        return f"unknown prefix {prefix!r} (known: {', '.join(sorted(known))})"
    pattern = known[prefix]
    if not re.fullmatch(pattern or r"[\w.\-]+", local):
        return f"{local!r} is not an identifier of {prefix}" + (f" (pattern {pattern})" if pattern else "")
    return None


def expand(curie: str) -> URIRef:
    """The IRI of a CURIE; raise ValueError for an unknown prefix."""
    return URIRef(converter().expand(curie, strict=True))


def mapping_graph(rows: list[dict[str, str]] | None = None) -> Graph:
    """skos:*Match triples to the external IRIs, plus oboInOwl:hasDbXref CURIE strings for exact matches."""
    out = Graph()
    out.bind("skos", SKOS)
    out.bind("oboInOwl", OBOINOWL)
    out.add((OBOINOWL.hasDbXref, RDF.type, OWL.AnnotationProperty))
    out.add((OBOINOWL.hasDbXref, RDFS.label, Literal("database cross reference", lang="en")))  # as oboInOwl
    for row in read_mappings() if rows is None else rows:
        subject = expand(row["subject_id"])
        out.add((subject, PREDICATES[row["predicate_id"]], expand(row["object_id"])))
        if row["predicate_id"] in XREF_PREDICATES:
            out.add((subject, OBOINOWL.hasDbXref, Literal(row["object_id"])))
    return out


def subject_type(graph: Graph | None, curie: str) -> str:
    """The SSSOM subject_type of a mapping's subject in ``graph``: "owl class" (a class, though a
    value set member punned as an individual too), "owl named individual", or "" unknown."""
    if graph is None:
        return ""
    iri = expand(curie)
    if (iri, RDF.type, OWL.Class) in graph:
        return "owl class"
    return "owl named individual" if (iri, RDF.type, OWL.NamedIndividual) in graph else ""


def write_sssom(path: Path, rows: list[dict[str, str]] | None = None, graph: Graph | None = None) -> Path:
    """Write the mapping set as SSSOM/TSV with its YAML metadata block (curie_map, license, ids),
    each subject's type read from ``graph``: 31 rows map individuals (mscd:doxorubicin) to OBO
    classes, which a tool turning exactMatch into owl:equivalentClass must not do (ontology audit)."""
    rows = read_mappings() if rows is None else rows
    used = {r[c].split(":", 1)[0] for r in rows for c in ("subject_id", "predicate_id", "object_id",
                                                          "mapping_justification")}
    known = {r["prefix"]: r["uri_prefix"] for r in prefix_records()} | PROJECT_PREFIXES
    meta = {"mapping_set_id": MAPPING_SET_ID, "mapping_set_version": __version__,
            "mapping_set_description": "Cross-references of the msc-kg knowledge graph to public ontologies "
                                       "and databases (hand-curated in ontology/mappings.tsv).",
            "license": LICENSE}
    # YAML metadata block; values are JSON strings, which YAML reads as quoted scalars.
    header = ["# curie_map:"] + [f"#   {p}: {json.dumps(known[p])}" for p in sorted(used)]
    header += [f"# {key}: {json.dumps(value)}" for key, value in meta.items()]
    columns = ["subject_id", "subject_label", "subject_type", "predicate_id", "object_id",
               "object_label", "mapping_justification", "comment"]
    path = Path(path)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("\n".join(header) + "\n")
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            comment = "; ".join(x for x in (row["comment"], "source: " + row["source"]) if x)
            row = dict(row, subject_type=subject_type(graph, row["subject_id"]))
            writer.writerow([row[c] for c in columns[:-1]] + [comment])
    return path


def external_terms(path: Path = TERM_LIST) -> list[str]:
    """The CURIEs of the term list (one per line; # comments and blank lines ignored)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def import_module(terms: list[str] | None = None, rows: list[dict[str, str]] | None = None) -> Graph:
    """The OWL import module: each listed term declared an owl:Class with its label (no hierarchy)."""
    labels = {r["object_id"]: r["object_label"] for r in (read_mappings() if rows is None else rows)}
    out = Graph()
    out.bind("owl", OWL)
    out.bind("rdfs", RDFS)
    out.bind("obo", "http://purl.obolibrary.org/obo/")
    out.add((IMPORT_MODULE_IRI, RDF.type, OWL.Ontology))
    out.add((IMPORT_MODULE_IRI, RDFS.comment, Literal(
        "External classes referred to by msc-kg cross-references, declared with their labels "
        "(labels as recorded in ontology/mappings.tsv from the verified reference tables).", lang="en")))
    for curie in external_terms() if terms is None else terms:
        if curie not in labels:
            raise ValueError(f"{curie} is in the term list but not an object of ontology/mappings.tsv")
        term = expand(curie)
        out.add((term, RDF.type, OWL.Class))
        out.add((term, RDFS.label, Literal(labels[curie])))
    return out


def write_import_module(path: Path = IMPORT_MODULE) -> Path:
    """Regenerate ontology/imports/external-terms.ttl from the term list."""
    text = import_module().serialize(format="turtle")
    Path(path).write_text(IMPORT_HEADER + text, encoding="utf-8")
    return Path(path)
