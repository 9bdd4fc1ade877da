"""The msc-kg command line: help, exit codes and readable reports."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from msc_kg import paths
from msc_kg.cli import main
from server_fixtures import listener  # noqa: F401

DATA = Path(__file__).parent / "data"


def run(*args):
    return subprocess.run([sys.executable, "-m", "msc_kg.cli", *args], capture_output=True, text=True, timeout=300)


def test_help_lists_every_command():
    result = run("--help")
    assert result.returncode == 0
    for command in ("build", "validate", "stats", "query", "serve"):
        assert command in result.stdout


def test_unknown_command_is_a_usage_error():
    assert run("frobnicate").returncode == 2


def test_validate_real_data_exits_0(capsys):
    assert main(["validate"]) == 0
    assert capsys.readouterr().out.startswith("Conforms")


def test_validate_bad_syntax_exits_1_naming_file_and_line(capsys):
    assert main(["validate", "--with", str(DATA / "broken-syntax.ttl")]) == 1
    err = capsys.readouterr().err
    assert f"{DATA / 'broken-syntax.ttl'}:5: does not parse as turtle" in err


def test_validate_shape_violation_exits_1_naming_focus_and_message(capsys):
    fixture = DATA / "invalid" / "finding-missing-evidence.ttl"
    assert main(["validate", "--with", str(fixture)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("Does not conform: 3 problem(s)")  # the shape and two quality checks
    assert f"{fixture}: mscd:test-f1 msc:evidence: a statement needs exactly one non-empty evidence sentence" in out
    assert (f"{fixture}: mscd:test-f1: Every finding, claim and quantitative outcome has an evidence "
            "sentence anchored in the review. (statement-without-evidence-violation.rq)") in out
    assert (f"{fixture}: mscd:test-f1: A statement's IRI is mscd:<kind>-<section slug>-NNN") in out  # test-f1


def test_validate_without_the_reasoner_still_refuses_disjoint_classes(capsys):
    """Without --reason (or Java) an individual of two disjoint classes passed validation and the
    build published it as conforming (ontology audit): queries find what they can."""
    fixture = DATA / "inconsistent-domain.ttl"
    assert main(["validate", "--with", str(fixture)]) == 1
    told = capsys.readouterr()
    assert told.out == ""  # not "Conforms: ..." first (change review)
    assert told.err == (
        "The ontology with its data is INCONSISTENT (found by queries; HermiT did not run):\n"
        f"  {paths.ROOT / 'triples' / 'mediators.ttl'}, {fixture}: mscd:IL-6 is a msc:Mediator (typed "
        "msc:Cytokine) and a msc:ReviewStatement (as the subject of msc:setting), which are disjoint\n")


def test_build_without_java_writes_no_inconsistent_release(monkeypatch, tmp_path):
    import msc_kg.load
    from msc_kg import reason
    from msc_kg.build import build
    from msc_kg.errors import Inconsistent

    sources = msc_kg.load.source_files()
    monkeypatch.setattr(msc_kg.load, "source_files", lambda: sources + [DATA / "inconsistent-domain.ttl"])
    monkeypatch.setattr(reason.shutil, "which", lambda name: None)  # no Java
    with pytest.raises(Inconsistent, match="mscd:IL-6 is a msc:Mediator .* which are disjoint"):
        build(out_dir=tmp_path / "out", write_owl=False)
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not __import__("shutil").which("java"), reason="HermiT needs Java")
def test_validate_inconsistent_axiom_exits_1_naming_files_node_and_property(capsys):
    fixture = DATA / "inconsistent-domain.ttl"
    assert main(["validate", "--reason", "--with", str(fixture)]) == 1
    assert capsys.readouterr().err == (
        "HermiT: the ontology with its data is INCONSISTENT.\n"
        f"  {paths.ROOT / 'triples' / 'mediators.ttl'}, {fixture}: mscd:IL-6 is a msc:Mediator (typed "
        "msc:Cytokine) and a msc:ReviewStatement (as the subject of msc:setting), which are disjoint\n")


def test_validate_missing_file_exits_2(capsys):
    assert main(["validate", "--with", "no/such/file.ttl"]) == 2
    assert "no/such/file.ttl: no such file" in capsys.readouterr().err


def test_a_loop_of_links_is_told_as_one(capsys, tmp_path):
    """A loop of symbolic links was "no such file" (hostile testing)."""
    (tmp_path / "a.ttl").symlink_to(tmp_path / "b.ttl")
    (tmp_path / "b.ttl").symlink_to(tmp_path / "a.ttl")
    assert main(["validate", "--with", str(tmp_path / "a.ttl")]) == 2
    assert f"{tmp_path / 'a.ttl'}: too many levels of symbolic links" in capsys.readouterr().err
    from msc_kg.server.dataset import DataError, load_files

    with pytest.raises(DataError, match="a.ttl: cannot read: too many levels of symbolic links$"):
        load_files([tmp_path / "a.ttl"])


def test_validate_a_folder_or_fifo_exits_2(capsys, tmp_path):
    """A FIFO blocked the parser for ever; a folder 'did not parse' (hostile testing)."""
    fifo = tmp_path / "pipe.ttl"
    os.mkfifo(fifo)
    for path in (fifo, tmp_path):
        assert main(["validate", "--with", str(path)]) == 2
        assert capsys.readouterr().err == f"error: {path}: not a regular file\n"


def test_validate_json_ld_fetches_no_remote_context(capsys, tmp_path, listener):
    """rdflib fetched a remote @context (and @import) of a --with file (hostile testing); the file
    is read by Oxigraph's parser, which refuses to."""
    path = tmp_path / "remote.jsonld"
    path.write_text('{"@context": "%sctx", "@id": "http://e/a", "http://e/p": "x"}' % listener.url)
    assert main(["validate", "--with", str(path)]) == 1
    assert capsys.readouterr().err == (f"{path}:1: does not parse as json-ld: the JSON-LD context "
                                       f"\"{listener.url}ctx\" (@context) is not fetched: remote contexts "
                                       "are never loaded, from the network or another file; put the "
                                       "context itself in the file\n")
    assert listener.connections == []


def test_validate_truncated_rdf_xml_names_the_line(capsys, tmp_path):
    path = tmp_path / "cut.rdf"
    path.write_text('<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
                    '<rdf:Description rdf:about="http://e/a">\n')
    assert main(["validate", "--with", str(path)]) == 1
    assert (f"{path}:4: does not parse as rdf/xml: line 4, column 1: not well-formed XML: no element "
            "found (RDF/XML is XML)") in capsys.readouterr().err


NESTED = ("@prefix : <http://e/> . @prefix mscd: <https://w3id.org/msc-kg/id/> . "
          "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\nmscd:review rdfs:seeAlso {} .\n")


def test_validate_reads_a_deep_collection_as_the_servers_loader(capsys, tmp_path):
    """rdflib's Turtle parser recursed: 3000 nested collections, which the server's --data loads,
    failed with "maximum recursion depth exceeded" (hostile testing). Oxigraph's parser reads them,
    and validation refuses the nesting by name, since the release's writers recurse along it (it
    conformed, and the build failed on it: bad-input audit)."""
    path = tmp_path / "deep.ttl"
    path.write_text(NESTED.format("(" * 3000 + ")" * 3000))
    assert main(["validate", "--with", str(path)]) == 1
    assert capsys.readouterr().out.splitlines()[-1].endswith(
        f"{path}: mscd:review rdfs:seeAlso: nests blank nodes or collections 2999 deep (at most 64): the "
        "release's writers recurse along them")


def test_validate_deep_invalid_blank_nodes_name_line_and_column(capsys, tmp_path):
    path = tmp_path / "deep.ttl"
    path.write_text(NESTED.format("[" * 3000 + "]" * 3000))
    assert main(["validate", "--with", str(path)]) == 1
    assert capsys.readouterr().err == (f"{path}:2: does not parse as turtle: Parser error at line 2 "
                                       "column 27: [ is not a valid predicate\n")


@pytest.mark.parametrize("name, text, rdf12, line", [
    ("dir.jsonld", '{"@context": {"@vocab": "http://e/"}, "@id": "http://e/a",\n'
                   '"p": {"@value": "x", "@direction": "rtl", "@language": "en"}}', "base direction (rtl)", 2),
    ("dir.ttl", NESTED.format('"x"@en--ltr'), "base direction (ltr)", 2),
    ("triple.ttl", NESTED.format("<<( :s :p :o )>>"), "triple terms (<<( … )>>)", 2),
])
def test_validate_refuses_rdf_1_2_terms_it_cannot_read(capsys, tmp_path, name, text, rdf12, line):
    """A JSON-LD "@direction" the server serves gave "does not parse as json-ld: Invalid line:
    --rtl ." (an internal N-Triples round trip; hostile testing). rdflib holds no base direction
    nor triple term: the file is refused as one that does not parse, saying why, and on which
    line (none was named: hostile testing)."""
    path = tmp_path / name
    path.write_text(text)
    assert main(["validate", "--with", str(path)]) == 1
    assert capsys.readouterr().err == (f"{path}:{line}: uses RDF 1.2 {rdf12}, which the validator "
                                       "(rdflib, pySHACL) cannot read\n")


def test_query_missing_file_exits_2(capsys):
    assert main(["query", "no/such/query.rq"]) == 2


def test_serve_help_is_the_servers_help():
    result = run("serve", "--help")
    assert result.returncode == 0
    assert "--timeout" in result.stdout and "--data" in result.stdout


def test_serve_help_and_usage_errors_name_msc_kg_serve():
    """They named the program server.py (hostile testing); server.py itself still says so."""
    assert run("serve", "--help").stdout.startswith("usage: msc-kg serve [-h]")
    result = run("serve", "--port", "x")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: msc-kg serve [-h]")
    assert "\nmsc-kg serve: error: argument --port: 'x' is not a whole number\n" in result.stderr
    from msc_kg.server.serve import build_parser

    assert build_parser().prog == "server.py"


def test_query_the_engine_aborts_on_is_an_error_not_a_crash(tmp_path):
    """Oxigraph 0.5 aborts its process on some orderings of mixed literals: the CLI runs such a
    query in a child, so it answers with a message and exit 2 instead of dying with a backtrace."""
    from server_fixtures import SORT_ABORT, SORT_ABORT_STATUS

    from msc_kg.server.engine import ENGINE_ABORT

    from msc_kg.release import ensure_release

    ensure_release()  # built first: a fresh checkout's first query builds it, and says so on stderr
    query = tmp_path / "abort.rq"
    query.write_text(SORT_ABORT)
    result = run("query", str(query))
    if SORT_ABORT_STATUS == 400:  # pyoxigraph still aborts on it (asked in a child process)
        assert result.returncode == 2
        assert result.stderr == f"error: {query}: {ENGINE_ABORT}\n"
        assert "panicked" not in result.stderr
    else:
        assert result.returncode == 0


def _children(monkeypatch) -> list:
    """A list that gets an item each time msc-kg query runs a query in a forked child."""
    from msc_kg import query as query_mod

    children = []
    in_child = query_mod._in_child
    monkeypatch.setattr(query_mod, "_in_child",
                        lambda work, timeout=None: children.append(1) or in_child(work, timeout))
    return children


def test_query_ordering_numbers_and_strings_of_the_graph_runs_apart(tmp_path, monkeypatch):
    """The same for an ordering of the graph's own mixed literals (msc_kg.server.sortrisk): it is
    run in a child, and answers or says the engine aborted, without a crash."""
    from msc_kg import query as query_mod
    from msc_kg.server.engine import ENGINE_ABORT

    text = ("SELECT ?o WHERE { ?s a <http://www.w3.org/2002/07/owl#NamedIndividual> ; ?p ?o "
            "FILTER(isLiteral(?o)) } ORDER BY ?o")
    query = tmp_path / "mix.rq"
    query.write_text(text)
    result = run("query", str(query), "--format", "tsv")
    assert "panicked" not in result.stderr
    assert (result.returncode, result.stderr) == (2, f"error: {query}: {ENGINE_ABORT}\n") \
        or result.returncode == 0 and result.stdout.startswith("?o\n")
    children = _children(monkeypatch)
    try:
        query_mod.run_query(text, "tsv")
    except query_mod.EngineAborted:
        pass
    assert children == [1]


def test_query_ordering_values_of_its_own_runs_apart_and_answers(monkeypatch):
    """A query that may order values of its own runs in a child; its answer and the errors the
    engine raises come back as they would from this process."""
    from msc_kg import query as query_mod

    children = _children(monkeypatch)
    query = 'SELECT ?x WHERE { VALUES ?x { "b" "a" 1 } } ORDER BY STR(?x)'
    assert query_mod.run_query(query, "csv") == "x\r\n1\r\na\r\nb\r\n"
    with pytest.raises(SyntaxError, match="error at 1:"):
        query_mod.run_query('SELECT ?x WHERE { VALUES ?x { "b" } ORDER BY ?x')
    notes = []  # an unknown function is an expression error there too, and is named
    assert query_mod.run_query('SELECT ?x WHERE { BIND(<http://example.org/f>(1) AS ?x) } ORDER BY ?x',
                               "csv", notes=notes) == "x\r\n\r\n"
    assert notes == ["unknown function(s) evaluated as errors: <http://example.org/f>"]
    assert len(children) == 3
    assert query_mod.run_query("SELECT ?x WHERE { ?x ?p ?o } LIMIT 0", "csv") == "x\r\n"
    assert len(children) == 3  # nothing to order of its own: run here


def test_query_decides_which_orderings_run_apart_as_the_endpoint_does(monkeypatch):
    """Strings of its own ordered with the labels they match run here, as at the endpoint; the
    same names with a number among them run in a child."""
    from msc_kg import query as query_mod

    children = _children(monkeypatch)
    query = ('PREFIX msc: <https://w3id.org/msc-kg/ontology/> SELECT ?n WHERE { '
             'VALUES ?n { "HCT116" "HCT 116" } ?c msc:nameInReview ?n } ORDER BY ?n')
    assert query_mod.run_query(query, "csv") == "n\r\nHCT 116\r\nHCT116\r\n"
    assert children == []
    assert query_mod.run_query(query.replace('"HCT 116"', '"HCT 116" 1'), "csv").startswith("n\r\n")
    assert children == [1]


def _query(capsys, text: str | bytes, *options: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``msc-kg query -`` given ``text`` on stdin."""
    import io

    sys.stdin = io.TextIOWrapper(io.BytesIO(text.encode() if isinstance(text, str) else text))
    try:
        status = main(["query", "-", *options])
    finally:
        sys.stdin = sys.__stdin__
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("fmt, expected", [("table", "true\n"), ("json", '{"head":{},"boolean":true}\n'),
                                           ("csv", "true\n"), ("tsv", "true\n")])
def test_query_ask_answers_in_every_format(capsys, fmt, expected):
    assert _query(capsys, "ASK { ?s a <http://www.w3.org/2002/07/owl#Class> }", "--format", fmt) == (0, expected, "")


def test_query_decodes_codepoint_escapes_as_the_endpoint_does(capsys):
    """SPARQL 1.1 §19.2: \\u escapes are decoded before parsing, outside strings too."""
    status, out, err = _query(capsys, "SELECT ?x WHERE { BIND(\\u0031 AS ?x) } # \\u0032", "--format", "csv")
    assert (status, out, err) == (0, "x\r\n1\r\n", "")
    status, out, err = _query(capsys, "SELECT ?x WHERE { BIND(\\uD800 AS ?x) }")
    assert status == 2 and out == ""
    assert err == ("error: -: the query does not parse: The codepoint escape \\uD800 names no character "
                   "(a surrogate or beyond U+10FFFF); SPARQL 1.1 §19.2.\n")


def test_query_the_engine_would_read_otherwise_does_not_parse(capsys):
    """As at the endpoint (msc_kg.server.misread): "<?a&&?b>" is an IRI to the grammar."""
    status, out, err = _query(capsys, "SELECT * WHERE { FILTER (?x<?a&&?b>?y) }")
    assert status == 2 and out == ""
    assert err == ("error: -: the query does not parse: Malformed query: '<?a&&?b>' is an IRI (SPARQL "
                   "takes the longest token), and an IRI cannot follow '?x' in an expression; to "
                   "compare, put spaces around '<' and '>'.\n")


@pytest.mark.parametrize("query, message", [
    ("SELECT * WHERE " + "{" * 10_000 + "}" * 10_000,
     "Query nesting is 10000 levels deep; the limit is 200."),
    ("SELECT (1" + "+1" * 100_000 + " AS ?x) {}",
     "Query has 100000 operators, separators and clauses; the limit is 5000 (use VALUES for long "
     "lists of values)."),
    ("SELECT * { ?s ?p (" + " 1" * 40_000 + ") }",
     "Query's RDF collections hold 39999 members after the first of each; the limit is 5000 (use "
     "VALUES for long lists of values)."),
    ("SELECT * { SERVICE <http://127.0.0.1:9/x> { ?s ?p ?o } }",
     "federated queries (SERVICE) are not run by msc-kg query; the endpoint runs them for the "
     "endpoints given with --service-allow."),
])
def test_query_over_the_endpoints_limits_is_refused(capsys, query, message):
    """Past the limits the engine's parser overflowed its stack and the CLI died with SIGSEGV and
    no word; a SERVICE was fetched (hostile testing). The endpoint's checks apply here too."""
    status, out, err = _query(capsys, query)
    assert (status, out, err) == (2, "", f"error: -: {message}\n")


def test_query_stops_at_its_timeout(capsys):
    """A triple cross join ran without bound (hostile testing); --timeout stops it, and a query
    within the time is answered as without it."""
    import time

    started = time.monotonic()
    status, out, err = _query(capsys, "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }",
                              "--timeout", "0.5")
    assert (status, out, err) == (2, "", "error: -: the query ran longer than 0.5 s (--timeout) and was stopped\n")
    assert time.monotonic() - started < 10
    assert _query(capsys, "ASK { ?s a <http://www.w3.org/2002/07/owl#Class> }", "--timeout", "30") == (0, "true\n", "")


def test_commands_run_with_stdout_closed():
    """Started with stdout closed (a shell's ">&-"), validate traced back on None.write and exited 1,
    "not conforming", for conforming data (bad-input testing)."""
    for args in (["validate"], ["stats"]):
        done = subprocess.run([sys.executable, "-m", "msc_kg.cli", *args], stdout=None, stderr=subprocess.PIPE,
                              text=True, timeout=300, preexec_fn=lambda: os.close(1))
        assert done.returncode == 0 and "Traceback" not in done.stderr, (args, done.stderr)


def test_query_with_stdin_closed_says_so():
    """`msc-kg query - <&-` ended in a traceback on None.buffer, exit 1 (bad-input audit)."""
    done = subprocess.run([sys.executable, "-m", "msc_kg.cli", "query", "-"], stdin=None, capture_output=True,
                          text=True, timeout=60, preexec_fn=lambda: os.close(0))
    assert (done.returncode, done.stdout, done.stderr) == (
        2, "", "error: -: standard input is closed; pipe the query in, or give its file\n")


@pytest.mark.parametrize("option, value, message", [
    ("--max-rows", "9223372036854775807", "9223372036854775807 is out of range (at most 1000000000; 0 for no limit)"),
    ("--timeout", "1e10", "1e10 is out of range (at most 31536000 seconds)"),
])
def test_query_limits_past_the_endpoints_are_usage_errors(capsys, option, value, message):
    """A --max-rows of 2**63 ended in a traceback at the row cap, exit 1; a --timeout of 1e10 was
    told it was not "above 0" (bad-input audit)."""
    with pytest.raises(SystemExit) as ended:
        main(["query", "-", option, value])
    assert ended.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"msc-kg query: error: argument {option}: {message}"


@pytest.mark.parametrize("fmt, lines", [("table", 3), ("csv", 3), ("tsv", 3), ("json", 1)])
def test_query_writes_at_most_max_rows(capsys, fmt, lines):
    """A cross join of the graph with itself was held whole (10 GB, killed by the kernel: hostile
    testing); the answer is cut at --max-rows (the endpoint's 100 000 by default), saying so."""
    q = "SELECT ?s ?t WHERE { ?s a <http://www.w3.org/2002/07/owl#Class> . ?t a <http://www.w3.org/2002/07/owl#Class> }"
    status, out, err = _query(capsys, q, "--format", fmt, "--max-rows", "2")
    assert status == 0 and len(out.splitlines()) == lines and out.endswith("\n")
    if fmt == "json":
        assert len(json.loads(out)["results"]["bindings"]) == 2
    assert err.splitlines()[-1] == "note: -: the answer was cut at 2 rows or triples (--max-rows; 0 for no limit)"
    status, out, err = _query(capsys, "CONSTRUCT WHERE { ?s a <http://www.w3.org/2002/07/owl#Class> }",
                              "--max-rows", "1")
    assert status == 0 and out.count(" .\n") == 1 and "cut at 1 rows or triples" in err
    status, out, err = _query(capsys, "SELECT ?s WHERE { ?s a <http://www.w3.org/2002/07/owl#Ontology> }",
                              "--max-rows", "0")
    assert (status, len(out.splitlines()), err) == (0, 2, "")


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_a_query_child_ends_with_its_parent(sig):
    """A SIGTERM or SIGINT to msc-kg query alone (a supervisor, kill -INT <pid>) left its forked
    child running the query past --timeout, holding stdout (hostile testing)."""
    import signal
    import time

    query = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
    proc = subprocess.Popen([sys.executable, "-m", "msc_kg.cli", "query", "-", "--timeout", "60"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    proc.stdin.write(query.encode())
    proc.stdin.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _children_of(proc.pid):  # the query is running
        time.sleep(0.1)
    assert _children_of(proc.pid)
    os.kill(proc.pid, getattr(signal, sig))
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)  # any process left in its group: the child
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError("the forked child outlived msc-kg query")


def _children_of(pid: int) -> list[str]:
    """The pids of the children of ``pid`` (Linux /proc)."""
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_query_timeout_must_be_seconds_above_0(capsys, value):
    with pytest.raises(SystemExit) as raised:
        main(["query", "-", "--timeout", value])
    assert raised.value.code == 2
    assert "--timeout: " in capsys.readouterr().err


def test_query_runs_on_the_endpoints_stack(capsys):
    """4 900 BINDs in a row (3 000 overflow an 8 MB stack) are answered, as at the endpoint."""
    binds = " ".join(f"BIND({i} AS ?b{i})" for i in range(4_900))
    status, out, _ = _query(capsys, f"SELECT ?b4899 WHERE {{ {binds} }}")
    assert (status, out) == (0, "b4899\n4899\n")


def test_query_unknown_function_is_an_expression_error_with_a_note(capsys):
    status, out, err = _query(capsys, "SELECT ?x WHERE { BIND(<http://example.org/f>(1) AS ?x) }")
    assert (status, out) == (0, "x\n\n")
    assert err == "note: -: unknown function(s) evaluated as errors: <http://example.org/f>\n"


def test_query_with_too_many_unknown_functions_is_refused(capsys):
    from msc_kg.server.engine import MAX_UNKNOWN_FUNCTIONS

    calls = " + ".join(f"<http://example.org/f{i}>(1)" for i in range(MAX_UNKNOWN_FUNCTIONS + 1))
    status, out, err = _query(capsys, f"SELECT ?x WHERE {{ BIND({calls} AS ?x) }}")
    assert status == 2 and out == ""
    assert err.startswith(f"error: -: The query calls more than {MAX_UNKNOWN_FUNCTIONS} functions this endpoint "
                          "does not know (one is <http://example.org/f")


def test_query_not_utf8_is_a_usage_error_naming_the_byte(capsys, tmp_path):
    bad = tmp_path / "latin1.rq"
    bad.write_bytes('SELECT * WHERE { ?s ?p "café" }'.encode("latin-1"))
    assert main(["query", str(bad)]) == 2
    assert capsys.readouterr().err == (f"error: {bad}: not UTF-8 text (byte 27: invalid continuation byte); "
                                       "SPARQL is read as UTF-8\n")
    assert _query(capsys, b"\xef\xbb\xbfASK {}") == (0, "true\n", "")  # a byte order mark is skipped


def test_query_reads_no_device_fifo_or_folder(tmp_path):
    """`msc-kg query /dev/zero` read 15 GB in 10 s (hostile testing); a FIFO would block. A file
    that is not regular is refused as validate --with refuses it (in a child with 2 GB of address
    space, so a regression fails instead of swamping the machine)."""
    import resource

    fifo = tmp_path / "pipe.rq"
    os.mkfifo(fifo)
    limit = lambda: resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))  # noqa: E731
    for path in ("/dev/zero", fifo, tmp_path):
        result = subprocess.run([sys.executable, "-m", "msc_kg.cli", "query", str(path)], capture_output=True,
                                text=True, timeout=60, preexec_fn=limit)
        assert (result.returncode, result.stderr) == (
            2, f"error: {path}: not a regular file; give - to read a query piped to stdin\n")


def test_query_on_stdin_is_read_up_to_the_endpoints_body_limit(capsys):
    """stdin is read up to the endpoint's default request-body limit, and a byte more is refused."""
    import io

    from msc_kg.server.config import DEFAULTS

    limit = DEFAULTS["max_body"]
    stream = io.BytesIO(b"#" * (2 * limit))
    sys.stdin = stdin = io.TextIOWrapper(stream)  # kept: dropping it would close the stream
    try:
        assert main(["query", "-"]) == 2
    finally:
        sys.stdin = sys.__stdin__
    assert stream.tell() == limit + 1 and not stdin.closed
    assert capsys.readouterr().err == (f"error: -: the query is longer than {limit} bytes, the endpoint's "
                                       "default request-body limit (--max-body)\n")
    assert _query(capsys, b"ASK {}" + b" " * (limit - 6)) == (0, "true\n", "")


TRIPLE_TERM = 'SELECT ?t ?d { BIND(<<( <http://a> <http://b> "c"@en--rtl )>> AS ?t) BIND("x"@ar AS ?d) }'


def test_query_table_shows_every_kind_of_term(capsys):
    """A triple term crashed the table with a traceback (it has no .value); blank nodes lost their
    _: and literals their language and direction (hostile testing)."""
    import pyoxigraph as ox

    from msc_kg.query import run_query

    assert _query(capsys, TRIPLE_TERM) == (0, "t\td\n<<( http://a http://b c@en--rtl )>>\tx@ar\n", "")
    store = ox.Store()
    store.add(ox.Quad(ox.BlankNode("b1"), ox.NamedNode("http://p"), ox.Literal("1", datatype=ox.NamedNode(
        "http://www.w3.org/2001/XMLSchema#integer"))))
    assert run_query("SELECT ?s ?p ?o { ?s ?p ?o }", store=store) == "s\tp\to\n_:b1\thttp://p\t1\n"


@pytest.mark.parametrize("fmt, expected", [
    ("json", '{"head":{"vars":["t","d"]},"results":{"bindings":[{"t":{"type":"triple","value":{"subject":'
             '{"type":"uri","value":"http://a"},"predicate":{"type":"uri","value":"http://b"},"object":'
             '{"type":"literal","value":"c","xml:lang":"en","its:dir":"rtl"}}},"d":{"type":"literal",'
             '"value":"x","xml:lang":"ar"}}]}}\n'),  # its last line ended (packaging review)
    ("csv", "t,d\r\nhttp://a http://b c,x\r\n"),
    ("csv", None),  # a comma inside the triple term: quoted, as the endpoint writes it
    ("tsv", '?t\t?d\n<<( <http://a> <http://b> "c"@en--rtl )>>\t"x"@ar\n'),
])
def test_query_writes_triple_terms_in_every_format(capsys, fmt, expected):
    if expected is None:
        assert _query(capsys, TRIPLE_TERM.replace('"c"', '"c,\\nd"'), "--format", fmt) == (
            0, 't,d\r\n"http://a http://b c,\nd",x\r\n', "")
        return
    assert _query(capsys, TRIPLE_TERM, "--format", fmt) == (0, expected, "")


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_query_error_while_rendering_leaves_no_engine_object_to_another_thread(monkeypatch):
    """The engine's solutions, held by the frames of an error raised while rendering them, were
    dropped by the main thread: a RuntimeError on top of the error (hostile testing)."""
    import gc

    from msc_kg import query as query_mod

    monkeypatch.setattr(query_mod, "_cell", lambda term: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        query_mod.run_query("SELECT ?x { BIND(1 AS ?x) }")
    gc.collect()  # raised "PyQuerySolutions is unsendable, but is being dropped on another thread"


def test_query_table_escapes_what_would_break_its_rows(capsys):
    """A tab or line break inside a literal broke the table's columns and rows (hostile testing):
    they, carriage returns and backslashes are written as escapes, in triple terms too."""
    query = r'SELECT ?x ?y { BIND("a\tb\nc\rd\\e" AS ?x) BIND(<<( <http://a> <http://b> "x\ty" )>> AS ?y) }'
    assert _query(capsys, query) == (0, "x\ty\n" r"a\tb\nc\rd\\e" "\t" r"<<( http://a http://b x\ty )>>" "\n", "")


def test_an_empty_query_is_told_as_empty(capsys):
    """The engine's "error at 1:1: expected [_]" was all a user got (hostile testing)."""
    assert _query(capsys, b"  \n\t") == (2, "", "error: -: the query is empty\n")


def test_stats_counts_findings_per_section_under_their_printed_numbers(store):
    """A figure's number was written twice: "Figure 2 Figure 2. Normal mesenchymal stem cells …"
    (packaging review)."""
    from msc_kg.stats import stats

    sections = stats(store)["findings per section"]
    assert sections["2.2 MSC transition into CAFs"] == 23
    assert sections["Figure 2. Normal mesenchymal stem cells (MSCs) inhibit the proliferation of "
                    "leukemia MSCs"] == 5
    assert sum(sections.values()) == 323
