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
