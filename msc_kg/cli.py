"""The `msc-kg` command line: build, validate, stats, query, serve.

Exit codes (as pySHACL's CLI): 0 success / conforming, 1 data does not conform (or does not
parse, or is inconsistent), 2 usage or I/O error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from msc_kg import __version__

OK, NOT_CONFORMING, USAGE = 0, 1, 2


def _cmd_build(args) -> int:
    from msc_kg.build import build

    built = build(out_dir=args.out, reasoner=not args.no_reason)
    print(built.report.text())
    print(built.reasoner_note)
    m = built.manifest
    print(f"Wrote {m['triples']} triples to {args.out or 'build/'} "
          f"(msc-kg.ttl, .nt, .owl, .jsonld, manifest.json) and ontology/msc-kg.owl in {m['seconds']} s.")
    return OK


def _cmd_validate(args) -> int:
    from msc_kg.build import assemble
    from msc_kg.load import source_files
    from msc_kg.reason import check

    for extra in args.with_files:
        if reason := _not_a_file(extra):
            print(f"error: {extra}: {reason}", file=sys.stderr)
            return USAGE
    loaded, report = assemble(source_files() + [Path(f) for f in args.with_files])
    print(report.text())
    if not report.conforms:
        return NOT_CONFORMING
    if args.reason:
        print(check(loaded.graph).text())
    return OK


def _cmd_stats(args) -> int:
    from msc_kg.stats import stats, stats_text

    figures = stats()
    print(json.dumps(figures, indent=2) if args.json else stats_text(figures))
    return OK


def _not_a_file(name: str) -> str | None:
    """Why ``name`` cannot be read as a file, or None: a folder, a FIFO that would block the
    reader or a device that never ends (/dev/zero read 15 GB in 10 s: hostile testing)."""
    if Path(name).is_file():
        return None
    return "no such file" if not Path(name).exists() else "not a regular file"


def _read_at_most(name: str, size: int) -> bytes:
    """The first ``size`` bytes of the file ``name``, or of stdin for "-" (which may be a pipe)."""
    if name == "-":
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
    notes: list[str] = []
    try:
        sys.stdout.write(run_query(text, args.format, notes=notes))
    except SyntaxError as exc:
        print(f"error: {args.file}: the query does not parse: {exc}", file=sys.stderr)
        return USAGE
    except (EngineAborted, QueryFailed) as exc:
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        return USAGE
    for note in notes:
        print(f"note: {args.file}: {note}", file=sys.stderr)
    return OK


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="msc-kg", description=__doc__.splitlines()[0])
    top.add_argument("--version", action="version", version=f"msc-kg {__version__}")
    sub = top.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="validate, reason and write the release to build/")
    p.add_argument("--out", type=Path, default=None, help="output folder (default build/)")
    p.add_argument("--no-reason", action="store_true", help="skip the HermiT consistency check")
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser("validate", help="check the data against the shapes and the review text")
    p.add_argument("--with", dest="with_files", nargs="*", default=[], metavar="FILE",
                   help="extra RDF files validated together with the project's data")
    p.add_argument("--reason", action="store_true", help="also check OWL consistency with HermiT")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("stats", help="findings per section, per MSC source, per cancer")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(func=_cmd_stats)

    p = sub.add_parser("query", help="run a SPARQL query file (or - for stdin) on the built graph")
    p.add_argument("file")
    p.add_argument("--format", choices=["table", "json", "csv", "tsv"], default="table")
    p.set_defaults(func=_cmd_query)

    p = sub.add_parser("serve", help="serve the graph over SPARQL (same options as server.py)",
                       add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    return top


def main(argv: list[str] | None = None) -> int:
    from msc_kg.errors import Inconsistent, MscKgError, ReasonerUnavailable, SourceParseError, ValidationFailed

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["serve"]:  # the server parses its own options (same as server.py)
        from msc_kg.server.serve import main as serve_main

        return serve_main(argv[1:])
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (SourceParseError, ValidationFailed, Inconsistent) as exc:
        print(str(exc), file=sys.stderr)
        return NOT_CONFORMING
    except ReasonerUnavailable as exc:
        print(f"reasoner: {exc}", file=sys.stderr)
        return USAGE
    except MscKgError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE


if __name__ == "__main__":
    raise SystemExit(main())
