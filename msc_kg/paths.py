"""Where the project's data lives: one place for every path the package reads or writes."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("MSC_KG_ROOT", Path(__file__).resolve().parent.parent))
ONTOLOGY_TTL = ROOT / "ontology" / "msc-kg.ttl"
ONTOLOGY_OWL = ROOT / "ontology" / "msc-kg.owl"
RULES_TTL = ROOT / "ontology" / "tumour-effect-rules.ttl"
REFERENCE_DIR = ROOT / "ontology" / "reference"  # verified external identifiers (its README.md)
SHAPES_DIR = ROOT / "shapes"
TRIPLES_DIR = ROOT / "triples"
QUERIES_DIR = ROOT / "queries"
SOURCE_TEXT = ROOT / "source" / "review.txt"
BUILD_DIR = Path(os.environ.get("MSC_KG_BUILD", ROOT / "build"))
