"""External identifiers against the verified reference tables (ontology/reference/, see its README)."""

from __future__ import annotations

import csv
import io
from functools import lru_cache

from msc_kg import paths
from msc_kg.errors import MscKgError, support_text

# Prefixes whose identifiers name the review's own trials and literature, checked elsewhere (the
# trials' registry IDs are in the review's text), not by the reference tables
OWN_RECORDS = frozenset({"clinicaltrials", "doi", "pubmed", "pmc"})


@lru_cache(maxsize=4)
def verified(name: str, key: str) -> dict[str, list[dict[str, str]]]:
    """The ``verified`` rows of reference table ``name``, by their ``key`` column."""
    path = paths.REFERENCE_DIR / name
    reader = csv.DictReader(io.StringIO(support_text(path), newline=""), delimiter="\t")
    missing = [column for column in ("status", key) if column not in (reader.fieldnames or ())]
    if missing:  # a KeyError traceback (packaging review)
        raise MscKgError(f"{path}:1: has no column {', '.join(map(repr, missing))} (its header: "
                         f"{', '.join(reader.fieldnames or ['none'])})")
    rows: dict[str, list[dict[str, str]]] = {}
    for row in reader:
        if row["status"] == "verified":
            rows.setdefault(row[key], []).append(row)
    return rows


def accession_problem(accession: str) -> str | None:
    """Why a Cellosaurus accession ("CVCL_0065") may not be stated, or None."""
    if accession not in verified("cell-lines.tsv", "accession"):
        return (f"{accession} is not a verified accession of ontology/reference/cell-lines.tsv: an "
                "external ID goes in only once it is verified (docs/CURATION.md)")
    return None


def mapping_problem(row: dict[str, str]) -> str | None:
    """Why a row of ontology/mappings.tsv names an identifier the reference tables do not verify
    with that label, or None."""
    prefix, _, local = row["object_id"].partition(":")
    if prefix in OWN_RECORDS:
        return None
    if prefix == "cellosaurus":
        if problem := accession_problem(f"CVCL_{local}"):
            return problem
        names = {r["cellosaurus_name"] for r in verified("cell-lines.tsv", "accession")[f"CVCL_{local}"]}
    else:
        refs = verified("ontology-terms.tsv", "curie").get(row["object_id"])
        if not refs:
            return (f"{row['object_id']} is not a verified identifier of ontology/reference/"
                    "ontology-terms.tsv: an external ID goes in only once it is verified "
                    "(docs/CURATION.md)")
        names = {r["ontology_label"].split(" | ")[0] for r in refs}
    if row["object_label"] not in names:
        return (f"labels {row['object_id']} {row['object_label']!r}; the reference table's label is "
                f"{' or '.join(map(repr, sorted(names)))}")
    return None
