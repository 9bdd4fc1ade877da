"""The `msc-kg` command line: build, validate, stats, query, serve.

Exit codes (as pySHACL's CLI): 0 success / conforming, 1 data does not conform (or does not
parse, or is inconsistent), 2 usage or I/O error; 130 interrupted (Ctrl-C), 141 stdout closed
by its reader (`| head -1`), as a shell reports cat or grep ended by SIGINT or SIGPIPE.
"""

from __future__ import annotations

import argparse
import errno
import io
import json
import os
import sys
from pathlib import Path

from msc_kg import __version__

OK, NOT_CONFORMING, USAGE = 0, 1, 2
# 128 + SIGINT (2) and 128 + SIGPIPE (13): what a shell shows for cat, grep or git ended so. They
# ended with a traceback and exit 1, which for validate says "does not conform" (hostile testing).
INTERRUPTED, PIPE_CLOSED = 130, 141
DAMAGED = "the release is damaged; run `msc-kg build`"
# Output goes to stdout in pieces of at most this many characters. One write of a whole answer
# to a pipe whose reader leaves while it is written (`| head -c 10`) comes back short, and
# CPython's buffered writer drops the rest without an error: such a query ended 0, as if its
# reader had had all of it. A piece after the reader left fails and ends it 141.
OUT_PIECE = 1 << 16


def _cmd_build(args) -> int:
    from msc_kg.build import build

    from msc_kg import paths

    out = paths.BUILD_DIR if args.out is None else args.out
    if problem := _source_folder(out) or _unwritable_folder(out):  # told before the build's
        # seconds of validation, not after them as a traceback (hostile testing), for build/ too
        print(f"error: {'--out ' if args.out is not None else ''}{out}: {problem}", file=sys.stderr)
        return USAGE
    built = build(out_dir=args.out, reasoner=not args.no_reason)
    write_out(built.report.text() + "\n")
    print(built.reasoner_note)
    m = built.manifest
    print(f"Wrote {m['triples']} triples to {out} (msc-kg.ttl, .nt, .owl, .jsonld, .sssom.tsv, "
          f"msc-kg-ontology.owl, manifest.json) and {paths.ONTOLOGY_OWL} in {m['seconds']} s.")
    return OK


def _folder_argument(text: str) -> Path:
    """--out's folder; an empty one is refused (it wrote the release into the current folder:
    hostile testing)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("give a folder, not an empty name")
    return Path(text)


def _source_folder(out: Path) -> str | None:
    """Why ``out`` may not take the release: it is the project's folder or one of its source
    folders, or lies inside one (--out ontology replaced the hand-edited ontology/msc-kg.ttl with
    the full release, and --out triples left a manifest.json every command then refused:
    packaging review)."""
    from msc_kg import paths

    where = out.resolve()
    if where == paths.ROOT.resolve():
        return "the project's own folder; give build/ or another folder"
    for folder in ("ontology", "triples", "shapes", "queries", "source", "msc_kg", "tests", "docs",
                   "benchmarks"):
        source = (paths.ROOT / folder).resolve()
        if where == source or source in where.parents:
            return f"lies in {folder}/, a folder of the project's sources; give build/ or another folder"
    return None


def _unwritable_folder(out: Path) -> str | None:
    """Why the build could not write into the folder ``out``, as far as can be told without
    making it (a file in its place or on its path, a parent it may not write in), or None."""
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return "not a folder" if existing == out else f"{existing} is not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return "not writable" if existing == out else f"{existing} is not writable"
    return None


def _cmd_validate(args) -> int:
    from msc_kg.build import assemble
    from msc_kg.load import source_files
    from msc_kg.reason import check, check_without_reasoner
    from msc_kg.server.dataset import EXTENSIONS, unknown_extension

    for extra in args.with_files:
        if reason := _not_a_file(extra):
            print(f"error: {extra}: {reason}", file=sys.stderr)
            return USAGE
        if Path(extra).suffix.lower() not in EXTENSIONS:  # as serve --data: not read as Turtle
            print(f"error: {extra}: {unknown_extension(Path(extra))}", file=sys.stderr)
            return USAGE
    loaded, report = assemble(source_files() + [Path(f) for f in args.with_files])
    if report.conforms and not args.reason:  # what queries can tell of consistency (two disjoint
        # classes, ...) is validation too, told before "Conforms" (it was printed, then exit 1)
        check_without_reasoner(loaded.graph, loaded.where)
    write_out(report.text() + "\n")
    if not report.conforms:
        return NOT_CONFORMING
    if args.reason:
        write_out(check(loaded.graph, loaded.where).text() + "\n")
    return OK


def _cmd_stats(args) -> int:
    from msc_kg.stats import stats, stats_text

    figures = stats()
    write_out((json.dumps(figures, indent=2) if args.json else stats_text(figures)) + "\n")
    return OK


def _not_a_file(name: str) -> str | None:
    """Why ``name`` cannot be read as a file, or None: a folder, a FIFO that would block the
    reader or a device that never ends (/dev/zero read 15 GB in 10 s: hostile testing)."""
    if Path(name).is_file():
        return None
    from msc_kg.server.dataset import missing

    return missing(Path(name)) or "not a regular file"


def _read_at_most(name: str, size: int) -> bytes:
    """The first ``size`` bytes of the file ``name``, or of stdin for "-" (which may be a pipe)."""
    if name == "-":
        if sys.stdin is None:  # started with stdin closed ("<&-"): a traceback before (audit)
            raise OSError(errno.EBADF, "standard input is closed; pipe the query in, or give its file")
        return sys.stdin.buffer.read(size)
    with open(name, "rb") as stream:
        return stream.read(size)


def _cmd_query(args) -> int:
    from msc_kg.query import EngineAborted, QueryFailed, run_query
    from msc_kg.server.config import DEFAULTS

    limit = DEFAULTS["max_body"]
    if args.file != "-" and (reason := _not_a_file(args.file)):  # as validate --with
        hint = "; give - to read a query piped to stdin" if reason == "not a regular file" else ""
        print(f"error: {args.file}: {reason}{hint}", file=sys.stderr)
        return USAGE
    try:
        raw = _read_at_most(args.file, limit + 1)  # one byte more tells a longer query
        if len(raw) > limit:
            print(f"error: {args.file}: the query is longer than {limit} bytes, the endpoint's "
                  "default request-body limit (--max-body)", file=sys.stderr)
            return USAGE
        text = raw.decode("utf-8-sig")  # a byte order mark is not part of the query
    except OSError as exc:
        print(f"error: {args.file}: {exc.strerror}", file=sys.stderr)
        return USAGE
    except UnicodeDecodeError as exc:
        print(f"error: {args.file}: not UTF-8 text (byte {exc.start}: {exc.reason}); SPARQL is "
              "read as UTF-8", file=sys.stderr)
        return USAGE
    if not text.strip():  # the engine said "error at 1:1: expected [_]" (hostile testing)
        print(f"error: {args.file}: the query is empty", file=sys.stderr)
        return USAGE
    notes: list[str] = []
    try:
        write_out(run_query(text, args.format, notes=notes, timeout=args.timeout,
                            max_rows=args.max_rows or None))
    except SyntaxError as exc:
        print(f"error: {args.file}: the query does not parse: {exc}", file=sys.stderr)
        return USAGE
    except (EngineAborted, QueryFailed) as exc:
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        return USAGE
    for note in notes:
        print(f"note: {args.file}: {note}", file=sys.stderr)
    return OK


def _rows(text: str) -> int:
    """A number of rows, 0 or more (at most the endpoint's limit), for --max-rows."""
    from msc_kg.server.config import LIMITS

    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a number of rows: {text!r}")
    if int(text) > LIMITS["max_rows"]:  # 2**63 ended in a traceback at the row cap (audit)
        raise argparse.ArgumentTypeError(f"{text} is out of range (at most {LIMITS['max_rows']}; 0 for no limit)")
    return int(text)


def _seconds(text: str) -> float:
    """A positive, finite number of seconds (at most the endpoint's limit), for --timeout."""
    from msc_kg.server.config import LIMITS

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < float("inf"):  # also refuses nan
        raise argparse.ArgumentTypeError(f"give a number of seconds above 0: {text!r}")
    if value > LIMITS["timeout"]:
        raise argparse.ArgumentTypeError(f"{text} is out of range (at most {LIMITS['timeout']:.0f} seconds)")
    return value


def parser() -> argparse.ArgumentParser:
    from msc_kg.server import config  # the endpoint's defaults (a dict: no heavy imports)

    top = argparse.ArgumentParser(prog="msc-kg", description=__doc__.splitlines()[0])
    top.add_argument("--version", action="version", version=f"msc-kg {__version__}")
    sub = top.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="validate, reason and write the release to build/")
    p.add_argument("--out", type=_folder_argument, default=None, help="output folder (default build/)")
    p.add_argument("--no-reason", action="store_true", help="skip the HermiT consistency check")
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser("validate", help="check the data against the shapes and the review text")
    p.add_argument("--with", dest="with_files", nargs="+", default=[], metavar="FILE",
                   help="extra RDF files validated together with the project's data")
    p.add_argument("--reason", action="store_true", help="also check OWL consistency with HermiT")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("stats", help="totals, and findings per section, per MSC source, per cancer and "
                                     "per tumour effect")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(func=_cmd_stats)

    p = sub.add_parser("query", help="run a SPARQL query file (or - for stdin) on the built graph")
    p.add_argument("file", metavar="FILE|-", help="a file holding the query, or - to read it from stdin")
    p.add_argument("--format", choices=["table", "json", "csv", "tsv"], default="table")
    p.add_argument("--timeout", type=_seconds, default=None, metavar="SECONDS",
                   help="stop the query after this many seconds (default: no limit)")
    p.add_argument("--max-rows", type=_rows, default=config.DEFAULTS["max_rows"], metavar="N",
                   help="write at most N rows (or triples), saying so when the answer is longer; 0 "
                        "for no limit (default: %(default)s, the endpoint's)")
    p.set_defaults(func=_cmd_query)

    p = sub.add_parser("serve", help="serve the graph over SPARQL (same options as server.py)",
                       add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    return top


def main(argv: list[str] | None = None) -> int:
    command_line = argv is None
    argv = sys.argv[1:] if argv is None else list(argv)
    if sys.stdout is None:  # started with stdout closed (">&-"): what it writes goes nowhere, as
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # to a reader that left (a traceback
        # on None.write and exit 1 before, validate's "not conforming": bad-input testing)
    if argv[:1] == ["serve"]:  # the server parses its own options (same as server.py)
        from msc_kg.server.serve import main as serve_main

        return serve_main(argv[1:], prog="msc-kg serve", command_line=command_line)
    if argv and argv[0].startswith("-") and argv[0] != "-h" and not (  # argparse's abbreviations
            argv[0].startswith("--") and ("--help".startswith(argv[0]) or "--version".startswith(argv[0]))):
        # argparse said "the following arguments are required: command" of "msc-kg --bogus"
        parser().error(f"unrecognized option {argv[0]!r}: the command comes first "
                       "(build, validate, stats, query, serve; msc-kg <command> --help for its options)")
    try:
        status = _run(parser().parse_args(argv))
        sys.stdout.flush()  # a closed pipe is told here, not as the interpreter exits
        return status
    except KeyboardInterrupt:
        print("msc-kg: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:  # the reader went away, as `head -1` does: nothing more to say
        _stdout_to_devnull()
        return PIPE_CLOSED


def write_out(text: str) -> None:
    """Write ``text`` to stdout in pieces of OUT_PIECE characters (a reader gone is then told)."""
    for start in range(0, len(text), OUT_PIECE):
        sys.stdout.write(text[start:start + OUT_PIECE])
        sys.stdout.flush()


def _run(args) -> int:
    """Run the command; a reported error is one line on stderr and its exit code."""
    from msc_kg.errors import (Inconsistent, MscKgError, ReasonerUnavailable, SourceParseError, SourceUnreadable,
                               ValidationFailed)
    from msc_kg.server.dataset import DataError

    try:
        return args.func(args)
    except DataError as exc:  # the release's graph does not load (stats, query): one line, exit 2,
        # as serve
        print(f"error: {exc} ({DAMAGED})", file=sys.stderr)
        return USAGE
    except SourceUnreadable as exc:  # an I/O error, as any other file that cannot be read
        print(f"error: {exc}", file=sys.stderr)
        return USAGE
    except (SourceParseError, ValidationFailed, Inconsistent) as exc:
        print(str(exc), file=sys.stderr)
        return NOT_CONFORMING
    except ReasonerUnavailable as exc:
        print(f"reasoner: {exc}", file=sys.stderr)
        return USAGE
    except MscKgError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE
    except BrokenPipeError:
        raise
    except OSError as exc:  # a file or folder that cannot be read or written: not a traceback
        # and exit 1, "does not conform" (hostile testing)
        reason = exc.strerror or str(exc)
        print(f"error: {exc.filename}: {reason}" if exc.filename else f"error: {reason}", file=sys.stderr)
        return USAGE


def _stdout_to_devnull() -> None:
    """Point stdout at the null device: its flush as the interpreter exits would find the closed
    pipe again and print "Exception ignored … BrokenPipeError" (Python's documented recipe)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


if __name__ == "__main__":
    raise SystemExit(main())
