"""Validation: the real data conforms; each negative fixture triggers exactly its violation."""

from pathlib import Path

import pytest

from msc_kg.load import load, source_files
from msc_kg.build import full_graph
from msc_kg.validate import shapes_graph, validate_loaded

INVALID = sorted((Path(__file__).parent / "data" / "invalid").glob("*.ttl"))


def expectation(path: Path) -> tuple[str, str]:
    """The `# expect: <focus> | <message>` line heading each fixture."""
    first = path.read_text(encoding="utf-8").splitlines()[0]
    focus, message = first.removeprefix("# expect:").split("|", 1)
    return focus.strip(), message.strip()


@pytest.fixture(scope="module")
def shapes():
    return shapes_graph()


def base_files():
    """The ontology and the entity files a fixture refers to (no findings: keeps the test fast)."""
    keep = {"msc-kg.ttl", "tumour-effect-rules.ttl", "review.ttl", "cell-lines.ttl", "mediators.ttl"}
    return [p for p in source_files() if p.name in keep]


def _unused_entity(problem) -> bool:
    return problem.message.endswith(("(cell-line-not-used-violation.rq)", "(mediator-not-used-violation.rq)"))


def test_real_data_conforms(assembled):
    _, report = assembled
    assert report.conforms, report.text()


def test_there_are_at_least_fifteen_negative_fixtures():
    assert len(INVALID) >= 15


@pytest.mark.parametrize("fixture", INVALID, ids=lambda p: p.stem)
def test_negative_fixture_triggers_its_violation(fixture, shapes):
    focus, message = expectation(fixture)
    loaded = full_graph(load(base_files() + [fixture]))
    report = validate_loaded(loaded, shapes)
    assert not report.conforms
    mine = [p for p in report.problems if p.focus == focus]
    assert mine, report.text()
    assert all(p.file == str(fixture) for p in mine)
    assert any(message in p.message for p in mine), "\n".join(p.line() for p in mine)
    # the fixture breaks nothing else (pySHACL also reports the offending value of a sh:node);
    # the quality checks find the entity files' terms that no finding of these files uses
    others = [p for p in report.problems if p.focus != focus and not _unused_entity(p)]
    assert all(p.focus in " ".join(m.message for m in mine) for p in others), report.text()


def test_a_blank_node_statement_is_refused_and_gets_no_anchor(shapes, tmp_path):
    """A finding written as a blank node conformed, and the build minted relative IRIs from it
    (``<…#anchor>``) that made the release unloadable (hostile testing)."""
    from rdflib import BNode
    from rdflib.namespace import PROV

    fixture = tmp_path / "blank.ttl"
    fixture.write_text((INVALID[0].parent / "finding-missing-section.ttl").read_text(encoding="utf-8")
                       .replace("mscd:test-f12 a msc:Finding ;", "_:f a msc:Finding ;\n"
                                "    msc:inSection mscd:section-anticancer-2-breast ;"), encoding="utf-8")
    loaded = full_graph(load(base_files() + [fixture]))
    blank = next(s for s in loaded.graph.subjects() if isinstance(s, BNode))
    assert loaded.graph.value(blank, PROV.wasDerivedFrom) is None  # no "<_:f#anchor>"
    report = validate_loaded(loaded, shapes)
    assert sorted({p.message for p in report.problems if p.file == str(fixture)}) == [
        "Every finding, claim and quantitative outcome has an evidence sentence anchored in the "
        "review. (statement-without-evidence-violation.rq)",  # unanchored: blank
        "an individual of the review needs an IRI of https://w3id.org/msc-kg/id/ (mscd:), not a "
        "blank node"]


def test_a_file_in_a_folder_named_ontology_is_instance_data(shapes, tmp_path):
    """The ontology's files were told by their folder's name, so `validate --with
    /tmp/ontology/x.ttl` could edit the ontology (review)."""
    fixture = tmp_path / "ontology" / "x.ttl"
    fixture.parent.mkdir()
    fixture.write_text((INVALID[0].parent / "ontology-term-edited-in-instance-data.ttl")
                       .read_text(encoding="utf-8"), encoding="utf-8")
    report = validate_loaded(full_graph(load(base_files() + [fixture])), shapes)
    assert {(p.file, p.focus) for p in report.problems
            if p.message.startswith("instance data describes mscd: individuals only")} == {
        (str(fixture), "msc:Glioma")}


def test_a_blank_node_a_check_query_finds_is_named_as_the_file_names_it(shapes, tmp_path):
    """A quality check's row on a blank node was blamed on "(derived)" under a label of its own,
    while the shapes named the file and another label (hostile testing)."""
    fixture = tmp_path / "blank.ttl"
    fixture.write_text("@prefix msc: <https://w3id.org/msc-kg/ontology/> .\n"
                       "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
                       '[] a msc:Finding ; rdfs:label "blank finding" .\n', encoding="utf-8")
    report = validate_loaded(full_graph(load(base_files() + [fixture])), shapes)
    checked = [p for p in report.problems if "statement-without-evidence" in p.message]
    assert [p.file for p in checked] == [str(fixture)]
    assert checked[0].focus in {p.focus for p in report.problems if "msc:inSection" in p.message}


def test_the_report_counts_the_problems_it_lists():
    """pySHACL may report one problem twice; "3 problem(s)" headed one line (hostile testing)."""
    from msc_kg.validate import Problem, Report

    twice = Problem("f.ttl", "mscd:x", "", "wrong")
    assert Report([twice, twice]).text() == "Does not conform: 1 problem(s)\n  f.ttl: mscd:x: wrong"


def test_an_ill_typed_literal_is_quoted_as_written_and_quietly(shapes, tmp_path, capfd):
    """rdflib's normalising quoted "yes"^^xsd:boolean as "false", and its casts printed warnings
    and a traceback beside the report (hostile testing)."""
    fixture = tmp_path / "bool.ttl"
    fixture.write_text((INVALID[0].parent / "cell-line-bad-accession.ttl").read_text(encoding="utf-8")
                       .replace('msc:cellosaurusAccession "CVCL_12"',
                                'msc:misidentified "yes"^^xsd:boolean ; msc:referenceNumber "abc"^^xsd:integer'),
                       encoding="utf-8")
    report = validate_loaded(full_graph(load(base_files() + [fixture])), shapes)
    assert "msc:misidentified is one xsd:boolean (value: \"yes\"^^xsd:boolean)" in report.text()
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_nodes_sharing_a_label_are_one_problem_not_one_per_pair(tmp_path):
    """Every pair of same-labelled nodes was a problem: 1 500 cell lines labelled alike made
    1.1 million report lines, 81 s and 1.1 GB (hostile testing). One per shared label now."""
    from rdflib import Graph

    from msc_kg import violations

    lines = ["@prefix msc: <https://w3id.org/msc-kg/ontology/> . @prefix mscd: <https://w3id.org/msc-kg/id/> ."
             " @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> ."]
    lines += [f'mscd:cellline-dup{i:04d} a msc:CellLine ; rdfs:label "X" ; msc:cellosaurusAccession "CVCL_0001" .'
              for i in range(1500)]
    graph = Graph().parse(data="\n".join(lines), format="turtle")
    found = [(path.name, row) for path, _, row in violations.rows(graph)
             if path.name in ("duplicate-label-violation.rq", "cell-line-accession-mismatch-violation.rq")]
    assert sorted((name, str(row.get("node", row.get("line"))), int(row["holders"])) for name, row in found) == [
        ("cell-line-accession-mismatch-violation.rq", "https://w3id.org/msc-kg/id/cellline-dup0000", 1500),
        ("duplicate-label-violation.rq", "https://w3id.org/msc-kg/id/cellline-dup0000", 1500)]


def test_validation_without_shapes_or_quality_checks_refuses_to_say_conforms(tmp_path):
    """A renamed or emptied shapes file, or no violation query, turned the checks off while the
    report still said the data "satisfies every shape" (hostile testing)."""
    from msc_kg import violations
    from msc_kg.errors import MscKgError

    (tmp_path / "msc-kg-shapes.ttl").write_text("")
    with pytest.raises(MscKgError, match=f"^{tmp_path}: no SHACL node shape in its \\*.ttl files"):
        shapes_graph(tmp_path)
    with pytest.raises(MscKgError, match=f"^{tmp_path}: no \\*-violation.rq quality check"):
        violations.queries(tmp_path)


def test_inputs_besides_the_data_are_named_when_they_are_broken(tmp_path, monkeypatch):
    """A review text that is not UTF-8 and a derive query that does not parse ended in tracebacks
    naming no file (hostile testing)."""
    from msc_kg import derive, paths
    from msc_kg.errors import MscKgError, SourceParseError
    from msc_kg.source import review_text

    text = tmp_path / "review.txt"
    text.write_bytes(b"Abstract\nThe tumor \xe9 microenvironment\n")
    with pytest.raises(SourceParseError, match=f"^{text}:2: is not UTF-8 text \\(column 11: invalid "
                                               "continuation byte\\)$"):
        review_text(text)
    (tmp_path / "derive").mkdir()
    (tmp_path / "derive" / "broken.rq").write_text("SELEC ?x {")
    monkeypatch.setattr(paths, "QUERIES_DIR", tmp_path)
    with pytest.raises(MscKgError, match=f"^{tmp_path / 'derive' / 'broken.rq'}: does not run as SPARQL: "):
        derive.construct(__import__("rdflib").Graph(), "broken")


def test_a_statement_added_in_another_file_is_blamed_on_both_files(tmp_path, shapes):
    """A second direction added to a finding in another file was blamed on the finding's own
    file alone, so the file at fault was never named (hostile testing)."""
    fixture = Path(__file__).parent / "data" / "invalid" / "finding-two-directions.ttl"
    first = tmp_path / "finding.ttl"
    first.write_text(fixture.read_text(encoding="utf-8").replace("msc:Inhibits, msc:Promotes", "msc:Inhibits"),
                     encoding="utf-8")
    second = tmp_path / "added.ttl"
    second.write_text("@prefix msc: <https://w3id.org/msc-kg/ontology/> .\n"
                      "<https://w3id.org/msc-kg/id/test-f3> msc:effectDirection msc:Promotes .\n",
                      encoding="utf-8")
    report = validate_loaded(full_graph(load(base_files() + [first, second])), shapes)
    mine = [p for p in report.problems if p.path == "msc:effectDirection"]
    assert mine and all(p.file == f"{first}, {second}" for p in mine), report.text()


@pytest.mark.parametrize("sentence, numbers", [
    ("MSCs support ALL cells [5, 6].", {5, 6}),
    ("as reviewed [10-12] and [15\u201316]", {10, 11, 12, 15, 16}),
    ("no marker here, nor in [a]", set()),
    ("a hostile range [1-999999999]", {1, 999999999}),
])
def test_the_references_a_sentence_cites(sentence, numbers):
    from msc_kg.validate import cited

    assert cited(sentence) == numbers


XSD_NS = "http://www.w3.org/2001/XMLSchema#"


@pytest.mark.parametrize("text, datatype, ill", [
    ("abc", "integer", True), ("1_000", "integer", True), ("\u0663", "integer", True), ("-12", "integer", False),
    ("-3", "nonNegativeInteger", True), ("0", "nonNegativeInteger", False), ("0", "positiveInteger", True),
    ("1e5", "decimal", True), ("NaN", "decimal", True), ("-.5", "decimal", False),
    ("infinity", "double", True), ("-INF", "double", False), ("1.5E-3", "double", False),
    ("yes", "boolean", True), ("1", "boolean", False),
    ("2017-13-45", "date", True), ("-0001-01-01", "date", False), ("12024-01-01", "date", False),
    ("2015-10-28", "date", False), ("2024-01-01", "dateTime", True), ("2024-01-01T24:00:00Z", "dateTime", False),
    ("24:00:00", "time", False), ("24", "gYear", True), ("2017", "gYear", False),
    ("anything", "string", False),
])
def test_a_literal_is_checked_against_its_xsd_lexical_space(text, datatype, ill):
    """rdflib's ill_typed refused negative years and 24:00:00, took "1_000"^^xsd:integer and did
    not check xsd:gYear (hostile testing)."""
    from rdflib import Literal, URIRef

    from msc_kg.validate import ill_typed

    # as the loader makes them (load._term): as written, not normalised by rdflib
    assert ill_typed(Literal(text, datatype=URIRef(XSD_NS + datatype), normalize=False)) is ill


def test_an_html_literal_is_never_ill_typed():
    from rdflib import Literal, URIRef

    from msc_kg.validate import ill_typed

    assert not ill_typed(Literal("<b>bold", datatype=URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#HTML")))


def test_a_name_in_review_the_review_does_not_print_is_refused(tmp_path):
    """A cell line "Fakey-9" the review never names was released (hostile testing)."""
    from msc_kg.validate import name_problems

    fixture = tmp_path / "name.ttl"
    fixture.write_text('@prefix msc: <https://w3id.org/msc-kg/ontology/> .\n'
                       '@prefix mscd: <https://w3id.org/msc-kg/id/> .\n'
                       'mscd:cellline-MDAMB231 msc:nameInReview "Fakey-9" .\n')
    loaded = load(base_files() + [fixture])
    [problem] = name_problems(loaded)
    from msc_kg import paths

    assert problem.line() == (f"{paths.TRIPLES_DIR / 'cell-lines.ttl'}, {fixture}: mscd:cellline-MDAMB231 "
                              "msc:nameInReview: \"Fakey-9\" is not in "
                              "source/review.txt; write the name as the review does")


def test_a_failed_sh_node_is_one_problem_of_the_file_at_fault(shapes):
    """pySHACL tells why a sh:node failed in a result of its own, about the value: it was a second
    problem, naming the file that declares the value (ontology/msc-kg.ttl for msc:BoneMarrowMSC
    as a finding's cancer), which is not at fault (ontology audit)."""
    fixture = Path(__file__).parent / "data" / "invalid" / "finding-target-cancer-is-a-cell.ttl"
    report = validate_loaded(full_graph(load(base_files() + [fixture])), shapes)
    mine = [p for p in report.problems if not _unused_entity(p)]
    assert {p.file for p in mine} == {str(fixture)}


def test_nesting_past_the_limit_is_refused_with_its_file(tmp_path):
    """A collection nested 2 000 deep conformed, then failed the build after 88 s naming no file
    (the Turtle writer ran out of recursion); 20 000 deep held the build past 5 minutes
    (bad-input audit)."""
    from msc_kg.load import load
    from msc_kg.validate import MAX_NESTING, nesting_problems

    path = tmp_path / "nest.ttl"
    nest = lambda n, v: "(" * n + f'"{v}"' + ")" * n  # noqa: E731
    path.write_text("@prefix mscd: <https://w3id.org/msc-kg/id/> .\n"
                    "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
                    f"mscd:deep rdfs:comment {nest(MAX_NESTING + 6, 'x')} .\n"
                    "mscd:holder rdfs:seeAlso mscd:deep .\n"  # a named node held elsewhere is told too
                    f"[] rdfs:comment {nest(MAX_NESTING + 1, 'y')} .\n"
                    f"mscd:within rdfs:comment {nest(MAX_NESTING, 'z')} .\n", encoding="utf-8")
    problems = sorted(nesting_problems(load([path])), key=lambda p: p.message)
    assert [(p.file, p.path, p.message) for p in problems] == [
        (str(path), "rdfs:comment", f"nests blank nodes or collections {n} deep (at most {MAX_NESTING}): the "
                                    "release's writers recurse along them") for n in (MAX_NESTING + 1, MAX_NESTING + 6)]
    assert problems[1].focus == "mscd:deep" and problems[0].focus.startswith("_:")
