"""Command-line entry point: load the data, build the app and run it under waitress.

Exit codes: 0 after a clean stop (SIGTERM/SIGINT drain in-flight requests first), 1 when the
built graph does not conform to its shapes (the validation report is printed), 2 for a usage or
start-up error (bad option, a data file that does not parse — file, line and reason are printed —,
or a port already in use).
"""

from __future__ import annotations

import argparse
import errno
import signal
import sys
import threading
import time
import _thread


def build_parser() -> argparse.ArgumentParser:
    """The ``server.py`` / ``msc-kg serve`` options."""
    from msc_kg.server.config import DEFAULTS

    p = argparse.ArgumentParser(
        prog="server.py",
        description="Serve the msc-kg graph (or --data files) as a read-only SPARQL 1.1 endpoint.",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default: %(default)s)")
    p.add_argument("--data", nargs="+", metavar="FILE",
                   help="serve these RDF files (Turtle, TriG, N-Triples, N-Quads, RDF/XML, JSON-LD) "
                        "instead of the built graph")
    p.add_argument("--timeout", type=float, default=DEFAULTS["timeout"],
                   help="seconds before a query is stopped with 503 (default: %(default)s)")
    p.add_argument("--max-rows", type=int, default=DEFAULTS["max_rows"],
                   help="rows/triples per response, announced in X-SPARQL-Max-Rows (default: %(default)s)")
    p.add_argument("--max-body", type=int, default=DEFAULTS["max_body"],
                   help="largest POST body in bytes; larger gets 413 (default: %(default)s)")
    p.add_argument("--service-allow", nargs="+", default=[], metavar="URL",
                   help="SERVICE endpoints federated queries may call (default: none)")
    p.add_argument("--workers", type=int, default=DEFAULTS["workers"],
                   help="query worker processes (default: %(default)s)")
    p.add_argument("--threads", type=int, default=16, help="HTTP threads (default: %(default)s)")
    p.add_argument("--union-default-graph", action="store_true",
                   help="query the union of all named graphs as the default graph")
    return p


def main(argv=None) -> int:
    """Run the server until SIGTERM/SIGINT; return the process exit code."""
    args = build_parser().parse_args(argv)
    from msc_kg.server import dataset
    from msc_kg.server.app import create_app

    config = {"timeout": args.timeout, "max_rows": args.max_rows, "max_body": args.max_body,
              "service_allow": args.service_allow, "workers": args.workers,
              "union_default_graph": args.union_default_graph}
    try:
        if args.data:
            graph = dataset.load_files(args.data)
        else:
            graph, manifest = dataset.release()
            if not manifest.get("conforms", True):
                print("error: the built graph does not conform to its shapes:", file=sys.stderr)
                print(manifest.get("report", "(no report in the manifest)"), file=sys.stderr)
                return 1
            config["manifest"] = manifest
    except dataset.NonConforming as exc:
        print(f"error: the data does not conform to its shapes; not serving it:\n{exc}", file=sys.stderr)
        return 1
    except dataset.DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return run(create_app(graph, config), args.host, args.port, args.threads)


def run(app, host: str, port: int, threads: int) -> int:
    """Serve ``app`` with waitress; drain in-flight requests on SIGTERM/SIGINT, then return 0."""
    from waitress.server import create_server

    inflight = _InFlight(app.wsgi_app)
    app.wsgi_app = inflight
    try:
        server = create_server(app, host=host, port=port, threads=threads,
                               channel_timeout=app.extensions["msc_kg"].config["timeout"] + 30)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"error: port {port} on {host} is already in use; choose another with --port",
                  file=sys.stderr)
            return 2
        print(f"error: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        return 2
    engine = app.extensions["msc_kg"].engine
    draining, drained = threading.Event(), threading.Event()

    def drain() -> None:
        """Stop accepting, wait for in-flight requests (bounded), then stop the loop."""
        server.accepting = False  # waitress stops polling the listener (no new requests)
        deadline = time.monotonic() + app.extensions["msc_kg"].config["timeout"] + 5
        while inflight.count and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # let the event loop flush the last responses
        drained.set()
        _thread.interrupt_main()  # runs on_signal in the main thread, which now stops the loop

    def on_signal(signum, frame):
        if drained.is_set():
            raise KeyboardInterrupt  # waitress's run() catches it and closes the server
        if not draining.is_set():
            draining.set()
            threading.Thread(target=drain, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"msc-kg SPARQL endpoint on http://{host}:{server.effective_port}/sparql", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        engine.close()
    return 0


class _InFlight:
    """WSGI middleware counting requests being handled, so a shutdown can wait for them."""

    def __init__(self, app):
        self.app = app
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self._lock:
            self.count += 1
        try:
            return self.app(environ, start_response)
        finally:
            with self._lock:
                self.count -= 1
