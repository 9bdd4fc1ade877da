"""msc_kg.rdfxml: RDF/XML with a typed node element per subject, read back as the graph written."""

from __future__ import annotations

import pytest
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.compare import isomorphic
from rdflib.namespace import OWL, RDF, RDFS

from msc_kg.rdfxml import FORMAT, rdfxml

EX = Namespace("http://e.org/")


def _graph() -> Graph:
    """Each case the writer treats apart: header, punning, restrictions, lists of resources and of
    literals, shared and cyclic blank nodes, types it cannot name an element for, literals."""
    from rdflib.namespace import XSD  # here: pytest's collection warns of a module-level XSD

    g = Graph(bind_namespaces="none")
    for prefix, ns in (("ex", EX), ("owl", OWL), ("rdf", RDF), ("rdfs", RDFS), ("xsd", XSD)):
        g.bind(prefix, ns)
    g.add((EX.onto, RDF.type, OWL.Ontology))
    g.add((EX.onto, RDFS.comment, Literal("header", lang="en")))
    g.add((EX.A, RDF.type, OWL.Class))
    g.add((EX.A, RDF.type, OWL.NamedIndividual))  # punned: named for owl:Class
    restriction = BNode()
    g.add((EX.A, RDFS.subClassOf, restriction))
    g.add((restriction, RDF.type, OWL.Restriction))
    g.add((restriction, OWL.onProperty, EX.p))
    g.add((restriction, OWL.someValuesFrom, EX.B))
    union = BNode()
    g.add((EX.B, OWL.equivalentClass, union))
    g.add((union, RDF.type, OWL.Class))
    Collection(g, head := BNode(), [EX.C, EX.D, anonymous := BNode()])
    g.add((anonymous, RDF.type, OWL.Restriction))
    g.add((anonymous, OWL.onProperty, EX.p))
    g.add((anonymous, OWL.hasValue, EX.x))
    g.add((union, OWL.unionOf, head))
    literals = BNode()
    g.add((EX.dt, OWL.oneOf, literals))
    Collection(g, literals, [Literal("a"), Literal(1)])  # no rdf:parseType="Collection" of literals
    different = BNode()
    g.add((different, RDF.type, OWL.AllDifferent))  # the object of no triple: unnamed
    Collection(g, members := BNode(), [EX.x, EX.y])
    g.add((different, OWL.distinctMembers, members))
    shared = BNode()  # the object of two triples: an rdf:nodeID
    g.add((EX.x, EX.q, shared))
    g.add((EX.y, EX.q, shared))
    g.add((shared, RDFS.label, Literal("shared")))
    one, two = BNode(), BNode()  # a cycle
    g.add((one, EX.q, two))
    g.add((two, EX.q, one))
    g.add((EX.y, RDF.type, RDF.Statement))  # an element rdf:… is not written for
    g.add((EX.y, RDF.type, URIRef("http://unbound.org/T")))  # no prefix: not an element
    g.add((EX.z, RDF.type, URIRef("http://e.org/T")))
    g.add((EX.z, EX.text, Literal('<b>"&\'</b>\r\nline', lang="en-GB")))
    g.add((EX.z, EX.n, Literal("2", datatype=XSD.integer)))
    g.add((EX.z, EX.empty, BNode()))  # a blank node with no properties
    return g


def test_the_graph_reads_back_whole():
    g = _graph()
    text = rdfxml(g)
    assert isomorphic(Graph().parse(data=text, format="xml"), g), text
    import pyoxigraph as ox

    assert len(list(ox.parse(text.encode(), format=ox.RdfFormat.RDF_XML))) == len(g)


def test_elements_are_named_for_types():
    text = rdfxml(_graph())
    lines = text.split("\n")
    assert lines[lines.index(">") + 1] == '  <owl:Ontology rdf:about="http://e.org/onto">'
    assert '  <owl:Class rdf:about="http://e.org/A">' in lines
    assert '    <rdf:type rdf:resource="http://www.w3.org/2002/07/owl#NamedIndividual"/>' in lines
    assert '  <ex:T rdf:about="http://e.org/z">' in lines
    assert '  <rdf:Description rdf:about="http://e.org/y">' in lines
    assert '    <rdf:type rdf:resource="http://unbound.org/T"/>' in lines
    assert "  <owl:AllDifferent>" in lines  # unnamed: the object of no triple
    assert text.count('rdf:parseType="Collection"') == 2  # the union and the members, not literals
    assert '      <owl:Restriction>' in lines  # nested in rdfs:subClassOf
    assert text.count("rdf:nodeID=") == 3 + 2  # the shared node (its element and two uses), the cycle
    # (one of its nodes at the top, named where the other, nested in it, refers to it)
    assert "xmlns:unbound" not in text and "ns1" not in text


def test_written_the_same_way_whatever_the_triples_order():
    g = _graph()
    shuffled = Graph(bind_namespaces="none")
    for prefix, ns in g.namespaces():
        shuffled.bind(prefix, ns)
    for triple in sorted(g, key=lambda t: repr(t), reverse=True):
        shuffled.add(triple)
    labels = {}  # blank nodes renamed, but the shared one and the cycle (their labels are written)

    def rename(term):
        return labels.setdefault(term, BNode()) if isinstance(term, BNode) and (None, EX.q, term) not in g else term

    renamed = Graph(bind_namespaces="none")
    for prefix, ns in g.namespaces():
        renamed.bind(prefix, ns)
    renamed += ((rename(s), p, rename(o)) for s, p, o in g)
    assert rdfxml(shuffled) == rdfxml(g) == rdfxml(renamed)


def test_a_predicate_rdfxml_cannot_name_is_refused():
    g = Graph()
    g.add((EX.a, URIRef("http://e.org/123"), EX.b))
    with pytest.raises(ValueError):
        rdfxml(g)


def test_registered_with_rdflib():
    g = _graph()
    assert g.serialize(format=FORMAT) == rdfxml(g)


def test_a_blank_node_label_starting_with_a_digit_is_written_as_an_ncname():
    """rdf:nodeID takes an XML NCName; Oxigraph's labels may start with a digit ("5abc"), and the
    file was refused ("rdf:nodeID value is not a valid NCName")."""
    g = Graph(bind_namespaces="none")
    g.bind("ex", EX)
    shared = BNode("5abc")
    g.add((EX.a, EX.p, shared))
    g.add((EX.c, EX.p, shared))
    g.add((shared, EX.q, Literal("x")))
    text = rdfxml(g)
    assert 'rdf:nodeID="b5abc"' in text
    back = Graph()
    back.parse(data=text, format="xml")
    assert isomorphic(back, g)
