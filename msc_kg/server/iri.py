"""Resolve an IRI reference of a query against a base exactly as the engine does.

Oxigraph keeps an IRI that has a scheme as written ("HTTP://X/./a?" stays so) and resolves a
relative one with its IRI library (oxiri), which departs from RFC 3986 §5.2 in places: dot
segments of the base's path are kept ("abba" against "http://h/./." is "http://h/./abba"), and a
base without authority keeps its path rootless ("/../g" against "urn:x:y" is "urn:g").
``urllib.parse.urljoin``, used here before, departs further: it drops an empty query ("a?"),
lower-cases the scheme and leaves references against urn: or tag: bases unresolved. So a relative
reference is resolved by the engine's own library, through pyoxigraph's Turtle parser (3 µs); an
absolute one, nearly every IRI of a real query, costs a regular expression match.
"""

from __future__ import annotations

import re

import pyoxigraph as ox

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
# A longer base is taken as unknown. Resolving against a base costs time in proportion to it, and
# a query may declare thousands of relative prefixes or BASEs, each against the last: measured
# before this limit, 30 000 "BASE <x/>" (300 KB) held a serving process for 2.4 s, and a 400 KB
# BASE followed by 2 500 relative prefixes for 3.9 s; the engine itself reads each in 30 ms.
MAX_BASE = 4096


def resolve(base: str | None, ref: str) -> str | None:
    """The IRI that ``ref`` (the text between "<" and ">") denotes with ``base`` in force; None
    for a relative reference the engine would refuse (not an IRI, or no usable base) or against a
    base longer than MAX_BASE (which no one writes: unknown, so the callers judge conservatively).
    An absolute one is not checked: the engine refuses an invalid one itself."""
    if _SCHEME.match(ref):
        return ref
    if base is None or len(base) > MAX_BASE:
        return None
    try:
        triple = next(ox.parse(f"<{ref}> a <a:a> .".encode(), format=ox.RdfFormat.TURTLE,
                               base_iri=base))
    except (SyntaxError, ValueError):
        return None
    return triple.subject.value
