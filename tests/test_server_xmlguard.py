"""RDF/XML entity expansion (msc_kg.server.xmlguard): bombs are refused before Oxigraph parses them,
files that use entities the usual way load as before."""

from __future__ import annotations

import time

import pytest

from msc_kg.server import dataset, xmlguard

RDF = 'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://example.org/"'


def laughs(levels: int = 7) -> str:
    """The "billion laughs": each entity is ten of the one before it."""
    decls = ['<!ENTITY l0 "' + "ha" * 50 + '">']
    decls += [f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10}">' for i in range(1, levels + 1)]
    return (f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [\n {chr(10).join(decls)}\n]>\n'
            f'<rdf:RDF {RDF}><rdf:Description rdf:about="http://example.org/s">'
            f"<ex:p>&l{levels};</ex:p></rdf:Description></rdf:RDF>\n")


def write(tmp_path, text: str, name: str = "data.rdf", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_billion_laughs_is_refused_at_once_naming_the_entity(tmp_path):
    path = write(tmp_path, laughs())
    started = time.monotonic()
    with pytest.raises(dataset.DataError) as info:
        dataset.load_files([path])
    assert time.monotonic() - started < 2  # nothing was expanded
    assert str(info.value) == (
        f"{path}: its entity 'l5' would expand to 10,000,000 characters (limit 1,048,576); RDF/XML "
        "entity expansion this large is refused, because it would exhaust memory. Expand the "
        "entities yourself, or convert the file to Turtle or N-Triples.")


def test_billion_laughs_of_parameter_entities_is_refused(tmp_path):
    """The parser expands "&l8;" declared as "<!ENTITY % l8 …>" too: a 741-byte file made each
    serving process 2.9 GB (hostile testing)."""
    path = write(tmp_path, laughs(9).replace("<!ENTITY ", "<!ENTITY % "))
    with pytest.raises(dataset.DataError) as info:
        dataset.load_files([path])
    assert str(info.value).startswith(f"{path}: its entity 'l5' would expand to 10,000,000 characters")


def test_a_parameter_entity_referenced_in_content_is_not_xml(tmp_path):
    """XML expands a parameter entity only in the DTD: "&l1;" in content names no entity."""
    path = write(tmp_path, laughs(1).replace("<!ENTITY ", "<!ENTITY % "))
    with pytest.raises(dataset.DataError) as info:
        dataset.load_files([path])
    assert str(info.value) == (f"{path}: line 6, column 153: not well-formed XML: undefined entity "
                               "(RDF/XML is XML)")


@pytest.mark.parametrize("cut", [0, 40, -60, -16])
def test_a_truncated_file_is_refused_naming_where(tmp_path, cut):
    """Oxigraph served the statements it had read of a file cut off before its elements closed
    (hostile testing); an empty file had no graph at all."""
    text = laughs(0)
    path = write(tmp_path, text[:cut] if cut else "")
    with pytest.raises(dataset.DataError, match=r"line \d+, column \d+: not well-formed XML: "):
        dataset.load_files([path])


def test_billion_laughs_after_a_utf8_byte_order_mark_is_refused(tmp_path):
    path = tmp_path / "bom.rdf"
    path.write_bytes(b"\xef\xbb\xbf" + laughs().encode("utf-8"))
    with pytest.raises(dataset.DataError, match="its entity 'l5' would expand to 10,000,000"):
        dataset.load_files([path])


def test_billion_laughs_in_utf16_is_refused(tmp_path):
    """The entity scan reads UTF-8; in UTF-16 the well-formedness check's parser (expat) refuses
    the bomb itself, by its limit on entity amplification (Oxigraph reads UTF-8 only)."""
    path = write(tmp_path, laughs().replace('encoding="utf-8"', ""), encoding="utf-16")
    started = time.monotonic()
    with pytest.raises(dataset.DataError, match="limit on input amplification factor"):
        dataset.load_files([path])
    assert time.monotonic() - started < 2


def test_many_references_to_a_large_entity_are_refused(tmp_path):
    """Linear growth: 100 KB entities under the per-entity limit, referenced 2,000 times."""
    body = "".join(f'<rdf:Description rdf:about="http://example.org/s{i}"><ex:p>&big;</ex:p>'
                   "</rdf:Description>" for i in range(2000))
    path = write(tmp_path, f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [ <!ENTITY big "{"x" * 100_000}"> ]>\n'
                           f"<rdf:RDF {RDF}>{body}</rdf:RDF>\n")
    limit = xmlguard.growth_limit(path.stat().st_size)
    with pytest.raises(dataset.DataError) as info:
        dataset.load_files([path])
    assert f"its entity references would add 199,990,000 characters (limit {limit:,}" in str(info.value)


def test_recursive_entities_are_refused(tmp_path):
    path = write(tmp_path, f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [ <!ENTITY a "x&b;"> '
                           f'<!ENTITY b "y&c;"> <!ENTITY c "&a;"> ]>\n<rdf:RDF {RDF}/>\n')
    with pytest.raises(dataset.DataError, match="refers to itself through other entities"):
        dataset.load_files([path])


def test_namespace_entities_as_protege_writes_them_load(tmp_path):
    path = write(tmp_path, f'''<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [
    <!ENTITY owl "http://www.w3.org/2002/07/owl#" >
    <!ENTITY ex "http://example.org/" >
    <!-- namespaces -->
    <!ENTITY exs "&ex;sub/" >
]>
<rdf:RDF {RDF} xmlns:owl="&owl;">
  <owl:Class rdf:about="&ex;A"/>
  <owl:Class rdf:about="&exs;B"><ex:note>x &amp; y &#233;</ex:note></owl:Class>
</rdf:RDF>
''')
    store = dataset.load_files([path])
    subjects = sorted(str(q.subject) for q in store)
    assert subjects == ["<http://example.org/A>", "<http://example.org/sub/B>",
                        "<http://example.org/sub/B>"]


def test_an_entity_shared_by_several_others_is_not_taken_for_recursion(tmp_path):
    path = write(tmp_path, f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [ <!ENTITY c "http://example.org/"> '
                           f'<!ENTITY b "&c;"> <!ENTITY a "&b;&c;"> ]>\n'
                           f'<rdf:RDF {RDF}><rdf:Description rdf:about="&a;x"><ex:p>1</ex:p>'
                           "</rdf:Description></rdf:RDF>\n")
    store = dataset.load_files([path])
    assert [str(q.subject) for q in store] == ["<http://example.org/http://example.org/x>"]


@pytest.mark.parametrize("where", [
    "after an empty one",  # the parser honours a second document type declaration
    "inside the content",  # and one that comes after the root element has begun
    "inside a comment of the declaration",  # and declarations inside its comments
])
def test_a_bomb_wherever_the_parser_would_read_it_is_refused(tmp_path, where):
    decls = laughs().split("[", 1)[1].split("]>", 1)[0]
    doc = f'<rdf:RDF {RDF}><rdf:Description rdf:about="http://example.org/s"><ex:p>1</ex:p></rdf:Description>'
    if where == "after an empty one":
        text = f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [ ]>\n<!DOCTYPE rdf:RDF [{decls}]>\n{doc}</rdf:RDF>'
    elif where == "inside the content":
        text = f'<?xml version="1.0"?>\n{doc}<!DOCTYPE x [{decls}]></rdf:RDF>'
    else:
        text = f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [ <!-- {decls} --> ]>\n{doc}</rdf:RDF>'
    with pytest.raises(dataset.DataError, match="its entity 'l5' would expand to 10,000,000"):
        dataset.load_files([write(tmp_path, text)])


def test_a_commented_out_declaration_outside_a_doctype_is_not_an_entity(tmp_path):
    path = write(tmp_path, f'<?xml version="1.0"?>\n<!-- <!ENTITY a "{"x" * 2_000_000}"> -->\n'
                           f'<rdf:RDF {RDF}><rdf:Description rdf:about="http://example.org/s">'
                           "<ex:p>&amp;</ex:p></rdf:Description></rdf:RDF>\n")
    assert xmlguard.check(path) is None
    assert len(dataset.load_files([path])) == 1


def test_a_bomb_behind_a_long_comment_is_refused(tmp_path):
    path = write(tmp_path, laughs().replace("<!DOCTYPE", "<!--" + "x" * 5_000_000 + "-->\n<!DOCTYPE", 1))
    with pytest.raises(dataset.DataError, match="its entity 'l5' would expand to 10,000,000"):
        dataset.load_files([path])


def test_a_bomb_declared_with_a_lower_case_doctype_is_refused(tmp_path):
    """Oxigraph's parser accepts "<!doctype" too, so the guard must not read past it."""
    path = write(tmp_path, laughs().replace("<!DOCTYPE", "<!doctype", 1))
    with pytest.raises(dataset.DataError, match="its entity 'l5' would expand to 10,000,000"):
        dataset.load_files([path])
