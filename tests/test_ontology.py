"""The ontology: its RDF/XML release is fresh, it opens in owlready2, HermiT finds it consistent."""

import os
import subprocess
import sys

import pytest
from rdflib import Graph
from rdflib.compare import isomorphic

from msc_kg import paths
from msc_kg.build import ontology_graph, owl_release
from msc_kg.load import parse_file
from msc_kg.reason import check, java_available


def test_owl_release_is_not_stale():
    """ontology/msc-kg.owl must be what the Turtle and the mappings generate."""
    released = Graph().parse(paths.ONTOLOGY_OWL, format="xml")
    assert isomorphic(released, ontology_graph()), (
        "ontology/msc-kg.owl is stale: run `msc-kg build` to regenerate it from ontology/msc-kg.ttl")


def test_the_ontology_document_links_its_terms_to_public_ontologies():
    """ontology/msc-kg.owl, the file Protégé users open, had no link to CL, UBERON, MONDO, ...:
    they were only in the full release (ontology-tool audit). Its terms' rows of mappings.tsv are
    in it now, and no instance's (those stay in the full release)."""
    from rdflib import Literal, URIRef
    from rdflib.namespace import SKOS

    released = Graph().parse(paths.ONTOLOGY_OWL, format="xml")
    glioma = URIRef("https://w3id.org/msc-kg/ontology/Glioma")
    xref = URIRef("http://www.geneontology.org/formats/oboInOwl#hasDbXref")
    assert URIRef("http://purl.obolibrary.org/obo/MONDO_0021042") in set(released.objects(glioma, SKOS.exactMatch))
    assert Literal("MONDO:0021042") in set(released.objects(glioma, xref))
    matched = {s for p in (SKOS.exactMatch, SKOS.closeMatch, SKOS.broadMatch, SKOS.narrowMatch, SKOS.relatedMatch)
               for s in released.subjects(p, None)}
    assert len(matched) > 100
    assert all(str(s).startswith("https://w3id.org/msc-kg/ontology/") for s in matched)


def test_owl_release_is_written_the_same_way_every_time():
    """Rebuilding writes the same bytes, whatever Python's string hashing (blank node names,
    subject, property and namespace order are fixed), so a Turtle edit shows as a small diff."""
    code = "import sys; from msc_kg.build import owl_release; sys.stdout.write(owl_release())"
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env=dict(os.environ, PYTHONHASHSEED=seed)).stdout for seed in ("1", "2")}
    assert len(runs) == 1
    assert runs == {owl_release()}


def test_owl_release_is_marked_generated():
    assert "do not edit" in paths.ONTOLOGY_OWL.read_text(encoding="utf-8")[:400]
    assert owl_release().count("do not edit") == 1


def test_owlready2_opens_the_rdfxml_release():
    import owlready2

    world = owlready2.World()
    onto = world.get_ontology(paths.ONTOLOGY_OWL.as_uri()).load()
    labels = {c.name: str(c.label.first()) for c in onto.classes()}
    assert labels["UmbilicalCordMSC"] == "umbilical cord/cord blood MSC"
    assert onto.search_one(iri="*BoneMarrowMSC") in onto.search_one(iri="*MesenchymalStromalCell").descendants()


def test_no_two_terms_share_a_label():
    """ROBOT report's duplicate_label rule (an ERROR there): every term of the ontology has a label
    of its own; properties named like their value class say "has ..." ("has outcome")."""
    from collections import defaultdict

    from rdflib import RDFS

    labels = defaultdict(set)
    for term, label in parse_file(paths.ONTOLOGY_TTL).subject_objects(RDFS.label):
        labels[str(label).lower()].add(str(term))
    assert {label: terms for label, terms in labels.items() if len(terms) > 1} == {}


def test_every_declared_term_has_a_label(graph):
    """ROBOT report's missing_label rule: the 30 annotation properties reused from SKOS, DCMI
    terms, PROV-O and Web Annotation, and oboInOwl:hasDbXref, had none (ontology-tool audit)."""
    from rdflib import RDF, RDFS, URIRef
    from rdflib.namespace import OWL

    kinds = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)
    declared = {t for kind in kinds for t in graph.subjects(RDF.type, kind) if isinstance(t, URIRef)}
    assert len(declared) > 300
    assert sorted(str(t) for t in declared if graph.value(t, RDFS.label) is None) == []
    assert str(graph.value(URIRef("http://www.geneontology.org/formats/oboInOwl#hasDbXref"), RDFS.label)) == (
        "database cross reference")


def test_header_has_title_license_and_versions(graph):
    from rdflib import URIRef
    from rdflib.namespace import DCTERMS, OWL

    ontology = URIRef("https://w3id.org/msc-kg/ontology")
    assert graph.value(ontology, OWL.versionInfo).toPython() == "0.1.0"
    assert graph.value(ontology, OWL.versionIRI) == URIRef("https://w3id.org/msc-kg/releases/0.1.0/msc-kg.owl")
    assert graph.value(ontology, DCTERMS.license) == URIRef("https://creativecommons.org/licenses/by/4.0/")
    # the quoted sentences of the review are under its licence, which the header says (audit)
    assert "CC BY-NC 4.0 (https://creativecommons.org/licenses/by-nc/4.0/)" in graph.value(ontology, DCTERMS.rights)
    assert graph.value(ontology, DCTERMS.title) is not None


def test_every_property_and_superclass_the_graph_uses_is_declared(graph):
    """OWL 2 DL (Structural Specification §5.8.1): each IRI used as a property or a class is
    declared. prov:Entity (a superclass) and skos:relatedMatch (of the cross-references) were not
    (ontology-tool audit, OWL API profile checker)."""
    from rdflib import RDF, RDFS, URIRef
    from rdflib.namespace import OWL

    builtin = (str(RDF), str(RDFS), str(OWL))
    kinds = {OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty}
    undeclared = sorted(str(p) for p in set(graph.predicates())
                        if not str(p).startswith(builtin) and not kinds & set(graph.objects(p, RDF.type)))
    superclasses = {c for c in graph.objects(None, RDFS.subClassOf) if isinstance(c, URIRef)}
    undeclared += sorted(str(c) for c in superclasses if (c, RDF.type, OWL.Class) not in graph)
    assert undeclared == []


# The properties of the reserved vocabulary that OWL 2's mapping to RDF gives a meaning
# (Structural Specification §2.4, RDF Mapping tables 1-16): any other (rdf:value) makes the
# ontology leave OWL 2 DL.
OWL_MAPPED = {
    "rdf:type", "rdf:first", "rdf:rest", "rdfs:label", "rdfs:comment", "rdfs:seeAlso",
    "rdfs:isDefinedBy", "rdfs:subClassOf", "rdfs:subPropertyOf", "rdfs:domain", "rdfs:range",
    "owl:versionInfo", "owl:versionIRI", "owl:imports", "owl:priorVersion", "owl:deprecated",
    "owl:equivalentClass", "owl:disjointWith", "owl:oneOf", "owl:unionOf", "owl:intersectionOf",
    "owl:complementOf", "owl:onProperty", "owl:someValuesFrom", "owl:allValuesFrom", "owl:hasValue",
    "owl:inverseOf", "owl:members", "owl:distinctMembers", "owl:differentFrom", "owl:sameAs",
}


def test_no_reserved_property_outside_owls_mapping(graph):
    """The full release used rdf:value for the review's text, which the OWL API's DL profile
    check refused (UseOfReservedVocabularyForAnnotationPropertyIRI: ontology audit)."""
    from rdflib.namespace import OWL, RDF, RDFS

    names = {str(RDF): "rdf:", str(RDFS): "rdfs:", str(OWL): "owl:",
             "http://www.w3.org/2001/XMLSchema#": "xsd:"}
    used = set()
    for p in set(graph.predicates()):
        for ns, prefix in names.items():
            if str(p).startswith(ns):
                used.add(prefix + str(p)[len(ns):])
    assert used - OWL_MAPPED == set()
    assert {"rdf:type", "rdfs:label", "owl:oneOf", "owl:versionIRI"} <= used  # the check reads


def test_every_statement_of_the_review_is_a_declared_named_individual(graph):
    """OWL 2's RDF mapping reads an individual from its owl:NamedIndividual declaration: only the
    490 declared by hand were individuals to owlready2 (individuals()), none of the findings
    (ontology-tool audit); queries/derive/named-individuals.rq declares the rest."""
    from rdflib import RDF, URIRef
    from rdflib.namespace import OWL

    kinds = {URIRef("https://w3id.org/msc-kg/ontology/" + k) for k in ("Finding", "Claim", "QuantitativeOutcome")}
    found = {s for k in kinds for s in graph.subjects(RDF.type, k)}
    assert len(found) == 323 + 104 + 10
    assert [s for s in found if (s, RDF.type, OWL.NamedIndividual) not in graph] == []


def test_every_typed_node_of_the_instance_data_is_a_declared_named_individual(graph):
    """The evidence anchors and their selectors (#anchor, #quote, #position) and the review text
    they point into are individuals too: 1,291 of them were typed with a class alone, so OWL tools
    read them as undeclared entities (ontology-tool audit)."""
    from rdflib import RDF, URIRef
    from rdflib.namespace import OWL

    typed = {s for s in graph.subjects(RDF.type, None)
             if isinstance(s, URIRef) and str(s).startswith("https://w3id.org/msc-kg/id/")}
    assert len([s for s in typed if "#" in s]) == 3 * 437
    assert sorted(s for s in typed if (s, RDF.type, OWL.NamedIndividual) not in graph) == []


def test_every_class_used_as_a_value_is_a_declared_named_individual(graph):
    """msc:actor msc:UmbilicalCordMSC makes the class an individual too (punning), which OWL 2
    reads from its declaration: 114 had none, and an OWL API round trip added them (ontology audit)."""
    from rdflib import RDF, URIRef
    from rdflib.namespace import OWL

    objects = set(graph.subjects(RDF.type, OWL.ObjectProperty))
    punned = {o for s, p, o in graph if p in objects and isinstance(o, URIRef)
              and (o, RDF.type, OWL.Class) in graph}
    assert URIRef("https://w3id.org/msc-kg/ontology/UmbilicalCordMSC") in punned
    assert len(punned) >= 114
    assert sorted(o for o in punned if (o, RDF.type, OWL.NamedIndividual) not in graph) == []


def test_one_ontology_header_and_it_comes_first(graph):
    """The import module's header was merged into the release beside the graph's (two owl:Ontology,
    and OWL API took the module's comment for the graph's); the RDF/XML release wrote the header's
    annotations before its rdf:type owl:Ontology, which OWL API 3 then did not read as ontology
    annotations (owlcs/owlapi#574; ontology-tool audit). The header is now the first element, an
    owl:Ontology, its annotations inside it."""
    from rdflib import RDF, URIRef
    from rdflib.namespace import OWL

    assert set(graph.subjects(RDF.type, OWL.Ontology)) == {URIRef("https://w3id.org/msc-kg/ontology")}
    lines = owl_release().split("\n")
    first = lines[lines.index(">") + 1]  # after <rdf:RDF and its namespace declarations
    assert first == '  <owl:Ontology rdf:about="https://w3id.org/msc-kg/ontology">'


RDF_NS = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
OWL_NS = "{http://www.w3.org/2002/07/owl#}"


def test_the_rdfxml_release_has_a_typed_node_element_per_subject():
    """pronto, the OBO library, could not open ontology/msc-kg.owl ("could not find `owl:Ontology`
    element", hostile round 31): rdflib wrote every subject as an rdf:Description with an rdf:type
    child, where the OWL API (Protégé, ROBOT) and OBO tools write <owl:Class rdf:about=…> at the
    top level, restrictions nested, lists as rdf:parseType="Collection" (msc_kg.rdfxml)."""
    import xml.etree.ElementTree as ET

    from rdflib import RDF, URIRef
    from rdflib.namespace import OWL

    xml = owl_release()
    top = list(ET.fromstring(xml.encode("utf-8")))
    assert (top[0].tag, top[0].get(RDF_NS + "about")) == (OWL_NS + "Ontology", "https://w3id.org/msc-kg/ontology")
    assert [child.tag for child in top[0]][-2:] == [OWL_NS + "versionIRI", OWL_NS + "versionInfo"]
    assert [e.tag for e in top if e.tag in (RDF_NS + "Description", OWL_NS + "Ontology")] == [OWL_NS + "Ontology"]
    source = ontology_graph()
    for kind in (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty):
        stated = {str(s) for s in source.subjects(RDF.type, kind) if isinstance(s, URIRef)}
        written = {e.get(RDF_NS + "about") for e in top if e.tag == OWL_NS + kind.fragment}
        assert written == stated, kind
    assert "rdf:nodeID" not in xml  # each blank node is nested where it is used, or unnamed
    assert xml.count('rdf:parseType="Collection"') == len(set(source.subjects(RDF.first, None))
                                                             - set(source.objects(None, RDF.rest)))
    assert xml.count("<owl:Restriction>") == len(set(source.subjects(RDF.type, OWL.Restriction)))


@pytest.mark.parametrize("release", ["ontology", "full"])
def test_pronto_opens_the_rdfxml_releases(release, tmp_path, graph):
    """pronto (OBO tooling) refused both OWL files: "could not find `owl:Ontology` element"."""
    import warnings

    from msc_kg.build import full_release
    from msc_kg.rdfxml import rdfxml

    pronto = pytest.importorskip("pronto")
    path = paths.ONTOLOGY_OWL
    if release == "full":  # as build/msc-kg.owl is written (the release fixture has no HermiT run)
        path = tmp_path / "msc-kg.owl"
        path.write_text(rdfxml(full_release(graph)), encoding="utf-8")
    with warnings.catch_warnings():  # pronto warns of the OWL it does not map to OBO terms
        warnings.simplefilter("ignore")
        ontology = pronto.Ontology(str(path))
    meta = ontology.metadata
    if release == "ontology":
        assert (meta.ontology, meta.data_version) == ("https://w3id.org/msc-kg/ontology",
                                                      "https://w3id.org/msc-kg/releases/0.1.0/msc-kg.owl")
    else:
        assert (meta.ontology, meta.data_version) == ("https://w3id.org/msc-kg/msc-kg-full.owl",
                                                      "https://w3id.org/msc-kg/releases/0.1.0/msc-kg-full.owl")
    term = ontology["https://w3id.org/msc-kg/ontology/AdultBoneMarrowMSC"]
    assert term.name == "adult bone marrow MSC"
    assert {t.id for t in term.superclasses(distance=1, with_self=False)} == {
        "https://w3id.org/msc-kg/ontology/BoneMarrowMSC"}
    assert "https://w3id.org/msc-kg/ontology/BoneMarrowMSC" in ontology


def test_cancer_hierarchy_follows_the_review(graph):
    """T-ALL is an ALL, a leukemia and a blood cancer; APL is an AML."""
    ask = """PREFIX msc: <https://w3id.org/msc-kg/ontology/> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
    ASK { msc:TCellAcuteLymphoblasticLeukemia rdfs:subClassOf+ msc:AcuteLymphoblasticLeukemia .
          msc:AcuteLymphoblasticLeukemia rdfs:subClassOf+ msc:Leukemia . msc:Leukemia rdfs:subClassOf+ msc:BloodCancer .
          msc:AcutePromyelocyticLeukemia rdfs:subClassOf+ msc:AcuteMyeloidLeukemia }"""
    assert graph.query(ask).askAnswer


def test_cell_hierarchy_follows_the_review(graph):
    """"MSC-like pericytes similar to BM-MSCs" are pericytes, not MSCs (they were a subclass of
    MSC, so their glioma finding counted among MSCs' tumour effects); breast adenocarcinoma is a
    breast carcinoma."""
    ask = """PREFIX msc: <https://w3id.org/msc-kg/ontology/> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
    ASK { msc:MSCLikePericyte rdfs:subClassOf msc:Pericyte .
          msc:BreastAdenocarcinoma rdfs:subClassOf msc:BreastCarcinoma . msc:BreastCarcinoma rdfs:subClassOf msc:BreastCancer
          FILTER NOT EXISTS { msc:MSCLikePericyte rdfs:subClassOf+ msc:MesenchymalStromalCell } }"""
    assert graph.query(ask).askAnswer


def test_carcinoma_and_malignant_glioma_findings_name_the_review_s_words(graph):
    """'colorectal carcinoma cells', 'malignant glioma cell line' and 'cervical epitheloid carcinoma
    cell line' name classes of their own (MONDO:0024331, MONDO:0100342, MONDO:0005131) below the
    cancer they were filed under; glioblastoma is a malignant glioma, so its lines roll up."""
    rows = graph.query("""PREFIX msc: <https://w3id.org/msc-kg/ontology/>
    PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
    SELECT ?cancer (COUNT(DISTINCT ?f) AS ?n) WHERE {
      VALUES ?cancer { msc:ColorectalCarcinoma msc:MalignantGlioma msc:CervicalCarcinoma }
      ?f msc:targetCancer ?cancer } GROUP BY ?cancer""")
    assert {str(r[0]).rsplit("/", 1)[1]: int(r[1]) for r in rows} == {
        "ColorectalCarcinoma": 3, "MalignantGlioma": 2, "CervicalCarcinoma": 1}
    ask = """PREFIX msc: <https://w3id.org/msc-kg/ontology/> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
    ASK { msc:Glioblastoma rdfs:subClassOf msc:MalignantGlioma . msc:MalignantGlioma rdfs:subClassOf msc:Glioma .
          msc:ColorectalAdenocarcinoma rdfs:subClassOf msc:ColorectalCarcinoma .
          msc:CervicalCarcinoma rdfs:subClassOf msc:CervicalCancer }"""
    assert graph.query(ask).askAnswer


@pytest.mark.skipif(not java_available(), reason="HermiT needs Java")
def test_hermit_finds_the_graph_consistent(graph):
    result = check(graph)
    assert result.consistent and result.unsatisfiable == []


@pytest.mark.skipif(not java_available(), reason="HermiT needs Java")
def test_hermit_catches_a_cell_line_declared_a_claim(graph):
    from msc_kg.reason import reason

    broken = Graph()
    broken += graph
    broken += parse_file(paths.ROOT / "tests" / "data" / "inconsistent-axiom.ttl")
    result = reason(broken)
    assert result.consistent is False
    # HermiT's verdict named nothing (hostile testing); the disjoint typing is looked up
    assert result.text() == ("HermiT: the ontology with its data is INCONSISTENT.\n"
                             "  mscd:cellline-HeLa is a msc:CellLine and a msc:Mediator (typed "
                             "msc:GeneOrProtein), which are disjoint")


def test_an_inconsistency_by_a_range_or_a_functional_property_is_named(graph):
    """HermiT's verdict named nothing unless two disjoint classes were stated (hostile testing):
    a class a property's range implies, and two different values of a functional property, are
    looked up too, with the files that state them (without HermiT: it takes minutes on these)."""
    from rdflib import URIRef

    from msc_kg.namespaces import MSC, MSCD
    from msc_kg.reason import culprits

    broken = Graph()
    broken += graph
    finding = URIRef(MSCD + "finding-anticancer-1-blood-001")
    broken.add((finding, URIRef(MSC + "inSection"), URIRef(MSCD + "IL-6")))
    broken.add((URIRef(MSCD + "x"), URIRef(MSC + "effectDirection"), URIRef(MSC + "Promotes")))
    broken.add((URIRef(MSCD + "x"), URIRef(MSC + "effectDirection"), URIRef(MSC + "Inhibits")))
    assert culprits(broken) == [
        "mscd:IL-6 is a msc:DocumentPart (as the object of msc:inSection) and a msc:Mediator "
        "(typed msc:Cytokine), which are disjoint",
        "mscd:x has two values of msc:effectDirection, a functional property: msc:Inhibits and "
        "msc:Promotes, which are different"]
    stated = {(finding, URIRef(MSC + "inSection")): "a.ttl"}
    named = culprits(broken, lambda node, predicate: stated.get((node, predicate), "b.ttl"))
    assert named[0].startswith("a.ttl, b.ttl: mscd:IL-6 is") and named[1].startswith("b.ttl: mscd:x has")
    assert culprits(graph) == []


@pytest.mark.skipif(not java_available(), reason="HermiT needs Java")
def test_an_unsatisfiable_class_is_listed_without_owl_nothing(graph):
    """owl:Nothing was listed beside the real one (hostile testing)."""
    from rdflib import URIRef
    from rdflib.namespace import OWL, RDF, RDFS

    from msc_kg.namespaces import MSC
    from msc_kg.reason import reason

    broken = Graph()
    broken += graph
    weird = URIRef(MSC + "Weird")
    broken.add((weird, RDF.type, OWL.Class))
    broken.add((weird, RDFS.subClassOf, URIRef(MSC + "CellLine")))
    broken.add((weird, RDFS.subClassOf, URIRef(MSC + "Mediator")))
    assert reason(broken).text() == f"HermiT: unsatisfiable classes: {MSC}Weird"


@pytest.mark.skipif(not java_available(), reason="HermiT needs Java")
def test_a_graph_rdfxml_cannot_carry_is_told_without_a_traceback(graph):
    """A control character in a literal made the reasoner's RDF/XML unreadable: a traceback naming
    a deleted temporary file (hostile testing; validation refuses such a literal first)."""
    from rdflib import Literal, URIRef
    from rdflib.namespace import RDFS

    from msc_kg.errors import MscKgError
    from msc_kg.reason import reason

    broken = Graph()
    broken += graph
    broken.add((URIRef("http://e/x"), RDFS.label, Literal("a \x01 b")))
    with pytest.raises(MscKgError, match=r"^the reasoner could not read the graph as RDF/XML \(written "
                                         r"from the validated data\): .*the graph") as raised:
        reason(broken)
    assert "/tmp" not in str(raised.value)


@pytest.mark.skipif(not java_available(), reason="HermiT needs Java")
def test_the_release_is_reasoned_as_written(graph):
    """The verdict was about a copy with xsd:date values turned into strings, and HermiT refused
    the shipped build/msc-kg.owl (hostile testing): msc:statusDate is now an annotation property,
    and a data property taking a datatype outside the OWL 2 map is refused by name."""
    from rdflib import Literal, URIRef
    from rdflib.namespace import OWL, RDF, XSD

    from msc_kg.errors import Inconsistent
    from msc_kg.namespaces import MSC
    from msc_kg.reason import reason

    assert (URIRef(MSC + "statusDate"), RDF.type, OWL.AnnotationProperty) in graph
    broken = Graph()
    broken += graph
    broken.add((URIRef("http://e/p"), RDF.type, OWL.DatatypeProperty))
    broken.add((URIRef("http://e/x"), URIRef("http://e/p"), Literal("2020-01-01", datatype=XSD.date)))
    with pytest.raises(Inconsistent, match=r"^HermiT refuses a literal of datatype "
                                           r"<http://www\.w3\.org/2001/XMLSchema#date>: it is outside"):
        reason(broken)


def test_missing_java_is_said_plainly(monkeypatch):
    from msc_kg import reason as reason_module
    from msc_kg.errors import ReasonerUnavailable

    monkeypatch.setattr(reason_module.shutil, "which", lambda name: None)
    with pytest.raises(ReasonerUnavailable, match="HermiT needs a Java runtime and none was found"):
        reason_module.reason(Graph())
