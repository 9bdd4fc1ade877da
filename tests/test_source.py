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
