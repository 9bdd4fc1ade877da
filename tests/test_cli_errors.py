"""The command line's operational errors: one line and exit 2, Ctrl-C 130, a closed stdout 141."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from msc_kg.cli import main
from msc_kg.server.dataset import DataError, load_files

CLI = [sys.executable, "-m", "msc_kg.cli"]
DAMAGED = "(the release is damaged; run `msc-kg build`)"


def _to_closed_pipe(args, env=None, stdin=None) -> subprocess.CompletedProcess:
    """``msc-kg args`` writing to a pipe whose reader is gone, as in ``| true``: every write fails."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        child = subprocess.Popen([*CLI, *args], stdin=subprocess.PIPE, stdout=write_end,
                                 stderr=subprocess.PIPE, env=env)
    finally:
        os.close(write_end)
    _, err = child.communicate(stdin, timeout=300)
    return subprocess.CompletedProcess(args, child.returncode, None, err.decode())


@pytest.fixture
def release_env(release):
    """The environment of a child process reading the session's release (not the project's build/)."""
    return {**os.environ, "MSC_KG_BUILD": str(release[0])}


def test_query_and_stats_to_a_closed_pipe_end_quietly_with_141(release_env):
    """`| true` (or `| head -1`) gave a BrokenPipeError traceback and exit 1 (hostile testing):
    they end as cat or grep do on SIGPIPE, 128 + 13, nothing on stderr."""
    query = _to_closed_pipe(["query", "-"], release_env, b"SELECT * { ?s ?p ?o }")
    stats = _to_closed_pipe(["stats"], release_env)
    assert (query.returncode, query.stderr) == (141, "")
    assert (stats.returncode, stats.stderr) == (141, "")


def test_conforming_validate_to_a_closed_pipe_is_not_exit_1(monkeypatch, assembled):
    """Exit 1 says "does not conform": a conforming validate whose reader went away exited 1."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    monkeypatch.setattr("msc_kg.build.assemble", lambda files: assembled)  # the session's graph
    monkeypatch.setattr(sys, "stdout", open(write_end, "w", encoding="utf-8"))
    try:
        assert main(["validate"]) == 141
    finally:
        sys.stdout.close()  # its fd now the null device: the pending text goes there


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("msc_kg.stats.stats", interrupted)
    try:
        status = main(["stats"])
    except KeyboardInterrupt:  # would end the test session, not fail this test
        pytest.fail("KeyboardInterrupt escaped msc-kg stats")
    assert status == 130
    assert capsys.readouterr() == ("", "msc-kg: interrupted\n")


@pytest.mark.skipif(not Path("/proc/self/wchan").exists(), reason="tells a blocked read by /proc")
def test_sigint_while_reading_the_query_is_exit_130_without_traceback():
    """Ctrl-C printed a KeyboardInterrupt traceback (hostile testing)."""
    child = subprocess.Popen([*CLI, "query", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while "pipe" not in Path(f"/proc/{child.pid}/wchan").read_text():  # waits on its stdin
        assert time.monotonic() < deadline, "msc-kg query - never read its stdin"
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert (child.returncode, err) == (130, "msc-kg: interrupted\n")


def _damaged_release(release, tmp_path) -> Path:
    """A copy of the session's release whose msc-kg.nt does not parse, its manifest vouching for it
    (so it is neither rebuilt nor refused as changed: the graph's load itself fails)."""
    folder = tmp_path / "build"
    shutil.copytree(release[0], folder)
    graph = folder / "msc-kg.nt"
    graph.write_bytes(graph.read_bytes()[:100_000].rsplit(b"\n", 1)[0] + b"\n<http://e/a> <http://e/b")
    manifest = json.loads((folder / "manifest.json").read_text())
    if "artefacts" in manifest:
        manifest["artefacts"]["msc-kg.nt"] = {"bytes": graph.stat().st_size,
                                              "sha256": hashlib.sha256(graph.read_bytes()).hexdigest()}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.mark.parametrize("command", [["stats"], ["query", "-"]])
def test_a_damaged_release_is_one_line_and_exit_2(release, tmp_path, monkeypatch, capsys, command):
    """A DataError traceback and exit 1 (hostile testing): one line naming the file, the line and
    what is wrong, exit 2, as serve says it."""
    import io

    folder = _damaged_release(release, tmp_path)
    monkeypatch.setattr("msc_kg.paths.BUILD_DIR", folder)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"ASK {}")))
    with pytest.raises(DataError) as served:
        load_files([folder / "msc-kg.nt"])
    assert main(command) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"error: {served.value} {DAMAGED}\n"
    assert err.startswith(f"error: {folder / 'msc-kg.nt'}: line ")


def test_build_out_a_source_folder_is_refused_before_the_build(monkeypatch, capsys):
    """--out ontology replaced the hand-edited ontology/msc-kg.ttl with the full release, and
    --out triples left a manifest.json every command then refused (packaging review)."""
    from msc_kg import paths

    def build(**kwargs):
        raise AssertionError("the build ran")

    monkeypatch.setattr("msc_kg.build.build", build)
    for folder in ("ontology", "triples", "shapes/sub", "queries/derive", "source", "msc_kg", "tests/data"):
        assert main(["build", "--no-reason", "--out", str(paths.ROOT / folder)]) == 2
        top = folder.split("/")[0]
        assert capsys.readouterr().err == (f"error: --out {paths.ROOT / folder}: lies in {top}/, a folder "
                                           "of the project's sources; give build/ or another folder\n")
    assert main(["build", "--no-reason", "--out", str(paths.ROOT)]) == 2
    assert capsys.readouterr().err == (f"error: --out {paths.ROOT}: the project's own folder; give "
                                       "build/ or another folder\n")


def test_build_out_a_file_is_refused_before_the_build(tmp_path, monkeypatch, capsys):
    """A FileExistsError traceback and exit 1, after the seconds of validation (hostile testing)."""
    def build(**kwargs):
        raise AssertionError("the build ran")

    monkeypatch.setattr("msc_kg.build.build", build)
    a_file = tmp_path / "release.txt"
    a_file.write_text("")
    assert main(["build", "--no-reason", "--out", str(a_file)]) == 2
    assert capsys.readouterr().err == f"error: --out {a_file}: not a folder\n"
    assert main(["build", "--no-reason", "--out", str(a_file / "sub")]) == 2
    assert capsys.readouterr().err == f"error: --out {a_file / 'sub'}: {a_file} is not a folder\n"
    # the default build/ too (a file there was told after validation), and an empty --out (it
    # wrote the release into the current folder: hostile testing)
    monkeypatch.setattr("msc_kg.paths.BUILD_DIR", a_file)
    assert main(["build", "--no-reason"]) == 2
    assert capsys.readouterr().err == f"error: {a_file}: not a folder\n"
    with pytest.raises(SystemExit) as ended:
        main(["build", "--out", ""])
    assert ended.value.code == 2
    assert capsys.readouterr().err.endswith("error: argument --out: give a folder, not an empty name\n")


def test_an_os_error_of_a_command_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    """A FileNotFoundError for --out /proc/nope ended in a traceback and exit 1 (hostile testing)."""
    def build(**kwargs):
        raise FileNotFoundError(2, "No such file or directory", "/proc/nope")

    monkeypatch.setattr("msc_kg.build.build", build)
    assert main(["build", "--no-reason", "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == "error: /proc/nope: No such file or directory\n"


def test_validate_with_an_unknown_extension_exits_2_as_serve_data_refuses_it(tmp_path, capsys):
    """A .txt file was read as Turtle (hostile testing); refused before anything is validated,
    in serve --data's words."""
    path = tmp_path / "data.txt"
    path.write_text("<http://ex.org/a> <http://ex.org/b> <http://ex.org/c> .\n")
    with pytest.raises(DataError) as served:
        load_files([path])
    assert main(["validate", "--with", str(path)]) == 2
    assert capsys.readouterr().err == f"error: {served.value}\n"


def test_validate_with_xml_json_and_nquads_reads_them_as_serve_data_does(tmp_path, capsys):
    """Each was read as Turtle and "did not parse" (hostile testing)."""
    review, comment = "https://w3id.org/msc-kg/id/review", "http://www.w3.org/2000/01/rdf-schema#comment"
    files = {"a.xml": ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
                       'xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#">'
                       f'<rdf:Description rdf:about="{review}"><rdfs:comment>a</rdfs:comment>'
                       '</rdf:Description></rdf:RDF>\n'),
             "b.json": f'{{"@id": "{review}", "{comment}": "b"}}\n',
             "c.nquads": f'<{review}> <{comment}> "c" <http://ex.org/g> .\n'}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert main(["validate", "--with", *(str(tmp_path / name) for name in files)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("Conforms") and err == ""


def test_a_source_that_does_not_parse_stops_serve_with_exit_1_as_validate(monkeypatch):
    """serve ended with 2 where validate and build end with 1 for the same file (hostile testing)."""
    import argparse

    from msc_kg.errors import SourceParseError
    from msc_kg.server import serve
    from msc_kg.server.supervise import StartError

    def broken(**kwargs):
        raise SourceParseError("triples/x.ttl", 12, "does not parse as turtle: A dot is expected")

    monkeypatch.setattr("msc_kg.release.load_release", broken)
    with pytest.raises(StartError) as stopped:
        serve.load(argparse.Namespace(data=None), {})
    assert (stopped.value.code, stopped.value.message) == (
        1, "error: triples/x.ttl:12: does not parse as turtle: A dot is expected")


def test_support_files_that_are_not_what_the_build_reads_are_named(tmp_path, monkeypatch):
    """A quality check or derivation that is not UTF-8 text, a reference table without its status
    column and a prefix map that is not JSON ended in tracebacks with exit 1, and a check not named
    *-violation.rq was never run, without a word (packaging review)."""
    from rdflib import Graph

    from msc_kg import derive, mappings, paths, reference, violations
    from msc_kg.errors import MscKgError, SourceUnreadable

    checks = tmp_path / "violations"
    checks.mkdir()
    (checks / "a-violation.rq").write_bytes(b"# Purpose: t\nSELECT ?x WHERE { ?x ?p \"\xe9\" }\n")
    with pytest.raises(MscKgError) as info:
        list(violations.rows(Graph(), checks))
    assert str(info.value) == (f"{checks / 'a-violation.rq'}:2: is not UTF-8 text (column 26: "
                               "invalid continuation byte)")
    (checks / "b-check.rq").write_text("SELECT * WHERE { ?s ?p ?o }\n")
    with pytest.raises(MscKgError, match=r"b-check.rq: is not run: the quality checks are the "
                                         r"\*-violation.rq files of queries/violations"):
        violations.queries(checks)
    loop = tmp_path / "loop"  # a folder that cannot be listed was taken for one with no check
    loop.symlink_to(loop)
    with pytest.raises(SourceUnreadable) as info:
        violations.queries(loop)
    assert str(info.value) == f"{loop}: the quality checks cannot be read: Too many levels of symbolic links"

    (tmp_path / "derive").mkdir()
    (tmp_path / "derive" / "x.rq").write_bytes(b"CONSTRUCT {} WHERE {} # \xff\n")
    monkeypatch.setattr(paths, "QUERIES_DIR", tmp_path)
    with pytest.raises(MscKgError, match=r"x.rq:1: is not UTF-8 text \(column 25: invalid start byte\)$"):
        derive.construct(Graph(), "x")

    tables = tmp_path / "reference"
    tables.mkdir()
    (tables / "cell-lines.tsv").write_text("accession\tstate\nCVCL_0065\tverified\n")
    monkeypatch.setattr(paths, "REFERENCE_DIR", tables)
    reference.verified.cache_clear()
    try:
        with pytest.raises(MscKgError) as info:
            reference.accession_problem("CVCL_0065")
        assert str(info.value) == (f"{tables / 'cell-lines.tsv'}:1: has no column 'status' (its "
                                   "header: accession, state)")
    finally:
        reference.verified.cache_clear()

    broken = tmp_path / "prefixes.json"
    broken.write_text('{"records": [\n  {"prefix": "CL",}\n]}')
    monkeypatch.setattr(mappings, "PREFIX_MAP", broken)
    mappings.prefix_records.cache_clear()
    try:
        with pytest.raises(MscKgError) as info:
            mappings.prefix_records()
        assert str(info.value) == (f"{broken}:2: is not JSON (column 19: Expecting property name "
                                   "enclosed in double quotes)")
        broken.write_text('{"records": [{"prefix": "CL"}]}')
        mappings.prefix_records.cache_clear()
        with pytest.raises(MscKgError, match='is not a prefix map: an object whose "records" list'):
            mappings.prefix_records()
    finally:
        mappings.prefix_records.cache_clear()


@pytest.mark.parametrize("option", ["--bogus", "-x", "--json"])
def test_an_option_before_the_command_is_named(capsys, option):
    """"msc-kg --bogus" said "the following arguments are required: command" (bad-input testing)."""
    with pytest.raises(SystemExit) as raised:
        main([option, "stats"])
    assert raised.value.code == 2
    assert capsys.readouterr().err.endswith(
        f"msc-kg: error: unrecognized option '{option}': the command comes first (build, validate, "
        "stats, query, serve; msc-kg <command> --help for its options)\n")
    with pytest.raises(SystemExit) as raised:  # argparse's abbreviations still work (code review)
        main(["--vers"])
    assert raised.value.code == 0 and capsys.readouterr().out.startswith("msc-kg ")


def test_validate_with_and_no_file_is_refused(capsys):
    """"validate --with" and no file validated the project alone and said it conformed (a first
    user's walkthrough): the option takes one file or more."""
    with pytest.raises(SystemExit) as raised:
        main(["validate", "--with"])
    assert raised.value.code == 2
    assert capsys.readouterr().err.endswith("error: argument --with: expected at least one argument\n")


def test_a_reader_leaving_while_the_answer_is_written_ends_the_query_141(release_env):
    """`msc-kg query … | head -c 10` ended 0: the one write of the whole answer came back short
    when head left, and Python's buffered writer dropped the rest without an error."""
    read_end, write_end = os.pipe()
    child = subprocess.Popen([*CLI, "query", "--format", "csv", "-"], stdin=subprocess.PIPE,
                             stdout=write_end, stderr=subprocess.PIPE, env=release_env)
    os.close(write_end)
    child.stdin.write(b"SELECT * { ?s ?p ?o }")  # about 3 MB of CSV
    child.stdin.close()
    assert os.read(read_end, 10)  # as head -c 10 does, then leaves
    os.close(read_end)
    assert (child.wait(timeout=300), child.stderr.read()) == (141, b"")


def test_a_source_that_cannot_be_read_is_an_io_error(monkeypatch, capsys):
    """An unreadable file of triples/ ended validate with 1, "does not conform", where every other
    file that cannot be read gives 2 (bad-input audit)."""
    from msc_kg.errors import SourceUnreadable

    def unreadable(files=None):
        raise SourceUnreadable("triples/zz.ttl", None, "cannot be read: [Errno 13] Permission denied")

    monkeypatch.setattr("msc_kg.build.assemble", unreadable)
    assert main(["validate"]) == 2
    assert capsys.readouterr().err == "error: triples/zz.ttl: cannot be read: [Errno 13] Permission denied\n"
