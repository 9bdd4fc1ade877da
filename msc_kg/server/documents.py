"""The release's OWL documents, served at the IRIs that name them (ontology IRI and version IRI).

OWL 2 (Structural Specification §3.2) has a tool find an ontology document at its ontology IRI
or, for a version, at its version IRI; the endpoint answered the ontology IRI with its header
alone (10 statements) and the version IRIs with 404, so Protégé's "Open from URL" or an
``owl:imports`` of the ontology read an empty ontology (linked-data review). Each RDF/XML file of
the release (``build/msc-kg-ontology.owl``, the ontology alone as ``ontology/msc-kg.owl`` holds it,
and ``build/msc-kg.owl``, the full release) is served as written at the paths of its IRIs under
SITE; another syntax asked for is written from it, its blank nodes labelled in document order, so
every serving process writes the same bytes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from msc_kg.server import results

SITE = "https://w3id.org/msc-kg"  # the paths of IRIs under it are this server's paths
HEAD_BYTES = 1 << 16  # the owl:Ontology element is the first (msc_kg.rdfxml writes it so)
_ONTOLOGY = re.compile(r'<owl:Ontology rdf:about="([^"]+)"\s*>(.*?)</owl:Ontology>', re.S)
_VERSION = re.compile(r'<owl:versionIRI rdf:resource="([^"]+)"\s*/>')


def weak_tag(data: bytes) -> str:
    """A weak entity tag of ``data``, as every tag of this server is (endpoint.if_match_fails)."""
    return 'W/"' + hashlib.sha256(data).hexdigest()[:32] + '"'


@dataclass
class Document:
    """One RDF/XML file and what it is written as in other syntaxes (made when first asked for)."""

    path: Path
    data: bytes
    written: dict[str, bytes] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def body(self, fmt: str) -> bytes:
        """The document in syntax ``fmt`` (msc_kg.server.results.RDF_FORMATS)."""
        if fmt == "rdfxml":
            return self.data
        if fmt not in self.written:
            labels: dict = {}  # the parser's are random: each serving process wrote other bytes

            def label(term):
                if isinstance(term, ox.BlankNode):
                    return labels.setdefault(term, ox.BlankNode(f"b{len(labels)}"))
                return term

            triples = [ox.Triple(label(t.subject), t.predicate, label(t.object))
                       for t in ox.parse(self.data, format=ox.RdfFormat.RDF_XML, base_iri=SITE)]
            self.written[fmt] = ox.serialize(
                triples, format=results.RDF_FORMATS[fmt],
                prefixes=results.PREFIXES if fmt in results.PREFIXED else None)
        return self.written[fmt]

    def tag(self, media: str, fmt: str) -> str:
        """The entity tag of the document as ``media`` (one of its own for each type, which a cache
        told Vary: Accept keeps apart), of the bytes and the type; kept once made."""
        if media not in self.tags:
            self.tags[media] = weak_tag(self.body(fmt) + media.encode())
        return self.tags[media]


def named(files, records: dict | None = None) -> dict[str, Document]:
    """The server path of each ontology IRI and version IRI under SITE that the RDF/XML ``files``
    declare → its document. A file that is missing, declares no ontology or, where ``records``
    (the release manifest's artefacts) names it, is not the file the build wrote, is left out: a
    replacement serving process read a changed file that the first did not (hostile testing)."""
    found: dict[str, Document] = {}
    for path in map(Path, files):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        record = (records or {}).get(path.name)
        if record is not None and record != {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}:
            continue
        head = _ONTOLOGY.search(data[:HEAD_BYTES].decode("utf-8", "replace"))
        if head is None:
            continue
        doc = Document(path, data)
        for iri in (head.group(1), *_VERSION.findall(head.group(2))):
            if iri.startswith(SITE + "/"):
                found.setdefault(iri[len(SITE):], doc)
    return found
