"""The built release: check it is fresh, (re)build it if not, and load it for querying."""

from __future__ import annotations

import json
from pathlib import Path

from msc_kg import paths
from msc_kg.errors import MscKgError

MANIFEST = "manifest.json"


def read_manifest(build_dir: Path | None = None) -> dict | None:
    """The manifest of the last build, or None when there is none."""
    path = Path(build_dir or paths.BUILD_DIR) / MANIFEST
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def is_fresh(manifest: dict | None) -> bool:
    """True when the manifest was built from exactly the current sources."""
    from msc_kg.build import source_digest

    return bool(manifest) and manifest.get("source_digest") == source_digest()


def ensure_release(build_dir: Path | None = None) -> dict:
    """Return the manifest of a fresh, validated release, building one if needed.

    Start-up reuses build/ when its digest matches the sources (no parsing, validation or
    derivation again); otherwise it builds, which raises ValidationFailed on bad data.
    The reasoner is left to `msc-kg build`: it needs Java and takes seconds.
    """
    manifest = read_manifest(build_dir)
    if is_fresh(manifest):
        return manifest
    from msc_kg.build import build

    return build(out_dir=build_dir, reasoner=False, write_owl=False).manifest


def release_files(build_dir: Path | None = None) -> list[Path]:
    """The files load_release reads: the graph and the manifest."""
    folder = Path(build_dir or paths.BUILD_DIR)
    return [folder / "msc-kg.nt", folder / MANIFEST]


def load_release(build_dir: Path | None = None, rebuild: bool = True):
    """A pyoxigraph Store holding the validated release, and its manifest. With ``rebuild`` False
    the release is loaded as it is, fresh or not (a server loading it again for a new serving
    process must serve what the others serve); MscKgError when there is none."""
    from msc_kg.server.dataset import load_files  # as --data files are (blank-node labels kept)

    manifest = ensure_release(build_dir) if rebuild else read_manifest(build_dir)
    if manifest is None:
        raise MscKgError(f"no built release in {build_dir or paths.BUILD_DIR}; run `msc-kg build`")
    return load_files([release_files(build_dir)[0]]), manifest


def load_graph(build_dir: Path | None = None):
    """The release as an rdflib Graph, for Python users who work with rdflib."""
    from rdflib import Graph

    ensure_release(build_dir)
    graph = Graph()
    graph.parse(release_files(build_dir)[0], format="nt")
    return graph
