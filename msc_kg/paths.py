"""Where the project's data lives: one place for every path the package reads or writes."""

from __future__ import annotations

import hashlib
import os
import site
import sys
import sysconfig
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent  # the source tree, when run from a checkout
DATA_NAME = Path("share") / "msc-kg"  # the data of an installed package (pyproject's data-files)


def find_root(checkout: Path = CHECKOUT, prefixes=None) -> Path:
    """The folder holding ontology/, triples/, shapes/, queries/ and source/: the checkout the
    package runs from, else the data an install put under <prefix>/share/msc-kg (the prefix of
    the environment, else the user's), else the checkout (whose absence the commands then name)."""
    if (checkout / "ontology" / "msc-kg.ttl").is_file():
        return checkout
    if prefixes is None and (recorded := _recorded()) is not None:
        return recorded
    for prefix in prefixes if prefixes is not None else _prefixes():
        installed = Path(prefix) / DATA_NAME
        if (installed / "ontology" / "msc-kg.ttl").is_file():
            return installed
    return checkout


def _recorded() -> Path | None:
    """The data folder the install of this package recorded (its RECORD lists the data files
    where it put them): pip --prefix or --target put them under another prefix than the running
    interpreter's, which found another environment's data or none (install review)."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        files = distribution("msc-kg").files or []
    except PackageNotFoundError:
        return None
    for file in files:
        if file.as_posix().endswith("share/msc-kg/ontology/msc-kg.ttl"):
            found = Path(file.locate()).resolve().parent.parent
            if found.is_dir():
                return found
    return None


def _prefixes() -> list[str]:
    """Where an install may have put its data files: the scheme's data path (/usr/local under
    Debian's system Python, whose sys.prefix is /usr: change review), the environment's prefix,
    and the user's."""
    found = [sysconfig.get_path("data"), sys.prefix, site.getuserbase()]
    return list(dict.fromkeys(p for p in found if p))


def _build_dir(root: Path) -> Path:
    """build/ of a checkout; for an installed package, build/ beside its data where that can be
    written (a virtual environment), else a folder of the user's cache of its own for that data
    (a system-wide install; two installs shared one and rebuilt each other's release)."""
    if root == CHECKOUT or os.access(root, os.W_OK):
        return root / "build"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    key = hashlib.sha256(str(root).encode()).hexdigest()[:12]
    return Path(cache) / "msc-kg" / key / "build"


ROOT = Path(os.environ["MSC_KG_ROOT"]) if os.environ.get("MSC_KG_ROOT") else find_root()
ONTOLOGY_TTL = ROOT / "ontology" / "msc-kg.ttl"
ONTOLOGY_OWL = ROOT / "ontology" / "msc-kg.owl"
RULES_TTL = ROOT / "ontology" / "tumour-effect-rules.ttl"
REFERENCE_DIR = ROOT / "ontology" / "reference"  # verified external identifiers (its README.md)
SHAPES_DIR = ROOT / "shapes"
TRIPLES_DIR = ROOT / "triples"
QUERIES_DIR = ROOT / "queries"
SOURCE_TEXT = ROOT / "source" / "review.txt"
BUILD_DIR = Path(os.environ["MSC_KG_BUILD"]) if os.environ.get("MSC_KG_BUILD") else _build_dir(ROOT)
