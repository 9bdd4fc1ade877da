"""Whether an ORDER BY may compare numbers with other literals, or times and dates that conflict.

Oxigraph 0.5.13 orders literals it cannot compare (a number and a string, say) as equal, which is
not a total order; on some inputs of more than 20 rows Rust's sort detects that and panics, and
pyoxigraph aborts the process. Graph data alone does it: on the msc-kg release,
``SELECT ?o { ?s a owl:NamedIndividual ; ?p ?o FILTER(isLiteral(?o)) } ORDER BY ?o`` ended a
serving process. Measured on random mixes of 25-80 literals (25 each, in child processes), numbers
mixed with plain strings, language-tagged strings or dates set it off; mixes of non-numeric kinds
(plain with language-tagged strings, strings with dates or booleans, several languages) and of
numeric types among themselves did not. Times and dates did where some had a time zone and some
not (they compare indeterminately in XSD: xsd:dateTime and xsd:time, 4-8 of 60 random mixes;
xsd:date with zones 14 hours out, 11 of 40), or where zoned ones were of two families (a zoned
xsd:dateTime with zoned xsd:date or xsd:time values, 2-10 of 40; hostile testing). And the engine
orders such values (and durations) by value among their type but by their text against other
literals: where the two orders differ (zone offsets, a fraction before a zone, years outside
0000-9999, durations: APART), a string between them as text closes a cycle (hostile testing: 2-10
of 12 random mixes). Those are kinds of their own that conflict; local ones of two families, zoned
ones of one and values in the order of their text beside strings did not. So a query is evaluated apart (in the isolation worker,
as for values of its own) when an ORDER BY condition may take numbers and other literals of the
graph together (or such times and dates), judged from which kinds of literal each predicate has (``literal_kinds``, computed
once per load), which kind a call binds (``_CALL_KINDS``: STRLEN's numbers ordered with labels
aborted the engine on the release too) and where the ordered variable is bound; the kinds of the
query's own values that reach it (safety.own_value_kinds) count as well. Where unsure, it is
judged risky. tests/test_server_safety.py checks the verdicts against the engine on 5 000 random
orderings of the release.
"""

from __future__ import annotations

from itertools import compress

import pyoxigraph as ox

from msc_kg.server.iri import resolve
from msc_kg.server.results import PREFIXES

NUMBER, TEXT = 1, 2  # kinds of literal: numbers, and other literals (strings, booleans, ...)
BOTH = NUMBER | TEXT
# Literals the engine orders by value within their type and by their text against anything else:
# times and dates, without a time zone and with one, and of which family (xsd:dateTime and
# xsd:dateTimeStamp; xsd:time; xsd:date; the Gregorian gYear, gYearMonth, gMonth, gDay and
# gMonthDay), and durations
LOCAL_TIME, ZONED_TIME = 4, 8
DATETIME, TIME, DATE, GREGORIAN, DURATION = 16, 32, 64, 128, 256
# Such values whose order by value may differ from their order as text: a time zone offset
# ("10:00:00+05:00" comes before "06:00:00Z"), seconds with a fraction before a zone, a year
# before 0 or after 9999, any duration ("P2D" before "P10D"). Beside another literal that falls
# between them as text, the engine's order has a cycle and its sort aborts.
APART = 512
_FAMILIES = DATETIME | TIME | DATE | GREGORIAN
_VALUED = _FAMILIES | DURATION
ANY = BOTH | LOCAL_TIME | ZONED_TIME | _VALUED | APART  # what an unknown value may be

# Each predicate's kinds of object, as codes: a literal's, or for a triple term (SPARQL 1.2) its
# object's, which an ordering of triple terms compares (hostile testing: triple terms holding
# numbers and strings aborted a serving process, the query naming no triple term); one nested
# deeper counts as any, and so does a duration its type does not allow ("P1M"^^xsd:dayTimeDuration:
# mixes of such with valid durations aborted the engine, 3 of 80 random ones; valid durations of
# all three types together did not, nor did ill-typed numbers, dates or booleans). A time or date
# is its family's code, "Z" or "L" for a zone or none, and "a" if APART. Measured at 10⁶ triples:
# 1.2 s, as long as the aggregate it replaced.
_KINDS_QUERY = r"""
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
SELECT DISTINCT ?p ?code WHERE {
  { ?s ?p ?x } UNION { GRAPH ?g { ?s ?p ?x } } FILTER(!isIRI(?x) && !isBLANK(?x))
  BIND(IF(isLITERAL(?x), ?x, OBJECT(?x)) AS ?o) FILTER(!isIRI(?o) && !isBLANK(?o))
  BIND(DATATYPE(?o) AS ?t)
  BIND(IF(isTRIPLE(?o), "any", IF(isNUMERIC(?o), IF(?o = ?o, "n", "nan"),
       IF(?t = xsd:string || ?t = rdf:langString, "s",
       IF(?t IN (xsd:dateTime, xsd:dateTimeStamp), "dt", IF(?t = xsd:time, "t",
       IF(?t = xsd:date, "d", IF(?t IN (xsd:gYear, xsd:gYearMonth, xsd:gMonth, xsd:gDay,
                                         xsd:gMonthDay), "g",
       IF(?t IN (xsd:duration, xsd:dayTimeDuration, xsd:yearMonthDuration),
          IF(isNUMERIC(COALESCE(IF(?t = xsd:duration, xsd:duration(STR(?o)),
                                   IF(?t = xsd:dayTimeDuration, xsd:dayTimeDuration(STR(?o)),
                                      xsd:yearMonthDuration(STR(?o)))), 0)), "any", "du"),
          "s")))))))) AS ?f)
  BIND(IF(?f IN ("dt", "t", "d", "g"),
          CONCAT(?f, IF(REGEX(STR(?o), "(Z|[+-][0-9][0-9]:[0-9][0-9])$"), "Z", "L"),
                 IF(REGEX(STR(?o), "[+-][0-9][0-9]:[0-9][0-9]$|[.][0-9]*Z$|^-[0-9]|^[0-9]{5}"),
                    "a", "")), ?f) AS ?code)
}
"""
_CODES = {"n": NUMBER, "nan": BOTH, "s": TEXT, "any": ANY, "du": DURATION | APART}  # a NaN
# compares with no number
for _code, _family in (("dt", DATETIME), ("t", TIME), ("d", DATE), ("g", GREGORIAN)):
    for _zone, _kind in (("L", LOCAL_TIME), ("Z", ZONED_TIME)):
        _CODES[_code + _zone] = _kind | _family
        _CODES[_code + _zone + "a"] = _kind | _family | APART


def literal_kinds(store: ox.Store) -> dict[str, int]:
    """For each predicate with literal objects (or triple terms) in any graph, the kinds among them
    (see _KINDS_QUERY and _CODES)."""
    kinds: dict[str, int] = {}
    for row in store.query(_KINDS_QUERY):
        predicate = row["p"].value
        kinds[predicate] = kinds.get(predicate, 0) | _CODES[row["code"].value]
    return kinds


def _several(bits: int) -> bool:
    return bits & (bits - 1) != 0


def risky(kind: int) -> bool:
    """Whether values of these kinds together may abort an ordering: numbers with other literals;
    times or dates with and without a zone, or zoned ones of two families; APART values with
    other literals or values of another family."""
    return bool(kind & NUMBER and kind & ~NUMBER or kind & LOCAL_TIME and kind & ZONED_TIME
                or kind & ZONED_TIME and _several(kind & _FAMILIES)
                or kind & APART and (kind & TEXT or _several(kind & _VALUED)))


class GraphKinds(dict):
    """literal_kinds of a served graph, with the kinds of all its literals (``union``), computed
    once."""

    def __init__(self, kinds: dict[str, int]):
        super().__init__(kinds)
        self.union = union(kinds)


def union(kinds: dict[str, int]) -> int:
    """The kinds of all the literals of a graph with these literal_kinds: what a variable bound
    by any of its predicates may be."""
    if isinstance(kinds, GraphKinds):
        return kinds.union
    found = 0
    for kind in kinds.values():
        found |= kind
    return found


# Calls whose value is always of one kind (or an error, which orders as unbound), and that kind:
# numbers, other literals (NOW's a zoned time), or no literal (an IRI or a blank node). A variable bound by one
# (BIND(STRLEN(?l) AS ?v)) takes that kind, which may meet another binding's: ordering strings
# with STRLEN's numbers aborted the engine on the release. STRDT, casts and other functions named
# by IRI, IF, COALESCE, MIN, MAX and SAMPLE may give either, and so may any operator expression.
_CALL_KINDS = {
    **dict.fromkeys(("COUNT", "SUM", "AVG", "STRLEN", "ABS", "ROUND", "CEIL", "FLOOR", "RAND",
                     "YEAR", "MONTH", "DAY", "HOURS", "MINUTES", "SECONDS"), NUMBER),
    **dict.fromkeys(("STR", "LANG", "ENCODE_FOR_URI", "MD5", "SHA1", "SHA256", "SHA384", "SHA512",
                     "STRUUID", "GROUP_CONCAT", "LCASE", "UCASE", "SUBSTR", "CONCAT", "REPLACE",
                     "STRBEFORE", "STRAFTER", "STRLANG", "TZ", "BOUND", "ISIRI",
                     "ISURI", "ISBLANK", "ISLITERAL", "ISNUMERIC", "REGEX", "CONTAINS", "STRSTARTS",
                     "STRENDS", "SAMETERM", "LANGMATCHES", "EXISTS"), TEXT),
    **dict.fromkeys(("DATATYPE", "IRI", "URI", "BNODE", "UUID"), 0),
    "NOW": ZONED_TIME | DATETIME | APART,  # an xsd:dateTime with a zone and fractional seconds
    "TIMEZONE": DURATION | APART,  # an xsd:dayTimeDuration
}
_OPEN = {"(": ")", "[": "]", "{": "}"}
_BRACKETS = frozenset("()[]{}")
# Tokens after which a "(" opens no collection: a call, a bracketed expression or a list.
_NO_COLLECTION_BEFORE = frozenset({"FILTER", "BIND", "VALUES", "BY", "HAVING", "AS", "NOT"})
_ENDS_OBJECT = frozenset({".", ";", ",", "}", "]"})
_CLAUSES = frozenset({"ORDER", "GROUP"})  # followed by BY
_MARKS = frozenset({"SELECT", "WHERE", "{", "("})  # tokens the walk for bindings acts on
_AS = frozenset({"AS"})
# What may follow a GROUP BY or ORDER BY clause's conditions (grammar [18]-[25], [28]), "}"
# closing a subquery and ")" the expression "(... AS ?v)" of a projection holding one
_AFTER_CONDITIONS = frozenset({"HAVING", "ORDER", "LIMIT", "OFFSET", "VALUES", "}", ")"})
# Tokens that end a triple pattern's object (besides _ENDS_OBJECT): a clause or group after it,
# a reifier ("~", SPARQL 1.2) and the end of an annotation ("{| ex:q ?o |}"; no path follows a
# variable, so "|" after one is that)
_AFTER_OBJECT = frozenset({"FILTER", "OPTIONAL", "MINUS", "BIND", "VALUES", "GRAPH", "SERVICE",
                           "UNION", "LATERAL", "{", "~", "|"})
# Path operators after a subject's first step that may bind it to an object too: an alternative
# ("p|^q") or a zero-length path ("p*", "p?", which match every node of the graph, literals too)
_OBJECT_PATHS = frozenset({"|", "*", "?"})
_PATH_TOKENS = frozenset({"a", "/", "+", "!", "(", ")"})  # besides IRIs, names and _OBJECT_PATHS
RDF_TYPE, RDF_FIRST = PREFIXES["rdf"] + "type", PREFIXES["rdf"] + "first"


def where(values: list[str], wanted) -> list[int]:
    """The indexes of ``values`` that are in ``wanted`` (a set), in order, found without a loop in
    Python (compress over the set's membership: measured, three quarters of a list
    comprehension's time)."""
    return list(compress(range(len(values)), map(wanted.__contains__, values)))


def _matches(toks: list[str]) -> list[int] | None:
    """For each bracket, the index of its partner (-1 elsewhere); None when they do not pair."""
    match, stack = [-1] * len(toks), []
    for i in where(toks, _BRACKETS):  # the brackets alone: faster
        tok = toks[i]
        if tok in _OPEN:
            stack.append(i)
        elif not stack or _OPEN[toks[stack[-1]]] != tok:
            return None
        else:
            match[i] = stack.pop()
            match[match[i]] = i
    return None if stack else match


def _is_term(tok: str) -> bool:
    """A variable, IRI, prefixed name, literal, blank node label or "a"."""
    first = tok[0]
    return (first in "?$<\"'" or first.isdigit() or ":" in tok or tok == "a"
            or tok.upper() in ("TRUE", "FALSE"))


def orders_mixed_literals(toks: list[str], kinds: dict[str, int], prefixes: dict[str, str],
                          base: str, own: dict[str, int] | None = None) -> bool:
    """Whether an ORDER BY condition of the query with tokens ``toks`` may order numbers and other
    literals of a graph whose predicates have ``kinds`` of literal (see literal_kinds and risky);
    ``prefixes`` and ``base`` are the query's (safety.prologue); ``own``: the kinds of the
    query's own values that may reach each variable it orders by (safety.own_value_kinds)."""
    own = own or {}
    upper = list(map(str.upper, toks))
    if "ORDER" not in upper:
        return False
    match = _matches(toks)
    if match is None:
        return True  # the engine will refuse it; judged risky all the same
    ordered: set[str] = set()  # the variables the ORDER BY conditions order by, bare
    listed = [False] * len(toks)  # tokens of ORDER BY and GROUP BY clauses: no pattern's
    n = len(toks)
    j = 0  # where the clause read last ended: a clause's own tokens start none
    for i in where(upper, _CLAUSES):
        if i >= j and i < n - 1 and upper[i + 1] == "BY":
            j = i + 2
            while j < n:
                tok = toks[j]
                if tok[0] in "?$":
                    if upper[i] == "ORDER":
                        ordered.add(tok[1:])
                    listed[j] = True
                    j += 1
                    continue
                start = j + 1 if upper[j] in ("ASC", "DESC") else j
                if start >= n:
                    break
                group = start + 1 + (upper[start] == "NOT")  # "EXISTS {" or "NOT EXISTS {"
                if toks[start] == "(":  # a bracketed expression: its inside
                    inner, end, stop = start + 1, match[start], match[start] + 1
                elif start + 1 < n and toks[start + 1] == "(":  # a call: all of it
                    inner, end = start, match[start + 1] + 1
                    stop = end
                elif (upper[group - 1] == "EXISTS" and group < n and toks[group] == "{"
                      and (upper[start] == "EXISTS" or upper[start] == "NOT")):
                    inner, end = start, match[group] + 1  # all of it (the clause went on after
                    stop = end  # it: "ORDER BY EXISTS{} ?o" hid ?o; hostile testing)
                elif upper[start] in _AFTER_CONDITIONS:
                    break  # the clause ended
                else:
                    return True  # what the clause holds cannot be told: judged risky
                if upper[i] == "ORDER":
                    kind = _expression(toks, upper, match, inner, end)
                    if kind is None:
                        return True
                    if kind:
                        ordered.add(kind)
                for k in range(j, stop):
                    listed[k] = upper[k - 1] != "AS"  # "GROUP BY (... AS ?v)" binds ?v
                j = stop
    if not ordered:
        return False
    found: dict[str, int] = {}
    projecting = False
    openers = None  # _as_openers, made at the first variable ordered by that follows AS
    # The tokens the walk acts on: those that start or end a projection, "(" and the variables
    # ordered by (measured: walking every token was most of the check's time on long queries).
    # Found upper-cased, so a variable differing in case only is walked to as well and passed by.
    marks = _MARKS | {(sigil + name).upper() for name in ordered for sigil in "?$"}
    for i in where(upper, marks):
        tok, up = toks[i], upper[i]
        if up == "SELECT":
            projecting = True
        elif projecting and (up == "WHERE" or tok == "{"):
            projecting = False
        elif tok == "(" and not projecting and i and _is_term(toks[i - 1]) and (i < 2 or upper[i - 2] not in _NO_COLLECTION_BEFORE
                                              and upper[i - 2] not in _CALL_KINDS):
            # "(" right after a term in a triple pattern opens a collection, whose members are
            # bound as objects of rdf:first; a call by IRI in FILTER or BIND is let through
            if not (toks[i - 1][0] in "<" or ":" in toks[i - 1]) or _after_term(toks, i - 1):
                return True
        elif tok == "(" and not projecting and i and kinds.get(RDF_FIRST) and not _bare_word(toks[i - 1]):
            return True  # maybe a collection (after a group, a clause, a path, in an object list:
            # hostile testing), whose members are the graph's rdf:first objects, literals among
            # them; a "(" after a keyword or a function's name opens an expression
        if tok[0] not in "?$" or tok[1:] not in ordered or listed[i] \
                or projecting and upper[i - 1] != "AS":
            continue
        if openers is None and upper[i - 1] == "AS":
            openers = _as_openers(toks, upper)
        kind = _binding(toks, upper, match, i, kinds, prefixes, base, openers)
        found[tok[1:]] = found.get(tok[1:], 0) | kind
        if risky(found[tok[1:]] | own.get(tok[1:], 0)):
            return True
    return False


def _bare_word(tok: str) -> bool:
    """Whether ``tok`` is a keyword or a built-in function's name (no IRI, name or variable)."""
    return tok[0].isalpha() and ":" not in tok


def _object_path(toks: list[str], start: int) -> bool:
    """Whether the path starting at toks[start] (its IRIs, names and operators, up to the first
    other token) holds an alternative, an inverse or a zero-length step, through which its
    subject may be bound to an object too ("?v p/q|!r? ?s": "|" binds looser than "/"; hostile
    testing)."""
    for k in range(start, len(toks)):
        tok = toks[k]
        if tok in _OBJECT_PATHS or tok == "^":
            return True
        if not (tok[0] == "<" or ":" in tok or tok in _PATH_TOKENS):
            return False
    return False


def _after_term(toks: list[str], i: int) -> bool:
    """Whether toks[i] follows a term or ";" or "[" (so it is a predicate, not a function name)."""
    return i > 0 and (_is_term(toks[i - 1]) or toks[i - 1] in (";", "[", "]"))


def _expression(toks, upper, match, start: int, end: int) -> str | int | None:
    """What an ORDER BY expression toks[start:end] orders by: a variable's name when it is only
    that variable, 0 when its value is of one kind, None when it may mix kinds."""
    while toks[start] == "(" and match[start] == end - 1:
        start, end = start + 1, end - 1  # "((?v))"
    if end - start == 1 and toks[start][0] in "?$":
        return toks[start][1:]
    return 0 if _one_kind(toks, upper, match, start, end) is not None else None


def _one_kind(toks, upper, match, start: int, end: int) -> int | None:
    """The kind of the expression toks[start:end] (see _CALL_KINDS) when it is a call whose value
    is of one kind, or an EXISTS or NOT EXISTS (a boolean); else None."""
    if upper[start] == "NOT":
        start += 1
    if start + 1 >= end or match[start + 1] != end - 1:
        return None
    if toks[start + 1] == "(" and upper[start] in _CALL_KINDS:
        return _CALL_KINDS[upper[start]]
    return TEXT if toks[start + 1] == "{" and upper[start] == "EXISTS" else None


def _as_openers(toks: list[str], upper: list[str]) -> dict[int, int]:
    """For each token after AS, the index of the "(" the expression "( ... AS ?v )" opens with
    (-1 when the innermost bracket around it is another, or none is). One pass over the brackets:
    walking back from each AS took time quadratic in nested projections (hostile testing: 4.9 s
    for 870 KB)."""
    openers, stack = {}, []
    after = [i + 1 for i in where(upper, _AS) if i + 1 < len(toks)]
    for i in sorted({*where(toks, _BRACKETS), *after}):
        tok = toks[i]
        if tok in _OPEN:
            stack.append(i)
        elif tok in _BRACKETS:
            if stack:
                stack.pop()
        else:
            openers[i] = stack[-1] if stack and toks[stack[-1]] == "(" else -1
    return openers


def _binding(toks, upper, match, i: int, kinds, prefixes, base: str, openers: dict[int, int] | None) -> int:
    """The kinds of literal the variable at toks[i] may be bound to there: 0 for a use (in an
    expression, a list, a subject or predicate position), the kind of the call it is bound to
    ("(STRLEN(?l) AS ?v)"), else the kinds its predicate has. ``openers``: _as_openers (needed,
    and made, only where toks[i] follows AS)."""
    prev = toks[i - 1] if i else ""
    nxt = toks[i + 1] if i + 1 < len(toks) else "}"
    if i >= 2 and upper[i - 1] == "AS":
        k = openers.get(i, -1)  # the "(" the expression "( ... AS ?v )" opens with
        if k >= 0 and k + 2 == i - 1 and (toks[k + 1][0] in "\"'0123456789"
                                          or upper[k + 1] in ("TRUE", "FALSE")):
            return 0  # a constant: the query's own value, whose kind own_value_kinds gives
        kind = _one_kind(toks, upper, match, k + 1, i - 1) if k >= 0 else None
        return ANY if kind is None else kind
    if nxt not in _ENDS_OBJECT and nxt.upper() not in _AFTER_OBJECT:
        # followed by more of a pattern: a subject or predicate, or inside an expression; but a
        # subject of an inverse, negated or grouped path ("?v ^p ?s") or of an alternative or
        # zero-length one may be bound to an object as well (hostile testing: aborted)
        if nxt in ("^", "!", "(") or _object_path(toks, i + 1):
            return union(kinds)
        return 0
    if prev in ("(", "[", "{", ".", "}", ";", "") or upper[i - 1] in ("BY", "SELECT", "DISTINCT",
                                                                        "REDUCED", "GRAPH", "VALUES"):
        return 0  # an expression's, a list's or a group's, not an object (a VALUES list's values
        # are the query's own, whose kinds own_value_kinds gives)
    if not (prev[0] in "<" or ":" in prev or prev == "a"):
        return union(kinds)  # after a variable predicate, a path or in an object list: any
        # literal of the graph
    k = i - 2
    while k >= 1 and toks[k] == "/" and (toks[k - 1][0] == "<" or ":" in toks[k - 1] or toks[k - 1] == "a"):
        k -= 2  # a sequence path "p/q/r ?v": ?v is an object of its last step, r
    if k >= 0 and toks[k] in ("/", "|", "^", "!", "(", ")", "*", "+", "?") \
            or not _after_term(toks, k + 1):
        return union(kinds)  # another path ("!a", "p|a": hostile testing), or an expression
    if prev == "a":  # rdf:type, whose objects may be literals in served data
        return kinds.get(RDF_TYPE, 0)
    iri = _iri(prev, prefixes, base)
    return union(kinds) if iri is None else kinds.get(iri, 0)


def _iri(tok: str, prefixes: dict[str, str], base: str) -> str | None:
    """The IRI a predicate token names, None when it cannot be told (undeclared, escaped, or
    relative with no absolute base). An escape left in an IRI the engine decodes ("<p\\u0041>" is
    <pA> to it): told as unknown."""
    if tok[0] == "<":
        return None if "\\" in tok else resolve(base, tok[1:-1])
    prefix, _, local = tok.partition(":")
    namespace = prefixes.get(prefix)
    return (None if namespace is None or "\\" in namespace or "\\" in local or "%" in local
            else namespace + local)

