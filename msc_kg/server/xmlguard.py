"""Refuse RDF/XML whose entity declarations would expand past memory (the "billion laughs").

Oxigraph's RDF/XML parser expands internal entities without a limit: a 1 KB file declaring seven
levels of nested entities made it request 4.9 GB and abort the whole process (measured, pyoxigraph
0.5.13), instead of answering with an error. Before such a file reaches the parser, ``check``
finds every entity declaration the parser would honour, computes how long each entity would expand
(without expanding it), and refuses the file when one entity would be longer than ``MAX_ENTITY``
characters, when entities refer to each other in a circle, or when the references in the file would
add more than ``growth_limit`` characters in all. Files that use entities the usual way pass:
Protégé, for one, declares one short entity per namespace
(``<!ENTITY owl "http://www.w3.org/2002/07/owl#">``).

What the parser honours was measured, and is wider than XML allows: a document type declaration
anywhere in the file (also after the root element has begun, also a second one), written
``<!doctype`` too, ending at the first ``>`` that balances its ``<`` (quotes do not count), and
every ``<!ENTITY name "value"`` inside it, also inside comments and processing instructions. So
the whole file is searched, through a memory map (not read into memory), and every such
declaration counts, parameter entities (``<!ENTITY % name "value"``) included, which the parser
expands where ``&name;`` refers to them. External entities are not resolved by the parser
(regression-tested) and are left alone; the parser reads UTF-8 only, so a file in another encoding
never reaches its entities.
"""

from __future__ import annotations

import mmap
import re
from pathlib import Path
from xml.parsers import expat

MAX_ENTITY = 1 << 20  # characters one entity may expand to
_ADVICE = ("RDF/XML entity expansion this large is refused, because it would exhaust memory. Expand "
           "the entities yourself, or convert the file to Turtle or N-Triples.")

_DOCTYPE = re.compile(rb"<!doctype", re.IGNORECASE)
_ANGLE = re.compile(rb"[<>]")
# "<!ENTITY % name …" (a parameter entity) too: the parser takes it for an entity "name" that
# "&name;" expands (hostile testing: nine levels of them made a 741-byte file 2.9 GB in memory)
_ENTITY = re.compile(rb"""<!ENTITY\s+(?:%\s+)?([^\s"'>%]+)\s+(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_REFERENCE = re.compile(rb"&([^\s&;#<>\"']+);")
# An entity declaration and what follows its name: a double-quoted value is the one form the parser
# reads; for a single-quoted one or an external entity (SYSTEM, PUBLIC) it says only "<!ENTITY
# values should be enclosed in double quotes", with no position (hostile testing)
_DECLARED = re.compile(rb"""<!ENTITY\s+(%\s+)?([^\s"'>%]+)\s+("|'|SYSTEM\b|PUBLIC\b)""", re.IGNORECASE)
_UNTIL_CLOSE = re.compile(rb"[^>]{0,200}")


def growth_limit(size: int) -> int:
    """Characters the entity references of a file of ``size`` bytes may add in all."""
    return 4 * size + (64 << 20)


def check(path: Path) -> None:
    """Raise ValueError naming the entity and its size if parsing ``path`` could exhaust memory."""
    size = path.stat().st_size
    if size == 0:
        return
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        entities = _declarations(data)
        if not entities:
            return
        sizes = _sizes(entities)
        growing = {name: grown - len(name) - 2 for name, grown in sizes.items() if grown > len(name) + 2}
        if not growing:
            return
        added = sum(growing.get(m.group(1), 0) for m in _REFERENCE.finditer(data))
    limit = growth_limit(size)
    if added > limit:
        raise ValueError(f"its entity references would add {added:,} characters (limit {limit:,} for "
                         f"a file of this size); {_ADVICE}")


def guard(path: Path) -> None:
    """Both checks an RDF/XML file passes before a parser reads it: ``check``, then
    ``well_formed`` (ValueError naming what is wrong)."""
    check(path)
    well_formed(path)


def well_formed(path: Path) -> None:
    """Raise ValueError naming the line, column and reason if ``path`` is not well-formed XML.

    Oxigraph's RDF/XML parser served what it had read from a file cut off before its elements
    closed (hostile testing: two triples of a truncated file, no error), and its errors give no
    position. Expat (in Python's standard library, C) reads the file first, in blocks; it resolves
    no external entity, and ``check`` has refused entity bombs before it runs."""
    parser = expat.ParserCreate()
    try:
        with open(path, "rb") as fh:
            parser.ParseFile(fh)
    except expat.ExpatError as exc:
        raise ValueError(f"line {exc.lineno}, column {exc.offset + 1}: not well-formed XML: "
                         f"{expat.ErrorString(exc.code)} (RDF/XML is XML)") from None


def refused_entity(path: Path) -> tuple[int, int, str] | None:
    """Line, column and reason for the first entity declaration of ``path`` that the parser refuses
    without saying which or why: an external entity (never read: it could read a local file or the
    network) or a value in single quotes (XML allows them, the parser does not); None if none."""
    if path.stat().st_size == 0:
        return None
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        doctype = _DOCTYPE.search(data)
        for m in _DECLARED.finditer(data, doctype.start() if doctype else 0):
            if m.group(3) == b'"':
                continue
            line = data[:m.start()].count(b"\n") + 1  # a copy, on an error only
            column = m.start() - data.rfind(b"\n", 0, m.start())
            close = _UNTIL_CLOSE.match(data, m.end())
            declaration = data[m.start():close.end()] + (b">" if data[close.end():close.end() + 1] == b">"
                                                         else "…".encode())  # cut at 200 bytes
            declaration = " ".join(declaration.decode("utf-8", "replace").split())
            if m.group(3) == b"'":
                return line, column, (f"the entity declaration {declaration} has its value in single "
                                      "quotes, which XML allows but the RDF/XML parser does not; write it "
                                      "in double quotes")
            return line, column, (f"the external entity declaration {declaration} is refused: an "
                                  "external entity is never read, as it could read a local file or the "
                                  "network; put its value in the declaration, in double quotes, or "
                                  "expand it")
    return None


def _declarations(data) -> dict[bytes, list[bytes]]:
    """Every entity declared in any document type declaration of ``data``: name -> values."""
    entities: dict[bytes, list[bytes]] = {}
    pos = 0
    while (start := _DOCTYPE.search(data, pos)) is not None:
        depth, end = 1, len(data)  # the declaration ends at the ">" that balances its "<"
        for angle in _ANGLE.finditer(data, start.end()):
            depth += 1 if angle.group() == b"<" else -1
            if depth == 0:
                end = angle.end()
                break
        for m in _ENTITY.finditer(data, start.start(), end):
            value = m.group(2) if m.group(2) is not None else m.group(3)
            entities.setdefault(m.group(1), []).append(value)
        pos = end  # a declaration inside this one was searched with it
    return entities


def _sizes(entities: dict[bytes, list[bytes]]) -> dict[bytes, int]:
    """How many characters each entity expands to (its longest declaration), without expanding."""
    refs = {name: [r for value in values for r in _REFERENCE.findall(value)]
            for name, values in entities.items()}
    sizes: dict[bytes, int] = {}
    for root in entities:
        if root in sizes:
            continue
        path, on_path, next_ref = [root], {root}, {root: 0}
        while path:  # depth first, iteratively: a long chain of entities cannot overflow the stack
            name = path[-1]
            own = refs[name]
            i = next_ref[name]
            while i < len(own) and (own[i] not in entities or own[i] in sizes):
                i += 1
            next_ref[name] = i
            if i < len(own):
                ref = own[i]
                if ref in on_path:
                    raise ValueError(f"its entity '{ref.decode('utf-8', 'replace')}' refers to itself "
                                     "through other entities; a recursive entity is refused.")
                path.append(ref)
                on_path.add(ref)
                next_ref[ref] = 0
                continue
            grown = max(_expanded(value, entities, sizes) for value in entities[name])
            if grown > MAX_ENTITY:
                raise ValueError(f"its entity '{name.decode('utf-8', 'replace')}' would expand to "
                                 f"{grown:,} characters (limit {MAX_ENTITY:,}); {_ADVICE}")
            sizes[name] = grown
            on_path.discard(name)
            path.pop()
    return sizes


def _expanded(value: bytes, entities: dict, sizes: dict[bytes, int]) -> int:
    """The length of ``value`` with its references to declared entities expanded (sizes known)."""
    return len(_REFERENCE.sub(b"", value)) + sum(
        sizes[r] if r in entities else len(r) + 2 for r in _REFERENCE.findall(value))
