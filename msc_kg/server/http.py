"""A thread-per-connection HTTP/1.1 server for the WSGI app, parsing requests with httptools.

Why not waitress: measured on loopback (scaled graph of 10⁵ triples, same queries), waitress's
hand-offs between its event-loop thread and its task threads cost 0.2–0.3 ms per request and more
on large bodies, which put the endpoint well behind the Oxigraph server on small queries. Here one
thread owns a connection from its first byte to its last: it reads, parses with httptools (the
llhttp parser of Node.js, also behind uvicorn; see httpparse), calls the app and writes the whole
response in one ``sendall`` (two for a body over BIG_BODY); a body the app makes while it is sent (an iterable
without Content-Length: a large graph download) goes out in chunked transfer coding as it comes.
Limits stop hostile clients: at most ``max_connections`` open connections (more get 503 and are
closed), a request head of at most ``max_head`` bytes (431; 414 when the URL alone is longer), a
body of at most ``max_body`` bytes (413, checked on Content-Length before the body is read, and
while reading a chunked body), a whole request within ``read_timeout`` seconds (408, so a client
trickling bytes cannot hold a thread), and keep-alive connections closed after ``idle_timeout``
seconds of silence.
A request the parser rejects gets 400 with the parser's reason (501 for a method it does not know);
the app is never called with it.
"""

from __future__ import annotations

import fcntl
import ipaddress
import select
import socket
import struct
import sys
import termios
import threading
import time
import traceback
from collections import Counter
from email.utils import formatdate
from http import HTTPStatus
from io import BytesIO
from urllib.parse import unquote_to_bytes

import httptools

from msc_kg.server.httpparse import ABSOLUTE, ALLOWED, Parser, Reject, Request, app_host, target_authority

REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
           413: "Content Too Large", 414: "URI Too Long", 415: "Unsupported Media Type",
           421: "Misdirected Request", 431: "Request Header Fields Too Large", 500: "Internal Server Error",
           501: "Not Implemented", 503: "Service Unavailable", 505: "HTTP Version Not Supported"}
_STATUS_LINES: dict[str, str] = {}  # werkzeug's status -> the one sent


def _status_line(status: str) -> str:
    """``status`` with its reason phrase as RFC 9110 writes it, where werkzeug wrote it in
    capitals ("406 NOT ACCEPTABLE", beside "406 Not Acceptable" from this server's own path:
    endpoint audit); remembered, as the app's statuses are few."""
    code, _, phrase = status.partition(" ")
    if phrase.isupper() and code.isdigit():
        try:
            phrase = REASONS.get(int(code)) or HTTPStatus(int(code)).phrase
        except ValueError:  # not a status Python knows: as it was, in capitals
            pass
    if len(_STATUS_LINES) < 256:
        _STATUS_LINES[status] = f"{code} {phrase}"
    return f"{code} {phrase}"


_ANY_ADDRESS = ("0.0.0.0", "::")  # a listening socket bound to every interface
# A body larger than this is written after the head by a second send instead of being copied
# behind it (measured: joining a 148 MB graph download to its head cost 0.08-0.1 s).
BIG_BODY = 1 << 20
# A client must take at least this many bytes of a larger response (or of a streamed download)
# in each read_timeout, or it is cut off (see _Paced).
PACED = 1 << 18


def _kernel_timeout(conn: socket.socket, seconds: float) -> None:
    """Time out a blocking socket's receives and sends after ``seconds`` (SO_RCVTIMEO and
    SO_SNDTIMEO). Python's own socket timeout polls before every receive and send: two system
    calls more per request."""
    value = _timeval(seconds)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)


def _timeval(seconds: float) -> bytes:
    """``seconds`` as the struct timeval of a socket timeout; (0, 0) would mean "never"."""
    sec = int(seconds)
    return struct.pack("ll", sec, max(int((seconds - sec) * 1_000_000), 0 if sec else 1))


class _Paced:
    """Sends one response, and gives up (TimeoutError) once its client has taken less than PACED
    bytes in ``seconds``: what the client has taken is what was handed to the kernel less what
    the kernel still holds unacknowledged (SIOCOUTQ). Deadlines on each send undid slow readers
    well above that rate: the kernel wakes a blocked sender only once a third of a send buffer of
    up to 4 MB is free, so a client reading 32 KB/s lost a 5 MB answer (hostile testing); and a
    client that stopped reading held a streamed download (and its slot) for 90 s while the kernel
    took a little more now and then, before any deadline (hostile testing)."""

    POLL = 1.0  # seconds a send may block before the client's progress is looked at

    def __init__(self, conn: socket.socket, seconds: float):
        self.conn = conn
        self.seconds = seconds
        self.handed = 0  # bytes the kernel has accepted
        self.mark, self.mark_at = 0, time.monotonic()  # taken bytes at the last PACED step

    def sendall(self, data: bytes) -> None:
        conn = self.conn
        before = conn.getsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, 16)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(min(self.POLL, self.seconds)))
        view = memoryview(data)
        try:
            self._check()  # before it is handed more: a client that took all it was given waited
            while view:
                try:
                    sent = conn.send(view)
                except (BlockingIOError, TimeoutError):  # nothing accepted for POLL s
                    sent = 0
                self.handed += sent
                view = view[sent:]
                self._check()
        finally:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, before)

    def _check(self) -> None:
        now = time.monotonic()
        queued = _unacknowledged(self.conn)
        taken = self.handed - (queued or 0)
        # a step taken, or all it was given: a streamed download's writer may be slow to write
        # more, which is no fault of the client's
        if taken - self.mark >= PACED or queued == 0:
            self.mark, self.mark_at = taken, now
        elif now - self.mark_at > self.seconds:
            raise TimeoutError(f"the client took less than {PACED} bytes in {self.seconds:g} s")


def _unacknowledged(conn: socket.socket) -> int | None:
    """The bytes the kernel holds for ``conn`` that its peer has not acknowledged (Linux's
    SIOCOUTQ); None where it cannot be asked (what the kernel accepted then counts as taken)."""
    try:
        return struct.unpack("i", fcntl.ioctl(conn.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
    except (AttributeError, OSError):
        return None


def _linger(conn: socket.socket, seconds: float = 1.0, limit: int = 1 << 20) -> None:
    """After a final response: stop sending and read what the client still sends, briefly, so
    closing does not reset the connection before the client has read the response."""
    try:
        conn.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + seconds
        while limit > 0 and (left := deadline - time.monotonic()) > 0:
            conn.settimeout(left)
            chunk = conn.recv(65536)
            if not chunk:
                return
            limit -= len(chunk)
    except OSError:
        pass


def _peer(addr) -> str:
    """The client address a connection came from (its host, without the port); for IPv6, its /64,
    which one client commonly holds whole."""
    if not (isinstance(addr, tuple) and addr):
        return str(addr)
    host = addr[0]
    if ":" in host and "." not in host:  # IPv6, not an IPv4-mapped address
        try:
            return str(ipaddress.IPv6Network(f"{host.partition('%')[0]}/64", strict=False))
        except ValueError:
            return host
    return host


def _readable(conns: list[Connection]) -> set[Connection]:
    """Those of ``conns`` whose sockets hold bytes their threads have not read yet (a request,
    or the client's end of the connection)."""
    poller, by_fd = select.poll(), {}
    for c in conns:
        try:
            fd = c.sock.fileno()
        except OSError:
            continue
        if fd >= 0:
            poller.register(fd, select.POLLIN)
            by_fd[fd] = c
    return {by_fd[fd] for fd, _ in poller.poll(0) if fd in by_fd}


class Connection:
    """One client connection: its socket, and who answers its current request (see ``hijack``)."""

    __slots__ = ("sock", "peer", "lock", "request_no", "responded_no", "hijacked", "busy", "reading",
                 "__weakref__")

    def __init__(self, sock: socket.socket, peer: str = ""):
        self.sock = sock
        self.peer = peer  # the client's address, as the per-client cap counts it (_peer)
        self.lock = threading.Lock()  # held while a response is being written
        self.request_no = 0  # requests begun on this connection
        self.responded_no = 0  # requests whose response has begun to be written
        self.hijacked = False  # a watchdog answered for a stuck request: nothing more is written
        self.busy = False  # a request is being answered (a drain waits for it)
        self.reading = False  # part of a request has come, not all of it (a drain waits too)


_local = threading.local()


def current_connection() -> Connection | None:
    """The connection the calling thread is serving (None outside this server)."""
    return getattr(_local, "conn", None)


_date = (0, "")  # the second of the last Date header line, and the line


def _date_line() -> str:
    """The Date header line, formatted once per second."""
    global _date
    now = int(time.time())
    second, line = _date
    if second != now:
        line = f"Date: {formatdate(now, usegmt=True)}"
        _date = (now, line)
    return line


class Server:
    """Serve ``app`` on the listening socket ``sock`` until ``shutdown()``."""

    DEFER = 0.002  # seconds a busier serving process leaves a new connection to a less busy one
    QUIET = 0.1  # seconds a draining server waits for a request on a keep-alive connection that
    # is idle before closing it (see shutdown)
    UNFINISHED = 1.0  # seconds it waits at most for a request begun but not all in (a byte sent
    # as the drain began held a retiring process for the whole grace: hostile testing)

    def __init__(self, app, sock: socket.socket, *, max_connections: int = 512,
                 max_per_peer: int | None = None, max_head: int = 65536, max_body: int = 1_000_000,
                 read_timeout: float = 30.0, idle_timeout: float = 30.0, direct=None, balance=None,
                 error_headers: dict | None = None, unsent=None):
        self.app = app
        self.error_headers = error_headers or {}  # sent with the server's own error responses
        # (the app's CORS headers, so that a browser can read why a request was refused)
        self.balance = balance  # msc_kg.server.balance.Balance when several processes serve
        self.direct = direct  # optional fast path: (method, path, query, headers, body) →
        # (status, headers, body) or None to call the WSGI app
        self.unsent = unsent  # optional: (method, path, headers) → (status, message, headers) of a
        # refusal the head of a request decides, told before a 100 Continue (endpoint.SparqlFirst)
        self.sock = sock
        self.max_connections = max_connections
        # one client address may hold half of them (None) or ``max_per_peer`` (0: no cap, for a
        # proxy's): trickling request heads, one client held every slot and all the others got 503
        # (hostile testing: slowloris)
        self.max_per_peer = (max(1, max_connections // 2) if max_per_peer is None
                             else max_per_peer or max_connections)
        self.max_head = max_head
        self.max_body = max_body
        self.read_timeout = read_timeout
        self.idle_timeout = idle_timeout
        host, port = sock.getsockname()[:2]
        self.server_name, self.port = host, str(port)
        self.accepting = True
        self._lock = threading.Lock()
        self._conns: set[Connection] = set()  # open connections
        self._peers: Counter = Counter()  # open connections per client address
        self._refusers = threading.BoundedSemaphore(16)

    # ------------------------------------------------------------------ accept loop
    def serve_forever(self) -> None:
        """Accept connections, each handled by its own thread, until ``shutdown()``."""
        self.sock.setblocking(False)  # other serving processes may take a connection first
        waiting = select.poll()
        waiting.register(self.sock, select.POLLIN)
        while self.accepting:
            try:
                if not waiting.poll(250) or not self.accepting:
                    continue  # wake up regularly to notice shutdown(), which may come meanwhile
                if self.balance is not None and self.balance.defer(len(self._conns)):
                    time.sleep(self.DEFER)  # a less busy serving process was woken too
                    if not waiting.poll(0):
                        continue  # it took the connection
                conn, addr = self.sock.accept()
            except BlockingIOError:
                continue  # another serving process took it
            except OSError:
                if not self.accepting:
                    break
                time.sleep(0.01)  # EMFILE and the like: back off instead of spinning
                continue
            conn.setblocking(True)
            client = Connection(conn, _peer(addr))
            with self._lock:
                full = len(self._conns) >= self.max_connections
                crowded = self._peers[client.peer] >= self.max_per_peer
                if not (full or crowded):
                    self._conns.add(client)
                    self._peers[client.peer] += 1
                    self._publish()
            if full or crowded:
                self._refuse(conn, None if full else "Too many open connections from your address "
                                                     f"(limit {self.max_per_peer})")
                continue
            # No thread may be startable (each reserves a query's 64 MB stack of address space;
            # threads or processes may be capped): the connection is refused, where the error
            # ended the serving process and every request in flight on it (hostile testing:
            # about 120 idle connections under ulimit -v 8 GB)
            try:
                threading.Thread(target=self._handle, args=(client, addr), daemon=True).start()
            except RuntimeError:
                self._forget(client)
                self._refuse(conn, "The server cannot take another connection now")

    def _forget(self, client: Connection) -> None:
        """Count ``client`` no longer among the open connections."""
        with self._lock:
            self._conns.discard(client)
            self._peers[client.peer] -= 1
            if self._peers[client.peer] <= 0:
                del self._peers[client.peer]
            self._publish()

    def _publish(self) -> None:
        """Tell the other serving processes how many connections this one has (under _lock)."""
        if self.balance is not None:
            self.balance.set(len(self._conns))

    def _refuse(self, conn: socket.socket, why: str | None = None) -> None:
        """503 for a connection over the limit (or ``why`` it cannot be taken): in a thread of a
        small bounded set, which lingers for the client to read it; past those, or when no thread
        can be started, at once without waiting (closed with its request unread, the connection
        was reset and the client never saw why: hostile testing)."""
        message = self._simple(503, f"{why or f'Too many open connections (limit {self.max_connections})'}"
                                    "; retry later.", close=True)
        if self._refusers.acquire(blocking=False):
            def answer():
                try:
                    conn.settimeout(1.0)
                    conn.sendall(message)
                    _linger(conn)
                except OSError:
                    pass
                finally:
                    conn.close()
                    self._refusers.release()

            try:
                threading.Thread(target=answer, daemon=True).start()
                return
            except RuntimeError:
                self._refusers.release()
        try:
            conn.setblocking(False)
            conn.send(message)
            conn.shutdown(socket.SHUT_WR)
            for _ in range(16):  # what the client sent so far, so closing does not reset
                if not conn.recv(65536):
                    break
        except OSError:
            pass
        finally:
            conn.close()

    def shutdown(self, grace: float) -> None:
        """Stop accepting, let requests in progress finish (up to ``grace`` s), close the rest.

        A connection is closed once it has been quiet for QUIET seconds: a request that comes
        meanwhile, or that its thread has not read yet, is answered, with Connection: close (idle
        ones were shut at once, and a request just sent on one got a reset: hostile testing); one
        that has begun to come is waited for UNFINISHED seconds at most."""
        self.accepting = False
        now = time.monotonic()
        deadline, fresh_deadline = now + grace, now + min(grace, 2.0)
        quiet_since: dict[Connection, float] = {}
        unfinished_deadline = now + min(grace, self.UNFINISHED)
        while (now := time.monotonic()) < deadline:
            with self._lock:
                conns = list(self._conns)
            sent = _readable(conns) if now < unfinished_deadline else set()
            waiting = False
            for c in conns:  # busy, a request coming or unread (for a while), or accepted just
                # before and its first request not yet in
                coming = (c.reading or c in sent) and now < unfinished_deadline
                if c.busy or coming or (now < fresh_deadline and c.request_no == 0):
                    quiet_since.pop(c, None)
                    waiting = True
                elif now - quiet_since.setdefault(c, now) < self.QUIET:
                    waiting = True
            if not waiting:
                break
            time.sleep(0.02)
        with self._lock:
            conns = list(self._conns)
        for client in conns:  # idle keep-alive connections (and any still busy past the grace)
            try:
                client.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def hijack(self, client: Connection, request_no: int, status: int, message: str,
               headers: dict | None = None) -> bool:
        """Answer request ``request_no`` of ``client`` from another thread (its own is stuck),
        then close the connection; False if its response was already being written."""
        if not client.lock.acquire(timeout=0.2):
            return False  # its thread is writing the response right now
        try:
            if client.hijacked or client.responded_no >= request_no:
                return False
            client.hijacked = True
            try:
                client.sock.settimeout(1.0)
                client.sock.sendall(self._simple(status, message, close=True, headers=headers))
                client.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        finally:
            client.lock.release()
        with self._lock:
            self._conns.discard(client)  # abandoned: a drain does not wait for it
            self._publish()
        return True

    # ------------------------------------------------------------------ one connection
    def _handle(self, client: Connection, addr) -> None:
        _local.conn = client
        try:
            client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._serve_connection(client, addr)
        except OSError:
            pass  # the client went away
        finally:
            _local.conn = None
            self._forget(client)
            try:
                client.sock.close()
            except OSError:
                pass

    def _serve_connection(self, client: Connection, addr) -> None:
        conn = client.sock
        parser = Parser(self.max_head, self.max_body)
        started = None  # when the first byte of the request being read arrived
        limit = None  # the receive timeout set in the kernel
        refused = None  # the parser's refusal, sent once the requests complete before it are
        # answered (hostile testing: a valid request pipelined in front of a malformed one got
        # only the 400)
        while True:
            if parser.done:
                req = parser.done.pop(0)
                self._set_busy(client, True)
                try:
                    keep = self._respond(client, addr, req)
                finally:
                    self._set_busy(client, False)
                if not keep:  # (a response that kept the connection open as a drain began
                    # waits for the next request: shutdown closes the connection once quiet)
                    if req.keep_alive and not self.accepting:  # the drain's Connection: close: a
                        _linger(conn)  # request sent behind it, unread, would make closing a reset
                    return
                started = time.monotonic() if parser.current is not None else None
                client.reading = started is not None
                continue
            if refused is not None:
                # a HEAD gets the head only (its method is known once its head is in)
                asked = parser.current.method if parser.current is not None else None
                conn.sendall(self._simple(refused.status, refused.message, close=True, headers=refused.headers,
                                          method=asked))
                _linger(conn)
                return
            pending = parser.current
            if pending is not None and pending.expect:  # only once the responses before it are
                pending.expect = False  # sent: they come in the order of the requests (RFC 9112
                # §9.3.2); none if its body is in. A target no resource has gets its final status
                # instead (RFC 9110 §10.1.1), not an invitation to send a body for nothing
                try:
                    path, _ = self._target(pending)
                    refused = self.unsent and self.unsent(pending.method.decode("latin-1"), path,
                                                          pending.headers)
                    if refused:
                        raise Reject(*refused)
                except Reject as exc:
                    conn.sendall(self._simple(exc.status, exc.message, close=True, headers=exc.headers,
                                              method=pending.method))
                    _linger(conn)
                    return
                conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            if started is None:
                wait = self.idle_timeout
            else:
                wait = self.read_timeout - (time.monotonic() - started)
                if wait <= 0:
                    self._too_slow(conn)
                    return
            if wait != limit:  # a system call: only when the timeout changes
                limit = wait
                _kernel_timeout(conn, wait)
            try:
                data = conn.recv(65536)
            except (BlockingIOError, TimeoutError):  # the kernel's timeout ran out
                if started is not None:
                    self._too_slow(conn)
                return
            if not data:
                return
            if started is None:
                started = time.monotonic()
                client.reading = True
            try:
                parser.feed(data)
            except Reject as exc:
                refused = self._instead_of_413(exc, parser.current)
            if parser.done:
                started = None
                client.reading = False

    def _instead_of_413(self, exc: Reject, req: Request | None) -> Reject:
        """The parser's refusal ``exc``; for a body over --max-body (413), the refusal the app's
        ``unsent`` decides from the request's head where it has one (a 405 for a POST to the
        read-only graph store, a 404): it tells more than "send less"."""
        if exc.status != 413 or req is None or not req.method:
            return exc
        try:
            path, _ = self._target(req)
            other = self.unsent and self.unsent(req.method.decode("latin-1"), path, req.headers)
        except Reject as bad_target:  # no resource has it: that first
            return bad_target
        except Exception:  # noqa: BLE001 — a bug of the app: log it, refuse as the parser did
            traceback.print_exc()
            return exc
        return Reject(*other) if other else exc

    def _too_slow(self, conn: socket.socket) -> None:
        """Send 408 for a request that did not arrive within ``read_timeout`` (allowing 1 s for
        it, whatever little of the receive timeout was left)."""
        _kernel_timeout(conn, 1.0)
        conn.sendall(self._simple(408, f"The request did not arrive within {self.read_timeout:g} s.",
                                  close=True))

    @staticmethod
    def _set_busy(client: Connection, busy: bool) -> None:
        client.busy = busy  # only this connection's thread writes these
        if busy:
            client.request_no += 1

    # ------------------------------------------------------------------ responses
    @staticmethod
    def _target(req: Request) -> tuple[str, bytes]:
        """The decoded path and the raw query string of the request target; Reject for one no
        resource has (told before a 100 Continue, so no body is sent for nothing)."""
        if req.method == b"CONNECT":  # its target is an authority, and no tunnel is offered
            raise Reject(501, "CONNECT is not implemented: this server is no proxy.")
        url = req.url
        if url == b"*":  # the server as a whole (RFC 9112 §3.2.4, RFC 9110 §9.3.7): only OPTIONS asks
            if req.method != b"OPTIONS":  # about it (a POST * with a large body got 413, and one
                # waiting for 100 Continue was invited to send its body: hostile review)
                raise Reject(400, "The request target * is for OPTIONS only.")
            return "*", b""
        path, _, query = url.partition(b"?")
        if path[:1] == b"/" and b"%" not in path and b"#" not in url:
            return path.decode("latin-1"), query  # plain origin-form: its bytes were checked by
            # the request parser, which rejects what parse_url would
        absolute = ABSOLUTE.match(url)
        if absolute and absolute.group(1).endswith(b":"):  # an empty port (RFC 3986 §3.2.3), which
            url = url[:absolute.end(1) - 1] + url[absolute.end(1):]  # the URL parser refuses; Host
            # may have one too (hostile testing)
        if b"#" in url:  # origin-form and absolute-form have no fragment (RFC 9112 §3.2):
            # "/sparql#f?query=…" was answered as /sparql, the query dropped (hostile testing)
            raise Reject(400, "The request target has a fragment ('#'); a client sends none.")
        try:  # origin-form "/path?query" or absolute-form "http://host/path?query"
            url = httptools.parse_url(url)
        except httptools.HttpParserInvalidURLError:
            raise Reject(400, "The request target is not a valid URL.") from None
        path = url.path or b"/"
        if b"%2f" in path.lower():  # not a "/" (RFC 3986 §2.2): decoded, /sparql%2F was /sparql/
            raise Reject(404, "Not found: an encoded '/' (%2F) names no resource here.")
        return unquote_to_bytes(path).decode("latin-1"), url.query or b""

    def _environ(self, req: Request, addr, path: str, query: bytes, body: bytes) -> dict:
        environ = {
            "REQUEST_METHOD": req.method.decode("latin-1"),
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": query.decode("latin-1"),
            "SERVER_NAME": self.server_name,
            "SERVER_PORT": self.port,
            "SERVER_PROTOCOL": f"HTTP/{req.version}",
            "REMOTE_ADDR": addr[0] if addr else "",
            "REMOTE_PORT": str(addr[1]) if addr else "",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        for name, value in req.headers:
            key = name.decode("latin-1").upper()
            if "_" in key or "." in key or not key:
                continue  # "X_Y" would pass for "X-Y" (header spoofing); "." for a wsgi.* key
            key = key.replace("-", "_")
            val = value.decode("latin-1")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = val
                continue
            if key in ("CONTENT_LENGTH", "TRANSFER_ENCODING", "CONNECTION", "KEEP_ALIVE", "UPGRADE"):
                # Upgrade is not offered (RFC 9110 §7.8: ignored): given, werkzeug's routing took a
                # "websocket" request for one and answered 400 on every page (hostile testing)
                if key == "CONNECTION":
                    environ["HTTP_CONNECTION"] = val
                continue
            key = "HTTP_" + key
            environ[key] = f"{environ[key]},{val}" if key in environ else val
        return environ

    def _set_host(self, environ: dict, authority: bytes | None, sock: socket.socket) -> None:
        """Give the app the host the request names: an absolute-form target's authority rather
        than Host (RFC 9112 §3.2.2; it was ignored), else Host. Where neither names one the app
        can use (an empty Host made the service description's http:///sparql: hostile testing),
        HTTP_HOST is left out and SERVER_NAME is the address the client reached, not 0.0.0.0."""
        given = authority if authority is not None else environ.get("HTTP_HOST", "").encode("latin-1")
        host = app_host(given)
        if host is not None:
            environ["HTTP_HOST"] = host
            return
        environ.pop("HTTP_HOST", None)
        if self.server_name in _ANY_ADDRESS:  # without its IPv6 zone, which no URL carries
            environ["SERVER_NAME"] = sock.getsockname()[0].partition("%")[0]

    def _respond(self, client: Connection, addr, req: Request) -> bool:
        """Run the app for ``req`` and send its response; return whether to keep the connection."""
        conn = client.sock
        try:
            path, query = self._target(req)
            authority = target_authority(req.url)
        except Reject as exc:
            conn.sendall(self._simple(exc.status, exc.message, close=True, method=req.method))
            _linger(conn)
            return False
        if path == "*":  # OPTIONS * (_target refuses another method)
            keep = req.keep_alive and self.accepting
            return self._send(client, self._end_head(
                f"HTTP/1.1 204 No Content\r\nAllow: {ALLOWED}\r\n", req, keep)) and keep
        body = b"".join(req.body)
        try:
            answer = self.direct and self.direct(req.method.decode("latin-1"), path, query,
                                                 req.headers, body)
            if not answer:
                environ = self._environ(req, addr, path, query, body)
                self._set_host(environ, authority, client.sock)
                answer = self._call_app(environ)
        except Exception:  # noqa: BLE001 — a bug of the app: log it, answer 500, keep serving
            traceback.print_exc()
            self._send(client, self._simple(500, "Internal server error.", close=True, method=req.method))
            return False
        status, headers, body = answer
        status = _STATUS_LINES.get(status) or _status_line(status)
        keep = req.keep_alive and self.accepting
        if not isinstance(body, (bytes, bytearray)):
            return self._stream(client, req, status, headers, body, keep)
        if type(headers) is str:  # header lines rendered by the app (endpoint.Plain.lines); the
            # body is the one a GET gets, so its length is right for HEAD too (RFC 9110 §9.3.2)
            head = self._end_head(f"HTTP/1.1 {status}\r\n{headers}Content-Length: {len(body)}\r\n",
                                  req, keep)
        else:
            head = self._end_head(self._header_lines(status, headers, len(body), req.method == b"HEAD"),
                                  req, keep)
            if status.startswith(("304", "204")):
                body = b""
        if req.method == b"HEAD":
            return self._send(client, head) and keep
        if len(body) > BIG_BODY:  # sent after the head rather than copied behind it
            return self._send(client, head, body) and keep
        return self._send(client, head + body) and keep

    @staticmethod
    def _end_head(head: str, req: Request, keep: bool) -> bytes:
        """The response head: its status and header lines ``head``, then Date, Server and
        Connection as this server sets them."""
        head = f"{head}{_date_line()}\r\nServer: msc-kg\r\n"
        if not keep:
            head += "Connection: close\r\n"
        elif req.version == "1.0":
            head += "Connection: keep-alive\r\n"
        return (head + "\r\n").encode("latin-1", "replace")  # never raise here

    def _stream(self, client: Connection, req: Request, status: str, headers, body, keep: bool) -> bool:
        """Send a response whose body the app yields in chunks, without a Content-Length: in
        chunked transfer coding to an HTTP/1.1 client, else delimited by closing the connection.
        An error while the body is made leaves it unfinished (no last chunk) and closes the
        connection, so the client cannot take a cut body for a whole one."""
        chunked = req.version != "1.0"
        keep = keep and chunked
        head_only = req.method == b"HEAD" or status.startswith(("304", "204"))
        try:
            head = self._header_lines(status, headers, None if chunked else -1, req.method == b"HEAD")
            if not self._send(client, self._end_head(head, req, keep)):
                return False
            if head_only:
                return keep
            send, chunks = _Paced(client.sock, self.read_timeout).sendall, iter(body)
            while True:
                try:
                    chunk = next(chunks)
                except StopIteration:
                    break
                except Exception:  # noqa: BLE001 — the body failed part-way: log it, cut off
                    # the connection
                    traceback.print_exc()
                    return False
                if chunk:  # an OSError here: the client went away (see _handle)
                    send(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk)
            if chunked:
                send(b"0\r\n\r\n")
            return keep
        finally:
            if hasattr(body, "close"):
                body.close()

    @staticmethod
    def _header_lines(status: str, headers, length: int | None, head_request: bool) -> str:
        """The status line and the app's header lines, each ending in CRLF, with the
        Content-Length this server sends; hop-by-hop and server-set headers are left out.

        ``length`` None: the body follows in chunked transfer coding; -1: it ends when the
        connection closes. A HEAD response carries the length a GET would have (the app's, else
        ``length``), unless that is not known before the body is made."""
        lines = [f"HTTP/1.1 {status}"]
        given = None
        for name, value in headers:
            lname = name.lower()
            if lname == "content-length":
                given = value
            elif lname not in ("connection", "transfer-encoding", "date", "server"):
                lines.append(f"{name}: {value}")
        if head_request and given is not None:
            length = given  # the length a GET would have carried (RFC 9110 §9.3.2)
        if status.startswith(("304", "204")):  # they have no content (RFC 9110 §8.6)
            pass
        elif length is None and not head_request:
            lines.append("Transfer-Encoding: chunked")
        elif length is not None and length != -1:
            lines.append(f"Content-Length: {length}")
        lines.append("")
        return "\r\n".join(lines)

    def _call_app(self, environ: dict) -> tuple:
        """Run the WSGI app: (status line, headers, body)."""
        status_headers: list = []

        def start_response(status, headers, exc_info=None):
            if exc_info and status_headers:
                raise exc_info[1].with_traceback(exc_info[2])
            status_headers[:] = [status, headers]
            return lambda data: None  # the legacy write() callable is not supported

        result = self.app(environ, start_response)
        status, headers = status_headers
        unknown_length = not any(name.lower() == "content-length" for name, _ in headers)
        if unknown_length and type(result) not in (list, tuple):
            return status, headers, result  # a body made while it is sent (see _stream)
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        if unknown_length and not body and environ["REQUEST_METHOD"] == "HEAD":
            return status, headers, iter(())  # a HEAD of such a body: its length is not known
        return status, headers, body

    def _send(self, client: Connection, data: bytes, more: bytes = b"") -> bool:
        """Write a response (``data``, then ``more``) unless a watchdog already answered this
        request (then False). A part of more than PACED bytes is sent _Paced: its client must
        take PACED bytes per ``read_timeout`` (TimeoutError, an OSError: the connection is
        dropped); the kernel's send timeout counts from the last progress, and ten clients
        reading 100 bytes every 5 s of 30 MB answers held every connection slot (hostile
        testing)."""
        with client.lock:
            if client.hijacked:
                return False
            client.responded_no = client.request_no
            for part in (data, more):
                if len(part) <= PACED:
                    if part:
                        client.sock.sendall(part)
                    continue
                _Paced(client.sock, self.read_timeout).sendall(part)
        return True

    def _simple(self, status: int, message: str, close: bool, headers: dict | None = None,
                method: bytes | None = None) -> bytes:
        """A plain-text response; to a HEAD (``method``), its head only (RFC 9110 §9.3.2)."""
        body = (message.rstrip() + "\n").encode("utf-8")
        extra = "".join(f"{k}: {v}\r\n" for k, v in {**self.error_headers, **(headers or {})}.items())
        head = (f"HTTP/1.1 {status} {REASONS.get(status, '')}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                f"Content-Length: {len(body)}\r\n{_date_line()}\r\nServer: msc-kg\r\n{extra}"
                + ("Connection: close\r\n" if close else "") + "\r\n")
        return head.encode("latin-1") + (body if method != b"HEAD" else b"")
