"""Validate the graph: SHACL shapes (pySHACL), evidence quotes against the review's text, and the
quality checks of queries/violations."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SH, SKOS

from msc_kg import paths, sections, violations
from msc_kg.errors import MscKgError
from msc_kg.load import MSCNS, Loaded, ontology_files, parse_file
from msc_kg.namespaces import MSC, MSCD
from msc_kg.source import normalise, review_text


@dataclass(frozen=True)
class Problem:
    """One reason the data does not conform: where, which node, what is wrong."""

    file: str
    focus: str
    path: str
    message: str

    def line(self) -> str:
        path = f" {self.path}" if self.path else ""
        return f"{self.file}: {self.focus}{path}: {self.message}"


@dataclass
class Report:
    """The outcome of validation: conforming or a list of problems."""

    problems: list[Problem] = field(default_factory=list)

    @property
    def conforms(self) -> bool:
        return not self.problems

    def text(self) -> str:
        if self.conforms:
            return ("Conforms: the data satisfies every shape and every quality check of "
                    "queries/violations, and every evidence quote is whole sentences of the review, "
                    "in the section its statement names.")
        problems = sorted(set(self.problems), key=lambda p: (p.file, p.focus, p.message))
        lines = [f"Does not conform: {len(problems)} problem(s)"]  # as listed: pySHACL may
        lines += ["  " + p.line() for p in problems]  # report one twice (hostile testing)
        return "\n".join(lines)


def shapes_graph(shapes_dir: Path | None = None) -> Graph:
    """All SHACL shapes of shapes/ in one graph; MscKgError when it holds none (a renamed or
    emptied shapes file turned validation off, and the report still said the data "satisfies
    every shape": hostile testing)."""
    folder = Path(shapes_dir or paths.SHAPES_DIR)
    graph = Graph()
    for path in sorted(folder.glob("*.ttl")):
        graph += parse_file(path)
    if (None, RDF.type, SH.NodeShape) not in graph:
        raise MscKgError(f"{folder}: no SHACL node shape in its *.ttl files (shapes/msc-kg-shapes.ttl "
                         "missing or emptied?); the data cannot be validated without them")
    return graph


def _short(graph: Graph, node) -> str:
    """A node as the report shows it: prefixed where it can be, a literal in its lexical form (n3
    writes rdflib's value: "yes"^^xsd:boolean came out as "false", hostile testing)."""
    try:
        if isinstance(node, Literal):
            text = '"' + str(node).replace("\\", "\\\\").replace('"', '\\"') + '"'
            if node.language:
                return f"{text}@{node.language}"
            return text + (f"^^{node.datatype.n3(graph.namespace_manager)}" if node.datatype else "")
        return node.n3(graph.namespace_manager)
    except Exception:  # blank nodes and odd terms: fall back to their string form
        return str(node)


def shacl_problems(loaded: Loaded, shapes: Graph) -> list[Problem]:
    """Run pySHACL (SHACL Core + paths, no inference) and turn each result into a Problem."""
    from pyshacl import validate

    conforms, results, _ = validate(loaded.graph, shacl_graph=shapes, inference="none",
                                    advanced=True, allow_warnings=True)
    if conforms:
        return []
    problems = []
    for result in results.subjects(RDF.type, SH.ValidationResult):
        if (None, SH.detail, result) in results:  # why a sh:node failed, told by that result:
            continue  # a second problem, naming the file of the value (ontology/msc-kg.ttl for
            # msc:Glioma as a finding's cell type), which is not at fault (ontology audit)
        focus = results.value(result, SH.focusNode)
        path = results.value(result, SH.resultPath)
        message = results.value(result, SH.resultMessage)
        value = results.value(result, SH.value)
        text = str(message) if message else "violates a shape"
        if value is not None and value != focus and (path is None or str(value) not in text):
            text += f" (value: {_short(loaded.graph, value)})"
        problems.append(Problem(loaded.where(focus, path if isinstance(path, URIRef) else None),
                                _short(loaded.graph, focus),
                                _short(loaded.graph, path) if isinstance(path, URIRef) else "", text))
    return problems


def name_problems(loaded: Loaded, text: str | None = None) -> list[Problem]:
    """Every msc:nameInReview occurs in the review's text, as the ontology defines it ("a name of
    the entity exactly as the review writes it"; a cell line "Fakey-9" the review never names was
    released: hostile testing)."""
    text = review_text() if text is None else text
    graph = loaded.graph
    return [Problem(loaded.where(subject, MSCNS.nameInReview), _short(graph, subject), "msc:nameInReview",
                    f"{_short(graph, name)} is not in source/review.txt; write the name as the review does")
            for subject, name in graph.subject_objects(MSCNS.nameInReview)
            if normalise(str(name)) not in text]


# A sentence's end: a full stop, question or exclamation mark, with the brackets and quotation
# marks that close after it, or a [n] marker's bracket
_SENTENCE_END = re.compile(r"(?:[.?!][\"\u201d\u2019)\]]*|\])$")


def _unseen(quote: str) -> str:
    """For a quote not found: the characters in it that do not show (a zero-width space, a soft
    hyphen), named, which a reader of the message could not see (bad-input audit)."""
    hidden = sorted({c for c in quote if unicodedata.category(c) in ("Cf", "Cc", "Co", "Cn")})
    return f" (it holds {', '.join(f'U+{ord(c):04X}' for c in hidden)}, which do not show)" if hidden else ""


def evidence_problems(loaded: Loaded, text: str | None = None) -> list[Problem]:
    """Every msc:evidence quote must occur in the cleaned review text, as whole sentences: it
    starts where the text or a sentence or a section's heading ends and ends a sentence, unless a
    msc:curatorNote says why the printed text has no "sentence boundary" there, in those words (a
    fragment dropping "do not" from "do not … promote tumor growth" backed a Promotes finding; and
    any note at all let a fragment through, when most statements have one: hostile testing)."""
    text = review_text() if text is None else text
    graph = loaded.graph
    headings = [normalise(str(label)) for section in graph.subjects(RDF.type, MSCNS.ReviewSection)
                for label in graph.objects(section, RDFS.label)]
    problems = []
    for subject, quote in graph.subject_objects(MSCNS.evidence):
        found = normalise(str(quote))
        start = text.find(found)
        if start < 0:
            message = f"evidence sentence not found in source/review.txt: \"{str(quote)[:80]}\"{_unseen(str(quote))}"
        elif found != str(quote):  # released as written: a line break, a tab, two spaces (audit)
            odd = next(m for m in re.finditer(r"\s+", str(quote))
                       if m.group() != " " or m.start() in (0, len(str(quote)) - 1))
            message = (f"evidence holds white space other than one space between words "
                       f"({'+'.join(f'U+{ord(c):04X}' for c in odd.group())} at character {odd.start() + 1}); "
                       "write it with single spaces, as the sentence is quoted (CURATION.md)")
        elif any("sentence boundary" in str(note).lower()
                 for note in graph.objects(subject, MSCNS.curatorNote)):
            continue
        elif start and not (_SENTENCE_END.search(before := text[:start].rstrip())
                            or before.endswith(tuple(headings))):
            message = (f"evidence is not a whole sentence of the review: it starts after "
                       f"\"…{before[-40:]}\"; quote the whole sentence (or say in msc:curatorNote why "
                       "the printed text has no sentence boundary there)")
        elif not _SENTENCE_END.search(found) or text[start + len(found):start + len(found) + 1] not in ("", " "):
            message = (f"evidence is not a whole sentence of the review: it ends before "
                       f"\"{text[start + len(found):start + len(found) + 40]}…\"; quote the whole sentence "
                       "(or say in msc:curatorNote why the printed text has no sentence boundary there)")
        else:
            continue
        problems.append(Problem(loaded.where(subject), _short(graph, subject), "msc:evidence", message))
    return problems


def section_problems(loaded: Loaded, text: str | None = None) -> list[Problem]:
    """Every section is located in the review by its msc:opensWith (and a table's or figure's
    msc:closesWith), and every statement's evidence lies in the section its msc:inSection names
    (nothing checked it: a finding could name any section)."""
    text = review_text() if text is None else text
    graph = loaded.graph
    where = sections.layout(graph, text)
    problems = [Problem(loaded.where(section, predicate), _short(graph, section), _short(graph, predicate), why)
                for section, predicate, why in where.errors]
    for statement, named, found in sections.misplaced(graph, text, where):
        lies = "in " + ", ".join(_short(graph, s) for s in found) if found else "before the first section"
        problems.append(Problem(
            loaded.where(statement, MSCNS.inSection), _short(graph, statement), "msc:inSection",
            f"its evidence lies {lies}, not in {', '.join(_short(graph, s) for s in named)} (sections "
            "are located in the review by their msc:opensWith and msc:closesWith)"))
    return problems


# What XML 1.0 cannot carry (https://www.w3.org/TR/xml/#charsets): the release's RDF/XML, which
# OWL tools read, would not be well-formed (a U+0001 in a label passed validation; the OWL file it
# made was refused by every XML parser, and the reasoner's traceback named a temporary file)
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


_XSD = "http://www.w3.org/2001/XMLSchema#"
_TZ = r"(?:Z|[+-](?:(?:0\d|1[0-3]):[0-5]\d|14:00))?"
_YEAR = r"-?(?:[1-9]\d{3,}|0\d{3})"
_DATE = _YEAR + r"-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
_TIME = r"(?:(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?|24:00:00(?:\.0+)?)"
_INTEGER = r"[+-]?\d+"
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
# XSD 1.1 lexical spaces (https://www.w3.org/TR/xmlschema11-2/) of the datatypes a curator
# writes; others are not checked. rdflib's ``ill_typed`` was wrong both ways: it refused negative
# years and 24:00:00, took "1_000"^^xsd:integer, and has no check for xsd:gYear (hostile testing).
LEXICAL = {_XSD + name: re.compile(pattern, re.ASCII) for name, pattern in {
    **dict.fromkeys(("integer", "long", "int", "short", "byte"), _INTEGER),
    **dict.fromkeys(("nonNegativeInteger", "unsignedLong", "unsignedInt", "unsignedShort",
                     "unsignedByte"), r"(?:\+?\d+|-0+)"),
    "positiveInteger": r"\+?0*[1-9]\d*", "negativeInteger": r"-0*[1-9]\d*",
    "nonPositiveInteger": r"(?:-\d+|\+?0+)",
    "decimal": _NUMBER,
    **dict.fromkeys(("double", "float"), _NUMBER + r"(?:[eE][+-]?\d+)?|[+-]?INF|NaN"),
    "boolean": r"true|false|1|0",
    "date": _DATE + _TZ, "dateTime": _DATE + "T" + _TIME + _TZ, "time": _TIME + _TZ,
    "gYear": _YEAR + _TZ, "gYearMonth": _YEAR + r"-(?:0[1-9]|1[0-2])" + _TZ,
}.items()}


_RDF_JSON = str(RDF.JSON)
_RDF_XML_LITERAL = str(RDF.XMLLiteral)


def ill_typed(value: Literal) -> bool:
    """Whether ``value``'s text is outside its datatype's lexical space (LEXICAL's datatypes, and
    rdf:JSON and rdf:XMLLiteral, whose malformed values rdflib logged a traceback for on every
    load of the release: hostile testing)."""
    datatype = str(value.datatype) if value.datatype is not None else None
    if datatype == _RDF_JSON:
        try:
            json.loads(str(value))
        except ValueError:
            return True
        return False
    if datatype == _RDF_XML_LITERAL:  # XML content: well-formed inside an element
        try:
            ElementTree.fromstring(f"<x>{value}</x>")
        except ElementTree.ParseError:
            return True
        return False
    pattern = LEXICAL.get(datatype) if datatype is not None else None
    return pattern is not None and pattern.fullmatch(str(value)) is None


MAX_NESTING = 64  # blank nodes and collections inside one another


def nesting_problems(loaded: Loaded) -> list[Problem]:
    """No statement nests blank nodes or collections more than MAX_NESTING deep: the release's
    writers recurse along them (a collection nested 2 000 deep conformed, then failed the build
    after 88 s without naming its file; 20 000 deep held the build past 5 minutes: bad-input
    audit). Told of the named node, or outermost blank node, that holds the nesting."""
    graph = loaded.graph
    inner: dict = {}
    held = set()  # the blank nodes some statement holds: each is told of as part of its holder
    for subject, _, value in graph:
        if isinstance(value, BNode):
            held.add(value)
            if isinstance(subject, BNode):
                inner.setdefault(subject, []).append(value)
    depth: dict = {}  # of each blank node: 1 + its deepest inner one, walked without recursion
    entered: set = set()  # on the walk's path or done: a cycle of labelled blank nodes counts once
    for root in inner:
        stack = [root]
        while stack:
            node = stack[-1]
            if node not in entered:
                entered.add(node)
                stack.extend(child for child in inner.get(node, ()) if child not in entered)
                continue
            stack.pop()
            if node not in depth:
                depth[node] = 1 + max((depth.get(c, 0) for c in inner.get(node, ())), default=0)
    problems, told = [], set()
    for subject, predicate, value in graph:
        if (isinstance(value, BNode) and depth.get(value, 1) > MAX_NESTING
                and subject not in held and subject not in told):
            told.add(subject)
            problems.append(Problem(loaded.where(subject, predicate), _short(graph, subject), _short(graph, predicate),
                                    f"nests blank nodes or collections {depth[value]} deep (at most "
                                    f"{MAX_NESTING}): the release's writers recurse along them"))
    return problems


def literal_problems(loaded: Loaded) -> list[Problem]:
    """Every literal is in its datatype's lexical space (``ill_typed``: shapes check only the
    properties they name, and "abc"^^xsd:integer on rdfs:comment went through) and holds only
    characters the release's syntaxes carry."""
    graph = loaded.graph
    problems = []
    for subject, predicate, value in graph:
        if not isinstance(value, Literal):
            continue
        if ill_typed(value):
            message = f"{_short(graph, value)} is outside the lexical space of {_short(graph, value.datatype)}"
        elif found := _NOT_XML.search(value):
            message = (f"the literal holds U+{ord(found.group()):04X}, a character RDF/XML (the release's "
                       "OWL file) cannot carry; remove it")
        else:
            continue
        problems.append(Problem(loaded.where(subject, predicate), _short(graph, subject),
                                _short(graph, predicate), message))
    return problems


# A sentence's reference markers: [7], [7, 8], [10-12]
_MARKER = re.compile(r"\[(\d+(?:\s*[-\u2013,]\s*\d+)*)\]")


def cited(sentence: str) -> set[int]:
    """The reference numbers the [n] markers of ``sentence`` cite, ranges expanded."""
    numbers: set[int] = set()
    for marker in _MARKER.finditer(sentence):
        for part in marker.group(1).split(","):
            ends = [int(x) for x in re.split(r"[-\u2013]", part)]
            numbers.update(range(ends[0], ends[-1] + 1) if len(ends) == 2 and ends[1] - ends[0] < 100
                           else ends)
    return numbers


def reference_problems(loaded: Loaded) -> list[Problem]:
    """docs/CURATION.md "References": msc:referenceNumber is a [n] its sentence cites; a sentence
    without a marker may take the next one's only with a msc:curatorNote saying why, naming it as
    "[n]" (neither was checked, then any note let any number through: hostile testing)."""
    graph = loaded.graph
    problems = []
    for subject, number in graph.subject_objects(MSCNS.referenceNumber):
        sentences = list(graph.objects(subject, MSCNS.evidence))
        if not sentences or not isinstance(number, Literal) or not isinstance(number.value, int):
            continue  # the shapes tell these
        numbers = set().union(*(cited(str(s)) for s in sentences))
        if numbers and number.value not in numbers:
            message = (f"[{number.value}] is not cited by its sentence, which cites "
                       f"{', '.join(f'[{n}]' for n in sorted(numbers))}")
        elif not numbers and not any(f"[{number.value}]" in str(note)
                                     for note in graph.objects(subject, MSCNS.curatorNote)):
            message = (f"its sentence cites no [n]: a reference borrowed from the next sentence needs a "
                       f"msc:curatorNote saying why, naming it as [{number.value}] (docs/CURATION.md, "
                       "References)")
        else:
            continue
        problems.append(Problem(loaded.where(subject, MSCNS.referenceNumber), _short(graph, subject),
                                "msc:referenceNumber", message))
    return problems


# What the build derives (queries/derive, msc_kg.derive): typed by hand it went into the release
# as if derived, or set off a misleading "two rules conflict" (hostile testing)
DERIVED = {MSCNS.tumourEffect, MSCNS.targetKind, MSCNS.contradicts}


def derived_by_hand_problems(loaded: Loaded) -> list[Problem]:
    """Every curated statement of a property the build derives, as a Problem (docs/CURATION.md:
    never write them)."""
    graph = loaded.graph
    return [Problem(loaded.where(subject, predicate), _short(graph, subject), _short(graph, predicate),
                    "is derived at build time (queries/derive); remove the hand-written statement")
            for subject, predicate in loaded.stated if predicate in DERIVED]


# What instance data (triples/*.ttl, and files given with --with) may state (docs/CURATION.md):
# mscd: subjects, described with the ontology's properties and these. The ontology is edited in
# ontology/ (a triples/ file made glioma a breast cancer, gave a class a second English label and
# imported an ontology from the network, which the reasoner then fetched), and the build derives
# evidence anchors, provenance and cross-references (forged ones, and "ex:cures", were released:
# hostile testing).
_QUDT = Namespace("http://qudt.org/schema/qudt/")  # rdflib has none
CURATED_PROPERTIES = frozenset({
    RDF.type, RDF.first, RDF.rest, RDFS.label, RDFS.comment, RDFS.seeAlso, SKOS.altLabel,
    SKOS.definition, SKOS.note, _QUDT.numericValue, _QUDT.unit,
    DCTERMS.bibliographicCitation, DCTERMS.creator, DCTERMS.date, DCTERMS.title})


def scope_problems(loaded: Loaded) -> list[Problem]:
    """Each statement of an instance-data file outside what such files may state (CURATED_PROPERTIES
    and the ontology's own, of mscd: subjects; types that are the ontology's classes)."""
    graph = loaded.graph
    ontology = {f.resolve() for f in ontology_files()}  # by path: any file in a folder named
    # "ontology" passed for one (validate --with /tmp/ontology/x.ttl edited the ontology)
    problems = []
    for (subject, predicate), files in loaded.stated.items():
        data = [f for f in files if Path(f).resolve() not in ontology]
        if not data:
            continue
        if isinstance(subject, URIRef) and not (subject.startswith(MSCD) and "#" not in subject):
            message = ("instance data describes mscd: individuals only: the ontology's terms are "
                       "edited in ontology/msc-kg.ttl, and the build derives evidence anchors "
                       "(docs/CURATION.md)")
        elif predicate not in CURATED_PROPERTIES and not predicate.startswith(MSC):
            message = ("is no property instance data may use (the ontology's, rdf:type, rdfs:label, "
                       "rdfs:comment, rdfs:seeAlso, skos:altLabel, skos:definition, skos:note, qudt:, "
                       "dcterms:, a collection's rdf:first and rdf:rest, as docs/CURATION.md lists "
                       "them); cross-references are rows of ontology/mappings.tsv")
        elif predicate == RDF.type and (bad := [o for o in graph.objects(subject, RDF.type)
                                               if not (o.startswith(MSC) or o == OWL.NamedIndividual)]):
            message = (f"is typed {', '.join(_short(graph, o) for o in bad)}: instance data is typed "
                       "with the ontology's classes (and owl:NamedIndividual)")
        else:
            continue
        problems.append(Problem(", ".join(map(str, data)), _short(graph, subject), _short(graph, predicate),
                                message))
    return problems


def violation_problems(loaded: Loaded) -> list[Problem]:
    """Each row of a queries/violations query as a Problem, at the first node it names: a typo
    such as ``msc:targetCancr`` or ``a msc:Fnding`` conformed to the shapes, which do not close
    the vocabulary, and was built (hostile testing); only the test suite ran these queries."""
    graph = loaded.graph
    problems = []
    for path, rule, row in violations.rows(graph):
        nodes = [v for v in row.values() if isinstance(v, (URIRef, BNode))]
        focus = nodes[0] if nodes else None
        others = ", ".join(f"?{k} {_short(graph, v)}" for k, v in row.items() if v is not focus)
        message = f"{rule} ({path.name}{'; ' + others if others else ''})"
        problems.append(Problem(_stated_where(loaded, focus), _short(graph, focus) if focus else "-",
                                "", message))
    return problems


def _stated_where(loaded: Loaded, node) -> str:
    """The file stating ``node``, else the file of a subject that refers to it (an undeclared
    term is stated nowhere: the statement using it is)."""
    if node is None or node in loaded.origin:
        return loaded.where(node)
    graph = loaded.graph
    for subject in (next(graph.subjects(node, None), None), next(graph.subjects(None, node), None)):
        if subject in loaded.origin:
            return loaded.where(subject)
    return loaded.where(node)


def validate_loaded(loaded: Loaded, shapes: Graph | None = None) -> Report:
    """Validate a loaded graph against the shapes, the review text and the violation queries."""
    shapes = shapes if shapes is not None else shapes_graph()
    return Report(nesting_problems(loaded) + shacl_problems(loaded, shapes) + literal_problems(loaded)
                  + evidence_problems(loaded)
                  + name_problems(loaded) + section_problems(loaded)
                  + reference_problems(loaded) + derived_by_hand_problems(loaded)
                  + scope_problems(loaded) + violation_problems(loaded))
