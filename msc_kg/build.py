"""The build: load, derive, validate, reason, and write the release artefacts to build/."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rdflib import Graph, Literal, URIRef
from rdflib.compare import to_canonical_graph
from rdflib.namespace import OWL, RDFS

from msc_kg import __version__, paths, reference
from msc_kg.derive import derive
from msc_kg.errors import BuildError, ReasonerUnavailable, ValidationFailed
from msc_kg.load import MSCNS, Loaded, load, parse_file, source_files
from msc_kg.mappings import IMPORTS_DIR, MAPPINGS_TSV, expand, mapping_graph, read_mappings, write_sssom
from msc_kg.rdfxml import FORMAT as TYPED_XML
from msc_kg.rdfxml import rdfxml
from msc_kg.reason import ReasonerResult, check, check_without_reasoner
from msc_kg.release import MANIFEST, file_record
from msc_kg.source import review_text
from msc_kg.validate import Problem, Report, shapes_graph, validate_loaded

# One table of release formats: file suffix -> rdflib serializer name (typed-xml: msc_kg.rdfxml,
# RDF/XML as the OWL API writes it).
RELEASE_FORMATS = {"ttl": "turtle", "nt": "nt", "owl": TYPED_XML, "jsonld": "json-ld"}
ONTOLOGY_DOCUMENT = "msc-kg-ontology.owl"  # the release's copy of ontology/msc-kg.owl
ONTOLOGY = URIRef("https://w3id.org/msc-kg/ontology")
# The full release (build/msc-kg.owl: the ontology, the instance data, the cross-references with
# their external terms, and the derived facts) is an ontology of its own, named as ODK names an
# ontology's -full.owl release (http://purl.obolibrary.org/obo/X/X-full.owl,
# .../X/releases/VERSION/X-full.owl).
FULL_RELEASE = URIRef("https://w3id.org/msc-kg/msc-kg-full.owl")
FULL_RELEASE_VERSION = "https://w3id.org/msc-kg/releases/{version}/msc-kg-full.owl"
FULL_RELEASE_COMMENT = (
    "The full release of msc-kg: the ontology https://w3id.org/msc-kg/ontology (ontology/msc-kg.owl) "
    "with all the instance data curated from the review, the cross-references to public ontologies "
    "and the external terms they name, and the facts derived at build time, in one document that "
    "imports nothing. It has an ontology IRI and a version IRI of its own, so that OWL tools open it "
    "beside the ontology.")
OWL_HEADER = ("<!-- Generated from ontology/msc-kg.ttl and the rows of ontology/mappings.tsv about its "
              "terms by `msc-kg build` - do not edit; edit those and rebuild. -->\n")


@dataclass
class Built:
    """The outcome of a build: the full graph, the validation report and the reasoner's verdict."""

    graph: Graph
    report: Report
    reasoner: ReasonerResult | None
    reasoner_note: str
    manifest: dict


def source_digest(files: list[Path] | None = None) -> str:
    """SHA-256 over the build inputs: the sources, shapes, derive queries, quality checks, review
    text, cross-references with their verified reference tables and prefix map, and the build's
    own code. Without the checks, the tables and the code, a release the data no longer passed was
    served as current (packaging review)."""
    inputs = list(files or source_files()) + sorted(paths.SHAPES_DIR.glob("*.ttl"))
    inputs += sorted((paths.QUERIES_DIR / "derive").glob("*.rq")) + [paths.SOURCE_TEXT, MAPPINGS_TSV]
    inputs += sorted((paths.QUERIES_DIR / "violations").glob("*.rq"))
    inputs += sorted(paths.REFERENCE_DIR.glob("*.tsv")) + sorted(IMPORTS_DIR.glob("*.json"))
    inputs += sorted(Path(__file__).parent.glob("*.py"))  # the build's modules (not the server's)
    digest = hashlib.sha256(__version__.encode())
    for path in inputs:
        digest.update(path.name.encode())  # a missing source is hashed as missing: the release is
        # then stale and the rebuild names it (reading it ended the server's start in a traceback)
        digest.update(path.read_bytes() if path.is_file() else b"\0(missing)")
    return digest.hexdigest()


def _with_prefixes(graph: Graph, triples=None) -> Graph:
    """A graph of ``triples`` (by default those of ``graph``) with the prefixes of ``graph`` alone."""
    copy = Graph(bind_namespaces="none")
    for prefix, namespace in sorted(graph.namespaces()):
        copy.bind(prefix, namespace, override=True)
    for triple in graph if triples is None else triples:
        copy.add(triple)
    return copy


def ontology_graph(ttl: Path = paths.ONTOLOGY_TTL) -> Graph:
    """The ontology as its OWL document holds it: the Turtle, with the cross-references of its own
    terms (the rows of ontology/mappings.tsv whose subject it states: skos:*Match, and
    oboInOwl:hasDbXref for an exact match), so that a user of Protégé or an OBO tool sees that
    msc:Glioma is MONDO's glioma; without them only the full release linked the terms (audit)."""
    graph = parse_file(ttl)
    terms = set(graph.subjects())
    links = mapping_graph([row for row in read_mappings() if expand(row["subject_id"]) in terms])
    graph += links
    for prefix, namespace in links.namespaces():
        graph.bind(prefix, namespace, override=False)
    return graph


def owl_release(ttl: Path = paths.ONTOLOGY_TTL) -> str:
    """The RDF/XML release of the ontology (ontology_graph: what ontology/msc-kg.owl must contain).

    Written with a typed node element per subject, as the OWL API writes it (msc_kg.rdfxml), and
    the same way every time (subjects, properties and namespace declarations sorted; blank nodes
    nested, or canonically named where one needs an rdf:nodeID), so a change of the Turtle
    changes only its lines of the file.
    """
    graph = ontology_graph(ttl)
    head, _, body = rdfxml(_with_prefixes(graph, to_canonical_graph(graph))).partition("\n")
    return "\n".join([head, OWL_HEADER.rstrip("\n"), body])


def full_release(graph: Graph) -> Graph:
    """The whole graph as build/msc-kg.owl holds it: the ontology's header is that of the full
    release, an ontology of its own (FULL_RELEASE and a versionIRI of its version, as ODK's
    -full.owl), so that an OWL tool opens it beside ontology/msc-kg.owl (both declared the
    ontology's IRI and versionIRI, and the OWL API refused the second: hostile round 31). The
    header keeps the ontology's annotations (title, licence, versionInfo, ...) and says what the
    release holds; the other serialisations, and the endpoint, keep the ontology's header."""
    version = graph.value(ONTOLOGY, OWL.versionInfo)
    release = _with_prefixes(graph, (t for t in graph if t[0] != ONTOLOGY))
    for predicate, value in graph.predicate_objects(ONTOLOGY):
        if predicate != OWL.versionIRI:
            release.add((FULL_RELEASE, predicate, value))
    if version is not None:
        release.add((FULL_RELEASE, OWL.versionIRI, URIRef(FULL_RELEASE_VERSION.format(version=version))))
    release.add((FULL_RELEASE, RDFS.comment, Literal(FULL_RELEASE_COMMENT, lang="en")))
    return release


def full_graph(loaded: Loaded) -> Loaded:
    """The curated graph plus everything derived from it, with the derived graph's prefixes (the
    release's Turtle declared oboInOwl as ns1:)."""
    derived = derive(loaded.graph)
    loaded.graph += derived
    for prefix, namespace in derived.namespaces():
        loaded.graph.bind(prefix, namespace, override=False)
    return loaded


def assemble(files: list[Path] | None = None, shapes: Graph | None = None) -> tuple[Loaded, Report]:
    """Load and derive, then validate; the report says whether the result may be released."""
    loaded = full_graph(load(files))
    report = validate_loaded(loaded, shapes if shapes is not None else shapes_graph())
    report.problems += mapping_subject_problems(loaded)  # here: the whole graph is loaded
    report.problems += identifier_problems(loaded)
    return loaded, report


def identifier_problems(loaded: Loaded) -> list[Problem]:
    """External identifiers the verified reference tables (msc_kg.reference) do not vouch for:
    a row of ontology/mappings.tsv, by its line, or a stated msc:cellosaurusAccession; and a trial
    registry ID the review does not print (an invented MONDO ID with source "trust me", an
    unverified CVCL_ZZ99 and NCT99999999 were released: only the test suite compared them)."""
    problems = []
    for line, row in enumerate(read_mappings(), start=2):
        if message := reference.mapping_problem(row):
            problems.append(Problem(f"{MAPPINGS_TSV}:{line}", row["subject_id"], "", message))
    graph = loaded.graph
    for subject, accession in graph.subject_objects(MSCNS.cellosaurusAccession):
        if message := reference.accession_problem(str(accession)):
            problems.append(Problem(loaded.where(subject, MSCNS.cellosaurusAccession),
                                    subject.n3(graph.namespace_manager), "msc:cellosaurusAccession", message))
    text = review_text()
    for subject, registry_id in graph.subject_objects(MSCNS.registryId):
        if str(registry_id) not in text:
            problems.append(Problem(loaded.where(subject, MSCNS.registryId), subject.n3(graph.namespace_manager),
                                    "msc:registryId", f"{registry_id} is not in source/review.txt: the "
                                    "graph holds the trials the review lists (Table 2)"))
    return problems


def mapping_subject_problems(loaded: Loaded) -> list[Problem]:
    """A row of ontology/mappings.tsv whose subject no source file states, by its line: a
    misspelt mscd: subject released a cross-reference of nothing (hostile testing)."""
    problems = []
    for line, row in enumerate(read_mappings(), start=2):  # after the header; a row is a line
        if expand(row["subject_id"]) not in loaded.origin:
            problems.append(Problem(f"{MAPPINGS_TSV}:{line}", row["subject_id"], "",
                                    "is the subject of a cross-reference, but no source file states "
                                    "anything of it (a misspelt IRI?)"))
    return problems


def _version_of(graph: Graph, ontology_iri: str | URIRef) -> str:
    return str(graph.value(URIRef(ontology_iri), OWL.versionInfo) or "")


NO_REASON = "reasoner not run (--no-reason)"


def build(out_dir: Path | None = None, reasoner: bool = True, write_owl: bool = True) -> Built:
    """Run the whole build; raise ValidationFailed or Inconsistent instead of writing bad data."""
    started = time.perf_counter()
    shapes = shapes_graph()
    loaded, report = assemble(shapes=shapes)
    if not report.conforms:
        raise ValidationFailed(report)
    verdict, note = None, NO_REASON
    if reasoner:
        try:
            verdict = check(loaded.graph, loaded.where)
            note = verdict.text()
        except ReasonerUnavailable as exc:
            note = str(exc)
    if verdict is None:  # disjoint classes and functional properties, read by queries instead
        check_without_reasoner(loaded.graph, loaded.where)
    out = Path(out_dir or paths.BUILD_DIR)
    graph = loaded.graph
    try:  # the stage is inside ``out``, so on its file system whatever is mounted where (staged
        # beside it, a build/ that was a mount point lost its manifest to a failed rename: hostile
        # testing)
        out.mkdir(parents=True, exist_ok=True)
        _remove_abandoned_stages(out)
        stage = Path(tempfile.mkdtemp(prefix=f".stage-{os.getpid()}-", dir=out))
    except OSError as exc:
        raise BuildError(f"{out}: cannot write the release there: {exc.strerror or exc}") from None
    try:
        owl = owl_release()  # the ontology alone, in the release too: the endpoint serves it at
        # the ontology's IRI, as built with the graph it serves (ontology/msc-kg.owl, committed,
        # is not rewritten by the server's own builds, and was served stale: change review)
        (stage / ONTOLOGY_DOCUMENT).write_text(owl, encoding="utf-8")
        manifest = _write(stage, graph, shapes, report, note, loaded, started)
        _publish(stage, out, owl if write_owl else None)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return Built(graph, report, verdict, note, manifest)


def _remove_abandoned_stages(out: Path) -> None:
    """Remove the stages of builds whose process is gone (killed: SIGTERM or SIGKILL left a 9 MB
    stage behind each time, hostile testing); a running build's stage is left alone."""
    for stage in out.glob(".stage-*-*"):
        pid = stage.name.split("-")[1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stage, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (signal 0 asks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process, or a number no pid can
        return True  # be: either way not a stage this user's builds left, so let be
    return True


def _write(stage: Path, graph: Graph, shapes: Graph, report: Report, note: str, loaded: Loaded,
           started: float) -> dict:
    """Write every artefact and the manifest into ``stage``; return the manifest."""
    graph = _with_prefixes(graph, to_canonical_graph(graph))  # blank node labels from content
    for suffix, fmt in RELEASE_FORMATS.items():
        name = f"msc-kg.{suffix}"
        try:  # RDF/XML as ontology tools read it (msc_kg.rdfxml), the full release's header
            written = full_release(graph) if suffix == "owl" else graph
            written.serialize(stage / name, format=fmt, encoding="utf-8")
        except OSError as exc:
            raise BuildError(f"{name}: cannot be written: {exc.strerror or exc}") from None
        except Exception as exc:  # noqa: BLE001 — rdflib's writers raise what they like
            raise BuildError(f"{name}: the {fmt} writer refused the graph: {exc}") from None
    _same_every_time(stage)
    _read_back(stage / "msc-kg.nt")
    write_sssom(stage / "msc-kg.sssom.tsv", graph=graph)
    manifest = {
        "version": __version__,
        "source_digest": source_digest(),
        "triples": len(graph),
        "conforms": report.conforms,
        "reasoner": note,
        "ontology_version": _version_of(graph, ONTOLOGY),
        "shapes_version": _version_of(shapes, "https://w3id.org/msc-kg/shapes"),
        "files": [str(p.relative_to(paths.ROOT)) for p in loaded.files],
        # what load_release checks before it serves a file (an interrupted copy is caught)
        "artefacts": {p.name: file_record(p) for p in sorted(stage.iterdir())},
        "seconds": round(time.perf_counter() - started, 2),
    }
    (stage / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _same_every_time(stage: Path) -> None:
    """The N-Triples lines sorted, and the JSON-LD's nodes, keys and values: rdflib writes them in
    the order its store holds them, which changed from build to build with the blank nodes' random
    labels (now made from their content, to_canonical_graph), so no release could be checked by
    building it again (packaging review). Turtle comes sorted from rdflib's writer."""
    nt = stage / "msc-kg.nt"
    nt.write_bytes(b"".join(sorted(nt.read_bytes().splitlines(keepends=True))))
    path = stage / "msc-kg.jsonld"
    nodes = json.loads(path.read_text(encoding="utf-8"))
    for node in nodes:
        for key, values in node.items():
            if isinstance(values, list):
                values.sort(key=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False))
    nodes.sort(key=lambda n: n.get("@id", ""))
    path.write_text(json.dumps(nodes, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def _read_back(path: Path) -> None:
    """BuildError unless Oxigraph, which serves the release, reads ``path`` (rdflib writes what it
    holds unchecked: a relative IRI made every consumer of a release fail, hostile testing)."""
    import pyoxigraph as ox

    try:
        for _ in ox.parse(path=path, format=ox.RdfFormat.N_TRIPLES):
            pass
    except SyntaxError as exc:
        raise BuildError(f"{path.name}: the release as written does not read back: {exc}") from None


def _publish(stage: Path, out: Path, owl: str | None) -> None:
    """Move the staged release into ``out``, the manifest last, and write the ontology's RDF/XML.

    The old manifest goes first: until the new one is in place the folder holds no release
    (release.load_release refuses it, or builds again), never a mix of two builds with a manifest
    vouching for them (hostile testing: a build interrupted while it rewrote msc-kg.nt left 30 of
    17 511 triples, served as the fresh release). Each file is moved by a rename, whole or not at
    all; the stage is a folder of ``out``, on the same file system.
    """
    if owl is not None:  # first: a failure here leaves the previous release whole (written after
        # the old manifest went, it left build/ with none: hostile testing)
        _write_whole(paths.ONTOLOGY_OWL, owl)
    (out / MANIFEST).unlink(missing_ok=True)
    for path in sorted(stage.iterdir()):
        if path.name != MANIFEST:
            os.replace(path, out / path.name)
    os.replace(stage / MANIFEST, out / MANIFEST)


def _write_whole(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` by a rename: never left half written. Not written when it
    holds the text already (an installed package's data may be read-only)."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        part.write_text(text, encoding="utf-8")
        os.replace(part, path)
    except OSError as exc:  # named as the file it replaces, not the part (hostile testing)
        raise BuildError(f"{path}: cannot be written: {exc.strerror or exc}") from None
    finally:
        part.unlink(missing_ok=True)
