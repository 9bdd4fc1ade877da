"""Request parsing for the HTTP server: httptools callbacks under the head and body limits, and
the checks of the Host header and the request target (RFC 9112 §3.2, RFC 9110 §4.2)."""

from __future__ import annotations

import ipaddress
import re

import httptools

ALLOWED = "GET, HEAD, POST, OPTIONS"  # the methods some resource of the endpoint answers
# The characters of a Host field value: uri-host [":" port] (RFC 3986 §3.2.2, reg-name and IP
# literals), percent-encoded octets included.
_HOST_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%!$&'()*+,;=:[]")
# A reg-name (RFC 3986 §3.2.2, an IPv4 address included) but for ",": two Host field lines joined
# into one read "a,b" (RFC 9110 §5.3), which is no host.
_REG_NAME = re.compile(rb"(?:[A-Za-z0-9\-._~!$&'()*+;=]|%[0-9A-Fa-f]{2})*")
_IP_FUTURE = re.compile(rb"[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+")
# The host names and addresses werkzeug's Request.host takes (werkzeug.sansio.utils._host_re); it
# takes any other for no host at all, and the service description named http:///sparql.
_APP_HOST = re.compile(r"[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]")
ABSOLUTE = re.compile(rb"[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)")  # absolute-form: its authority


class Reject(Exception):
    """A request refused before it reaches the app: status, plain-text message, headers."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


class Request:
    """One parsed request (filled in by the parser callbacks)."""

    __slots__ = ("url", "headers", "body", "method", "version", "keep_alive", "complete", "expect")

    def __init__(self):
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.method = b""
        self.version = "1.1"
        self.keep_alive = True
        self.complete = False
        self.expect = False  # asked for 100 Continue, not yet sent


class Parser:
    """httptools callbacks collecting complete requests; enforces the head and body limits."""

    def __init__(self, max_head: int, max_body: int):
        self.max_head = max_head
        self.max_body = max_body
        self.parser = httptools.HttpRequestParser(self)
        self.current: Request | None = None
        self.done: list[Request] = []
        self.head_bytes = 0
        self.raw_head = 0  # bytes fed while a head was incomplete (httptools buffers a header)
        self.begun = False  # whether a request began in the data being fed
        self.body_bytes = 0
        self.wire_bytes = 0  # bytes fed while a request's body was being read, framing and all
        self.in_head = False
        self.body_left = 0  # bytes still to come of the body of a request that asked to Upgrade

    # --- callbacks (names fixed by httptools)
    def on_message_begin(self):
        self.current = Request()
        self.begun = True
        self.head_bytes = 0
        self.body_bytes = 0
        self.wire_bytes = 0
        self.in_head = True

    def on_url(self, url: bytes):
        self.current.url += url  # called piece by piece as the URL arrives
        if len(self.current.url) > self.max_head:  # the head is too large because of the URL
            raise self._long_url()
        self._count_head(len(url))

    def on_header(self, name: bytes, value: bytes):
        self.current.headers.append((name, value))
        self._count_head(len(name) + len(value) + 4)

    def on_headers_complete(self):
        self.in_head = False
        self.raw_head = 0
        req = self.current
        req.method = self.parser.get_method()
        req.version = self.parser.get_http_version()
        if not req.version.startswith("1."):  # llhttp reads "HTTP/2.0" as a request line too
            raise _version(req.version)
        req.keep_alive = self.parser.should_keep_alive()
        hosts = 0
        coded = False  # a Transfer-Encoding header
        too_large = False  # told once the rest of the head is checked: a head that is no request
        # gets its 400, not the answer the server would give its method and path (hostile review)
        for name, value in req.headers:
            lname = name.lower()
            if lname == b"host":
                hosts += 1
                _host_parts(value, "The Host header")
            elif lname == b"transfer-encoding":
                coded = True
                # llhttp takes "gzip, chunked" as chunked and would pass the gzip bytes on as the
                # body; a coding other than chunked is not applied here (RFC 9112 §6.1).
                codings = [c.strip().lower() for c in value.split(b",")]
                other = [c for c in codings if c != b"chunked"]
                if other:
                    raise Reject(501, f"Transfer-Encoding {_shown(other[0])} is not supported: "
                                       "send the body as it is, with Content-Length or chunked.")
            elif lname == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    raise Reject(400, "Content-Length is not a number.") from None
                too_large = too_large or length > self.max_body
            elif lname == b"expect" and value.lower() == b"100-continue" and req.version == "1.1":
                req.expect = True  # an HTTP/1.0 client never waits for it (RFC 9110 §10.1.1)
        if coded and req.version == "1.0":  # its framing is faulty: close after answering it
            req.keep_alive = False  # (RFC 9112 §6.1)
        if hosts > 1 or not hosts and req.version == "1.1":
            raise Reject(400, "An HTTP/1.1 request carries exactly one Host header (RFC 9112 "
                               f"§3.2); this one has {hosts}.")
        if too_large:
            raise Reject(413, f"Request body too large: the limit is {self.max_body} bytes (--max-body).")

    def on_body(self, body: bytes):
        self.body_bytes += len(body)
        if self.body_bytes > self.max_body:
            raise Reject(413, f"Request body too large: the limit is {self.max_body} bytes (--max-body).")
        self.current.body.append(body)

    def on_message_complete(self):
        self.current.complete = True
        self.done.append(self.current)
        self.current = None

    def _upgrade_body(self) -> None:
        """llhttp ends a request that asks to Upgrade at its head and would parse its body as the
        next request (hostile testing: a POST's body ran as a request of its own, a smuggling
        route behind a proxy that passes Upgrade on; curl --http2 sends such POSTs): its
        Content-Length bytes are read as its body here, and a chunked one is refused."""
        req = self.done[-1] if self.done else None
        if req is None:
            return
        for name, value in req.headers:
            lname = name.lower()
            if lname == b"transfer-encoding":
                self.done.pop()  # refused, not answered
                raise Reject(400, "A request asking to Upgrade cannot carry a chunked body here "
                                   "(Upgrade is not offered): send it without Upgrade, or with "
                                   "Content-Length.")
            if lname == b"content-length" and int(value) > 0:
                self.done.pop()
                req.complete = False
                self.current, self.body_left = req, int(value)

    def _count_wire(self, n: int) -> None:
        """Count ``n`` bytes of a body as sent: chunk extensions and a chunk size's leading zeros,
        which no callback sees, were read without limit (20 MB for a 3-byte body: hostile
        testing). Twice the body's limit and 64 KiB more (a read's worth) are allowed."""
        self.wire_bytes += n
        limit = 2 * self.max_body + 65536
        if self.wire_bytes > limit:
            raise Reject(413, f"Request body too large: chunked, it takes more than {limit} bytes as sent "
                               "(chunk sizes and extensions count); the body's limit is "
                               f"{self.max_body} bytes (--max-body).")

    def _long_url(self) -> Reject:
        return Reject(414, f"Request URL too long: the limit is {self.max_head} bytes; send a long "
                            "query with POST (Content-Type application/sparql-query, or a form).")

    def _count_head(self, n: int) -> None:
        self.head_bytes += n
        if self.head_bytes > self.max_head:
            raise Reject(431, f"Request head too large: the limit is {self.max_head} bytes.")

    def feed(self, data: bytes) -> None:
        """Parse ``data``; complete requests are appended to ``done``. A loop, not a recursion,
        goes on after each request that asked to Upgrade: 1 000 of them in one read overflowed
        the interpreter's stack, and none was answered (hostile testing)."""
        while data:
            data = self._feed_part(data)

    def _feed_part(self, data: bytes) -> bytes:
        """Parse ``data`` up to the end of a request that asked to Upgrade; return the rest."""
        if self.body_left:  # the body of an Upgrade request, which llhttp does not read
            taken, data = data[:self.body_left], data[self.body_left:]
            self.body_left -= len(taken)
            self.on_body(taken)
            if self.body_left:
                return b""
            self.on_message_complete()
            if not data:
                return b""
        if self.current is not None and not self.in_head:
            self._count_wire(len(data))
        try:
            self.begun = False
            self.parser.feed_data(data)
            if self.current is not None and self.in_head:
                # a head begun in this data counts what its callbacks counted, not the bytes of
                # the request before it (a pipelined 40 KB head after a 40 KB body got 431:
                # hostile testing); then every byte until it is complete
                self.raw_head = self.head_bytes if self.begun else self.raw_head + len(data)
                if self.raw_head > self.max_head:
                    raise Reject(431, f"Request head too large: the limit is {self.max_head} bytes.")
        except httptools.HttpParserUpgrade as exc:  # Upgrade (h2c, websocket) is not offered:
            self.parser = httptools.HttpRequestParser(self)  # answer in HTTP/1.1, keep parsing
            self._upgrade_body()
            return data[exc.args[0]:] if exc.args else b""
        except httptools.HttpParserInvalidMethodError:
            raise _unknown_method(data) from None
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__ if isinstance(exc.__context__, Reject) else None
            raise cause or Reject(400, f"Malformed HTTP request: {exc}") from None
        except httptools.HttpParserError as exc:
            if str(exc) == "Invalid HTTP version":  # llhttp's for HTTP/3.0 or 1.2 (read as 1.x
                raise _version(None) from None  # but for 1.0 and 1.1 only, and 2.0, see above)
            raise Reject(400, f"Malformed HTTP request: {exc}") from None
        return b""


def _host_parts(value: bytes, what: str) -> tuple[bytes, bytes]:
    """``value``'s uri-host and port, or 400: RFC 9112 §3.2 refuses a Host with an invalid value.
    Only its characters were checked, and "x:abc", "[zz]", "a,b" or "x:99999999" reached the app,
    which took them for no host (hostile testing)."""
    parts = _split_host(value) if _HOST_CHARS.issuperset(value) else None
    if parts is None:
        raise Reject(400, f"{what} {_shown(value)} is not a host name or address with an optional "
                           "port (RFC 9112 §3.2).")
    port = parts[1]
    if port and (len(port) > 5 or not 0 < int(port) <= 65535):
        raise Reject(400, f"{what} {_shown(value)} names a port out of the range 1 to 65535 "
                           "(RFC 9112 §3.2).")
    return parts


def _split_host(value: bytes) -> tuple[bytes, bytes] | None:
    """``value`` as uri-host and port (RFC 3986 §3.2.2-3: the port is *DIGIT, so it may be
    empty), or None when it is not host [":" port]."""
    if value[:1] == b"[":
        literal, bracket, rest = value[1:].partition(b"]")
        host = value[:len(literal) + 2] if bracket and _ip_literal(literal) else None
    else:
        name, colon, port = value.partition(b":")
        host, rest = (name if _REG_NAME.fullmatch(name) else None), colon + port
    if host is None or rest and (rest[:1] != b":" or rest[1:] and not rest[1:].isdigit()):
        return None
    return host, rest[1:]


def _ip_literal(literal: bytes) -> bool:
    """Whether the text between "[" and "]" is an IPv6 address or an IPvFuture (RFC 3986 §3.2.2;
    no zone identifier)."""
    if _IP_FUTURE.fullmatch(literal):
        return True
    try:
        return b"%" not in literal and bool(ipaddress.IPv6Address(literal.decode("ascii")))
    except ValueError:
        return False


def target_authority(url: bytes) -> bytes | None:
    """The authority of an absolute-form request target ("http://host:port/path"), which stands
    for the Host header (RFC 9112 §3.2.2); None for another form. 400 for one that is no
    host[:port] or has user information (RFC 9110 §4.2.4), 421 for a scheme other than http."""
    m = ABSOLUTE.match(url) if url[:1] != b"/" else None
    if m is None:
        return None
    scheme = url[:url.index(b":")]
    if scheme.lower() != b"http":  # answered as http before (hostile testing)
        raise Reject(421, f"The request target's scheme {_shown(scheme)} is not served here: this "
                           "server answers http URIs (RFC 9110 §15.5.20).")
    authority = m.group(1)
    if b"@" in authority:
        raise Reject(400, f"The request target's authority {_shown(authority)} carries user "
                           "information, which an http URI may not (RFC 9110 §4.2.4).")
    _host_parts(authority, "The request target's authority")
    return authority


def app_host(value: bytes | None) -> str | None:
    """The Host to give the app for a valid ``value`` (RFC 3986 §6.2.3: an empty port and a port's
    leading zeros dropped), or None where the server's own address stands in: no Host or an
    empty one (RFC 9112 §3.2: the target has no authority), or one werkzeug would take for none
    (a name with "_" or "%", an IPvFuture)."""
    if not value:
        return None
    host, port = (part.decode("ascii") for part in _host_parts(value, "The Host header"))
    if not _APP_HOST.fullmatch(host):
        return None
    return host + (f":{int(port)}" if port else "")


def _version(version: str | None) -> Reject:
    """505 for a request in another HTTP version than 1.0 and 1.1 (``version``, if known)."""
    return Reject(505, f"{'HTTP/' + version if version else 'This HTTP version'} is not supported: "
                        "this server speaks HTTP/1.1 and HTTP/1.0 (RFC 9110 §15.6.6).")


# A request line's method, a token (RFC 9110 §5.6.2), and the methods the parser knows
_METHOD = re.compile(rb"(?:\r\n)*([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ")
_KNOWN = frozenset({b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"CONNECT",
                    b"TRACE"})


def _unknown_method(data: bytes) -> Reject:
    """501 for a request whose method is a token the parser does not know (RFC 9110 §9.1: a
    lower-case "get", "BREW"); 400 when the request line is malformed."""
    m = _METHOD.match(data)
    if m is None or m.group(1) in _KNOWN:  # the invalid method is another pipelined request's
        return Reject(400, "Malformed HTTP request: Invalid method encountered")
    return Reject(501, f"The method {_shown(m.group(1))} is not implemented here (methods are "
                        f"case-sensitive); this server answers {ALLOWED}.")


def _shown(value: bytes) -> str:
    """A header value for a message: quoted, at most 60 characters, as UTF-8 with undecodable bytes
    escaped (read as Latin-1, "é" was shown as two characters: hostile testing)."""
    text = value.decode("utf-8", "surrogateescape")
    shown = repr(text if len(text) <= 60 else text[:60] + "…")
    return _ESCAPED_BYTE.sub(r"\1\\x\2", shown)  # an undecodable byte as "\xff", not "\udcff"


_ESCAPED_BYTE = re.compile(r"(?<!\\)((?:\\\\)*)\\udc([89a-f][0-9a-f])")  # not after an escaped "\"
