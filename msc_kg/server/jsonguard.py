"""JSON-LD nesting, checked before Oxigraph's parser reads a file: it recurses into every level."""

from __future__ import annotations

import mmap
import re
from itertools import accumulate
from pathlib import Path

# Measured, Oxigraph's JSON-LD parser takes time and memory growing with the square of the depth
# (1 000 levels: 0.26 s and 210 MB; 2 000: 1 s and 790 MB) and overflows its stack past a few
# thousand, which ended the process with a segmentation fault and no message (hostile testing:
# msc-kg validate --with, and the server's loader). Real JSON-LD nests a few levels.
MAX_DEPTH = 500
# A JSON string (it holds no raw line break), replaced by an empty one before brackets are counted;
# one left open runs to the end of its line (tried again from each of its escaped quotes, 40 000 of
# them took 17 s: hostile testing)
_STRING = re.compile(rb'"(?:[^"\\\n]|\\[^\n])*+(?:"|\\?(?=\n)|\\?\Z)')
_BRACKETS = re.compile(rb"[\[\]{}]")
_OTHER_BYTES = bytes(b for b in range(256) if b not in b"[]{}")  # deleted: the brackets are left
_DELTA = [0] * 256  # each bracket's change of depth, by its byte
_DELTA[ord("{")] = _DELTA[ord("[")] = 1
_DELTA[ord("}")] = _DELTA[ord("]")] = -1
BLOCK = 1 << 20  # bytes read at a time (a backslash never ends one: no escape is cut in two)
# The first context given by reference: Oxigraph's parser fetches none and says only "No
# LoadDocumentCallback has been set to load remote contexts", naming neither it nor its line
# (hostile testing)
_CONTEXT_REF = re.compile(rb'"(@context|@import)"\s*:\s*(?:\[\s*)?"((?:[^"\\\n]|\\.)*)"')


# A JSON value that is no object or array, at the start of a document (what merely begins like one,
# "tomato", "-{", is left to the parser, which says where it fails)
_BARE = re.compile(rb'(?P<s>"(?:[^"\\\n]|\\.)*")|(?P<n>-?\d)|(?P<t>true)\b|(?P<f>false)\b|(?P<l>null)\b')
_KINDS = {"s": "a string", "n": "a number", "t": "true", "f": "false", "l": "null"}


def _top_level(head: bytes) -> None:
    """ValueError where the JSON of a file beginning ``head`` is no object or array: Oxigraph's
    parser read a bare string, number or literal as an empty graph, without a word (bad-input
    testing: '"hello"' passed as JSON-LD)."""
    body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    text = body.lstrip(b" \t\r\n")
    found = _BARE.match(text)
    if found is None:
        return  # an object or array, an empty file or no JSON at all: the parser's to tell
    kind = _KINDS[found.lastgroup]
    line = 1 + body[:len(body) - len(text)].count(b"\n")
    raise ValueError(f"line {line}: the document is {kind}; a JSON-LD document is a JSON object or "
                     "array")


def check(path: Path) -> None:
    """ValueError naming the line where ``path`` nests JSON deeper than MAX_DEPTH levels.

    Read in blocks of BLOCK bytes, a minified file too: a string open at the end of a block goes on
    in the next, which is read with a quote in front. Whether one is open is told by a quote and a
    letter appended to the block: a string open there ends at that quote and leaves the letter,
    while outside strings the pair opens one that runs to the end. (Blocks ran to the end of their
    line before: a one-line file of 24 MB was held whole, with its copies, 457 MB.)
    """
    depth, line, open_string, first = 0, 1, False, True
    with open(path, "rb") as stream:
        while block := stream.read(BLOCK):
            if first:  # the document's start: an object or array
                _top_level(block)
                first = False
            while block.endswith(b"\\") and (more := stream.read(1)):
                block += more
            text = _STRING.sub(b'""', b'"' + block + b'"X' if open_string else block + b'"X')
            open_string = text.endswith(b"X")
            brackets = text.translate(None, _OTHER_BYTES)  # a byte each: 1/10 of a minified file
            if max(accumulate(map(_DELTA.__getitem__, brackets), initial=depth)) > MAX_DEPTH:
                levels = accumulate(map(_DELTA.__getitem__, brackets), initial=depth)
                next(levels)
                at = next(m.start() for m, level in zip(_BRACKETS.finditer(text), levels)
                          if level > MAX_DEPTH)
                where = line + text.count(b"\n", 0, at)
                raise ValueError(f"line {where}: JSON nested more than "
                                 f"{MAX_DEPTH} levels deep; the JSON-LD parser's time and memory grow "
                                 "with the square of the depth, and it fails past a few thousand")
            depth += sum(map(_DELTA.__getitem__, brackets))
            line += block.count(b"\n")


def remote_context(path: Path) -> tuple[int | None, str]:
    """The line and reason for a JSON-LD file whose context is a document to load (a URL, or a
    file name): none is loaded, so nothing is read from the network nor another file."""
    advice = ("remote contexts are never loaded, from the network or another file; put the context "
              "itself in the file")
    if path.stat().st_size:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            if found := _CONTEXT_REF.search(data):
                key, ref = (g.decode("utf-8", "replace") for g in found.groups())
                line = data[:found.start()].count(b"\n") + 1  # a copy, on an error only
                return line, f"the JSON-LD context \"{ref}\" ({key}) is not fetched: {advice}"
    return None, f"a JSON-LD context of the file is not fetched: {advice}"
