"""Where each section of the review lies in its text, located by its msc:opensWith and msc:closesWith."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from rdflib import Graph
from rdflib.namespace import RDF

from msc_kg.load import MSCNS
from msc_kg.paths import SOURCE_TEXT
from msc_kg.source import normalise


@dataclass
class Layout:
    """The sections' places in the cleaned review text, and what kept a section from its place.

    A table or figure (a section with msc:closesWith) is the text from its opening to the end of
    its closing words; any other section runs from its opening to the next such opening, less the
    tables and figures within it (the PDF's text puts them between the body's paragraphs)."""

    blocks: list[tuple[int, int, object]] = field(default_factory=list)  # (start, end, section)
    body: list[tuple[int, object]] = field(default_factory=list)  # (start, section), sorted
    errors: list[tuple[object, object, str]] = field(default_factory=list)  # (section, property, why)
    unlocated: list = field(default_factory=list)  # sections without one msc:opensWith (the shapes tell)
    _starts: list[int] = field(default_factory=list, repr=False)  # of body, for bisect (set by layout)

    def section_at(self, offset: int):
        """The section the text at ``offset`` belongs to (None before the first one)."""
        for start, end, section in self.blocks:  # a few tables and figures
            if start <= offset < end:
                return section
        index = bisect_right(self._starts, offset)
        return self.body[index - 1][1] if index else None


def _occurrences(text: str, words: str) -> list[int]:
    """Every offset at which ``words`` occur in ``text`` (overlapping ones too)."""
    found, at = [], text.find(words)
    while at >= 0:
        found.append(at)
        at = text.find(words, at + 1)
    return found


def layout(graph: Graph, text: str) -> Layout:
    """Locate every msc:ReviewSection of ``graph`` in ``text`` (the cleaned review)."""
    result = Layout()
    for section in sorted(set(graph.subjects(RDF.type, MSCNS.ReviewSection)), key=str):
        opening = [normalise(str(o)) for o in graph.objects(section, MSCNS.opensWith)]
        if len(opening) != 1 or not opening[0]:
            result.unlocated.append(section)  # the shapes tell these
            continue
        places = _occurrences(text, opening[0])
        if len(places) != 1:
            why = (_missing(opening[0]) if not places else
                   f"occurs {len(places)} times in source/review.txt; quote enough words to tell one place")
            result.errors.append((section, MSCNS.opensWith, f"\"{opening[0][:80]}\" {why}"))
            continue
        closing = [normalise(str(c)) for c in graph.objects(section, MSCNS.closesWith)]
        if not closing:
            result.body.append((places[0], section))
            continue
        if len(closing) > 1 or not closing[0]:
            result.unlocated.append(section)  # the shapes tell these
            continue
        end = text.find(closing[0], places[0])
        if end < 0:
            after = " after the section's msc:opensWith"
            result.errors.append((section, MSCNS.closesWith, f"\"{closing[0][:80]}\" {_missing(closing[0], after)}"))
            continue
        result.blocks.append((places[0], end + len(closing[0]), section))
    result.body.sort(key=lambda pair: pair[0])
    result._starts = [start for start, _ in result.body]
    _overlaps(result)
    _nesting(graph, result)
    return result


def _nesting(graph: Graph, result: Layout) -> None:
    """Errors for body sections whose msc:partOf disagrees with where they are: a section opens
    after the section it is part of, with nothing between them but that section's own parts (the
    statement IRI check trusts msc:partOf; blood cancers made part of section 3 let a blood finding
    be named finding-clinical-…: hostile testing)."""
    doubted = {section for section, _, _ in result.errors}  # placed wrong already: not followed
    start_of = {section: start for start, section in result.body if section not in doubted}
    previous = None
    for start, section in result.body:
        if section in doubted:
            continue
        parent = graph.value(section, MSCNS.partOf)
        if parent in start_of and start_of[parent] > start:
            result.errors.append((section, MSCNS.partOf, f"is part of {_local(parent)}, which opens after it"))
            doubted.add(section)
        elif (parent in start_of and previous not in doubted and previous != parent
              and parent not in _holders(graph, previous)):  # after a doubted one: not told again
            result.errors.append((section, MSCNS.partOf, f"is part of {_local(parent)}, but opens after "
                                  f"{_local(previous)}, which is not"))
            doubted.add(section)
        previous = section


def _holders(graph: Graph, section) -> set:
    """The sections and review that hold ``section`` (msc:partOf, transitively)."""
    held, todo = set(), [section]
    while todo:
        for parent in graph.objects(todo.pop(), MSCNS.partOf):
            if parent not in held:
                held.add(parent)
                todo.append(parent)
    return held


def _missing(words: str, where: str = "") -> str:
    """Why ``words`` are not found in the cleaned review text (``where`` in it, if said: then they
    may be elsewhere in it): not in it, a page header it is cleaned of, or characters that only
    look like the text's, named ("Cell\u2011cell" read as the heading: hostile testing)."""
    if not where and words in normalise(SOURCE_TEXT.read_text(encoding="utf-8")):
        return "is a page header, which is cut from the review's text (source/README.md)"
    odd = sorted({f"U+{ord(c):04X}" for c in words if ord(c) > 0x7E})
    return f"is not in source/review.txt{where}" + (f" (it holds {', '.join(odd)})" if odd else "")


def _overlaps(result: Layout) -> None:
    """Errors for sections that open where another does, or inside a table or figure (a second
    section with 2.2's opening took 2.2's statements; one opening inside Table 1 claimed the body
    after it: review of the change)."""
    opened: dict[int, object] = {}
    for start, section in sorted([(start, section) for start, _, section in result.blocks] + result.body,
                                 key=lambda pair: (pair[0], str(pair[1]))):
        if start in opened:
            result.errors.append((section, MSCNS.opensWith, f"opens where {_local(opened[start])} opens"))
            continue
        opened[start] = section
        inside = next((block for begin, end, block in result.blocks if begin < start < end), None)
        if inside is not None:
            result.errors.append((section, MSCNS.opensWith,
                                  f"opens inside {_local(inside)}, a table or figure: its msc:closesWith "
                                  "comes too late, or this opening is in the table or figure"))


def _local(section) -> str:
    """A section as mscd:local-name, for messages."""
    return "mscd:" + str(section).rsplit("/", 1)[-1]


def misplaced(graph: Graph, text: str, where: Layout | None = None):
    """(statement, its sections, the sections its evidence lies in) for every statement whose
    msc:evidence is found in ``text`` but at no place within its msc:inSection; nothing while a
    section cannot be located (the statements of the text it holds would be blamed for it)."""
    where = where or layout(graph, text)
    if where.errors or where.unlocated:
        return
    found_at: dict[str, list[int]] = {}  # statements share sentences: each is looked up once
    for statement, quote in graph.subject_objects(MSCNS.evidence):
        named = set(graph.objects(statement, MSCNS.inSection))
        sentence = normalise(str(quote))
        places = found_at.get(sentence)
        if places is None:
            places = found_at[sentence] = _occurrences(text, sentence)
        if not named or not places:
            continue  # the shapes and the evidence check tell these
        found = {where.section_at(place) for place in places}
        if not found & named:
            yield statement, sorted(named, key=str), sorted(found - {None}, key=str)
