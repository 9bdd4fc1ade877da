"""JSON-LD nesting is checked before Oxigraph's parser reads a file (msc_kg.server.jsonguard)."""

from __future__ import annotations

import pytest

from msc_kg.cli import main
from msc_kg.server import jsonguard
from msc_kg.server.dataset import DataError, load_files

MESSAGE = ("JSON nested more than 500 levels deep; the JSON-LD parser's time and memory grow with the "
           "square of the depth, and it fails past a few thousand")


def nested(depth: int, before: str = "") -> str:
    return before + '{"@id": "http://e/s", ' + '"http://e/p": {' * depth + '"@id": "http://e/x"' + "}" * (depth + 1)


def test_depth_within_the_limit_passes_and_strings_do_not_count(tmp_path):
    ok = tmp_path / "ok.jsonld"
    ok.write_text(nested(499).replace('"http://e/p": {', '"http://e/l": "[[[{{{ \\" [[[", "http://e/p": {', 1))
    jsonguard.check(ok)
    assert len(load_files([ok])) == 500  # 499 links and the string


def test_deeper_nesting_is_refused_with_its_line(tmp_path, monkeypatch):
    deep = tmp_path / "deep.jsonld"
    deep.write_text(nested(6000, before="\n\n"))  # 6 000 levels overflowed the parser's stack
    with pytest.raises(ValueError) as raised:
        jsonguard.check(deep)
    assert str(raised.value) == f"line 3: {MESSAGE}"
    monkeypatch.setattr(jsonguard, "BLOCK", 7)  # read in small blocks, to their line's end
    with pytest.raises(ValueError, match="^line 3: JSON nested"):
        jsonguard.check(deep)


def test_server_loader_and_validate_refuse_it_by_name(tmp_path, capsys):
    """The server's loader died with "could not be loaded (see above)" and nothing above, and
    msc-kg validate with a segmentation fault (hostile testing)."""
    deep = tmp_path / "deep.jsonld"
    deep.write_text(nested(6000))
    with pytest.raises(DataError) as raised:
        load_files([deep])
    assert str(raised.value) == f"{deep}: line 1: {MESSAGE}"
    assert main(["validate", "--with", str(deep)]) == 1
    assert capsys.readouterr().err == f"{deep}:1: does not parse as json-ld: line 1: {MESSAGE}\n"


def test_an_open_string_of_escaped_quotes_takes_linear_time(tmp_path):
    """A string left open was tried again from each of its escaped quotes: 40 000 took 17 s
    (hostile testing). Oxigraph then refuses the file as it is."""
    import time

    bad = tmp_path / "open.jsonld"
    bad.write_bytes(b'{"a":"' + b'\\"' * 200_000 + b"\n{[[[[\n")
    start = time.monotonic()
    jsonguard.check(bad)  # not too deep: the parser says what is wrong
    assert time.monotonic() - start < 2
    with pytest.raises(DataError, match="^" + str(bad).replace("/", "/") + ": "):
        load_files([bad])
