"""Parse a SPARQL 1.1 Protocol query request into a query string and its dataset.

Implements https://www.w3.org/TR/sparql11-protocol/#query-operation :
§2.1.1 query via GET (``query`` in the URL), §2.1.2 via POST form-encoded (parameters in the
body only), §2.1.3 via POST ``application/sparql-query`` (query is the body, dataset parameters
in the URL), §2.1.4 ``default-graph-uri`` / ``named-graph-uri`` (they override FROM / FROM
NAMED), and the failure rules of §2.1.5 / §4: a missing or repeated ``query`` is a 400. The
update operation (§2.2) is refused because the endpoint is read-only. Parameters and bodies are
decoded as strict UTF-8, so a non-UTF-8 byte is a 400 instead of a silently replaced character.
Beyond the protocol, a ``format``/``output``/``results`` parameter (as other endpoints take) stands in
for the Accept header; other parameters are ignored.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

import pyoxigraph as ox

from msc_kg.server import negotiate

FORM = "application/x-www-form-urlencoded"
SPARQL_QUERY = "application/sparql-query"
SPARQL_UPDATE = "application/sparql-update"
# Result-format parameters other endpoints read from the URL or the form (Fuseki's output=,
# Virtuoso's format=; SPARQLWrapper sends format=, output= and results= by default): a short name or
# a media type. They stand in for the Accept header, so that a browser's address bar can ask for CSV.
FORMAT_PARAMS = ("format", "output", "results")
FORMAT_NAMES = {
    "json": "application/sparql-results+json, application/ld+json",
    "xml": "application/sparql-results+xml, application/rdf+xml",
    "csv": "text/csv", "tsv": "text/tab-separated-values",
    "turtle": "text/turtle", "ttl": "text/turtle",
    "ntriples": "application/n-triples", "n-triples": "application/n-triples", "nt": "application/n-triples",
    "rdfxml": "application/rdf+xml", "rdf": "application/rdf+xml", "rdf+xml": "application/rdf+xml",
    "jsonld": "application/ld+json", "json-ld": "application/ld+json",
    "nquads": "application/n-quads", "n-quads": "application/n-quads", "trig": "application/trig",
    "html": "text/html",  # entity pages (a browser's address bar: ?format=html)
    "n3": "text/turtle, text/n3",  # Turtle is N3's RDF subset (SPARQLWrapper's N3 sends format=n3)
}


class ProtocolError(Exception):
    """A request that breaks the protocol; carries the status, message and extra headers."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class QueryRequest:
    """A query operation: the query text and the protocol-level dataset (None = not given)."""

    query: str
    default_graph: list[str] | None
    named_graphs: list[str] | None
    accept: str | None = None  # from a format/output/results parameter; it overrides Accept
    sent: str | None = None  # the query as sent, where the engine is given another text (a byte
    # order mark dropped, escapes decoded): its error positions are counted in this one


MAX_FIELDS = 10_000


def _unquote(raw: bytes) -> bytes:
    """Form-decode ``raw`` ("+" is a space, "%XX" a byte); a malformed escape stays as written.

    Measured, urllib's pure-Python percent-decoding took 10-15 µs of a small query's request; this
    rewrites "%XX" as "\\xXX" (after doubling backslashes) for CPython's C escape decoder, the
    one pickle uses, and falls back to urllib only when an escape is malformed.
    """
    raw = raw.replace(b"+", b" ")
    if b"%" not in raw:
        return raw
    try:
        return codecs.escape_decode(raw.replace(b"\\", b"\\\\").replace(b"%", b"\\x"))[0]
    except ValueError:
        return unquote_to_bytes(raw)


def _not_utf8(where: str) -> ProtocolError:
    return ProtocolError(400, f"The {where} is not valid UTF-8 (SPARQL 1.1 Protocol requires UTF-8).")


def _params(raw: bytes, where: str, charset: str = "utf-8") -> list[tuple[str, str]]:
    """Decode ``application/x-www-form-urlencoded`` bytes strictly as UTF-8, or as the ``charset``
    a form body declares (as urllib's ``parse_qsl(keep_blank_values=True, errors="strict")``
    would, at most MAX_FIELDS fields)."""
    if raw.count(b"&") >= MAX_FIELDS:
        raise ProtocolError(400, f"The {where} is not valid form encoding: more than {MAX_FIELDS} fields.")
    params = []
    try:
        for field in raw.split(b"&"):
            if field:
                name, _, value = field.partition(b"=")
                params.append((_unquote(name).decode(charset), _unquote(value).decode(charset)))
    except UnicodeDecodeError:
        if charset != "utf-8":
            raise ProtocolError(400, f"The {where} is not valid {charset} (its declared charset).") from None
        raise _not_utf8(where) from None
    return params


# The Python codecs of the charsets IANA registers for text that a form body may declare (Python
# knows others by name, unicode_escape, idna or hz, which are no charsets: unicode_escape decoded
# "\\u0041" to "A": hostile testing).
_CHARSETS = re.compile(r"ascii|iso8859-\d+|cp\d{3,4}|koi8-[a-z]+|mac-[a-z]+|tis-620|euc_[a-z]+|"
                       r"shift_jis(?:_2004|x0213)?|gb2312|gbk|gb18030|big5(?:hkscs)?")


def _form_charset(cparams: dict[str, str]) -> str:
    """The charset a form body's percent-escapes are decoded with: the one its Content-Type names,
    where it is an encoding of ASCII (a form body is ASCII; older HTTP clients declare their
    platform's charset, ISO-8859-1 say, which got 415: endpoint audit), else UTF-8; ProtocolError
    (415) for a charset that is not known or does not write ASCII as ASCII (UTF-16, say)."""
    charset = cparams.get("charset", "utf-8")
    if charset in ("utf-8", "utf8", "us-ascii"):
        return "utf-8"
    try:
        known = codecs.lookup(charset).name
        ascii_compatible = ("query=%20+&".encode(known) == b"query=%20+&"
                            and _CHARSETS.fullmatch(known) is not None)
    except (LookupError, UnicodeError, ValueError):
        known, ascii_compatible = None, False
    if not ascii_compatible:
        raise ProtocolError(415, f"Unsupported charset {charset!r} for a form body: send UTF-8 or "
                                 "another charset that writes ASCII as ASCII (ISO-8859-1, windows-1252, …).")
    return known


def _media_type(header: str | None) -> tuple[str, dict[str, str]]:
    """Split a Content-Type header into its media type and parameters (lower-cased)."""
    if not header:
        return "", {}
    mtype, *params = header.split(";")
    parsed = {}
    for p in params:
        k, _, v = p.partition("=")
        parsed[k.strip().lower()] = v.strip().strip('"').lower()
    return mtype.strip().lower(), parsed


def _graph_iris(values: list[str], name: str) -> list[str]:
    """Validate graph IRIs given as protocol parameters (absolute IRIs only), each once: the
    default graph is the merge of the graphs named, and the named graphs a set (SPARQL 1.1 Query
    §13.2), but the engine given an IRI twice matched each of its statements twice (hostile
    testing)."""
    for v in values:
        try:
            ox.NamedNode(v)
        except ValueError:
            raise ProtocolError(400, f"{name} {v!r} is not an absolute IRI.") from None
    return list(dict.fromkeys(values))


def parse(method: str, content_type: str | None, url_query: bytes, body: bytes | None,
          content_encoding: str | None = None) -> QueryRequest | None:
    """Turn the request parts into a QueryRequest, None for "no query" (service description)."""
    if method != "POST" and url_query[:6] == b"query=" and b"&" not in url_query:
        return _only_query(url_query[6:])
    url_params = _params(url_query, "URL query string")
    body_params: list[tuple[str, str]] = []
    body_query: str | None = None
    if method == "POST":
        mtype, charset = _post_body_type(content_type, content_encoding)
        if mtype == FORM:
            body_params = _params(body or b"", "request body", charset)
            if any(k in ("query", "update") for k, _ in url_params):
                raise ProtocolError(400, "With a form-encoded POST, the query goes in the body, not the URL.")
            for name in ("default-graph-uri", "named-graph-uri"):  # merged, as they were, they
                # made a dataset neither place named (the Oxigraph server refuses it too)
                if any(k == name for k, _ in url_params) and any(k == name for k, _ in body_params):
                    raise ProtocolError(400, f"'{name}' is given both in the URL and in the form body; "
                                             "with a form-encoded POST every parameter goes in the body "
                                             "(SPARQL 1.1 Protocol §2.1.2).")
        elif mtype == SPARQL_QUERY:
            try:
                body_query = (body or b"").decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ProtocolError(400, f"The request body is not valid UTF-8 (byte {exc.start}).") from None
    params = url_params + body_params
    if any(k in ("update", "using-graph-uri", "using-named-graph-uri") and v.strip(_WS) for k, v in params):
        # an empty field is none (an HTML form with both fields sends update=: endpoint audit)
        raise ProtocolError(403, "SPARQL Update is not accepted: this endpoint is read-only.")
    queries = [v for k, v in params if k == "query"]
    if body_query is not None:
        if queries:
            raise ProtocolError(400, "The query is given twice: in the body and as a 'query' parameter.")
        queries = [body_query]
    if len(queries) > 1:
        raise ProtocolError(400, f"The 'query' parameter is repeated ({len(queries)} times); give exactly one.")
    defaults = [v for k, v in params if k == "default-graph-uri"]
    named = [v for k, v in params if k == "named-graph-uri"]
    if not queries:
        if method == "POST" or defaults or named:
            raise ProtocolError(400, "Missing query: give a 'query' parameter or a sparql-query body.")
        if others := list(dict.fromkeys(k for k, _ in params if k not in FORMAT_PARAMS)):
            raise ProtocolError(400, _no_query_but(others))  # a misspelt 'query' got the service
            # description with 200, which no results parser reads (hostile testing)
        return None
    if blank(queries[0]):
        raise _empty_query(body_query is not None, queries[0])
    dataset_given = bool(defaults or named)
    return QueryRequest(
        query=queries[0],
        default_graph=_graph_iris(defaults, "default-graph-uri") if dataset_given else None,
        named_graphs=_graph_iris(named, "named-graph-uri") if dataset_given else None,
        accept=format_accept(v for k, v in params if k in FORMAT_PARAMS),
    )


def post_media_type(content_type: str | None, content_encoding: str | None) -> str:
    """The media type of a POST's body, FORM or SPARQL_QUERY; ProtocolError for one its headers
    refuse: an encoded body, an update, another type, a charset it cannot be read in. Asked before
    the body is sent too, of a client waiting for 100 Continue (SparqlFirst.unsent)."""
    return _post_body_type(content_type, content_encoding)[0]


def _post_body_type(content_type: str | None, content_encoding: str | None) -> tuple[str, str]:
    """post_media_type, with the charset the body is decoded with."""
    coding = (content_encoding or "").strip()
    if coding.lower() not in ("identity", ""):  # compressed bodies are not decoded
        raise ProtocolError(415, f"Unsupported Content-Encoding {coding!r}: send the request "
                                 "body uncompressed.", {"Accept-Encoding": "identity"})
    mtype, cparams = _media_type(content_type)
    if mtype == SPARQL_UPDATE:
        raise ProtocolError(403, "SPARQL Update is not accepted: this endpoint is read-only.")
    if mtype not in (FORM, SPARQL_QUERY):
        raise ProtocolError(
            415, f"Unsupported Content-Type {mtype or '(none)'!r} for POST; use {FORM} or {SPARQL_QUERY}.")
    if mtype == FORM:
        return mtype, _form_charset(cparams)
    if cparams.get("charset", "utf-8") not in ("utf-8", "utf8", "us-ascii"):
        raise ProtocolError(415, f"Unsupported charset {cparams['charset']!r}: send UTF-8.")
    return mtype, "utf-8"


def format_accept(values) -> str | None:
    """The Accept header the values of format/output/results parameters stand for (None when none
    is given or all are empty, as an HTML form's unselected field sends them)."""
    values = sorted({v.strip().lower() for v in values} - {""})  # names and media types ignore case
    if not values:
        return None
    accepts = [_accept_of(v) for v in values]
    if len(accepts) > 1 and _disagree(accepts):
        raise ProtocolError(400, f"The format parameters disagree ({', '.join(values)}); "
                                 "give one format.")
    return ", ".join(dict.fromkeys(accepts))


def _accept_of(value: str) -> str:
    """The Accept header one format parameter's value stands for (lower-cased, not empty)."""
    if "/" in value:  # a media type, as Virtuoso takes it
        return _pluses(value)
    accept = FORMAT_NAMES.get(value)
    if accept is None:
        raise ProtocolError(400, f"Unknown result format {value!r}; give a media type or one of "
                                 f"{', '.join(FORMAT_NAMES)} (or use the Accept header).")
    return accept


def _pluses(value: str) -> str:
    """``value`` (media ranges) with a space inside a media type read as the "+" it was before
    form decoding (format=application/sparql-results+json, unencoded, was refused with 406); the
    spaces around the ranges and in their parameters stay (every space became "+", and
    "text/csv;q=0.1, application/sparql-results+json" chose CSV: hostile testing)."""
    ranges = []
    for media_range in value.split(","):
        media, sep, params = media_range.partition(";")
        ranges.append(media.strip().replace(" ", "+") + sep + params)
    return ", ".join(ranges)


# The kinds of answer a format is chosen for: query results, graphs and entity pages, datasets.
_KINDS = (negotiate.RESULTS, negotiate.ENTITY, negotiate.DATASET)


def _disagree(accepts: list[str]) -> bool:
    """Whether the Accept headers of several format parameters choose different formats for one kind
    of answer. What they stand for is compared, not how they are written: ``nt`` and ``ntriples``,
    ``csv`` and ``text/csv`` were refused as disagreeing (hostile testing)."""
    for table in _KINDS:
        if len({choice[1] for a in accepts if (choice := negotiate.choose(a, table))}) > 1:
            return True
    return False


def _no_query_but(names: list[str]) -> str:
    """The 400 message for a GET that names parameters, none of them 'query' (a case-sensitivity
    hint only where one is 'query' in other letters: hostile testing)."""
    shown = ", ".join(repr(n) for n in names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    hint = " (parameter names are case-sensitive)" if any(n.lower() == "query" for n in names) else ""
    return (f"Missing query: no 'query' parameter, but {shown}{hint}. "
            "GET /sparql with no parameters but format, output or results gives the service description.")


_WS = " \t\r\n"  # SPARQL's white space (WS), line ends ("\r", "\n") ending a comment
_LINES = re.compile(r"[\r\n]+")


def blank(query: str) -> bool:
    """Whether ``query`` (a byte order mark before it dropped) holds nothing but SPARQL's white
    space and comments (the engine's message for one of comments only was "expected [_]":
    endpoint audit). A line whose first character is "#" is a comment wherever it stands, since
    no string can be open where every line is one."""
    head = query.lstrip("\ufeff").lstrip(_WS)
    if head[:1] != "#":  # the common case, at once
        return not head
    return all(not line or line[0] == "#" for line in (part.strip(_WS) for part in _LINES.split(head)))


def _empty_query(body: bool = False, query: str = "") -> ProtocolError:
    """The 400 of an empty query: a POST of application/sparql-query sends it as the body."""
    where = "the request body (application/sparql-query) is" if body else "the 'query' parameter is"
    return ProtocolError(400, f"Missing query: {where} {'comments only' if '#' in query else 'empty'}.")


def _only_query(raw: bytes) -> QueryRequest:
    """``parse`` for the common GET whose URL holds one parameter, ``query`` (its value given):
    the same answer without the general path's lists (measured, 6 -> 2.4 µs on a label lookup)."""
    try:
        query = _unquote(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise _not_utf8("URL query string") from None
    if blank(query):
        raise _empty_query(query=query)
    return QueryRequest(query=query, default_graph=None, named_graphs=None)

