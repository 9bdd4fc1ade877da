"""The release folder is replaced whole or not at all, and a damaged one is never served
(msc_kg.build._publish, msc_kg.release.damage): hostile testing interrupted a build while it
rewrote msc-kg.nt, and 30 of 17 511 triples were served as the fresh release."""

from __future__ import annotations

import shutil

import pytest

from msc_kg import build as build_mod
from msc_kg import release as release_mod
from msc_kg.errors import BuildError, MscKgError


@pytest.fixture()
def copy(release, tmp_path):
    """A copy of the session's release folder, to damage."""
    out, manifest = release
    folder = tmp_path / "build"
    shutil.copytree(out, folder)
    return folder, manifest


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_manifest_records_every_artefact(release):
    out, manifest = release
    assert sorted(manifest["artefacts"]) == ["msc-kg-ontology.owl", "msc-kg.jsonld", "msc-kg.nt",
                                             "msc-kg.owl", "msc-kg.sssom.tsv", "msc-kg.ttl"]
    assert manifest["artefacts"]["msc-kg.nt"] == release_mod.file_record(out / "msc-kg.nt")
    assert release_mod.damage(manifest, out) is None
    assert not [p for p in out.iterdir() if p.name.startswith(".stage-")]  # no stage left


def test_the_release_turtle_names_every_prefix_it_declares(release):
    """The derived cross-references lost their prefixes when added to the graph: the release's
    Turtle declared oboInOwl as ns1: (audit for linkers)."""
    out, _ = release
    declared = [line.split()[1] for line in (out / "msc-kg.ttl").read_text(encoding="utf-8").splitlines()
                if line.startswith("@prefix")]
    assert "oboInOwl:" in declared and "oa:" in declared and "prov:" in declared
    assert not [p for p in declared if p[:2] == "ns" and p[2:-1].isdigit()]


FULL = "https://w3id.org/msc-kg/msc-kg-full.owl"
ONTOLOGY = "https://w3id.org/msc-kg/ontology"


def _header(graph, iri):
    from rdflib import URIRef

    return {(str(p), str(o)) for p, o in graph.predicate_objects(URIRef(iri))}


def test_the_full_release_is_an_ontology_of_its_own(release):
    """ontology/msc-kg.owl and build/msc-kg.owl both declared the ontology's IRI and versionIRI,
    and the OWL API (Protégé) refused to open the second beside the first
    (OWLOntologyAlreadyExistsException, hostile round 31). build/msc-kg.owl is the full release,
    named as ODK names a -full.owl; it keeps the ontology's annotations and says what it holds."""
    from rdflib import Graph
    from rdflib.namespace import DCTERMS, OWL, RDF, RDFS

    from msc_kg import paths

    out, _ = release
    full = Graph().parse(out / "msc-kg.owl", format="xml")
    ontology = Graph().parse(paths.ONTOLOGY_OWL, format="xml")
    assert [str(s) for s in full.subjects(RDF.type, OWL.Ontology)] == [FULL]
    assert [str(s) for s in ontology.subjects(RDF.type, OWL.Ontology)] == [ONTOLOGY]
    versions = {str(v) for v in full.objects(None, OWL.versionIRI)}
    assert versions == {"https://w3id.org/msc-kg/releases/0.1.0/msc-kg-full.owl"}
    assert versions.isdisjoint(str(v) for v in ontology.objects(None, OWL.versionIRI))
    full_header, own_header = _header(full, FULL), _header(ontology, ONTOLOGY)
    kept = {(p, o) for p, o in own_header if p != str(OWL.versionIRI)}
    assert kept <= full_header
    assert {p for p, _ in kept} >= {str(DCTERMS.title), str(DCTERMS.license), str(OWL.versionInfo)}
    added = full_header - kept - {(str(OWL.versionIRI), versions.pop())}
    assert added == {(str(RDFS.comment), build_mod.FULL_RELEASE_COMMENT)}
    assert build_mod.FULL_RELEASE_COMMENT.startswith("The full release of msc-kg: the ontology "
                                                     "https://w3id.org/msc-kg/ontology (ontology/msc-kg.owl) "
                                                     "with all the instance data")
    lines = (out / "msc-kg.owl").read_text(encoding="utf-8").split("\n")
    assert lines[lines.index(">") + 1] == f'  <owl:Ontology rdf:about="{FULL}">'


def test_the_full_release_reads_back_as_the_graph_the_endpoint_serves(release):
    """build/msc-kg.owl is the graph of msc-kg.nt (what the endpoint serves) under the full
    release's header, triple for triple; the graph serialisations (.nt, .ttl, .jsonld) keep the
    ontology's own header, so a query of the endpoint finds it as ontology/msc-kg.ttl states it."""
    from rdflib import Graph
    from rdflib.compare import isomorphic

    from msc_kg import paths

    out, _ = release
    served = Graph().parse(out / "msc-kg.nt", format="nt")
    assert isomorphic(Graph().parse(out / "msc-kg.owl", format="xml"), build_mod.full_release(served))
    ontology = Graph().parse(paths.ONTOLOGY_TTL)
    for name in ("msc-kg.nt", "msc-kg.ttl", "msc-kg.jsonld"):
        graph = served if name == "msc-kg.nt" else Graph().parse(out / name)
        assert _header(graph, ONTOLOGY) == _header(ontology, ONTOLOGY), name
        assert _header(graph, FULL) == set(), name
        assert len(graph) == len(served), name


def test_an_owl_library_reads_the_two_owl_files_as_two_ontologies(release):
    """py-horned-owl (an OWL 2 library, as the OWL API reads RDF/XML) gets two ontology IDs."""
    from msc_kg import paths

    horned = pytest.importorskip("pyhornedowl")
    out, _ = release
    ids = [(str(o.get_iri()), str(o.get_version_iri())) for o in
           (horned.open_ontology_from_file(str(p)) for p in (paths.ONTOLOGY_OWL, out / "msc-kg.owl"))]
    assert ids == [(ONTOLOGY, "https://w3id.org/msc-kg/releases/0.1.0/msc-kg.owl"), (FULL, "https://w3id.org/msc-kg/releases/0.1.0/msc-kg-full.owl")]


def test_a_build_writes_the_same_bytes_every_time(release, tmp_path):
    """The N-Triples, Turtle and JSON-LD differed on every build of the same sources (the blank
    nodes' random labels, the store's order), so the manifest's hashes did too and no release could
    be checked by building it again (packaging review)."""
    from msc_kg.build import build

    out, manifest = release
    again = build(out_dir=tmp_path / "again", reasoner=False, write_owl=False).manifest
    for name in ("msc-kg.nt", "msc-kg.ttl", "msc-kg.jsonld", "msc-kg.owl", "msc-kg.sssom.tsv"):
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name
        assert again["artefacts"][name] == manifest["artefacts"][name]
    lines = (out / "msc-kg.nt").read_bytes().splitlines()
    assert lines == sorted(lines) and len(lines) == manifest["triples"]


def test_a_truncated_graph_is_refused_by_name(copy):
    folder, manifest = copy
    nt = folder / "msc-kg.nt"
    nt.write_bytes(nt.read_bytes()[:4513])
    with pytest.raises(MscKgError) as raised:
        release_mod.load_release(folder, rebuild=False)
    recorded = manifest["artefacts"]["msc-kg.nt"]["bytes"]
    assert str(raised.value) == (
        f"{nt} is not the file the build wrote (4513 bytes, {recorded} recorded): a build was "
        "interrupted or the file changed; run `msc-kg build`")
    assert release_mod.stale(manifest, folder) is not None  # so ensure_release builds again


def test_a_rebuild_says_why_before_it_starts(copy, monkeypatch, capsys):
    """query and stats rebuilt a damaged or stale release in silence, a 30 s pause unexplained
    (README audit)."""
    folder, manifest = copy
    nt = folder / "msc-kg.nt"
    nt.write_bytes(nt.read_bytes()[:4513])
    built = []
    monkeypatch.setattr(build_mod, "build", lambda **kw: built.append(kw) or build_mod.Built(None, None, None, "", manifest))
    assert release_mod.ensure_release(folder) == manifest and built[0]["out_dir"] == folder
    assert built[0] == {"out_dir": folder, "write_owl": False}  # reasoned as `msc-kg build` does
    recorded = manifest["artefacts"]["msc-kg.nt"]["bytes"]
    assert capsys.readouterr().err == (
        f"msc-kg: building the release, as {nt} is not the file the build wrote (4513 bytes, "
        f"{recorded} recorded): a build was interrupted or the file changed (under a minute)\n")
    assert release_mod.stale(dict(manifest, source_digest="0"), folder) == "the sources changed since it was built"
    assert release_mod.stale(None, folder) == f"there is none in {folder}"


def test_a_missing_source_makes_the_release_stale_not_a_traceback(copy, monkeypatch, tmp_path):
    """A deleted ontology/tumour-effect-rules.ttl ended the server's start in a FileNotFoundError
    traceback where a release existed: the digest read it (change review); the rebuild names it."""
    folder, manifest = copy
    sources = build_mod.source_files()
    monkeypatch.setattr(build_mod, "source_files", lambda: sources + [tmp_path / "gone.ttl"])
    assert release_mod.stale(manifest, folder) == "the sources changed since it was built"


def test_the_source_digest_covers_the_checks_the_reference_tables_and_the_prefix_map(tmp_path, monkeypatch):
    """A quality check added, or a verified accession taken out of a reference table, left the
    release fresh: served while validate refused the data (packaging review)."""
    import shutil

    import msc_kg.build
    from msc_kg import paths
    from msc_kg.build import source_digest

    queries, reference, imports = tmp_path / "queries", tmp_path / "reference", tmp_path / "imports"
    shutil.copytree(paths.QUERIES_DIR, queries)
    shutil.copytree(paths.REFERENCE_DIR, reference)
    shutil.copytree(msc_kg.build.IMPORTS_DIR, imports)
    monkeypatch.setattr(paths, "QUERIES_DIR", queries)
    monkeypatch.setattr(paths, "REFERENCE_DIR", reference)
    monkeypatch.setattr(msc_kg.build, "IMPORTS_DIR", imports)
    seen = {source_digest()}
    (queries / "violations" / "zz-new-violation.rq").write_text("SELECT ?x WHERE { ?x ?p ?o }\n")
    seen.add(source_digest())
    table = reference / "cell-lines.tsv"
    table.write_text(table.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    seen.add(source_digest())
    prefixes = imports / "bioregistry-prefixes.json"
    prefixes.write_text(prefixes.read_text(encoding="utf-8") + " ", encoding="utf-8")
    seen.add(source_digest())
    assert len(seen) == 4


def test_a_manifest_that_does_not_list_the_graph_is_stale(copy):
    folder, manifest = copy
    unlisted = dict(manifest, artefacts={k: v for k, v in manifest["artefacts"].items() if k != "msc-kg.nt"})
    assert release_mod.stale(unlisted, folder) == f"{folder / 'msc-kg.nt'} is not in the manifest"


def test_a_missing_artefact_makes_the_release_stale(copy):
    folder, manifest = copy
    (folder / "msc-kg.jsonld").unlink()
    assert release_mod.damage(manifest, folder) == f"{folder / 'msc-kg.jsonld'} is missing"
    assert release_mod.stale(manifest, folder) is not None
    release_mod.load_release(folder, rebuild=False)  # the graph itself is intact: served


def test_a_record_that_is_no_size_and_hash_is_damage(copy):
    """A hand-edited record made query, stats and the server end in a traceback (hostile testing)."""
    folder, manifest = copy
    broken = dict(manifest, artefacts=dict(manifest["artefacts"], **{"msc-kg.nt": "x"}))
    expected = f"{folder / 'manifest.json'} does not record the size and SHA-256 of msc-kg.nt"
    assert release_mod.damage(broken, folder) == expected
    (folder / "manifest.json").write_text(__import__("json").dumps(broken), encoding="utf-8")
    with pytest.raises(MscKgError, match="^" + __import__("re").escape(expected + "; run `msc-kg build`")):
        release_mod.load_release(folder, rebuild=False)


def test_the_stage_is_on_the_release_folder_s_file_system(copy, monkeypatch):
    """Staged beside build/, a build/ that was a mount point (a container volume) lost its manifest
    when the first rename failed across file systems (hostile testing): the stage is inside it."""
    folder, _ = copy
    stages = []
    real = build_mod.tempfile.mkdtemp

    def seen(**kwargs):
        stages.append(kwargs["dir"])
        return real(**kwargs)

    monkeypatch.setattr(build_mod.tempfile, "mkdtemp", seen)
    build_mod.build(out_dir=folder, reasoner=False, write_owl=False)
    assert stages == [folder]


def test_an_older_manifest_without_artefacts_is_stale(copy):
    folder, manifest = copy
    old = {k: v for k, v in manifest.items() if k != "artefacts"}
    assert release_mod.damage(old, folder) == (
        f"{folder / 'manifest.json'} lists no artefacts (written by an older build)")


def test_a_manifest_that_is_not_json_is_no_release(copy):
    folder, _ = copy
    (folder / "manifest.json").write_text("{ not json", encoding="utf-8")
    assert release_mod.read_manifest(folder) is None
    with pytest.raises(MscKgError, match="^no built release in "):
        release_mod.load_release(folder, rebuild=False)


def test_a_writer_failure_leaves_the_previous_release_as_it_was(copy, monkeypatch):
    """rdflib's RDF/XML writer refuses a predicate it cannot shorten to an XML name
    (``mscd:123``): the build stopped with a traceback after writing half the release."""
    folder, _ = copy
    before = _snapshot(folder)
    real = build_mod.Graph.serialize

    def refuse_xml(self, destination=None, format="turtle", **kwargs):
        if format == build_mod.TYPED_XML:
            raise ValueError("Can't split 'https://w3id.org/msc-kg/id/123'")
        return real(self, destination, format=format, **kwargs)

    monkeypatch.setattr(build_mod.Graph, "serialize", refuse_xml)
    with pytest.raises(BuildError) as raised:
        build_mod.build(out_dir=folder, reasoner=False, write_owl=False)
    assert str(raised.value) == ("msc-kg.owl: the typed-xml writer refused the graph: Can't split "
                                 "'https://w3id.org/msc-kg/id/123'")
    assert _snapshot(folder) == before  # the stage (a folder of it) is gone too


def test_a_publish_cut_short_leaves_no_manifest(copy, monkeypatch):
    """Killed while the staged files are moved in: no manifest vouches for the mix."""
    folder, _ = copy
    moved = []
    real = build_mod.os.replace

    def die_after_two(src, dst):
        if len(moved) == 2:
            raise KeyboardInterrupt
        moved.append(dst)
        real(src, dst)

    monkeypatch.setattr(build_mod.os, "replace", die_after_two)
    with pytest.raises(KeyboardInterrupt):
        build_mod.build(out_dir=folder, reasoner=False, write_owl=False)
    assert not (folder / "manifest.json").exists()
    with pytest.raises(MscKgError, match="^no built release in "):
        release_mod.load_release(folder, rebuild=False)


def test_the_ontology_rdfxml_is_replaced_by_a_rename(tmp_path):
    target = tmp_path / "msc-kg.owl"
    target.write_text("old", encoding="utf-8")
    build_mod._write_whole(target, "new")
    assert target.read_text(encoding="utf-8") == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["msc-kg.owl"]


def test_an_ontology_rdfxml_that_cannot_be_written_leaves_the_previous_release(copy, monkeypatch, tmp_path):
    """ontology/msc-kg.owl was written after the old manifest went: a read-only ontology/ left
    build/ with no release, and the error named a temporary .part file (hostile testing)."""
    folder, _ = copy
    before = _snapshot(folder)
    target = tmp_path / "no-such-folder" / "msc-kg.owl"
    monkeypatch.setattr(build_mod.paths, "ONTOLOGY_OWL", target)
    with pytest.raises(BuildError) as raised:
        build_mod.build(out_dir=folder, reasoner=False)
    assert str(raised.value) == f"{target}: cannot be written: No such file or directory"
    assert _snapshot(folder) == before


def test_a_stage_whose_build_was_killed_is_removed_by_the_next(copy):
    """SIGTERM or SIGKILL during a build left its stage (9 MB) for good (hostile testing); the
    stage of a build still running is kept."""
    folder, _ = copy
    dead = folder / ".stage-999999999-abc"  # no such process
    alive = folder / f".stage-{__import__('os').getpid()}-abc"
    for stage in (dead, alive):
        stage.mkdir()
        (stage / "msc-kg.nt").write_text("half")
    build_mod.build(out_dir=folder, reasoner=False, write_owl=False)
    assert not dead.exists() and alive.exists()


def test_a_release_the_server_cannot_read_is_not_published(tmp_path):
    """rdflib writes relative IRIs unchecked; the N-Triples is read back by Oxigraph first."""
    nt = tmp_path / "msc-kg.nt"
    nt.write_text("<http://e/s> <http://e/p> <http://e/o> .\n<d1#anchor> <http://e/p> <http://e/o> .\n",
                  encoding="utf-8")
    with pytest.raises(BuildError, match=r"^msc-kg\.nt: the release as written does not read back: .*line 2"):
        build_mod._read_back(nt)
