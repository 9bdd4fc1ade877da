"""The review's text as shipped in source/: loading, normalising and locating evidence quotes."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from msc_kg.errors import SourceParseError
from msc_kg.paths import SOURCE_TEXT

# The PDF extraction interrupts sentences with two page headers; they are not part of the
# review's prose, so they are cut before quotes are matched (see source/README.md).
_PAGE_FURNITURE = [
    re.compile(r"\s*Ivyspring\s+International\s+Publisher\s*"),
    re.compile(r"\s*Journal of Cancer 2017, Vol\. 8\s+http://www\.jcancer\.org\s+\d+\s*"),
]
_WS = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Collapse every run of whitespace to one space and strip the ends."""
    return _WS.sub(" ", text).strip()


def clean(raw: str) -> str:
    """Remove page furniture and normalise whitespace: the text evidence quotes are matched in."""
    for pattern in _PAGE_FURNITURE:
        raw = pattern.sub(" ", raw)
    return normalise(raw)


@lru_cache(maxsize=4)
def review_text(path: Path = SOURCE_TEXT) -> str:
    """The cleaned, whitespace-normalised text of the review; SourceParseError naming the line of
    a byte that is not UTF-8 (a traceback before: hostile testing)."""
    data = Path(path).read_bytes()
    try:
        return clean(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise SourceParseError.not_utf8(path, data) from None


def locate(quote: str, text: str | None = None) -> tuple[int, int] | None:
    """Start and end offsets of ``quote`` (normalised) in the cleaned review, or None."""
    text = review_text() if text is None else text
    start = text.find(normalise(quote))
    if start < 0:
        return None
    return start, start + len(normalise(quote))
