"""Run SPARQL on the built graph (pyoxigraph) and the project's query files."""

from __future__ import annotations

import os
import pickle
import re
import resource
import select
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from msc_kg import paths

_HEADER = re.compile(r"^#\s*(Purpose|Returns):\s*(.+)$", re.MULTILINE)


@dataclass(frozen=True)
class QueryFile:
    """A query of queries/: its name, purpose, what it returns and its text."""

    name: str
    purpose: str
    returns: str
    text: str


def query_files(folder: Path | None = None) -> list[QueryFile]:
    """The competency queries (queries/*.rq, not the derive/ or violations/ ones)."""
    out = []
    for path in sorted(Path(folder or paths.QUERIES_DIR).glob("*.rq")):
        text = path.read_text(encoding="utf-8")
        header = dict(_HEADER.findall(text))
        out.append(QueryFile(path.stem, header.get("Purpose", ""), header.get("Returns", ""), text))
    return out


def rows(store, query: str) -> list[dict[str, str]]:
    """SELECT results as a list of {variable: value} with plain string values (None if unbound)."""
    solutions = store.query(query)
    names = [v.value for v in solutions.variables]
    return [{n: (s[n].value if s[n] is not None else None) for n in names} for s in solutions]


class EngineAborted(RuntimeError):
    """The engine aborted its process on the query (run apart, so this process lives on)."""


class QueryFailed(RuntimeError):
    """The query was refused before or while it ran (the message says why); not a parse error."""


def run_query(text: str, fmt: str = "table", store=None, notes: list[str] | None = None,
              timeout: float | None = None, max_rows: int | None = None) -> str:
    """Run a query on the release and render it (table, json, csv, tsv; Turtle for graphs), as the
    endpoint would answer it.

    As there, ``\\u`` escapes outside strings are decoded first (SPARQL 1.1 §19.2), and a function
    Oxigraph does not know is an expression error rather than a refusal (msc_kg.server.engine.
    evaluate); such functions are named in ``notes``, if given. A query whose ordering may mix
    numbers with other literals, of its own or of the graph (msc_kg.server.safety.orders_apart:
    Oxigraph 0.5 aborts its process on some such orderings), is run in a forked child, as the
    endpoint does; if the engine aborts there,
    EngineAborted says why instead of this process dying with it. The endpoint's limits apply
    (msc_kg.server.safety.check: nesting, operators, collection members; the engine's parser
    recurses and crashed this process past them), and the query runs on the endpoint's stack
    size. SyntaxError for a query that does not parse or that the engine would read otherwise
    than SPARQL's grammar (as the endpoint, msc_kg.server.misread); QueryFailed for one refused
    (over a limit, an update, or SERVICE: federated queries are not run here). With ``timeout``
    (seconds) the query runs in a forked child that is stopped when the time is up, QueryFailed
    saying so (it ran without bound: hostile testing). With ``max_rows``, at most that many rows
    (or triples) are read and rendered, ``notes`` saying the answer was cut: an answer of
    millions of rows was held whole and the process grew until the kernel killed it.
    """
    from msc_kg.server.safety import Refused, check, decode_codepoint_escapes, has_order_by
    from msc_kg.server.sortrisk import literal_kinds

    try:
        text = decode_codepoint_escapes(text)
    except Refused as exc:
        raise SyntaxError(exc.message) from None
    if store is None:
        from msc_kg.release import load_release

        store, _ = load_release()
    kinds = literal_kinds(store) if has_order_by(text) else None  # read only for an ordering
    try:
        apart = check(text, "", frozenset(), kinds).isolate
    except Refused as exc:
        if exc.message.startswith("Malformed query"):
            raise SyntaxError(exc.message) from None
        if exc.message.startswith("SERVICE"):
            raise QueryFailed("federated queries (SERVICE) are not run by msc-kg query; the endpoint "
                              "runs them for the endpoints given with --service-allow.") from None
        raise QueryFailed(exc.message) from None
    if (apart or timeout is not None) and hasattr(os, "fork"):
        rendered, unknown, cut = _in_child(lambda: _on_query_stack(lambda: _render(store, text, fmt, max_rows)),
                                           timeout)
    else:
        rendered, unknown, cut = _on_query_stack(lambda: _render(store, text, fmt, max_rows))
    if notes is not None and unknown:
        notes.append(f"unknown function(s) evaluated as errors: {', '.join(f'<{u}>' for u in unknown)}")
    if notes is not None and cut:
        notes.append(f"the answer was cut at {max_rows} rows or triples (--max-rows; 0 for no limit)")
    return rendered


def _on_query_stack(work):
    """``work()`` in a thread with the endpoint's stack size (engine.QUERY_STACK): its value, or
    the exception it raised."""
    from msc_kg.server.engine import QUERY_STACK

    box: list = []

    def run():
        try:
            box.append(("ok", work()))
        except BaseException as exc:  # noqa: BLE001 — raised again in the caller
            # its frames hold the engine's solutions, which only this thread may drop (a
            # RuntimeError on top of the error otherwise: hostile testing)
            traceback.clear_frames(exc.__traceback__)
            box.append(("raised", exc))

    previous = threading.stack_size(QUERY_STACK)
    try:
        thread = threading.Thread(target=run, name="msc-kg-query")
        thread.start()
    finally:
        threading.stack_size(previous)
    thread.join()
    kind, value = box[0]
    if kind == "raised":
        raise value
    return value


def _in_child(work, timeout: float | None = None):
    """``work()`` in a forked child: its value, the exception it raised (raised here, as if it had
    run in this process), EngineAborted if the child died, or QueryFailed if it ran past
    ``timeout`` seconds (it is killed)."""
    from msc_kg.server.engine import ENGINE_ABORT

    read_end, write_end = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: answer through the pipe, never return into the caller's code
        status = 0
        try:
            _die_with(parent)
            os.close(read_end)
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)  # an abort's panic message and backtrace are not the user's to read
            try:
                reply = ("ok", work())
            except Exception as exc:  # noqa: BLE001 — the parent raises it
                reply = ("raised", exc)
            with os.fdopen(write_end, "wb") as out:
                try:
                    pickle.dump(reply, out)
                except (pickle.PicklingError, TypeError, AttributeError):
                    pickle.dump(("raised", RuntimeError(str(reply[1]))), out)
        except BaseException:  # noqa: BLE001 — reported to the parent as a failed child
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    try:
        data = _read_until(read_end, None if timeout is None else time.monotonic() + timeout)
    except TimeoutError:
        _stop(pid)
        raise QueryFailed(f"the query ran longer than {timeout:g} s (--timeout) and was stopped") from None
    except BaseException:  # Ctrl-C, or another signal made an exception: the child goes too
        _stop(pid)
        raise
    finally:
        os.close(read_end)
    _, status = os.waitpid(pid, 0)
    if not data or os.waitstatus_to_exitcode(status) != 0:
        raise EngineAborted(ENGINE_ABORT)
    kind, value = pickle.loads(data)  # written by the child forked just above
    if kind == "raised":
        raise value
    return value


def _stop(pid: int) -> None:
    """Kill the forked child ``pid`` and reap it."""
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _die_with(parent: int) -> None:
    """In a forked child: be killed when ``parent`` ends, however it ends (a SIGINT or SIGTERM to
    msc-kg query alone left the child running the query without its time limit, holding stdout:
    hostile testing). Linux's PR_SET_PDEATHSIG; elsewhere the parent's own clean-up only."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it ended before the call
        os._exit(1)


def _read_until(fd: int, deadline: float | None) -> bytes:
    """Everything readable from ``fd`` up to its end; TimeoutError once ``deadline`` (a
    time.monotonic() value) has passed first."""
    chunks = []
    while True:
        if deadline is not None and not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            raise TimeoutError
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _render(store, text: str, fmt: str, max_rows: int | None = None) -> tuple[str, list[str], bool]:
    """The rendered answer, the IRIs of the unknown functions it called, and whether it was cut
    at ``max_rows`` rows or triples (None: no limit)."""
    import pyoxigraph

    from msc_kg.server.engine import QueryRefused, evaluate

    kwargs: dict = {}
    try:
        result = evaluate(store, text, kwargs)
    except QueryRefused as exc:
        raise QueryFailed(exc.message) from None
    unknown = [f.value for f in kwargs.get("custom_functions", ())]
    cap = sys.maxsize - 1 if max_rows is None else max_rows
    if isinstance(result, pyoxigraph.QueryTriples):
        triples = list(islice(result, cap + 1))
        return (pyoxigraph.serialize(triples[:cap], format=pyoxigraph.RdfFormat.TURTLE).decode(), unknown,
                len(triples) > cap)
    if isinstance(result, pyoxigraph.QueryBoolean):
        formats = {"json": pyoxigraph.QueryResultsFormat.JSON, "csv": pyoxigraph.QueryResultsFormat.CSV,
                   "tsv": pyoxigraph.QueryResultsFormat.TSV}
        answer = "true" if result else "false"
        return (answer if fmt == "table" else result.serialize(format=formats[fmt]).decode()) + "\n", unknown, False
    if fmt == "table":
        names = [v.value for v in result.variables]
        rows = list(islice(result, cap + 1))
        lines = ["\t".join(names)]
        lines += ["\t".join(_cell(s[n]) for n in names) for s in rows[:cap]]
        return "\n".join(lines) + "\n", unknown, len(rows) > cap
    from msc_kg.server.results import write_solutions  # the endpoint's writer: Oxigraph's CSV

    body, _, cut = write_solutions(result, fmt, cap)  # leaves a triple term's field unquoted
    text = body.decode()
    return (text if text.endswith("\n") else text + "\n"), unknown, cut  # JSON's last line ended too


def _cell(term) -> str:
    """A term as the table shows it: an IRI as is, a blank node as _:label, a literal with its
    @lang or @lang--dir, a triple term as <<( s p o )>> of its parts shown alike; "" if unbound.
    A backslash, tab, line feed or carriage return is written as its escape (\\, \t, \n, \r):
    taken raw, they broke the table's rows and columns (hostile testing)."""
    return _plain(term).translate(_ESCAPES)


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _plain(term) -> str:
    """_cell before its escapes."""
    import pyoxigraph

    if term is None:
        return ""
    if isinstance(term, pyoxigraph.Triple):  # RDF 1.2: it has no .value (hostile testing)
        return f"<<( {_plain(term.subject)} {_plain(term.predicate)} {_plain(term.object)} )>>"
    if isinstance(term, pyoxigraph.BlankNode):
        return f"_:{term.value}"
    if isinstance(term, pyoxigraph.Literal) and term.language:
        return f"{term.value}@{term.language}" + (f"--{term.direction}" if term.direction else "")
    return term.value
