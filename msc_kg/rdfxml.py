"""RDF/XML as the OWL API writes it (Protégé, ROBOT): a typed node element per subject.

rdflib's "xml" writer writes every subject as an rdf:Description with its rdf:type among the
properties. That is valid RDF/XML, but OBO tools that read the file as XML look for
``<owl:Ontology rdf:about=…>`` and ``<owl:Class rdf:about=…>`` at the top level: pronto could
not open either OWL release ("could not find `owl:Ontology` element", hostile round 31).
rdflib's "pretty-xml" writer nests named resources inside others (pronto failed on that too) and
lost triples of the ontology in a round trip, so this module writes the file itself:

- each named subject is one top-level element named for its first type (owl:Ontology,
  owl:Class, rdfs:Datatype, the property kinds, owl:NamedIndividual, then the others by IRI),
  with its other types as rdf:type children; a subject whose type has no prefix in the graph,
  or none, is an rdf:Description;
- the ontology's header comes first, and its annotations come after its type, as OWL API 3
  (owlready2's HermiT, older Protégé) needs to read them as ontology annotations
  (owlcs/owlapi#574);
- a blank node that is the object of one triple is nested in it (restrictions in
  rdfs:subClassOf, anonymous classes), and a list of resources as rdf:parseType="Collection";
  one that is the object of none is a top-level element without a name; only one that is the
  object of several triples (or of a cycle) has an rdf:nodeID, and so does one nested deeper than
  MAX_NESTING (a list of 400 literals, or blank nodes 400 deep, exhausted Python's recursion:
  hostile testing), written at the top level instead;
- subjects, properties and namespace declarations are sorted, and nested blank nodes are
  ordered by their text, so the same graph is written the same way on every run (no blank
  node label is written unless rdf:nodeID is needed).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS
from rdflib.plugin import register
from rdflib.serializer import Serializer

FORMAT = "typed-xml"  # the name it is registered under: graph.serialize(format=FORMAT)

# the types an element is named for first, in this order (as the OWL API declares entities)
_ELEMENT_TYPES = (OWL.Ontology, OWL.Class, RDFS.Datatype, OWL.ObjectProperty, OWL.DatatypeProperty,
                  OWL.AnnotationProperty, OWL.NamedIndividual)
_ESCAPES = {"\r": "&#13;"}  # as rdflib's writers: a carriage return in a literal is kept
MAX_NESTING = 64  # node elements nested in one another (each costs three Python frames)


def _type_order(term) -> tuple:
    rank = _ELEMENT_TYPES.index(term) if term in _ELEMENT_TYPES else len(_ELEMENT_TYPES)
    return (not isinstance(term, URIRef), rank, term.n3())


class _Writer:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.names = graph.namespace_manager
        self.prefixes = {"rdf": str(RDF)}
        self.references = Counter(o for _, _, o in graph if isinstance(o, BNode))
        self.written: set = set()
        self.deferred: list = []  # blank nodes nested too deep, to be written at the top level

    def qname(self, iri: URIRef, generate: bool = True) -> str:
        """``iri`` as an XML name, its prefix declared; ValueError (KeyError when not
        ``generate``) where the graph's prefixes cannot shorten it."""
        prefix, namespace, local = self.names.compute_qname_strict(iri, generate)
        self.prefixes[prefix] = str(namespace)
        return f"{prefix}:{local}" if prefix else local

    def document(self) -> str:
        graph = self.graph
        subjects = set(graph.subjects(unique=True))
        headers = set(graph.subjects(RDF.type, OWL.Ontology))
        named = sorted((s for s in subjects if isinstance(s, URIRef)), key=lambda s: (s not in headers, s.n3()))
        body = [self.node(s, 1) for s in named]
        blank = [s for s in subjects if isinstance(s, BNode)]
        body += sorted(self.node(s, 1) for s in blank if not self.references[s])
        body += sorted(self.node(s, 1, labelled=True) for s in blank if self.references[s] > 1)
        body += self.undeferred()
        for s in sorted(blank, key=str):  # cycles of blank nodes, each the object of one triple
            if s not in self.written:
                body.append(self.node(s, 1, labelled=True))
                body += self.undeferred()
        declarations = [f'   xmlns{":" if prefix else ""}{prefix}={quoteattr(namespace)}'
                        for prefix, namespace in sorted(self.prefixes.items())]
        return "\n".join(['<?xml version="1.0" encoding="utf-8"?>', "<rdf:RDF", *declarations, ">",
                          *body, "</rdf:RDF>", ""])

    def undeferred(self) -> list[str]:
        """The top-level elements of the blank nodes nested too deep, and of theirs in turn."""
        out = []
        while self.deferred:
            node = self.deferred.pop(0)
            if node not in self.written:
                out.append(self.node(node, 1, labelled=True))
        return out

    def node(self, subject, depth: int, labelled: bool = False) -> str:
        """The node element of ``subject`` (without a trailing newline)."""
        self.written.add(subject)
        graph, indent = self.graph, "  " * depth
        element, named_for = "rdf:Description", None
        for kind in sorted(graph.objects(subject, RDF.type), key=_type_order):
            if isinstance(kind, URIRef) and not kind.startswith(str(RDF)):  # not <rdf:Description>
                try:  # (its type would be lost) or another of RDF/XML's own names
                    element, named_for = self.qname(kind, generate=False), kind
                    break
                except (KeyError, ValueError):  # no prefix for its namespace, or not an XML name
                    continue
        if isinstance(subject, URIRef):
            opening = f"{indent}<{element} rdf:about={quoteattr(subject)}"
        elif labelled:
            opening = f'{indent}<{element} rdf:nodeID="{_node_id(subject)}"'
        else:
            opening = f"{indent}<{element}"
        children = sorted((p != RDF.type, p.n3(), self.property(p, o, depth + 1))
                          for p, o in graph.predicate_objects(subject)
                          if not (p == RDF.type and o == named_for))
        if not children:
            return opening + "/>"
        return "\n".join([opening + ">", *(text for _, _, text in children), f"{indent}</{element}>"])

    def property(self, predicate: URIRef, value, depth: int) -> str:
        name, indent = self.qname(predicate), "  " * depth
        if isinstance(value, Literal):
            attributes = ""
            if value.language:
                attributes += f' xml:lang="{value.language}"'
            if value.datatype:
                attributes += f" rdf:datatype={quoteattr(value.datatype)}"
            return f"{indent}<{name}{attributes}>{escape(str(value), _ESCAPES)}</{name}>"
        if isinstance(value, URIRef):
            return f"{indent}<{name} rdf:resource={quoteattr(value)}/>"
        if self.references[value] != 1 or value in self.written or depth > MAX_NESTING:
            if depth > MAX_NESTING:
                self.deferred.append(value)
            return f'{indent}<{name} rdf:nodeID="{_node_id(value)}"/>'
        members = self.collection(value)
        if members is None:
            return "\n".join([f"{indent}<{name}>", self.node(value, depth + 1), f"{indent}</{name}>"])
        inner = "  " * (depth + 1)
        items = [f"{inner}<rdf:Description rdf:about={quoteattr(m)}/>" if isinstance(m, URIRef)
                 else self.node(m, depth + 1) if self.references[m] == 1 and m not in self.written
                 else f'{inner}<rdf:Description rdf:nodeID="{_node_id(m)}"/>' for m in members]
        return "\n".join([f'{indent}<{name} rdf:parseType="Collection">', *items, f"{indent}</{name}>"])

    def collection(self, head: BNode) -> list | None:
        """The members of the list starting at ``head``, if rdf:parseType="Collection" can write it
        (resources only; each cell a blank node with one rdf:first and one rdf:rest, the object of
        one triple); the cells are then written."""
        graph, cells, members, cell = self.graph, [], [], head
        while cell != RDF.nil:
            if not isinstance(cell, BNode) or cell in self.written or self.references[cell] != 1 or cell in cells:
                return None
            properties = list(graph.predicate_objects(cell))
            first = [o for p, o in properties if p == RDF.first]
            rest = [o for p, o in properties if p == RDF.rest]
            if len(properties) != 2 or len(first) != 1 or len(rest) != 1 or isinstance(first[0], Literal):
                return None
            cells.append(cell)
            members.append(first[0])
            cell = rest[0]
        self.written.update(cells)
        return members


def _node_id(node: BNode) -> str:
    """A blank node's rdf:nodeID: an XML NCName (Oxigraph's labels may start with a digit, which
    an rdf:nodeID may not: the file was refused by RDF/XML parsers), one per label ("é" and "ü"
    both became "b_", and two nodes one: hostile testing)."""
    label = str(node)
    if re.fullmatch(r"[A-Za-z0-9_.-]+", label):
        return "b" + label
    return "h" + hashlib.sha256(label.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def rdfxml(graph: Graph) -> str:
    """``graph`` as RDF/XML with typed node elements (see the module's docstring)."""
    return _Writer(graph).document()


class TypedXMLSerializer(Serializer):
    """rdflib's serializer plugin for :func:`rdfxml` (``graph.serialize(format="typed-xml")``)."""

    def serialize(self, stream: IO[bytes], base: str | None = None, encoding: str | None = None,
                  **kwargs: Any) -> None:
        if (encoding or "utf-8").lower().replace("-", "").replace("_", "") != "utf8":  # "?" for what
            # another encoding lacks ("α-SMA" became "?-SMA": hostile testing)
            raise ValueError(f"the typed-xml writer writes UTF-8 only, not {encoding}")
        stream.write(rdfxml(self.store).encode("utf-8"))


register(FORMAT, Serializer, __name__, "TypedXMLSerializer")
