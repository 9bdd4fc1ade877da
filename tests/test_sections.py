"""The review's sections located in its text (msc:opensWith, msc:closesWith)."""

from rdflib import RDF, Graph, Literal, URIRef

from msc_kg import sections
from msc_kg.load import MSCNS
from msc_kg.namespaces import MSCD
from msc_kg.source import review_text


def _at(where, words: str) -> str:
    """The section the text at ``words`` belongs to, as its mscd: local name."""
    text = review_text()
    assert text.count(words) == 1, words
    return str(where.section_at(text.find(words))).removeprefix(MSCD)


def test_every_section_is_located_and_tables_and_figures_interrupt_the_body(graph):
    where = sections.layout(graph, review_text())
    assert where.errors == []
    assert len(where.body) == 23 and len(where.blocks) == 4  # Tables 1 and 2, Figures 1 and 2
    assert _at(where, "The tumor microenvironment (TME)") == "section-abstract"
    assert _at(where, "Altogether, the MSCs derived") == "section-anticancer-summary"
    assert _at(where, "Type of MSCs Tumor propagating") == "section-table-1"
    assert _at(where, "establish cell-cell contacts. 2. MSC transition") == "section-figure-1"
    # the body text after Table 1 and Figure 1 is section 2.1's again, then 2.2's
    assert _at(where, "CAFs as a major constituent") == "section-mechanism-2-msc-caf"
    assert _at(where, "NCT02530047") == "section-table-2"
    assert _at(where, "Search performed on October 28th") == "section-table-2"  # its msc:closesWith
    assert _at(where, "Recently, two phenotypes of MSCs") == "section-future"


def test_no_statement_of_the_graph_is_misplaced(graph):
    assert list(sections.misplaced(graph, review_text())) == []


def test_a_closing_not_after_the_opening_is_named_and_stops_the_statement_check(graph):
    copy = Graph() + graph
    table = URIRef(MSCD + "section-table-1")
    copy.set((table, MSCNS.closesWith, Literal("2. Breast cancers")))  # printed before Table 1
    where = sections.layout(copy, review_text())
    assert where.errors == [(table, MSCNS.closesWith, "\"2. Breast cancers\" is not in source/review.txt "
                             "after the section's msc:opensWith")]
    assert list(sections.misplaced(copy, review_text(), where)) == []


def test_a_section_opening_where_another_does_or_inside_a_table_is_named(graph):
    """A second section with 2.2's opening took 2.2's statements, and one opening inside Table 1
    claimed the body after it, without an error (review of the change)."""
    copy = Graph() + graph
    twin, inner = URIRef(MSCD + "section-twin"), URIRef(MSCD + "section-inner")
    copy.add((twin, RDF.type, MSCNS.ReviewSection))
    copy.add((twin, MSCNS.opensWith, Literal("2. MSC transition into CAFs")))
    copy.add((inner, RDF.type, MSCNS.ReviewSection))
    copy.add((inner, MSCNS.opensWith, Literal("Type of MSCs Tumor propagating")))
    where = sections.layout(copy, review_text())
    assert sorted(where.errors) == sorted([
        (twin, MSCNS.opensWith, "opens where mscd:section-mechanism-2-msc-caf opens"),
        (inner, MSCNS.opensWith, "opens inside mscd:section-table-1, a table or figure: its msc:closesWith "
                                 "comes too late, or this opening is in the table or figure")])
    assert list(sections.misplaced(copy, review_text(), where)) == []


def test_a_section_without_an_opening_stops_the_statement_check(graph):
    copy = Graph() + graph
    copy.remove((URIRef(MSCD + "section-mechanism-2-msc-caf"), MSCNS.opensWith, None))
    where = sections.layout(copy, review_text())
    assert where.unlocated == [URIRef(MSCD + "section-mechanism-2-msc-caf")] and where.errors == []
    assert list(sections.misplaced(copy, review_text(), where)) == []  # 2.1 would have taken its text


def test_a_section_part_of_one_it_does_not_follow_is_named(graph):
    """Blood cancers made part of section 3 let a blood finding be named finding-clinical-…
    (hostile testing); the sections' places tell it."""
    copy = Graph() + graph
    blood, clinical = URIRef(MSCD + "section-anticancer-1-blood"), URIRef(MSCD + "section-clinical")
    breast = URIRef(MSCD + "section-anticancer-2-breast")
    copy.set((blood, MSCNS.partOf, clinical))
    copy.set((breast, MSCNS.partOf, URIRef(MSCD + "section-mechanism")))
    assert sorted(sections.layout(copy, review_text()).errors) == [
        (blood, MSCNS.partOf, "is part of mscd:section-clinical, which opens after it"),
        (breast, MSCNS.partOf, "is part of mscd:section-mechanism, which opens after it")]
    copy.set((blood, MSCNS.partOf, URIRef(MSCD + "section-anticancer")))
    copy.set((breast, MSCNS.partOf, URIRef(MSCD + "section-introduction")))
    assert sections.layout(copy, review_text()).errors == [
        (breast, MSCNS.partOf, "is part of mscd:section-introduction, but opens after "
                               "mscd:section-anticancer-1-blood, which is not")]


def test_words_not_in_the_text_are_told_why():
    """A page header read "is not in source/review.txt", which it is, and a look-alike hyphen
    looked like the heading itself (hostile testing)."""
    assert sections._missing("Journal of Cancer 2017, Vol. 8 http://www.jcancer.org 86") == (
        "is a page header, which is cut from the review's text (source/README.md)")
    assert sections._missing("8. Cell\u2011cell contact") == "is not in source/review.txt (it holds U+2011)"
    assert sections._missing("9. Cancers of the skin", " after X") == "is not in source/review.txt after X"
