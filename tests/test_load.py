"""Loading: all files or nothing, with the file and line of a syntax error."""

import pytest

from msc_kg.errors import SourceParseError
from msc_kg.load import load, parse_file, source_files


def test_sources_include_ontology_rules_and_every_triples_file():
    names = [p.name for p in source_files()]
    assert names[:2] == ["msc-kg.ttl", "tumour-effect-rules.ttl"]
    assert "cell-lines.ttl" in names and "mediators.ttl" in names


def test_syntax_error_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.ttl"
    bad.write_text("@prefix ex: <http://example.org/> .\n\nex:a ex:b ex:c .\nex:d ex:e \"unterminated .\n")
    with pytest.raises(SourceParseError) as info:
        parse_file(bad)
    assert info.value.path == str(bad)
    assert info.value.line == 4
    assert str(info.value).startswith(f"{bad}:4: does not parse as turtle")


def test_one_bad_file_loads_nothing(tmp_path):
    good = tmp_path / "good.ttl"
    good.write_text("<http://example.org/a> <http://example.org/b> <http://example.org/c> .\n")
    bad = tmp_path / "bad.ttl"
    bad.write_text("<http://example.org/a> <http://example.org/b> .\n")
    with pytest.raises(SourceParseError):
        load([good, bad])


def test_missing_file_is_reported():
    with pytest.raises(SourceParseError, match="file not found"):
        parse_file("no/such/file.ttl")


def test_file_not_in_utf8_names_line_and_column(tmp_path):
    bad = tmp_path / "latin1.ttl"
    bad.write_bytes('@prefix ex: <http://example.org/> .\nex:a ex:b "café" .\n'.encode("latin-1"))
    with pytest.raises(SourceParseError) as info:
        parse_file(bad)
    assert str(info.value) == (f"{bad}:2: is not UTF-8 text (column 15: invalid continuation byte); "
                               "RDF files are read as UTF-8")
