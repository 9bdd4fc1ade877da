"""Refuse RDF/XML whose entity declarations would expand past memory (the "billion laughs").

Oxigraph's RDF/XML parser expands internal entities without a limit: a 1 KB file declaring seven
levels of nested entities made it request 4.9 GB and abort the whole process (measured, pyoxigraph
0.5.13), instead of answering with an error. Before such a file reaches the parser, ``check``
reads its document type declaration, computes how long every internal entity would expand (without
expanding it), and refuses the file when one entity would be longer than ``MAX_ENTITY`` characters,
when entities refer to each other in a circle, or when the references in the document would add more
than ``growth_limit`` characters in all. Files that use entities the usual way pass: Protégé, for
one, declares one short entity per namespace (``<!ENTITY owl "http://www.w3.org/2002/07/owl#">``).
External and parameter entities are left alone: the parser does not resolve them (regression-tested).
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

MAX_ENTITY = 1 << 20  # characters one entity may expand to
MAX_PROLOG = 4 << 20  # bytes read to find the document type declaration and its end
CHUNK = 8 << 20  # bytes scanned at a time for entity references

_PROLOG_ITEM = re.compile(r"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)
_DOCTYPE = re.compile(r"""<!DOCTYPE\s+[^\s\[>]+(?:\s+(?:SYSTEM|PUBLIC)(?:\s+(?:"[^"]*"|'[^']*'))+)?\s*(\[)?""")
_DECLARATION = re.compile(r"""\s+|<!--.*?-->|<\?.*?\?>|%[^;\s]+;|<!(?:[^>"']|"[^"]*"|'[^']*')*>""", re.DOTALL)
_ENTITY = re.compile(r"""<!ENTITY\s+([^\s%"'>]+)\s+(?:"([^"]*)"|'([^']*)')\s*>""")
_REFERENCE = re.compile(r"&([^\s&;#<>\"']+);")
_REFERENCE_BYTES = re.compile(rb"&([^\s&;#<>\"']+);")


def growth_limit(size: int) -> int:
    """Characters the entity references of a file of ``size`` bytes may add in all."""
    return 4 * size + (64 << 20)


def check(path: Path) -> None:
    """Raise ValueError naming the entity and its size if parsing ``path`` could exhaust memory."""
    with open(path, "rb") as fh:
        head = fh.read(MAX_PROLOG)
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        encoding, text = "utf-16", head[:len(head) & ~1].decode("utf-16", "replace")
    else:
        encoding, text = "latin-1", head.decode("latin-1")
    pos = 0
    while (m := _PROLOG_ITEM.match(text, pos)) is not None and m.end() > pos:
        pos = m.end()
    if (pos >= len(text) or text.startswith(("<!--", "<?"), pos)) and len(head) == MAX_PROLOG:
        raise ValueError(f"what comes before its root element is longer than {MAX_PROLOG:,} bytes; "
                         "it is refused unread.")  # a document type declaration could hide beyond
    if not text.startswith("<!DOCTYPE", pos):
        return  # no document type declaration: only the five predefined entities exist
    doctype = _DOCTYPE.match(text, pos)
    if doctype is None:
        raise ValueError("its document type declaration cannot be read; it is refused unread.")
    if doctype.group(1) is None:
        if text[doctype.end():doctype.end() + 1] == ">":
            return  # an external DTD only, which the parser does not read
        raise ValueError("its document type declaration cannot be read; it is refused unread.")
    entities, end = _declarations(text, doctype.end())
    sizes = _sizes(entities)
    growing = {name: size - len(name) - 2 for name, size in sizes.items() if size > len(name) + 2}
    if not growing:
        return
    if encoding == "utf-16":  # small files in practice: count on the decoded text
        with open(path, "rb") as fh:
            body = fh.read().decode("utf-16", "replace")
        added = sum(growing.get(m.group(1), 0) for m in _REFERENCE.finditer(body, end))
    else:
        added = _added_bytes(path, end, growing)  # latin-1: one character per byte
    limit = growth_limit(path.stat().st_size)
    if added > limit:
        raise ValueError(f"its entity references would add {added:,} characters (limit {limit:,} for "
                         "a file of this size); RDF/XML entity expansion this large is refused, because "
                         "it would exhaust memory. Expand the entities yourself, or convert the file to "
                         "Turtle or N-Triples.")


def _declarations(text: str, pos: int) -> tuple[dict[str, str], int]:
    """The internal general entities of the internal subset starting at ``pos``, and its end."""
    entities: dict[str, str] = {}
    while True:
        m = _DECLARATION.match(text, pos)
        if m is None or m.end() == pos:
            break
        declared = _ENTITY.fullmatch(m.group())
        if declared is not None:
            entities.setdefault(declared.group(1), declared.group(2) if declared.group(2) is not None
                                else declared.group(3))
        pos = m.end()
    if not text.startswith("]", pos):
        raise ValueError(f"its document type declaration does not end within the first "
                         f"{MAX_PROLOG:,} bytes, or cannot be read; it is refused unread.")
    return entities, pos


def _sizes(entities: dict[str, str]) -> dict[str, int]:
    """How many characters each entity expands to, computed without expanding any."""
    refs = {name: _REFERENCE.findall(value) for name, value in entities.items()}
    sizes: dict[str, int] = {}
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
                    raise ValueError(f"its entity '{ref}' refers to itself through other entities; "
                                     "a recursive entity is refused.")
                path.append(ref)
                on_path.add(ref)
                next_ref[ref] = 0
                continue
            size = len(_REFERENCE.sub("", entities[name]))
            size += sum(sizes[r] if r in entities else len(r) + 2 for r in own)
            if size > MAX_ENTITY:
                raise ValueError(f"its entity '{name}' would expand to {size:,} characters (limit "
                                 f"{MAX_ENTITY:,}); RDF/XML entity expansion this large is refused, "
                                 "because it would exhaust memory. Expand the entities yourself, or "
                                 "convert the file to Turtle or N-Triples.")
            sizes[name] = size
            on_path.discard(name)
            path.pop()
    return sizes


def _added_bytes(path: Path, start: int, growing: dict[str, int]) -> int:
    """Characters the references after ``start`` add, counted chunk by chunk over the file."""
    wanted = {name.encode("latin-1"): extra for name, extra in growing.items()}
    added = 0
    carry = b""
    with open(path, "rb") as fh:
        fh.seek(start)
        while chunk := fh.read(CHUNK):
            data = carry + chunk
            cut = data.rfind(b"&")  # a reference may straddle two chunks: keep its start
            cut = cut if cut >= 0 and b";" not in data[cut:] else len(data)
            added += sum(wanted.get(m.group(1), 0) for m in _REFERENCE_BYTES.finditer(data, 0, cut))
            carry = data[cut:]
    added += sum(wanted.get(m.group(1), 0) for m in _REFERENCE_BYTES.finditer(carry))
    return added
