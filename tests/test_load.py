"""Loading: all files or nothing, with the file and line of a syntax error."""

import pytest

from msc_kg.errors import SourceParseError
from msc_kg.load import load, parse_file, source_files
from msc_kg.server.dataset import DataError, load_files


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


ONE_TRIPLE = {  # one triple <http://ex.org/a> <http://ex.org/b> "x", in each syntax
    "turtle": '<http://ex.org/a> <http://ex.org/b> "x" .\n',
    "n-quads": '<http://ex.org/a> <http://ex.org/b> "x" <http://ex.org/g> .\n',
    "rdf/xml": ('<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
                'xmlns:ex="http://ex.org/">\n<rdf:Description rdf:about="http://ex.org/a"><ex:b>x</ex:b>'
                '</rdf:Description>\n</rdf:RDF>\n'),
    "json-ld": '{"@id": "http://ex.org/a", "http://ex.org/b": "x"}\n',
    "trig": '<http://ex.org/g> { <http://ex.org/a> <http://ex.org/b> "x" . }\n',
}


@pytest.mark.parametrize("suffix, syntax", [
    (".xml", "rdf/xml"), (".owl", "rdf/xml"), (".json", "json-ld"), (".jsonld", "json-ld"),
    (".nquads", "n-quads"), (".nq", "n-quads"), (".ntriples", "turtle"), (".nt", "turtle"),
    (".turtle", "turtle"), (".n3", "turtle"), (".trig", "trig"), (".TTL", "turtle"),
])
def test_every_extension_the_server_reads_is_read_in_its_format(tmp_path, suffix, syntax):
    """validate --with read .xml, .json and .nquads files as Turtle ("does not parse as turtle"),
    which serve --data reads by its own table (hostile testing): one table, the server's, now."""
    path = tmp_path / f"one{suffix}"
    path.write_text(ONE_TRIPLE[syntax])
    assert {tuple(map(str, t)) for t in parse_file(path)} == {("http://ex.org/a", "http://ex.org/b", "x")}
    assert len(load_files([path])) == 1  # as the server loads it


@pytest.mark.parametrize("name", ["data.txt", "data"])
def test_unknown_extension_is_refused_naming_the_known_ones_as_the_server_does(tmp_path, name):
    """A .txt file was parsed as Turtle, silently; the server refuses it by name."""
    path = tmp_path / name
    path.write_text(ONE_TRIPLE["turtle"])
    with pytest.raises(SourceParseError) as info:
        parse_file(path)
    what = "unknown RDF file extension '.txt'" if name.endswith(".txt") else "no RDF file extension"
    assert str(info.value) == (f"{path}: {what} (known: .json, .jsonld, .n3, .nq, .nquads, .nt, "
                               ".ntriples, .owl, .rdf, .trig, .ttl, .turtle, .xml)")
    with pytest.raises(DataError) as served:
        load_files([path])
    assert str(served.value) == str(info.value)


BOM = "\ufeff"
RDF = ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://ex.org/">\n'
       '<rdf:Description rdf:about="http://ex.org/a"><ex:b>{}</ex:b></rdf:Description>\n</rdf:RDF>\n')
SERVED_NO_LINE = ("<!ENTITY values should be enclosed in double quotes",
                  "No LoadDocumentCallback has been set to load remote contexts")


@pytest.mark.parametrize("name, text, iri, line", [
    ("relative.rdf", RDF.format("x").replace('rdf:about="http://ex.org/a"', 'rdf:about="#a"'), "#a", 2),
    ("relative.jsonld", '{"@id": "rel", "http://ex.org/b": "x"}', "rel", 1),
    ("datatype.rdf", RDF.format("x").replace("<ex:b>", '<ex:b rdf:datatype="mytype">'), "mytype", 2),
    ("datatype.jsonld", '{\n"@id": "http://ex.org/a",\n"http://ex.org/b": {"@value": "x", "@type": "mytype"}}',
     "mytype", 3),
])
def test_a_relative_iri_is_refused_in_the_syntaxes_that_name_no_line(tmp_path, name, text, iri, line):
    """It became a file: IRI of the machine's path, released and served; JSON-LD without a base
    would drop the statement without a word (hostile testing). The parser gives no position: the
    loader names the first line that writes the IRI (it named none: hostile testing)."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    reason = f"holds the relative IRI <{iri}>: data files are read without a base, so write each IRI in full"
    with pytest.raises(SourceParseError) as info:
        parse_file(path)
    assert str(info.value) == f"{path}:{line}: {reason}"
    with pytest.raises(DataError) as served:
        load_files([path])
    assert str(served.value) == f"{path}: {reason}"


@pytest.mark.parametrize("name, text, line, column, reason", [
    ("xxe.rdf", '<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
                + RDF.format("&xxe;"),
     2, 20, "the external entity declaration <!ENTITY xxe SYSTEM \"file:///etc/passwd\"> is refused: an "
            "external entity is never read, as it could read a local file or the network; put its value "
            "in the declaration, in double quotes, or expand it"),
    ("pe.rdf", '<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [\n  <!ENTITY % pe PUBLIC "-//x//y" '
               '"http://ex.org/d">\n]>\n' + RDF.format("x"),
     3, 3, "the external entity declaration <!ENTITY % pe PUBLIC \"-//x//y\" \"http://ex.org/d\"> is "
           "refused: an external entity is never read, as it could read a local file or the network; "
           "put its value in the declaration, in double quotes, or expand it"),
    ("squote.rdf", '<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [<!ENTITY ok "http://ex.org/"><!ENTITY ex '
                   "'http://ex.org/'>]>\n" + RDF.format("&ok;&ex;"),
     2, 49, "the entity declaration <!ENTITY ex 'http://ex.org/'> has its value in single quotes, which "
            "XML allows but the RDF/XML parser does not; write it in double quotes"),
    ("remote.jsonld", '{\n  "@context": "http://127.0.0.1:9/ctx.jsonld",\n  "@id": "http://ex.org/a"}\n',
     2, None, "the JSON-LD context \"http://127.0.0.1:9/ctx.jsonld\" (@context) is not fetched: remote "
              "contexts are never loaded, from the network or another file; put the context itself in the "
              "file"),
    ("import.jsonld", '{"@context": {"@import": "ctx.jsonld"}, "@id": "http://ex.org/a"}\n',
     1, None, "the JSON-LD context \"ctx.jsonld\" (@import) is not fetched: remote contexts are never "
              "loaded, from the network or another file; put the context itself in the file"),
    ("bom.ttl", f'{BOM}@prefix ex: <http://ex.org/> .\r\nex:a ex:b "x" .\r\n',
     1, 1, "the file starts with a byte order mark (U+FEFF), which the Turtle parser does not accept; "
           "save it as UTF-8 without a byte order mark"),
    ("bom.nt", f'{BOM}<http://ex.org/a> <http://ex.org/b> "x" .\n',
     1, 1, "the file starts with a byte order mark (U+FEFF), which the N-Triples parser does not accept; "
           "save it as UTF-8 without a byte order mark"),
    ("relative.ttl", '@prefix ex: <http://ex.org/> .\nex:a ex:b ex:c .\n<relative-subject> ex:b "x" .\n',
     3, 1, "Parser error at line 3 between columns 1 and 19: No scheme found in an absolute IRI (a relative "
           "IRI: data files are read without a base, so write each IRI in full or with a prefix, or declare "
           "@base)"),
    ("midbom.ttl", f'@prefix ex: <http://ex.org/> .\n{BOM}ex:a ex:b "x" .\n',
     2, 1, "Parser error at line 2 between columns 1 and 6: The prefix <U+FEFF>ex: has not been declared"),
])
def test_parse_errors_say_what_is_refused_and_where(tmp_path, name, text, line, column, reason):
    """Oxigraph's messages named no line and another problem (an external or single-quoted entity:
    "<!ENTITY values should be enclosed in double quotes"; a remote context: "No LoadDocumentCallback
    has been set"), or printed a byte order mark raw, invisibly (hostile testing). validate and
    serve --data give the same reason; nothing is fetched."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SourceParseError) as info:
        parse_file(path)
    assert info.value.line == line
    assert info.value.reason.endswith(f": {reason}")
    with pytest.raises(DataError) as served:
        load_files([path])
    where = f"line {line}" + (f", column {column}" if column else "")
    assert str(served.value) == f"{path}: {where}: {reason}"
    assert BOM not in str(served.value) and not any(old in str(served.value) for old in SERVED_NO_LINE)


def test_every_entry_of_triples_is_read_or_refused(tmp_path):
    """A dangling link, x.TTL, x.trig or a subfolder in triples/ was left out without a word
    (hostile testing); editors' hidden and backup files are let be."""
    triples = tmp_path / "triples"
    triples.mkdir()
    (triples / "a.ttl").write_text("")
    (triples / ".a.ttl.swp").write_text("")
    (triples / "a.ttl~").write_text("")
    (triples / "gone.ttl").symlink_to(tmp_path / "nowhere.ttl")
    (triples / ".hidden.ttl").write_text("")  # was read, though ls does not show it
    (triples / ".#a.ttl").symlink_to("user@host.123:456")  # Emacs's lock: failed the build
    assert [p.name for p in source_files(tmp_path)] == [  # the ontology's files, named if missing
        "msc-kg.ttl", "tumour-effect-rules.ttl", "external-terms.ttl", "a.ttl", "gone.ttl"]
    with pytest.raises(SourceParseError, match=r"^.*gone.ttl: file not found \(a symbolic link to nothing\)$"):
        parse_file(triples / "gone.ttl")
    (triples / "loop.ttl").symlink_to("loop.ttl")  # was "file not found" (bad-input testing)
    from msc_kg.errors import SourceUnreadable  # an I/O error: exit 2 (bad-input audit)

    with pytest.raises(SourceUnreadable, match="^.*loop.ttl: cannot be read: Too many levels of symbolic links$"):
        parse_file(triples / "loop.ttl")
    (triples / "loop.ttl").unlink()
    for name in ("b.TTL", "c.trig", "sub"):
        extra = triples / name
        extra.mkdir() if name == "sub" else extra.write_text("")
        with pytest.raises(SourceParseError) as info:
            source_files(tmp_path)
        assert str(info.value) == (f"{extra}: is not read: the sources are the triples/*.ttl files; "
                                   "rename it to .ttl or move it out of triples/")
        extra.rmdir() if name == "sub" else extra.unlink()


def test_a_missing_ontology_file_is_named_not_left_out(tmp_path):
    """Without ontology/tumour-effect-rules.ttl the build conformed and wrote 6 of the 238 derived
    tumour effects (packaging review)."""
    from msc_kg.load import load

    (tmp_path / "ontology" / "imports").mkdir(parents=True)
    (tmp_path / "triples").mkdir()
    for name in ("msc-kg.ttl", "imports/external-terms.ttl"):
        (tmp_path / "ontology" / name).write_text("", encoding="utf-8")
    with pytest.raises(SourceParseError) as info:
        load(source_files(tmp_path))
    assert str(info.value) == f"{tmp_path / 'ontology' / 'tumour-effect-rules.ttl'}: file not found"
