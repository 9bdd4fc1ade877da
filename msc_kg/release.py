"""The built release: check it is fresh, (re)build it if not, and load it for querying."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from msc_kg import paths
from msc_kg.errors import MscKgError

MANIFEST = "manifest.json"


def read_manifest(build_dir: Path | None = None) -> dict | None:
    """The manifest of the last build, or None when there is none (or it is not a manifest)."""
    path = Path(build_dir or paths.BUILD_DIR) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def file_record(path: Path) -> dict:
    """The size and SHA-256 of a release file, as the manifest records them."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def damage(manifest: dict, build_dir: Path | None = None, names=None) -> str | None:
    """What is wrong with the release files ``names`` (default: all the manifest lists) against
    the manifest, or None when each is there as it was written."""
    folder = Path(build_dir or paths.BUILD_DIR)
    recorded = manifest.get("artefacts")
    if not isinstance(recorded, dict):
        return f"{folder / MANIFEST} lists no artefacts (written by an older build)"
    for name in names or sorted(recorded):
        path = folder / name
        if name not in recorded:
            return f"{path} is not in the manifest"
        if not isinstance(recorded[name], dict):  # a traceback, not a rebuild (hostile testing)
            return f"{folder / MANIFEST} does not record the size and SHA-256 of {name}"
        if not path.is_file():
            return f"{path} is missing"
        if file_record(path) != recorded[name]:
            return (f"{path} is not the file the build wrote ({path.stat().st_size} bytes, "
                    f"{recorded[name].get('bytes')} recorded): a build was interrupted or the file "
                    "changed")
    return None


def stale(manifest: dict | None, build_dir: Path | None = None) -> str | None:
    """Why the release in ``build_dir`` with this ``manifest`` must be built again, or None when
    it is fresh: built from exactly the current sources, and the files it lists (and msc-kg.nt)
    are as the build wrote them."""
    from msc_kg.build import source_digest

    if not manifest:
        return f"there is none in {build_dir or paths.BUILD_DIR}"
    if manifest.get("source_digest") != source_digest():
        return "the sources changed since it was built"
    recorded = manifest.get("artefacts")
    # the graph is checked even when the manifest does not list it (a truncated msc-kg.nt was
    # served beside a manifest without its record: hostile testing)
    names = sorted(set(recorded) | {"msc-kg.nt"}) if isinstance(recorded, dict) else None
    return damage(manifest, build_dir, names)


def ensure_release(build_dir: Path | None = None) -> dict:
    """Return the manifest of a fresh, validated release, building one if needed.

    Start-up reuses build/ when its digest matches the sources (no parsing, validation,
    derivation or reasoning again); otherwise it builds as `msc-kg build` does, which raises
    ValidationFailed or Inconsistent on bad data (served unreasoned, data HermiT refuses went
    out: hostile testing) and notes in the manifest when no Java runs the reasoner.
    """
    manifest = read_manifest(build_dir)
    reason = stale(manifest, build_dir)
    if reason is None:
        return manifest
    from msc_kg.build import build

    print(f"msc-kg: building the release, as {reason} (under a minute)", file=sys.stderr, flush=True)
    return build(out_dir=build_dir, write_owl=False).manifest


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
    graph = release_files(build_dir)[0]
    # ensure_release checked every file (stale) or wrote them: hashed once at a start, not twice
    if not rebuild and (problem := damage(manifest, build_dir, [graph.name])):
        raise MscKgError(f"{problem}; run `msc-kg build`")
    return load_files([graph]), manifest


def load_graph(build_dir: Path | None = None):
    """The release as an rdflib Graph, for Python users who work with rdflib."""
    from rdflib import Graph

    ensure_release(build_dir)  # fresh and whole (stale), or built now
    path = release_files(build_dir)[0]
    graph = Graph()
    graph.parse(path, format="nt")
    return graph
