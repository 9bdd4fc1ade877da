"""Cell lines: every one the review names, with the verified accession on the right line."""

import csv

import pytest
from rdflib import URIRef

from msc_kg import paths

REFERENCE = paths.REFERENCE_DIR / "cell-lines.tsv"
MSC = "https://w3id.org/msc-kg/ontology/"


def reference_rows():
    with open(REFERENCE, encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def line_named(graph, name):
    """The cell line individual whose msc:nameInReview is `name`."""
    from rdflib import Literal

    found = set(graph.subjects(URIRef(MSC + "nameInReview"), Literal(name)))
    return found


@pytest.mark.parametrize("row", reference_rows(), ids=lambda r: r["name_in_paper"])
def test_every_named_cell_line_resolves_to_one_entity_with_its_verified_accession(graph, row):
    found = line_named(graph, row["name_in_paper"])
    assert len(found) == 1, row["name_in_paper"]
    (line,) = found
    accession = graph.value(line, URIRef(MSC + "cellosaurusAccession"))
    if row["status"] == "verified":
        assert str(accession) == row["accession"]
    else:
        assert accession is None, f"{row['name_in_paper']} is {row['status']}: no accession may be given"


def test_synonyms_resolve_to_one_entity(graph):
    assert line_named(graph, "HCT 116") == line_named(graph, "HCT116")
    assert line_named(graph, "CRL 1596") == line_named(graph, "Ramos")
    assert line_named(graph, "MDA-MB-231") == line_named(graph, "MDAMB231") == line_named(graph, "MDA-MB231")


def test_hela_derivatives_are_flagged(graph):
    flagged = {str(graph.value(s, URIRef("http://www.w3.org/2000/01/rdf-schema#label")))
               for s in graph.subjects(URIRef(MSC + "misidentified"), None)
               if graph.value(s, URIRef(MSC + "misidentified")).toPython() is True}
    assert {"SMMC-7721", "BEL-7402", "SGC-7901", "Hep-G2", "U-87MG ATCC"} <= flagged


def test_non_human_lines_carry_their_species(graph):
    from rdflib.namespace import RDF

    non_human = {str(graph.value(line, URIRef("http://www.w3.org/2000/01/rdf-schema#label"))): str(sp).rsplit("/", 1)[1]
                 for line, sp in graph.subject_objects(URIRef(MSC + "species"))
                 if (line, RDF.type, URIRef(MSC + "CellLine")) in graph and str(sp).rsplit("/", 1)[1] != "Human"}
    assert non_human == {"4T1": "Mouse", "EL4": "Mouse", "Pan02": "Mouse", "C6": "Rat"}
