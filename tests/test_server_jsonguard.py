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
    monkeypatch.setattr(jsonguard, "BLOCK", 7)  # read in small blocks
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


def minified(depth: int) -> bytes:
    """A one-line document ``depth`` levels deep whose strings hold brackets, escaped quotes and
    escaped backslashes, which no block boundary may turn into structure."""
    noise = '"k[{\\\\": "v\\"]}\\\\\\"[", '
    return ('{' + noise + '"http://e/p": {' * (depth - 1) + noise + '"@id": "http://e/x"'
            + "}" * depth).encode()


@pytest.mark.parametrize("block", [1, 2, 3, 5, 7, 11, 64])
def test_minified_json_is_read_in_blocks_without_misreading_strings(tmp_path, monkeypatch, block):
    """A one-line file was read whole (a block ran to its line's end): 24 MB took 457 MB. Blocks
    now end anywhere, inside a string or an escape too, and give the same verdict."""
    monkeypatch.setattr(jsonguard, "BLOCK", block)
    ok, deep = tmp_path / "ok.jsonld", tmp_path / "deep.jsonld"
    ok.write_bytes(minified(500))
    deep.write_bytes(minified(501))
    jsonguard.check(ok)
    with pytest.raises(ValueError, match="^line 1: JSON nested more than 500"):
        jsonguard.check(deep)


def test_a_minified_file_is_checked_in_bounded_memory(tmp_path):
    """A block and what its strings' substitution makes are held, not the file: a one-line file of
    16 MB (at 1 MB a block, the pieces of a block's 75 000 strings take about 18 MB)."""
    import tracemalloc

    big = tmp_path / "big.jsonld"
    unit = b'{"http://e/p": "a[\\"{", "http://e/q": [1, 2, {"@id": "http://e/x"}]}, '
    with open(big, "wb") as out:
        out.write(b"[")
        for _ in range(16):
            out.write(unit * ((1 << 20) // len(unit)))
        out.write(b"{}]")
    tracemalloc.start()
    try:
        jsonguard.check(big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * jsonguard.BLOCK, peak


@pytest.mark.parametrize("content, kind, line", [
    ('"hello"', "a string", 1), ("\n\n 42\n", "a number", 3), ("\ufefftrue", "true", 1), ("null", "null", 1),
    ("-1.5", "a number", 1), ("false", "false", 1),
])
def test_a_json_document_that_is_no_object_or_array_is_refused_by_name(tmp_path, capsys, content, kind, line):
    """Oxigraph's parser read a bare JSON string as an empty graph: validate --with said the data
    conformed, and the server served nothing from it (bad-input testing)."""
    bare = tmp_path / "bare.jsonld"
    bare.write_text(content, encoding="utf-8")
    message = f"line {line}: the document is {kind}; a JSON-LD document is a JSON object or array"
    with pytest.raises(DataError) as raised:
        load_files([bare])
    assert str(raised.value) == f"{bare}: {message}"
    assert main(["validate", "--with", str(bare)]) == 1
    assert capsys.readouterr().err == f"{bare}:{line}: does not parse as json-ld: {message}\n"
    for not_json in ("tomato", '-{"a": 1}', "nope {}", "trueish"):  # only begins like one: the
        bare.write_text(not_json, encoding="utf-8")  # parser's message (code review: "the document is true")
        with pytest.raises(DataError) as raised:
            load_files([bare])
        assert "the document is" not in str(raised.value)
    fine = tmp_path / "fine.jsonld"
    fine.write_text('\n  [{"@id": "http://e/s", "http://e/p": "o"}]', encoding="utf-8")
    assert len(load_files([fine])) == 1
