"""Command-line entry point: load the data, build the app and serve it (msc_kg.server.http).

Exit codes: 0 after a clean stop (SIGTERM/SIGINT drain in-flight requests first), 1 when the
built graph does not conform to its shapes or is inconsistent (the report is printed), 2 for a usage or
start-up error (bad option, a data file that does not parse — file, line and reason are printed —,
or a port already in use).
"""

from __future__ import annotations

import argparse
import errno
import functools
import importlib
import re
import socket
import sys
from pathlib import Path


# One serving process more than the cores while the data is this small (MB of files): each
# process runs its Python under one interpreter lock, and while one waits on its clients or hands
# the lock between its threads, a core idles that another process fills. Measured with wrk (8
# connections, cold label lookups at 10⁵ triples, 14.7 MB of N-Triples, 2 cores): 8 000-8 800
# requests a second from two processes, 7-9% of the cores idle, against 9 600-10 300 from three,
# none idle (10 000-10 100 from four to eight); on the benchmark's mix at 10⁴ triples 2 370-2 580
# against 2 470-2 650. Each process holds a copy of the graph (README, Operating it), so a larger graph
# gets no extra one: at 5·10⁶ triples a copy is about 1.5 GB.
SPARE_PROCESS_MB = 64


def serving_processes(files) -> int:
    """The default number of serving processes for ``files``: the cores this process may run on,
    at most 4, and one more while the files hold at most SPARE_PROCESS_MB (a file that cannot be
    read counts as none: the load says why)."""
    from msc_kg.server.inline import cores

    size = 0
    for path in files:
        try:
            size += Path(path).stat().st_size
        except OSError:
            pass
    return min(4, cores()) + (size <= SPARE_PROCESS_MB * 2**20)


def build_parser(prog: str = "server.py") -> argparse.ArgumentParser:
    """The ``server.py`` / ``msc-kg serve`` options, its help and usage errors naming ``prog``."""
    from msc_kg.server.config import DEFAULTS, LIMITS

    p = argparse.ArgumentParser(
        prog=prog,
        description="Serve the msc-kg graph (or --data files) as a read-only SPARQL 1.1 endpoint.",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    p.add_argument("--port", type=_whole(0, 65535), default=8000,
                   help="TCP port; 0 takes any free one (default: %(default)s)")
    p.add_argument("--data", nargs="+", metavar="FILE",
                   help="serve these RDF files (Turtle, TriG, N-Triples, N-Quads, RDF/XML, JSON-LD) "
                        "instead of the built graph")
    p.add_argument("--timeout", type=_amount("seconds", high=LIMITS["timeout"]), default=DEFAULTS["timeout"],
                   help="seconds before a query is stopped with 503 (default: %(default)s)")
    p.add_argument("--query-slots", type=_whole(1, LIMITS["query_slots"]), default=DEFAULTS["query_slots"],
                   help="queries a serving process evaluates at once; more wait, up to the "
                        "timeout, then get 503 (default: %(default)s)")
    p.add_argument("--queue-ms", type=_amount("milliseconds", zero=True, high=LIMITS["queue_ms"]),
                   default=DEFAULTS["queue_ms"],
                   help="how long a query waits for the one its serving process is evaluating, "
                        "rather than evaluating beside it, which costs more processor time; "
                        "none waits while a core is free; 0 runs them side by side at once "
                        "(default: %(default)s)")
    p.add_argument("--memory-mb", type=_whole(0, LIMITS["memory_mb"]), default=DEFAULTS["memory_mb"],
                   help="memory a serving process may add while answering queries before the "
                        "queries it runs are stopped with 503; 0: no limit (default: %(default)s)")
    p.add_argument("--max-rows", type=_whole(1, LIMITS["max_rows"]), default=DEFAULTS["max_rows"],
                   help="rows/triples per response, announced in X-SPARQL-Max-Rows (default: %(default)s)")
    p.add_argument("--max-body", type=_whole(1, LIMITS["max_body"]), default=DEFAULTS["max_body"],
                   help="largest POST body in bytes; larger gets 413 (default: %(default)s)")
    p.add_argument("--service-allow", nargs="+", default=[], metavar="URL",
                   help="SERVICE endpoints federated queries may call (default: none)")
    p.add_argument("--workers", type=_whole(1, LIMITS["workers"]), default=None,
                   help="serving processes, each answering many connections (default: the cores, "
                        f"at most 4, and one more while the data files hold at most "
                        f"{SPARE_PROCESS_MB} MB)")
    p.add_argument("--max-connections", type=_whole(1, LIMITS["max_connections"]), default=512,
                   help="open client connections per serving process (one thread each); more get "
                        "503 (default: %(default)s)")
    p.add_argument("--max-connections-per-client", type=_whole(0, LIMITS["max_connections"]), default=None, metavar="N",
                   help="open connections one client address (an IPv6 /64) may hold per serving "
                        "process; more get 503; 0: no cap, as behind a proxy, where every client "
                        "has the proxy's address (default: half of --max-connections)")
    p.add_argument("--union-default-graph", action="store_true",
                   help="query the union of the default graph and all named graphs as the default graph "
                        "(a query's FROM, or a protocol dataset, replaces it)")
    p.add_argument("--base-url", type=_base_url, metavar="URL",
                   help="the service's public address, as clients reach it (behind a proxy, e.g. "
                        "https://kg.example.org/); the service description and VoID name its "
                        "sparql and data under it (default: the address each request was sent to)")
    return p


# A host: a name of labels (letters of any script, digits, inner hyphens) separated by dots, an
# IPv4 address, or an IPv6 literal in brackets
_HOST = re.compile(r"(?:[^\W_](?:[^\W_]|-)*(?<!-)\.)*[^\W_](?:[^\W_]|-)*(?<!-)|\[[0-9A-Fa-f:.]+\]")


def _base_url(text: str) -> str:
    """An argparse type: an absolute http(s) URL with a host, without user name, query, fragment
    or dot segments, ending in "/" (the scheme and host in lower case, as published)."""
    from urllib.parse import urlsplit, urlunsplit

    import pyoxigraph as ox

    problem = (f"{text!r} is not an absolute http(s) URL with a host (and a port from 1 to 65535, "
               "if any), without user name, query, fragment or '.' and '..' segments")
    try:
        parts = urlsplit(text)
        port = parts.port  # ValueError for a port out of range or not a number
    except ValueError:  # "http://[::1" too
        raise argparse.ArgumentTypeError(problem) from None
    host = parts.netloc.rpartition(":")[0] if parts.port is not None else parts.netloc
    # "?" and "#" even with nothing after them ("https://host/?" was kept as https://host/?/), no
    # user name or password, which the service description would publish, and no "/../" (it was
    # published as given: hostile testing)
    if (parts.scheme.lower() not in ("http", "https") or "?" in text or "#" in text
            or "@" in parts.netloc or port == 0 or parts.netloc.endswith(":")
            or not _HOST.fullmatch(host) or {".", ".."} & set(parts.path.split("/"))):
        raise argparse.ArgumentTypeError(problem)
    text = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, "", ""))
    try:
        ox.NamedNode(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a valid IRI") from None
    return text if text.endswith("/") else text + "/"


def _whole(low: int, high: int | None = None):
    """An argparse type: a whole number from ``low`` to ``high``."""
    def whole(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or high is not None and value > high:
            raise argparse.ArgumentTypeError(
                f"{value} is out of range (at least {low}" + (f", at most {high})" if high is not None else ")"))
        return value
    return whole


def _amount(unit: str, zero: bool = False, high: float | None = None):
    """An argparse type: a finite number of ``unit`` above 0 (or 0 too, with ``zero``), at most
    ``high`` if given."""
    bound = "0 or more" if zero else "above 0"

    def amount(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of {unit}") from None
        if not (0 <= value if zero else 0 < value) or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{text} is not a number of {unit} {bound}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"{text} is out of range (at most {high:.0f} {unit})")
        return value
    return amount


def main(argv=None, prog: str = "server.py", command_line: bool | None = None) -> int:
    """Run the server until SIGTERM/SIGINT; return the process exit code. From the command line
    (``argv`` None, or ``command_line``), the process first runs itself again with a faster
    allocator where the system has one (msc_kg.server.allocator)."""
    args = build_parser(prog).parse_args(argv)
    if command_line is None:
        command_line = argv is None
    if command_line:
        from msc_kg.server.allocator import preload

        preload()
    # Imported here, once: every loader, a replacement's too, is forked from this process and
    # inherits them (measured: they were 0.07 s of a replacement's start for a 12-triple graph).
    # All of them: a replacement's loader that imported the release's build code itself read the
    # code on disk, which an upgrade had changed under the running server, against the modules
    # imported here, and every replacement failed (hostile testing: an ImportError).
    release = () if args.data else ("msc_kg.release", "msc_kg.build")
    for module in ("msc_kg.server.app", "msc_kg.server.dataset", *release):
        importlib.import_module(module)
    from msc_kg.server.supervise import supervise

    config = {"timeout": args.timeout, "max_rows": args.max_rows, "max_body": args.max_body,
              "service_allow": args.service_allow, "engine": "inline",
              "memory_mb": args.memory_mb, "query_slots": args.query_slots,
              "queue_ms": args.queue_ms,
              "union_default_graph": args.union_default_graph, "base_url": args.base_url,
              "max_per_client": args.max_connections_per_client}
    try:
        sock = listen(args.host, args.port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"error: port {args.port} on {args.host} is already in use; choose another with "
                  "--port", file=sys.stderr)
            return 2
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    if args.data:
        files = [Path(p) for p in args.data]
    else:
        from msc_kg.release import release_files

        files = release_files()
    config["workers"] = workers = args.workers or serving_processes(files)
    url = f"http://{args.host}:{sock.getsockname()[1]}/sparql"
    try:  # the graph is loaded in a child process, see msc_kg.server.supervise
        return supervise(functools.partial(load, args, config), files, sock, workers,
                         args.max_connections, lambda: print(f"msc-kg SPARQL endpoint on {url}", flush=True))
    finally:
        sock.close()


def load(args, config: dict, again: bool = False):
    """The app serving ``args.data`` or the built release; StartError (exit status 1 when the
    data does not conform to its shapes, is inconsistent or a source of the release does not
    parse, 2 when it cannot be loaded) with the message to print.
    ``again``: loaded for a replacement serving process, so the release is not rebuilt."""
    from msc_kg.server import dataset
    from msc_kg.server.app import create_app
    from msc_kg.server.supervise import StartError

    try:
        if args.data:
            return create_app(dataset.load_files(args.data), config)
        graph, manifest = dataset.release(rebuild=not again)
    except dataset.NonConforming as exc:
        raise StartError(1, f"error: the data does not conform to its shapes or is inconsistent; not "
                            f"serving it:\n{exc}") from None
    except dataset.InvalidSource as exc:
        raise StartError(1, f"error: {exc}") from None
    except dataset.DataError as exc:
        raise StartError(2, f"error: {exc}") from None
    if not manifest.get("conforms", True):
        raise StartError(1, "error: the built graph does not conform to its shapes:\n"
                            + manifest.get("report", "(no report in the manifest)"))
    return create_app(graph, {**config, "manifest": manifest})


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (OSError when it cannot be had)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    return sock
