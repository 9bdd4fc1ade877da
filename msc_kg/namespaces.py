"""The project's own IRI namespaces, defined once for the build and the server."""

MSC = "https://w3id.org/msc-kg/ontology/"  # classes, properties, value sets
MSCD = "https://w3id.org/msc-kg/id/"  # instance data
IMPORT_MODULE_ONTOLOGY = MSC + "imports/external-terms"  # of ontology/imports/external-terms.ttl
