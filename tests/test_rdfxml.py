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


@pytest.mark.parametrize("shape", ["list of literals", "deep blank nodes"])
def test_deep_nesting_is_written_at_the_top_level_not_by_recursion(shape):
    """A list of 400 literals, or blank nodes 400 deep, ended `validate --reason` in a
    RecursionError of ~1000 frames, and `build` in "the typed-xml writer refused the graph"
    (hostile testing): past MAX_NESTING a node is written at the top level with an rdf:nodeID."""
    g = Graph(bind_namespaces="none")
    g.bind("ex", EX)
    if shape == "list of literals":  # 400: past ~330 the writer recursed too deep
        Collection(g, head := BNode(), [Literal(f"v{i}") for i in range(400)])
        g.add((EX.a, EX.p, head))
    else:
        node = EX.a
        for i in range(400):
            g.add((node, EX.p, nested := BNode()))
            node = nested
        g.add((node, EX.p, Literal("deep")))
    back = Graph()
    back.parse(data=rdfxml(g), format="xml")
    assert isomorphic(back, g)


def test_labels_that_are_not_names_stay_apart():
    """"é" and "ü" both became rdf:nodeID "b_", and "a:b" and "a_b" "ba_b": two nodes read back as one."""
    g = Graph(bind_namespaces="none")
    g.bind("ex", EX)
    for label in ("é", "ü", "a:b", "a_b"):
        g.add((EX.a, EX.p, BNode(label)))
        g.add((EX.c, EX.p, BNode(label)))  # shared: written with an rdf:nodeID
        g.add((BNode(label), EX.q, Literal(label)))
    back = Graph()
    back.parse(data=rdfxml(g), format="xml")
    assert len(back) == len(g) == 12 and isomorphic(back, g)


def test_another_encoding_is_refused_not_written_with_question_marks():
    g = Graph(bind_namespaces="none")
    g.bind("ex", EX)
    g.add((EX.a, EX.p, Literal("α-SMA")))
    with pytest.raises(ValueError, match="^the typed-xml writer writes UTF-8 only, not latin-1$"):
        g.serialize(format=FORMAT, encoding="latin-1")
    assert "α-SMA" in g.serialize(format=FORMAT, encoding="utf-8").decode()
