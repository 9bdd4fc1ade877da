"""Packaging: a wheel carries the data the package reads, and an install finds it."""

from __future__ import annotations

import tomllib
from pathlib import Path

from msc_kg import paths

ROOT = Path(__file__).resolve().parent.parent
DATA_DIRS = ("ontology", "triples", "shapes", "queries", "source")


def test_the_wheel_takes_every_data_file_of_the_checkout():
    """A wheel held the code alone: every command of a non-editable install failed (packaging
    review). pyproject's data-files patterns must take each file of the data folders."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    data_files = config["tool"]["setuptools"]["data-files"]
    taken = {}
    for target, patterns in data_files.items():
        assert target.startswith("share/msc-kg/")
        for pattern in patterns:
            for path in ROOT.glob(pattern):
                rel = path.relative_to(ROOT).as_posix()
                assert target == "share/msc-kg/" + rel.rsplit("/", 1)[0]  # installed where it lies
                taken[rel] = target
    present = {p.relative_to(ROOT).as_posix() for folder in DATA_DIRS for p in (ROOT / folder).rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith(".")}
    assert present - set(taken) == set()
    assert {"ontology/msc-kg.ttl", "source/review.txt", "queries/derive/tumour-effect.rq",
            "ontology/reference/cell-lines.tsv", "ontology/imports/bioregistry-prefixes.json"} <= set(taken)


def test_an_installed_package_finds_its_data_under_share(tmp_path):
    checkout = tmp_path / "site-packages"  # where a wheel puts the code: no ontology/ beside it
    checkout.mkdir()
    prefix = tmp_path / "venv"
    assert paths.find_root(checkout, [prefix]) == checkout  # nothing installed: named as missing
    data = prefix / "share" / "msc-kg" / "ontology"
    data.mkdir(parents=True)
    (data / "msc-kg.ttl").write_text("", encoding="utf-8")
    assert paths.find_root(checkout, [tmp_path / "other", prefix]) == prefix / "share" / "msc-kg"
    (checkout / "ontology").mkdir()
    (checkout / "ontology" / "msc-kg.ttl").write_text("", encoding="utf-8")
    assert paths.find_root(checkout, [prefix]) == checkout  # a checkout comes first (editable)


def test_the_data_is_looked_for_where_the_install_scheme_puts_it(tmp_path, monkeypatch):
    """Debian's system Python installs data files under /usr/local (its scheme's data path) while
    sys.prefix is /usr: the data was not found there (change review)."""
    import sysconfig

    local = tmp_path / "usr-local"
    (local / "share" / "msc-kg" / "ontology").mkdir(parents=True)
    (local / "share" / "msc-kg" / "ontology" / "msc-kg.ttl").write_text("", encoding="utf-8")
    real = sysconfig.get_path
    monkeypatch.setattr(sysconfig, "get_path", lambda name, *a, **k: str(local) if name == "data" else real(name, *a, **k))
    assert paths.find_root(tmp_path / "site-packages") == local / "share" / "msc-kg"


def test_a_read_only_install_builds_in_a_cache_folder_of_its_own(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(paths.os, "access", lambda path, mode: False)
    one, two = paths._build_dir(tmp_path / "a"), paths._build_dir(tmp_path / "b")
    assert one != two and one.parent.parent == tmp_path / "cache" / "msc-kg" and one.name == "build"


def test_the_packages_carry_their_licence_texts():
    """No licence text was shipped, and the review's text (CC BY-NC, the publisher's) went out
    under the code's and the graph's licences alone (install review)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "MIT AND CC-BY-4.0 AND CC-BY-NC-4.0"
    assert all((ROOT / name).is_file() for name in project["license-files"])
    assert "CC BY-NC 4.0" in (ROOT / "LICENSE-DATA.md").read_text(encoding="utf-8")



def test_the_data_is_found_where_the_install_recorded_it(tmp_path, monkeypatch):
    """pip --prefix put the data under another prefix than the interpreter's, and the package
    read another environment's data (install review): the install's RECORD says where it is."""
    import importlib.metadata

    data = tmp_path / "elsewhere" / "share" / "msc-kg"
    (data / "ontology").mkdir(parents=True)
    (data / "ontology" / "msc-kg.ttl").write_text("", encoding="utf-8")

    class File:
        def __init__(self, rel):
            self.rel = rel

        def as_posix(self):
            return self.rel

        def locate(self):
            return tmp_path / "elsewhere" / "lib" / ".." / self.rel

    class Installed:
        files = [File("msc_kg/paths.py"), File("share/msc-kg/ontology/msc-kg.ttl")]

    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: Installed())
    assert paths.find_root(tmp_path / "site-packages") == data
