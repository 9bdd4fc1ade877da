"""Regenerate ontology/imports/bioregistry-prefixes.json (run with a Python that has bioregistry)."""
import json, sys, bioregistry
from importlib.metadata import version
PREFIXES = ["cl","uberon","mondo","ncit","doid","hgnc","uniprot","go","chebi","ncbitaxon","cellosaurus",
            "clinicaltrials","doi","pubmed","pmc","skos","semapv","oboinowl","owl","rdfs","dcterms"]
ctx = bioregistry.get_context("obo")
remap = {"hgnc": "HGNC", "uniprot": "UniProtKB"}
import curies
conv = curies.remap_curie_prefixes(bioregistry.get_converter(prefix_priority=ctx.prefix_priority, uri_prefix_priority=["obofoundry", "default", "miriam"]), remap)
records = []
for p in PREFIXES:
    pref = remap.get(p) or bioregistry.get_preferred_prefix(p) or p
    rec = conv.get_record(pref)
    assert rec is not None, p
    records.append({"prefix": rec.prefix, "uri_prefix": rec.uri_prefix,
                    "prefix_synonyms": sorted(set(rec.prefix_synonyms))[:0],
                    "pattern": bioregistry.get_pattern(p)})
out = {"_comment": "Generated from the Bioregistry (OBO-context prefix priority, URI priority obofoundry > default > miriam; hgnc->HGNC and uniprot->UniProtKB as in OBO/Mondo SSSOM files) "
                   "by the generator quoted in msc_kg/mappings.py - do not edit.",
       "bioregistry_version": version("bioregistry"), "records": records}
json.dump(out, open(sys.argv[1], "w"), indent=1); print(json.dumps(records, indent=0))
