"""The shipped review text: cleaning, normalising and locating quotes."""

from msc_kg.source import clean, locate, normalise, review_text


def test_normalise_collapses_whitespace():
    assert normalise("  a \n\n b\tc ") == "a b c"


def test_page_headers_are_removed_from_sentences():
    """The header between 'T-ALL cell line' and '(Jurkat cells) [7].' is cut."""
    text = review_text()
    assert "inhibit the apoptosis of T-ALL cell line (Jurkat cells) [7]." in text
    assert "jcancer.org" not in text and "Ivyspring" not in text


def test_locate_returns_offsets_of_the_quote():
    text = clean("One.  Two   three. Four.")
    assert locate("Two three.", text) == (5, 15)
    assert locate("absent", text) is None


def test_every_reference_marker_lies_in_some_statements_evidence(graph):
    """Each [n] marker of the review sits inside the evidence sentence of a finding or claim:
    no cited statement of the review is left out of the graph."""
    import re

    from rdflib import URIRef

    from msc_kg.namespaces import MSC

    text = review_text()
    spans = [locate(str(quote), text) for quote in graph.objects(None, URIRef(MSC + "evidence"))]
    markers = list(re.finditer(r"\[\d[\d,\s\-–]*\]", text))
    missing = [text[max(m.start() - 80, 0):m.end()] for m in markers
               if not any(span and span[0] <= m.start() and m.end() <= span[1] for span in spans)]
    assert len(markers) == 81
    assert missing == []



# The one section without a heading in the review: the paragraph that closes section 1.
_UNHEADED = {"section-anticancer-summary": "Altogether, the MSCs derived from different tissues"}


def test_every_statement_lies_in_the_section_it_names(graph):
    """A statement's msc:inSection is the section whose text holds its evidence: the last heading
    before the quote, taking the sections of the running text in the order triples/review.ttl
    states them (the review's), each heading found after the one before; or the caption of a
    table or figure before it (the layout put captions in the middle of other sections)."""
    import re

    from rdflib import RDF, RDFS, Namespace, URIRef

    from msc_kg import namespaces
    from msc_kg.namespaces import MSCD
    from msc_kg.paths import TRIPLES_DIR

    MSC = Namespace(namespaces.MSC)
    text = review_text()
    listed = (TRIPLES_DIR / "review.ttl").read_text(encoding="utf-8")
    names = sorted((str(s).removeprefix(MSCD) for s in graph.subjects(RDF.type, MSC.ReviewSection)),
                   key=lambda name: listed.index(f"mscd:{name} a "))
    flow, captions, at = [], [], 0
    for name in names:
        title = str(graph.value(URIRef(MSCD + name), RDFS.label))
        if title.startswith(("Table ", "Figure ")):
            captions.append((text.index(title), name))
            continue
        found = re.compile(r"(?:\d+\. )?" + re.escape(_UNHEADED.get(name, title))).search(text, at)
        assert found, f"the heading of {name} ({title!r}) is not in the review after offset {at}"
        at = found.start()
        flow.append((at, name))
    wrong = []
    for statement, section in graph.subject_objects(MSC.inSection):
        quote = graph.value(statement, MSC.evidence)
        if quote is None:  # a Table 1 entry: its cell, not a sentence
            continue
        start = locate(str(quote), text)[0]
        allowed = {[name for pos, name in flow if pos <= start][-1],
                   [name for pos, name in sorted(flow + captions) if pos <= start][-1]}
        if str(section).removeprefix(MSCD) not in allowed:
            wrong.append((str(statement).removeprefix(MSCD), str(section).removeprefix(MSCD), allowed))
    assert (len(flow), len(captions)) == (23, 4)
    assert wrong == []
