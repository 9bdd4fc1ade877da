"""Cross-references (ontology/mappings.tsv): agree with the verified reference tables, use valid Bioregistry
CURIEs, cover the entities, reach the built graph, SSSOM and the import module; linker queries answer exactly."""

from __future__ import annotations

import csv
import re

import pytest
from rdflib import Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import RDFS, SKOS

from msc_kg import mappings, paths
from msc_kg.query import rows

# Verified reference tables (copied from the project's shared/reference with their README).
REFERENCE = paths.REFERENCE_DIR
LINKERS = paths.QUERIES_DIR / "linkers"
MSC, MSCD = "https://w3id.org/msc-kg/ontology/", "https://w3id.org/msc-kg/id/"
OBSOLETE = {"GO:0007050", "GO:0006949"}
# Reference-table category (ontology-terms.tsv) allowed for each kind of subject (an msc class it falls under).
CATEGORIES = {"Cell": {"cell_type"}, "Tissue": {"tissue"}, "Cancer": {"cancer"}, "Disease": {"disease"},
              "Organism": {"organism"}, "GeneOrProtein": {"gene"}, "SignallingPathway": {"pathway", "process"},
              "Outcome": {"process"}, "Mechanism": {"process"}, "CellJunction": {"cellular_component"},
              "ExtracellularVesicle": {"cellular_component"}, "ExtracellularMatrix": {"cellular_component"},
              "ChemicalCompound": {"chemical"}}



def table(name: str) -> list[dict[str, str]]:
    with open(REFERENCE / name, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.fixture(scope="module")
def maps():
    return mappings.read_mappings()


@pytest.fixture(scope="module")
def terms():
    return table("ontology-terms.tsv")


@pytest.fixture(scope="module")
def lines():
    return table("cell-lines.tsv")


def kinds(graph, curie: str) -> set[str]:
    """The msc classes a subject is (for classes) or is an instance of (for individuals), transitively."""
    iri = mappings.expand(curie)
    query = f"""PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
    SELECT DISTINCT ?k WHERE {{ {{ <{iri}> rdfs:subClassOf* ?k }} UNION {{ <{iri}> a/rdfs:subClassOf* ?k }} }}"""
    return {str(r.k)[len(MSC):] for r in graph.query(query) if str(r.k).startswith(MSC)}


def test_table_has_the_sssom_columns_and_known_values(maps):
    assert maps, "ontology/mappings.tsv is empty"
    for row in maps:
        assert row["predicate_id"] in mappings.PREDICATES, row
        assert row["mapping_justification"] == "semapv:ManualMappingCuration", row
        assert row["subject_id"].split(":")[0] in ("msc", "mscd"), row
        assert row["subject_label"] and row["object_label"] and row["source"], row
    keys = [(r["subject_id"], r["predicate_id"], r["object_id"]) for r in maps]
    assert len(keys) == len(set(keys)), "duplicate mapping rows"


def test_subjects_exist_with_their_labels(graph, maps):
    from rdflib.namespace import RDFS

    for row in maps:
        label = graph.value(mappings.expand(row["subject_id"]), RDFS.label)
        assert label is not None and str(label) == row["subject_label"], row["subject_id"]


def test_ontology_mappings_agree_with_the_reference_table(graph, maps, terms):
    """Each object is a verified row of ontology-terms.tsv of the subject's category, with that label."""
    verified = {}
    for r in terms:
        if r["status"] == "verified":
            verified.setdefault(r["curie"], []).append(r)
    for row in maps:
        if row["object_id"].split(":")[0] in ("cellosaurus", "clinicaltrials", "doi", "pubmed", "pmc"):
            continue
        refs = verified.get(row["object_id"])
        assert refs, f"{row['object_id']} ({row['subject_id']}) is not verified in ontology-terms.tsv"
        allowed = set().union(*(CATEGORIES.get(k, set()) for k in kinds(graph, row["subject_id"])))
        assert {r["category"] for r in refs} & allowed, (row["subject_id"], row["object_id"], allowed)
        assert row["object_label"] in {r["ontology_label"].split(" | ")[0] for r in refs}, row["object_id"]
        assert row["source"].startswith("reference/ontology-terms.tsv: ")
        assert any(r["source"] in row["source"] for r in refs), row["object_id"]


def test_cell_line_accessions_sit_on_the_cell_line_they_name(graph, maps, lines):
    by_accession = {}
    for r in lines:
        if r["status"] == "verified":
            by_accession.setdefault(r["accession"], []).append(r)
    cell_rows = [r for r in maps if r["object_id"].startswith("cellosaurus:")]
    for row in cell_rows:
        accession = "CVCL_" + row["object_id"].split(":", 1)[1]
        refs = by_accession.get(accession)
        assert refs, f"{accession} is not a verified accession in cell-lines.tsv"
        subject = mappings.expand(row["subject_id"])
        names = {str(n) for n in graph.objects(subject, URIRef(MSC + "nameInReview"))}
        assert names & {r["name_in_paper"] for r in refs}, (row["subject_id"], accession)
        assert str(graph.value(subject, URIRef(MSC + "cellosaurusAccession"))) == accession
        assert row["predicate_id"] == "skos:exactMatch" and row["object_label"] == refs[0]["cellosaurus_name"]
    # every curated accession is mapped, and KM3 is the myeloma line, never CVCL_0011
    curated = {str(s) for s, _ in graph.subject_objects(URIRef(MSC + "cellosaurusAccession"))}
    assert curated == {str(mappings.expand(r["subject_id"])) for r in cell_rows}
    assert ("mscd:cellline-KM3", "cellosaurus:GZ65") in {(r["subject_id"], r["object_id"]) for r in cell_rows}
    assert "cellosaurus:0011" not in {r["object_id"] for r in cell_rows}


def test_no_obsolete_conflicting_or_unverified_identifier(maps, terms, lines):
    verified = {r["curie"] for r in terms if r["status"] == "verified"}
    verified |= {"cellosaurus:" + r["accession"][5:] for r in lines if r["status"] == "verified"}
    bad = {r["curie"] for r in terms if r["status"] != "verified" and r["curie"]} - verified
    for r in lines:  # accessions named only in notes of conflicting/unverified rows (e.g. CVCL_2219, CVCL_RQ45)
        if r["status"] != "verified":
            bad |= {"cellosaurus:" + a for a in re.findall(r"CVCL_([A-Z0-9]{4})", r["note"])}
    bad -= verified
    used = {r["object_id"] for r in maps}
    assert not used & OBSOLETE
    assert not used & bad, sorted(used & bad)


def test_caf_lsc_msc1_msc2_and_cord_blood_msc_have_no_exact_cl_match(maps):
    no_exact = {"msc:CancerAssociatedFibroblast", "msc:MSCDerivedCAF", "msc:LeukemiaStemCell", "msc:GliomaStemCell",
                "msc:CancerStemCell", "msc:MSC1", "msc:MSC2", "msc:UmbilicalCordBloodMSC", "msc:UmbilicalCordMSC"}
    for row in maps:
        if row["subject_id"] in no_exact and row["object_id"].startswith("CL:"):
            assert row["predicate_id"] != "skos:exactMatch", row
    assert ("msc:CancerAssociatedFibroblast", "skos:broadMatch", "CL:0000057") in {
        (r["subject_id"], r["predicate_id"], r["object_id"]) for r in maps}


def test_a_class_is_not_named_after_a_term_it_only_broadly_or_narrowly_matches(graph, maps):
    """A label or synonym equal to a broad or narrow match's label says the class is that term, which the
    mapping denies (msc:BreastAdenocarcinoma had the altLabel "breast carcinoma", a broader MONDO term)."""
    from rdflib.namespace import RDFS

    for row in maps:
        if row["predicate_id"] in ("skos:broadMatch", "skos:narrowMatch"):
            names = {str(n).lower() for p in (RDFS.label, SKOS.altLabel)
                     for n in graph.objects(mappings.expand(row["subject_id"]), p)}
            assert row["object_label"].lower() not in names, (row["subject_id"], row["object_id"])


def test_a_synonym_naming_another_verified_term_is_that_term_s_class(graph, maps, terms):
    """A class's label or synonym that is the name of a verified reference term (as the paper writes
    it, or the ontology's label) names that term: the class maps to it exactly. msc:OvarianCarcinoma
    had the synonyms "epithelial ovarian cancer" and "ovarian adenocarcinoma", terms of their own
    (MONDO:0018364, MONDO:0002752) it does not match."""
    from rdflib.namespace import RDFS

    named: dict[str, set[str]] = {}
    for r in terms:
        if r["status"] == "verified" and r["category"] == "cancer":
            for name in (r["label_in_paper"].split(" (")[0], r["ontology_label"]):
                named.setdefault(name.lower(), set()).add(r["curie"])
    exact: dict[str, set[str]] = {}
    for r in maps:
        if r["predicate_id"] == "skos:exactMatch":
            exact.setdefault(r["subject_id"], set()).add(r["object_id"])
    for subject in exact:
        names = {str(n).lower() for p in (RDFS.label, SKOS.altLabel)
                 for n in graph.objects(mappings.expand(subject), p)}
        for name in names & named.keys():
            assert named[name] & exact[subject], (subject, name, named[name])


def test_ovarian_cancer_names_follow_the_review_and_the_cell_line_table(graph, maps):
    """"epithelial ovarian cancer cell lines (SKOV3, CAOV3, A2780 and ES2) [38]" and "human ovarian
    adenocarcinoma (OVCAR-3)" name classes of their own; the six ovarian lines are adenocarcinomas in
    the verified cell-line table, a narrower disease within the review's (CURATION.md)."""
    def cancers(prop, value):
        return sorted(str(s)[len(MSCD):] for s in graph.subjects(URIRef(MSC + prop), URIRef(MSC + value)))

    assert cancers("targetCancer", "EpithelialOvarianCancer") == [
        "finding-anticancer-6-gynecological-002", "finding-anticancer-6-gynecological-003"]
    assert cancers("targetCancer", "OvarianAdenocarcinoma") == ["finding-mechanism-2-msc-caf-016"]
    assert cancers("modelsCancer", "OvarianAdenocarcinoma") == [
        "cellline-A2780", "cellline-CAOV3", "cellline-ES2", "cellline-OVCAR3", "cellline-SKOV3", "cellline-TOV112D"]
    assert cancers("modelsCancer", "BreastCarcinoma") == ["cellline-MCF7Ras", "cellline-SUM1315", "cellline-T47D"]
    # an ovarian carcinoma is an epithelial ovarian cancer: the lines of the review's "epithelial
    # ovarian cancer cell lines" (SKOV3, CAOV3, A2780, ES2) model a subclass of the findings' cancer
    assert list(graph.transitive_objects(URIRef(MSC + "OvarianAdenocarcinoma"), RDFS.subClassOf))[:4] == [
        URIRef(MSC + c) for c in ("OvarianAdenocarcinoma", "OvarianCarcinoma", "EpithelialOvarianCancer", "OvarianCancer")]
    assert {r["object_id"] for r in maps if r["subject_id"] == "msc:EpithelialOvarianCancer"} == {
        "MONDO:0018364", "NCIT:C40026", "DOID:2151"}
    assert {r["object_id"] for r in maps if r["subject_id"] == "msc:OvarianAdenocarcinoma"} == {
        "MONDO:0002752", "NCIT:C7700", "DOID:3713"}


def test_breast_carcinoma_is_its_own_class_with_the_review_s_findings(graph, maps):
    """The review says "breast carcinoma" cells (T47D [61], MCF-7, the LOX sentence): those findings name
    msc:BreastCarcinoma, exactly MONDO:0004989, of which breast adenocarcinoma is a subclass."""
    exact = {r["object_id"] for r in maps if r["subject_id"] == "msc:BreastCarcinoma"
             and r["predicate_id"] == "skos:exactMatch"}
    assert exact == {"MONDO:0004989", "NCIT:C4872", "DOID:3459"}
    found = sorted(str(f)[len(MSCD):] for f in graph.subjects(URIRef(MSC + "targetCancer"), URIRef(MSC + "BreastCarcinoma")))
    assert found == ["finding-anticancer-2-breast-002", "finding-mechanism-5-replace-012",
                     "finding-mechanism-5-replace-013", "finding-mechanism-5-replace-026",
                     "finding-mechanism-5-replace-027"]
    for f in found:
        assert "breast carcinoma" in str(graph.value(URIRef(MSCD + f), URIRef(MSC + "evidence"))), f


def test_a_gene_and_its_protein_are_not_both_exact_matches(maps):
    """skos:exactMatch is transitive: a mediator exactly matching its HGNC gene and its UniProtKB
    protein made the two one, for 57 pairs (ontology-tool audit). The gene is exact, the protein close."""
    exact = {}
    for row in maps:
        if row["predicate_id"] == "skos:exactMatch":
            exact.setdefault(row["subject_id"], set()).add(row["object_id"].split(":")[0])
    assert sorted(s for s, prefixes in exact.items() if {"HGNC", "UniProtKB"} <= prefixes) == []
    il6 = {(r["predicate_id"], r["object_id"]) for r in maps if r["subject_id"] == "mscd:IL-6"}
    assert il6 == {("skos:exactMatch", "HGNC:6018"), ("skos:closeMatch", "UniProtKB:P05231")}


def test_curies_follow_bioregistry_prefixes_and_patterns(maps):
    patterns = {r["prefix"]: r["pattern"] for r in mappings.prefix_records()}
    conv = mappings.converter()
    for row in maps:
        for column in ("subject_id", "predicate_id", "object_id", "mapping_justification"):
            curie = row[column]
            assert conv.standardize_curie(curie, strict=True) == curie, curie
        prefix, local = row["object_id"].split(":", 1)
        assert patterns[prefix] and re.match(patterns[prefix], local), row["object_id"]


def test_pinned_prefix_map_matches_the_bioregistry():
    """Only when bioregistry is installed (it is not a runtime dependency): the pinned file is what it generates."""
    bioregistry = pytest.importorskip("bioregistry")
    for record in mappings.prefix_records():
        resource = bioregistry.get_resource(record["prefix"])
        assert resource is not None, record["prefix"]
        assert bioregistry.get_pattern(resource.prefix) == record["pattern"]


def _names(value: str) -> set[str]:
    norm = lambda s: re.sub(r"[^a-z0-9+]", "", s.lower())  # noqa: E731
    parts = {value, value.split("(")[0]}
    parts |= {p for chunk in re.findall(r"\(([^)]*)\)", value) for p in re.split(r"[;,]", chunk)}
    parts |= {p for part in list(parts) for p in part.split(" / ")}
    return {norm(p) for p in parts if norm(p)}


NOT_ONTOLOGY_TERMS = {"CellLine", "ReviewStatement", "DocumentPart", "AnimalModel", "ClinicalTrial"}
# Name matches to a reference row that are not the same thing (the reason is why no mapping is made).
DELIBERATELY_UNMAPPED = {
    "msc:Immunosuppression": "the reference row pairs 'immunosuppression' with GO:0006955 immune response, its opposite",
    "mscd:gap-junction-inhibitor": "a generic inhibitor; the reference row's CHEBI:30853 is glycyrrhetinic acid (generic/18beta), related to mscd:18alpha-GA",
    **dict.fromkeys(("mscd:gap-junction", "mscd:tight-junction", "mscd:adherens-junction", "mscd:desmosome",
                     "mscd:exosomes", "mscd:ECM", "mscd:microvesicles"),
                    "mapped through its class (rdf:type): the class and its individual both exactMatch one GO "
                    "term made the individual equivalent to its class"),
    "mscd:Smad": "the protein family of 'TGF-β/Smad pathway'; the reference row's HGNC:6770 is one member, SMAD4 (mscd:SMAD4)",
}


def test_coverage_of_entities_with_a_verified_counterpart(graph, maps, terms, lines):
    """At least 95% of the entities whose name matches a verified reference row carry a mapping to it."""
    from rdflib.namespace import OWL, RDF, RDFS

    names: dict[str, set[str]] = {}
    for r in terms:
        if r["status"] == "verified":
            for n in _names(r["label_in_paper"]) | _names(r["ontology_label"].split(" | ")[0]):
                names.setdefault(n, set()).add(r["curie"])
    name_props = (RDFS.label, SKOS.altLabel, URIRef(MSC + "nameInReview"))
    mapped = {}
    for r in maps:
        mapped.setdefault(r["subject_id"], set()).add(r["object_id"])
    expected, carried = 0, 0
    missing = []
    for s in set(graph.subjects(RDFS.label, None)):
        if not str(s).startswith((MSC, MSCD)) or isinstance(s, Literal):
            continue
        if not {OWL.Class, OWL.NamedIndividual} & set(graph.objects(s, RDF.type)):
            continue  # properties, findings, sections
        curie = ("msc:" + str(s)[len(MSC):]) if str(s).startswith(MSC) else ("mscd:" + str(s)[len(MSCD):])
        if kinds(graph, curie) & NOT_ONTOLOGY_TERMS:
            continue  # cell lines are checked below against cell-lines.tsv
        curie = ("msc:" + str(s)[len(MSC):]) if str(s).startswith(MSC) else ("mscd:" + str(s)[len(MSCD):])
        own = set().union(*(_names(str(v)) for p in name_props for v in graph.objects(s, p))) | _names(curie.split(":")[1])
        counterparts = set().union(*(names.get(n, set()) for n in own))
        if counterparts:
            expected += 1
            if mapped.get(curie, set()) & counterparts:
                carried += 1
            else:
                missing.append(curie)
    # cell lines: every line whose name is verified in cell-lines.tsv
    verified_names = {r["name_in_paper"] for r in lines if r["status"] == "verified"}
    for s in set(graph.subjects(URIRef(MSC + "nameInReview"), None)):
        if {str(n) for n in graph.objects(s, URIRef(MSC + "nameInReview"))} & verified_names:
            expected += 1
            curie = "mscd:" + str(s)[len(MSCD):]
            carried += 1 if curie in mapped else 0
            if curie not in mapped:
                missing.append(curie)
    assert expected > 250
    assert carried / expected >= 0.95, f"coverage {carried}/{expected}; missing {sorted(missing)}"
    assert set(missing) <= set(DELIBERATELY_UNMAPPED), sorted(set(missing) - set(DELIBERATELY_UNMAPPED))


def test_rdf_uses_canonical_iris_and_dbxrefs(graph, maps):
    xref = URIRef("http://www.geneontology.org/formats/oboInOwl#hasDbXref")
    expected_iris = {"CL:0000134": "http://purl.obolibrary.org/obo/CL_0000134",
                     "cellosaurus:0065": "https://www.cellosaurus.org/CVCL_0065",
                     "NCBITaxon:9606": "http://purl.obolibrary.org/obo/NCBITaxon_9606",
                     "UniProtKB:P05231": "http://purl.uniprot.org/uniprot/P05231",
                     "clinicaltrials:NCT01092026": "https://www.clinicaltrials.gov/study/NCT01092026",
                     "doi:10.7150/jca.16792": "https://doi.org/10.7150/jca.16792"}
    for curie, iri in expected_iris.items():
        assert str(mappings.expand(curie)) == iri
    for row in maps:
        subject, obj = mappings.expand(row["subject_id"]), mappings.expand(row["object_id"])
        assert (subject, mappings.PREDICATES[row["predicate_id"]], obj) in graph, row
        has_xref = (subject, xref, Literal(row["object_id"])) in graph
        assert has_xref == (row["predicate_id"] == "skos:exactMatch"), row


def test_sssom_file_validates(release, maps):
    out, _ = release
    path = out / "msc-kg.sssom.tsv"
    assert path.exists()
    sssom = pytest.importorskip("sssom")  # noqa: F841
    from sssom.constants import SchemaValidationType
    from sssom.parsers import parse_sssom_table
    from sssom.validators import validate

    msdf = parse_sssom_table(path)
    assert len(msdf.df) == len(maps)
    assert msdf.metadata["license"] == mappings.LICENSE
    assert msdf.metadata["mapping_set_id"] == mappings.MAPPING_SET_ID
    assert set(msdf.df["mapping_justification"]) == {"semapv:ManualMappingCuration"}
    # an individual mapped to an OBO class says so: a tool turning exactMatch into
    # owl:equivalentClass would make it a class (ontology audit)
    types = dict(zip(msdf.df["subject_id"], msdf.df["subject_type"]))
    assert types["mscd:doxorubicin"] == "owl named individual" and types["msc:Glioma"] == "owl class"
    assert set(types.values()) == {"owl class", "owl named individual"}
    reports = validate(msdf, [SchemaValidationType.JsonSchema, SchemaValidationType.PrefixMapCompleteness],
                       fail_on_error=False)
    assert all(not report.results for report in reports.values()), reports


def test_import_module_is_generated_and_not_stale(maps):
    text = mappings.IMPORT_MODULE.read_text(encoding="utf-8")
    assert "do not edit" in text[:300]
    from rdflib import Graph

    assert isomorphic(Graph().parse(data=text, format="turtle"), mappings.import_module()), (
        "ontology/imports/external-terms.ttl is stale: run msc_kg.mappings.write_import_module()")
    listed = set(mappings.external_terms())
    used = {r["object_id"] for r in maps if r["object_id"].split(":")[0] in mappings.CLASS_PREFIXES}
    assert listed == used, f"term list differs from the mapped classes: {sorted(listed ^ used)}"


def test_import_module_is_loaded_with_labels(graph):
    from rdflib.namespace import OWL, RDF, RDFS

    cl = URIRef("http://purl.obolibrary.org/obo/CL_0000134")
    assert (cl, RDF.type, OWL.Class) in graph
    assert str(graph.value(cl, RDFS.label)) == "mesenchymal stem cell"


def run(store, name: str) -> list[dict[str, str]]:
    text = (LINKERS / f"{name}.rq").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0].startswith("# Purpose: ") and lines[1].startswith("# Returns: ")
    return rows(store, text)


MISID = {
    ('BEL-7402', 'CVCL_5492'): 'anticancer-3-digestive-005 anticancer-3-digestive-006 anticancer-3-digestive-007',
    ('Hep-G2', 'CVCL_0027'): 'anticancer-3-digestive-005 anticancer-3-digestive-006 anticancer-3-digestive-007',
    ('MKN28', 'CVCL_1416'): 'anticancer-3-digestive-016 anticancer-3-digestive-017',
    ('SGC-7901', 'CVCL_0520'): 'anticancer-3-digestive-018',
    ('SMMC-7721', 'CVCL_0534'): 'anticancer-3-digestive-002 anticancer-3-digestive-005 anticancer-3-digestive-006 anticancer-3-digestive-007',
    ('U-118MG', 'CVCL_0633'): 'mechanism-8-contact-008',
    ('U-87MG ATCC', 'CVCL_0022'): 'anticancer-7-nervous-003 anticancer-7-nervous-004 anticancer-7-nervous-005 anticancer-7-nervous-010 mechanism-5-replace-003 mechanism-5-replace-004',
}
MONDO = (
    "GastricCancer MONDO:0001056",
    "BladderCancer MONDO:0001187",
    "ColonAdenocarcinoma MONDO:0002271",
    "LiverCancer MONDO:0002691",
    "OvarianAdenocarcinoma MONDO:0002752",
    "CervicalCancer MONDO:0002974",
    "LargeCellLungCarcinoma MONDO:0003050",
    "BCellAcuteLymphoblasticLeukemia MONDO:0004947",
    "TCellAcuteLymphoblasticLeukemia MONDO:0004963",
    "AcuteLymphoblasticLeukemia MONDO:0004967",
    "BreastAdenocarcinoma MONDO:0004988",
    "BreastCarcinoma MONDO:0004989",
    "Cancer MONDO:0004992",
    "ColorectalAdenocarcinoma MONDO:0005008",
    "GastricAdenocarcinoma MONDO:0005036",
    "KaposiSarcoma MONDO:0005055",
    "Leukemia MONDO:0005059",
    "LungAdenocarcinoma MONDO:0005061",
    "Lymphoma MONDO:0005062",
    "RenalCellCarcinoma MONDO:0005086",
    "Melanoma MONDO:0005105",
    "CervicalCarcinoma MONDO:0005131",
    "OvarianCarcinoma MONDO:0005140",
    "PancreaticDuctalAdenocarcinoma MONDO:0005184",
    "NonSmallCellLungCancer MONDO:0005233",
    "ColorectalCancer MONDO:0005575",
    "HeadAndNeckCancer MONDO:0005627",
    "PancreaticAdenocarcinoma MONDO:0006047",
    "BurkittLymphoma MONDO:0007243",
    "BreastCancer MONDO:0007254",
    "HepatocellularCarcinoma MONDO:0007256",
    "EsophagealCancer MONDO:0007576",
    "Medulloblastoma MONDO:0007959",
    "OvarianCancer MONDO:0008170",
    "ProstateCancer MONDO:0008315",
    "LungCancer MONDO:0008903",
    "MultipleMyeloma MONDO:0009693",
    "Osteosarcoma MONDO:0009807",
    "PancreaticCancer MONDO:0009831",
    "EndometrialCancer MONDO:0011962",
    "ChronicMyeloidLeukemia MONDO:0011996",
    "AcutePromyelocyticLeukemia MONDO:0012883",
    "Glioblastoma MONDO:0018177",
    "EpithelialOvarianCancer MONDO:0018364",
    "AcuteMyeloidLeukemia MONDO:0018874",
    "Cholangiocarcinoma MONDO:0019087",
    "Glioma MONDO:0021042",
    "ColonCancer MONDO:0021063",
    "ColorectalCarcinoma MONDO:0024331",
    "MalignantGlioma MONDO:0100342",
)
HGNC = (
    "Akt narrowMatch HGNC:391",
    "BCAR1 exactMatch HGNC:971",
    "BCL2 exactMatch HGNC:990",
    "BDNF exactMatch HGNC:1033",
    "CD28 exactMatch HGNC:1653",
    "CD3 relatedMatch HGNC:1674",
    "CD90 exactMatch HGNC:11801",
    "CX43 exactMatch HGNC:4274",
    "DKK1 exactMatch HGNC:2891",
    "DNAJB1 exactMatch HGNC:5270",
    "DNAJC5 exactMatch HGNC:16235",
    "E-cadherin exactMatch HGNC:1748",
    "ELK4 exactMatch HGNC:3326",
    "ERK narrowMatch HGNC:6871",
    "ERK narrowMatch HGNC:6877",
    "FOXF1 exactMatch HGNC:3809",
    "G-CSF exactMatch HGNC:2438",
    "GDNF exactMatch HGNC:4232",
    "GFAP exactMatch HGNC:4235",
    "GRB2 exactMatch HGNC:4566",
    "HGF exactMatch HGNC:4893",
    "HGS exactMatch HGNC:4897",
    "HLA-G exactMatch HGNC:4964",
    "HPRT1 exactMatch HGNC:5157",
    "HSPA1A exactMatch HGNC:5232",
    "IDO closeMatch HGNC:6059",
    "IFN-gamma exactMatch HGNC:5438",
    "IGF-1 exactMatch HGNC:5464",
    "IGF-1R exactMatch HGNC:5465",
    "IL-10 exactMatch HGNC:5962",
    "IL-15 exactMatch HGNC:5977",
    "IL-2 exactMatch HGNC:6001",
    "IL-6 exactMatch HGNC:6018",
    "IL-6R exactMatch HGNC:6019",
    "IL-8 exactMatch HGNC:6025",
    "LOX exactMatch HGNC:6664",
    "MAP3K7 exactMatch HGNC:6859",
    "MCL1 exactMatch HGNC:6943",
    "MCP-1 exactMatch HGNC:10618",
    "MEK1-2 narrowMatch HGNC:6840",
    "MEK1-2 narrowMatch HGNC:6842",
    "MPG exactMatch HGNC:7211",
    "MSH2 exactMatch HGNC:7325",
    "NF-kB relatedMatch HGNC:7794",
    "NF-kB relatedMatch HGNC:9955",
    "NRG1 exactMatch HGNC:7997",
    "NT-3 exactMatch HGNC:8023",
    "NeuN exactMatch HGNC:27097",
    "OGT exactMatch HGNC:8127",
    "PAFAH1B1 exactMatch HGNC:8574",
    "PCNA exactMatch HGNC:8729",
    "PI3K relatedMatch HGNC:8975",
    "PLOD3 exactMatch HGNC:9083",
    "PTEN exactMatch HGNC:9588",
    "RALA exactMatch HGNC:9839",
    "SDF-1 exactMatch HGNC:10672",
    "SMAD4 exactMatch HGNC:6770",
    "Sox2 exactMatch HGNC:11195",
    "TGF-beta narrowMatch HGNC:11766",
    "TGF-beta1 exactMatch HGNC:11766",
    "TNF-alpha exactMatch HGNC:11892",
    "TRAIL exactMatch HGNC:11925",
    "Twist1 exactMatch HGNC:12428",
    "VEGF narrowMatch HGNC:12680",
    "alpha-SMA exactMatch HGNC:130",
    "calbindin closeMatch HGNC:1434",
    "collagen-I relatedMatch HGNC:2197",
    "galectin-3 exactMatch HGNC:6563",
    "galectin-9 exactMatch HGNC:6570",
    "p21 exactMatch HGNC:1784",
    "vimentin exactMatch HGNC:12692",
)


def test_findings_on_misidentified_cell_lines_with_cellosaurus(store):
    """Cellosaurus flags SMMC-7721, BEL-7402, SGC-7901 (HeLa), HepG2 (hepatoblastoma), MKN28, U-87MG ATCC, U-118MG."""
    found = {}
    for row in run(store, "findings-on-misidentified-cell-lines-with-cellosaurus"):
        assert row["cellosaurus"] == "https://www.cellosaurus.org/" + dict(MISID_KEYS)[row["cellLine"]]
        found.setdefault((row["cellLine"], row["cellosaurus"].rsplit("/", 1)[1]), []).append(
            row["finding"].replace("finding-", ""))
        assert row["problem"]
    assert {k: " ".join(v) for k, v in found.items()} == MISID


MISID_KEYS = tuple(MISID)


def test_cancers_by_mondo_id(store):
    result = run(store, "cancers-by-mondo-id")
    assert tuple(f"{r['class'][len(MSC):]} {r['xref']}" for r in result) == MONDO
    assert all(r["mondo"] == "http://purl.obolibrary.org/obo/MONDO_" + r["xref"][6:] for r in result)
    # breast adenocarcinoma is not breast carcinoma, its superclass
    assert "BreastAdenocarcinoma MONDO:0004988" in MONDO and "BreastCarcinoma MONDO:0004989" in MONDO


def test_mediators_by_hgnc_id(store):
    result = run(store, "mediators-by-hgnc-id")
    assert tuple(f"{r['mediator']} {r['match']} HGNC:{r['hgnc'].rsplit('/', 1)[1]}" for r in result) == HGNC


def test_findings_by_hgnc_gene(store):
    """Genes reached through a pathway count its findings: Akt through Akt signaling (2, digestive) and
    IGF-1R/PI3K/Akt signaling (2, paracrine); PI3K through the latter and the PI3K pathway (1, ECM)."""
    result = {(f"HGNC:{r['hgnc'].rsplit('/', 1)[1]}", r["label"]): (r["match"], int(r["findings"]))
              for r in run(store, "findings-by-hgnc-gene")}
    assert len(result) == 66
    assert [key for key in result][:3] == [("HGNC:11766", "transforming growth factor-beta"),
                                           ("HGNC:6025", "interleukin-8"), ("HGNC:11766", "transforming growth factor-beta 1")]
    assert {key: result[key] for key in [
        ("HGNC:11766", "transforming growth factor-beta"), ("HGNC:391", "Akt"), ("HGNC:8975", "PI3K"),
        ("HGNC:5465", "insulin-like growth factor-1 receptor"), ("HGNC:6871", "ERK"), ("HGNC:6840", "MEK1/2"),
        ("HGNC:7794", "NF-kappaB"), ("HGNC:6018", "interleukin-6")]} == {
        ("HGNC:11766", "transforming growth factor-beta"): ("narrowMatch", 9),
        ("HGNC:391", "Akt"): ("narrowMatch", 4),
        ("HGNC:8975", "PI3K"): ("relatedMatch", 3),
        ("HGNC:5465", "insulin-like growth factor-1 receptor"): ("exactMatch", 2),
        ("HGNC:6871", "ERK"): ("narrowMatch", 3),
        ("HGNC:6840", "MEK1/2"): ("narrowMatch", 1),
        ("HGNC:7794", "NF-kappaB"): ("relatedMatch", 3),
        ("HGNC:6018", "interleukin-6"): ("exactMatch", 7),
    }
    # detection markers are no mediators, so they reach no finding here
    assert not {key for key in result if key[1] in {"GFAP", "NeuN", "calbindin", "vimentin"}}


def test_cell_lines_by_cellosaurus_iri(store):
    assert run(store, "cell-lines-by-cellosaurus-iri") == [
        {"cellLine": "Jurkat", "accession": "CVCL_0065", "findings": str(_jurkat_findings(store))}]


def _jurkat_findings(store) -> int:
    (row,) = rows(store, """PREFIX msc: <https://w3id.org/msc-kg/ontology/> PREFIX mscd: <https://w3id.org/msc-kg/id/>
        SELECT (COUNT(DISTINCT ?f) AS ?n) WHERE { ?f a msc:Finding ; msc:targetCellLine mscd:cellline-Jurkat }""")
    return int(row["n"])


def test_every_linker_query_has_an_exact_answer_test():
    for path in LINKERS.glob("*.rq"):
        assert f"test_{path.stem.replace('-', '_')}" in globals(), path.name


ROW = ("msc:BoneMarrowMSC\tbone marrow MSC\tskos:exactMatch\tCL:0002540\tmesenchymal stem cell of the "
       "bone marrow\tsemapv:ManualMappingCuration\treference/ontology-terms.tsv\t")


@pytest.mark.parametrize("edit, message", [
    (lambda r: r.replace("skos:exactMatch", "skos:sameAs"),
     ":3: unknown predicate 'skos:sameAs'; use one of skos:exactMatch, skos:closeMatch, skos:broadMatch, "
     "skos:narrowMatch, skos:relatedMatch"),
    (lambda r: r.replace("CL:0002540", "FOO:0002540"),
     ":3: object_id 'FOO:0002540': unknown prefix 'FOO' (known: CHEBI, CL, DOID, GO, HGNC, MONDO, NCBITaxon, "
     "NCIT, UBERON, UniProtKB, cellosaurus, clinicaltrials, dcterms, doi, msc, mscd, oboInOwl, owl, pmc, "
     "pubmed, rdfs, semapv, skos)"),
    (lambda r: r.replace("CL:0002540", "CL0002540"), ":3: object_id 'CL0002540': not a CURIE (prefix:identifier)"),
    (lambda r: r.replace("CL:0002540", "CL:abc"), ":3: object_id 'CL:abc': 'abc' is not an identifier of CL "
                                                  "(pattern ^\\d{7}$)"),
    (lambda r: r.replace("msc:BoneMarrowMSC", "mscx:BoneMarrowMSC"),
     ":3: the subject 'mscx:BoneMarrowMSC' is not an msc: or mscd: term"),
    (lambda r: r.replace("semapv:ManualMappingCuration", "semapv:Guess"),
     ":3: mapping_justification is 'semapv:Guess'; the table is curated by hand: semapv:ManualMappingCuration"),
    (lambda r: "\t".join(r.split("\t")[:5]), ":3: has 5 fields; a row has 8, tab-separated"),
    (lambda r: r + "\textra", ":3: has 9 fields; a row has 8, tab-separated"),
    (lambda r: r + "\n" + r.replace("skos:exactMatch", "skos:broadMatch"),
     ":4: maps msc:BoneMarrowMSC to CL:0002540 again (line 3); one predicate a pair"),
    (lambda r: r.replace("\tbone marrow MSC\t", "\t \t"), ":3: subject_label is empty"),
    (lambda r: r.replace("CL:0002540", "msc:BoneMarrowMSC"), ":3: maps msc:BoneMarrowMSC to itself"),
    (lambda r: r.replace("CL:0002540", "CL:0000134").replace("of the bone marrow", "of marrow"),
     ":3: labels CL:0000134 'mesenchymal stem cell of marrow', but line 2 labels it 'mesenchymal stem "
     "cell of the bone marrow'; give one label"),
    (lambda r: r.replace("bone marrow MSC", "bone marrow MSC \udce9"), ":3: is not UTF-8 text (column 35: invalid continuation byte)"),
    (lambda r: r.replace("\t\n", "\t\"unclosed\n") + "\n" + "x\t" * 7 + "x" * 140_000,
     ": is not a tab-separated table: field larger than field limit (131072)"),
])
def test_a_bad_row_of_the_mapping_table_is_named_by_its_line(tmp_path, edit, message):
    """Each ended validate, build and serve in a traceback, or went into the release as written
    (hostile testing)."""
    from msc_kg.errors import SourceParseError

    header = "\t".join(mappings.COLUMNS)
    first = ROW.replace("msc:BoneMarrowMSC", "msc:MesenchymalStromalCell").replace("CL:0002540", "CL:0000134")
    path = tmp_path / "mappings.tsv"
    path.write_bytes(f"{header}\n{first}\n{edit(ROW)}\n".encode("utf-8", "surrogateescape"))
    with pytest.raises(SourceParseError) as raised:
        mappings.read_mappings(path)
    assert str(raised.value) == f"{path}{message}"


def test_the_mapping_table_must_have_its_columns(tmp_path):
    from msc_kg.errors import SourceParseError

    path = tmp_path / "mappings.tsv"
    path.write_text("\t".join(mappings.COLUMNS).replace("object_label", "object_lbl") + "\n" + ROW + "\n")
    with pytest.raises(SourceParseError, match=r":1: the columns must be subject_id, subject_label, "
                                               r"predicate_id, object_id, object_label, mapping_justification, "
                                               r"source, comment \(tab-separated\), not subject_id, "):
        mappings.read_mappings(path)


def test_an_empty_mapping_table_says_so_and_a_byte_order_mark_is_no_part_of_its_header(tmp_path):
    """An empty file was told "the columns must be … not none", and a header after a byte order
    mark (as spreadsheets write it) was refused as "not \ufeffsubject_id, …" (bad-input testing)."""
    from msc_kg.errors import SourceParseError

    path = tmp_path / "mappings.tsv"
    path.write_text("")
    with pytest.raises(SourceParseError) as raised:
        mappings.read_mappings(path)
    assert str(raised.value) == (f"{path}:1: the file is empty; its first line is the header: "
                                 f"{', '.join(mappings.COLUMNS)} (tab-separated)")
    path.write_text("\ufeff" + "\t".join(mappings.COLUMNS) + "\n" + ROW + "\n", encoding="utf-8")
    assert [row["subject_id"] for row in mappings.read_mappings(path)] == [ROW.split("\t")[0]]


def test_a_quote_opening_a_field_is_text_and_a_header_alone_is_refused(tmp_path):
    """A '"' at the start of a field opened a quoted field that ran to the next '"' in the file:
    64 rows went into one comment, and validate and build went on without them; a header with no
    row under it validated and released no cross-reference (bad-input audit)."""
    from msc_kg.errors import SourceParseError

    header = "\t".join(mappings.COLUMNS)
    first = ROW.replace("msc:BoneMarrowMSC", "msc:MesenchymalStromalCell").replace("CL:0002540", "CL:0000134")
    path = tmp_path / "mappings.tsv"
    path.write_text(f'{header}\n{first}"nearest parent\n{ROW}with a "quote"\n', encoding="utf-8")
    rows = mappings.read_mappings(path)
    assert [(r["subject_id"], r["comment"]) for r in rows] == [
        ("msc:MesenchymalStromalCell", '"nearest parent'), ("msc:BoneMarrowMSC", 'with a "quote"')]
    path.write_text(header + "\n", encoding="utf-8")
    with pytest.raises(SourceParseError) as raised:
        mappings.read_mappings(path)
    assert str(raised.value) == (f"{path}:2: has no mapping under its header: a release without "
                                 "cross-references is not built (restore the rows)")


def test_a_mapping_of_an_entity_no_source_states_is_a_problem(assembled, monkeypatch, maps):
    """A misspelt mscd: subject (mscd:IL6 for mscd:IL-6) passed validation and released a
    cross-reference of nothing (hostile testing); the msc: ones a violation query finds."""
    from msc_kg import build

    loaded, _ = assembled
    assert build.mapping_subject_problems(loaded) == []
    rows = [dict(r) for r in maps]
    rows[4]["subject_id"] = "mscd:IL6"
    monkeypatch.setattr(build, "read_mappings", lambda: rows)
    [problem] = build.mapping_subject_problems(loaded)
    assert problem.line() == (f"{mappings.MAPPINGS_TSV}:6: mscd:IL6: is the subject of a cross-reference, "
                              "but no source file states anything of it (a misspelt IRI?)")


def test_identifiers_the_reference_tables_do_not_verify_are_problems(assembled, monkeypatch, maps):
    """The reference tables were compared only by this test suite: an invented MONDO ID with
    source "trust me", an unverified Cellosaurus accession and a trial the review does not list
    passed validation and were released (hostile testing). build (and validate) refuse them."""
    from rdflib import Literal

    from msc_kg import build
    from msc_kg.load import MSCNS

    loaded, _ = assembled
    assert build.identifier_problems(loaded) == []
    rows = [dict(r) for r in maps]
    glioma = next(i for i, r in enumerate(rows) if r["object_id"].startswith("MONDO:"))
    rows[glioma].update(object_id="MONDO:0099999", source="trust me")
    line = next(i for i, r in enumerate(rows) if r["object_id"].startswith("cellosaurus:"))
    rows[line]["object_label"] = "Not its name"
    monkeypatch.setattr(build, "read_mappings", lambda: rows)
    reh = URIRef(MSCD + "cellline-Reh")
    trial, registry_id = next(loaded.graph.subject_objects(MSCNS.registryId))
    loaded.graph.set((reh, MSCNS.cellosaurusAccession, Literal("CVCL_ZZ99")))
    loaded.graph.set((trial, MSCNS.registryId, Literal("NCT99999999")))
    try:
        found = {(p.file, p.focus, p.message) for p in build.identifier_problems(loaded)}
    finally:  # the session's graph
        loaded.graph.set((reh, MSCNS.cellosaurusAccession, Literal("CVCL_1650")))
        loaded.graph.set((trial, MSCNS.registryId, registry_id))
    accession = "CVCL_" + rows[line]["object_id"].split(":")[1]
    name = next(r["cellosaurus_name"] for r in table("cell-lines.tsv") if r["accession"] == accession)
    assert found >= {
        (f"{mappings.MAPPINGS_TSV}:{glioma + 2}", rows[glioma]["subject_id"],
         "MONDO:0099999 is not a verified identifier of ontology/reference/ontology-terms.tsv: an "
         "external ID goes in only once it is verified (docs/CURATION.md)"),
        (f"{mappings.MAPPINGS_TSV}:{line + 2}", rows[line]["subject_id"],
         f"labels {rows[line]['object_id']} 'Not its name'; the reference table's label is {name!r}"),
        (str(paths.TRIPLES_DIR / "cell-lines.ttl"), "mscd:cellline-Reh",
         "CVCL_ZZ99 is not a verified accession of ontology/reference/cell-lines.tsv: an external ID "
         "goes in only once it is verified (docs/CURATION.md)"),
    }
    assert any(p[2] == "NCT99999999 is not in source/review.txt: the graph holds the trials the review "
                       "lists (Table 2)" for p in found)
