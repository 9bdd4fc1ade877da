"""Fixtures for the endpoint tests (tests/test_server_*.py import them by name)."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pyoxigraph as ox
import pytest

from msc_kg.server.app import create_app

DATA = Path(__file__).parent / "data" / "server"
SMALL = DATA / "small.ttl"
SMALL_TRIPLES = 12
MANIFEST = {"conforms": True, "ontology_version": "0.1.0", "shapes_version": "0.1.0-shapes",
            "triples": SMALL_TRIPLES, "version": "0.1.0"}


# Oxigraph 0.5.13 orders this mix of numeric, string and custom-datatype literals with a comparison
# that is not a total order; Rust's sort detects it and panics, and pyoxigraph, built to abort on
# a panic, takes down the process that ran the query (found by fuzzing the W3C queries). The
# endpoint evaluates such queries in a worker process (safety.orders_apart).
_LITERALS = ('27 6 300 29 4 3.5 "5"^^xsd:decimal "5,5"^^<http://example.org/myCustomDatatype> 23 30 5 '
             '"456"^^xsd:decimal "23"^^xsd:float "30000"^^xsd:double "4,4" 3 "3"^^xsd:decimal "300" '
             '333 5.5 42')
SORT_ABORT = ("PREFIX xsd: <http://www.w3.org/2001/XMLSchema#> "
              f"SELECT ?v WHERE {{ VALUES ?v {{ {_LITERALS} }} }} ORDER BY ?v")


def _engine_aborts(query: str) -> bool:
    """Whether pyoxigraph, asked directly in a child process, aborts on ``query``."""
    code = "import sys, pyoxigraph; list(pyoxigraph.Store().query(sys.argv[1]))"
    done = subprocess.run([sys.executable, "-c", code, query], capture_output=True, timeout=60)
    return done.returncode == -signal.SIGABRT


# What the endpoint must answer SORT_ABORT with: the engine's abort explained while the engine
# aborts on it, the results once a release fixes it (so the tests below cannot pass vacuously).
SORT_ABORT_STATUS = 400 if _engine_aborts(SORT_ABORT) else 200
ENGINE_ABORT_START = b"The engine aborted on this query."


def small_store() -> ox.Store:
    """The 12-triple fixture graph."""
    store = ox.Store()
    store.load(path=str(SMALL), format=ox.RdfFormat.TURTLE)
    return store


def make_app(store=None, **config):
    """An app over ``store`` (default: the small graph) with test-friendly defaults."""
    settings = {"workers": 2, "timeout": 5.0, "manifest": MANIFEST, "queries_dir": DATA / "queries",
                "documents": []}  # the release's OWL files only where a test asks for them
    settings.update(config)
    return create_app(store if store is not None else small_store(), settings)


def answer(store, path: str, headers: dict | None = None, **config):
    """The response of an app over ``store`` (make_app, with ``config``) to one GET of ``path``."""
    app = make_app(store, **config)
    try:
        return app.test_client().get(path, headers=headers or {})
    finally:
        close(app)


def subject_heads(turtle: str) -> list[str]:
    """The subject starting each statement block of a Turtle document, in order."""
    return [line.split()[0] for line in turtle.splitlines()
            if line and not line[0].isspace() and not line.startswith("@prefix")]


def close(app) -> None:
    """Stop an app's worker processes."""
    app.extensions["msc_kg"].engine.close()


@contextlib.contextmanager
def running(wsgi, host: str = "127.0.0.1", **settings):
    """A msc_kg.server.http Server for the WSGI callable ``wsgi`` on a free port of ``host``,
    stopped after: (server, (host, port))."""
    from msc_kg.server.http import Server

    sock = socket.socket()
    sock.bind((host, 0))
    sock.listen(64)
    server = Server(wsgi, sock, **settings)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, sock.getsockname()
    finally:
        server.accepting = False
        thread.join(2)
        server.shutdown(0.5)
        sock.close()


@contextlib.contextmanager
def serving(app, **settings):
    """``app`` served by msc_kg.server.http on a loopback port, with the direct path: (host, port)."""
    with running(app, direct=app.wsgi_app.direct, unsent=app.wsgi_app.unsent, **settings) as (_, address):
        yield address


@contextlib.contextmanager
def served_small():
    """The small graph's app with the inline engine, served on loopback: (host, port)."""
    app = make_app(engine="inline")
    try:
        with serving(app) as address:
            yield address
    finally:
        close(app)


def raw_exchange(addr, data: bytes, then: bytes | None = None) -> bytes:
    """Send ``data`` on a new connection and read until the server closes it; with ``then`` (a
    body held back for Expect: 100-continue), send it once the interim 100 Continue has come."""
    with socket.create_connection(addr, timeout=10) as s:
        s.sendall(data)
        if then is not None:
            assert s.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
            s.sendall(then)
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    return raw


@pytest.fixture(scope="module")
def server_app():
    """The endpoint over the small fixture graph (module-scoped: workers are forked once)."""
    app = make_app()
    yield app
    close(app)


@pytest.fixture()
def server_client(server_app):
    """A Flask test client of ``server_app``."""
    return server_app.test_client()


class Listener:
    """A loopback TCP listener recording every connection made to it (for no-egress tests)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self.connections: list[bytes] = []
        self.reply = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"  # what it answers
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            conn.settimeout(1)
            try:
                self.connections.append(conn.recv(65536))
                conn.sendall(self.reply)
            except OSError:
                pass
            conn.close()

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture()
def listener():
    """A local listener; the test asserts ``listener.connections`` after the request."""
    lst = Listener()
    yield lst
    lst.close()
