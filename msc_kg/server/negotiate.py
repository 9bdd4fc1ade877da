"""Content negotiation: the one Accept → serializer table and the q-value/wildcard matcher.

Media-type selection follows RFC 9110 §12.5.1 (Accept, q-values, ``type/*`` and ``*/*``; the most
specific matching range decides an offer's q; ``q=0`` means "not acceptable") and the formats
the SPARQL 1.1 Protocol §2.1.6 names for each query form. Ties go to the earlier table row, so
the first row of each table is the default for ``*/*`` or a missing Accept header. Malformed
ranges are ignored; if none remains acceptable the caller answers 406 (RFC 9110 §15.5.7), and so
it does when no acceptable syntax can carry the answer (``fallback``).
"""

from __future__ import annotations

import re
from functools import lru_cache

# kind → ordered rows of (media type, format key). Format keys are understood by results.py.
# SELECT / ASK: SPARQL 1.1 Query Results JSON, XML, CSV and TSV.
RESULTS = (
    ("application/sparql-results+json", "json"),
    ("application/sparql-results+xml", "xml"),
    ("text/csv", "csv"),
    ("text/tab-separated-values", "tsv"),
    ("application/json", "json"),
    ("application/xml", "xml"),
    ("text/xml", "xml"),
)
# CONSTRUCT / DESCRIBE and entity documents: RDF serialisations (graphs; N-Quads/TriG as datasets).
GRAPH = (
    ("text/turtle", "turtle"),
    ("application/n-triples", "ntriples"),
    ("application/rdf+xml", "rdfxml"),
    ("application/ld+json", "jsonld"),
    ("application/n-quads", "nquads"),
    ("application/trig", "trig"),
    ("text/plain", "ntriples"),
    ("application/json", "jsonld"),
    ("application/x-turtle", "turtle"),
)
# Entity pages add HTML for browsers; HTML is listed last so RDF clients sending */* get Turtle,
# while a browser's explicit text/html (q=1 beats its */*;q=0.8) wins. Not application/xhtml+xml:
# the page is HTML, and one asked for as XHTML with text/html;q=0 was sent as text/html, the type
# refused (linked-data review).
ENTITY = GRAPH + (("text/html", "html"),)
# An OWL document at its IRI (msc_kg.server.documents): RDF/XML first, as the file is written.
OWL_DOCUMENT = (("application/rdf+xml", "rdfxml"),) + tuple(row for row in GRAPH if row[1] != "rdfxml")
# A whole dataset (the graph store's /data): the syntaxes that hold named graphs, N-Quads first.
DATASET = (("application/n-quads", "nquads"), ("application/trig", "trig"),
           ("application/ld+json", "jsonld"), ("application/json", "jsonld"))

TEXT_TYPES = {"text/csv", "text/tab-separated-values", "text/turtle", "text/plain", "text/html",
              "text/xml", "application/n-triples", "application/n-quads", "application/trig"}

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*+"'  # RFC 9110 §5.6.4, backslash escapes included
_RANGE = re.compile(rf"^\s*({_TOKEN})/({_TOKEN})\s*((?:;\s*{_TOKEN}\s*=\s*(?:{_TOKEN}|{_QUOTED})\s*)*+)$")
# The pieces of a list: a quoted string (its commas are its own; unclosed, it runs to the end), a
# run of other characters, a comma. Possessive: each character is read once, whatever the header.
_PIECES = re.compile(r'"(?:[^"\\]|\\.)*+"?|[^,"]++|,')
# One parameter of a range _RANGE matched, name and value; a quoted value is the parameter's own
# (x="y;q=0" holds no weight: hostile testing, where it made the range unacceptable)
_PARAM = re.compile(rf";\s*({_TOKEN})\s*=\s*({_TOKEN}|{_QUOTED})")
_WEIGHT = re.compile(r"^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$")  # RFC 9110 §12.4.2 qvalue


def _elements(header: str) -> list[str]:
    """The non-empty elements of a comma-separated header value (RFC 9110 §5.6.1: empty ones,
    ", ,", are not elements; the first 64 of all were read, so text/csv as the 65th, or after 64
    commas, got 406: hostile testing). Linear in the header, which the server bounds."""
    elements, current = [], []
    for piece in _PIECES.findall(header):
        if piece != ",":
            current.append(piece)
        elif current:
            elements.append("".join(current))
            current = []
    if current:
        elements.append("".join(current))
    return [element for element in elements if element.strip()]


def parse_accept(header: str | None) -> list[tuple[str, str, float]]:
    """The well-formed media ranges of an Accept header as ``(type, subtype, q)``; */* if absent
    or if it lists no element (",,,": RFC 9110 §5.6.1, empty elements are none; it got 406 where
    an empty header got the default: hostile testing)."""
    parts = [] if header is None else _elements(header)
    if not parts:
        return [("*", "*", 1.0)]
    ranges = []
    for part in parts:
        m = _RANGE.match(part)
        if not m:
            continue
        q = 1.0
        weight = next((value for name, value in _PARAM.findall(m.group(3) or "") if name.lower() == "q"), None)
        if weight is not None:
            if not _WEIGHT.match(weight):
                continue  # an invalid weight makes the range malformed: ignored
            q = float(weight)
        ranges.append((m.group(1).lower(), m.group(2).lower(), q))
    return ranges


def _quality(media: str, weights: dict[tuple[str, str], float]) -> float:
    """The q of ``media`` under the most specific matching range (0 when none matches), from the
    ranges' ``weights`` (the first weight given for each range)."""
    mtype, msub = media.split("/")
    for key in ((mtype, msub), (mtype, "*"), ("*", "*")):
        if key in weights:
            return weights[key]
    return 0.0


@lru_cache(maxsize=512)  # clients repeat their Accept header; the tables are constant tuples
def choose(accept: str | None, table) -> tuple[str, str] | None:
    """Pick ``(media type, format key)`` from ``table`` for an Accept header, or None (→ 406)."""
    weights: dict[tuple[str, str], float] = {}
    for rtype, rsub, q in parse_accept(accept):  # one pass over the header's ranges, however many
        weights.setdefault((rtype, rsub), q)
    best, best_q = None, 0.0
    for media, key in table:
        q = _quality(media, weights)
        if q > best_q:
            best, best_q = (media, key), q
    return best


def fallback(accept: str | None, table, refused) -> tuple[str, str] | None:
    """``choose`` over ``table`` without the rows of the syntaxes (format keys) in ``refused``: the
    best acceptable syntax left when those cannot carry an answer (RFC 9110 §15.5.7: 406 only when
    no acceptable one can), or None."""
    return choose(accept, tuple(row for row in table if row[1] not in refused))


def content_type(media: str) -> str:
    """The Content-Type header value for a chosen media type (UTF-8 declared for text formats)."""
    return f"{media}; charset=utf-8" if media in TEXT_TYPES else media


def offered(table) -> str:
    """A comma-separated list of the media types in ``table``, for 406 messages."""
    return ", ".join(dict.fromkeys(media for media, _ in table))
