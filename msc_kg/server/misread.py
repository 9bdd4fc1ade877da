"""IRI tokens the engine would read as code: where Oxigraph's lexer and the SPARQL grammar part ways.

The grammar takes the longest token (SPARQL 1.1 §19.8), so in ``FILTER(?a<?b&&?c>?d)`` the text
``<?b&&?c>`` is one IRI, which cannot follow ``?a``: a syntax error (W3C test syn-bad-26).
Oxigraph reads a ``<`` after an expression's term as "less than", and ``<<`` as the opening of a
triple term (SPARQL 1.2), and takes what follows as code. The scan in msc_kg.server.safety counts
brackets and operators and finds SERVICE on the grammar's tokens, so such a query could hide from
it, inside what it takes for an IRI, nesting that crashes the engine's recursive parser — or,
with a quote or a "#" in it, a string or comment reaching past the IRI that hides anything, a
SERVICE call included. Found by hand: a POST of "?o<" + 200 000 "!" + "?s>" ended a serving
process (SIGSEGV), and ``FILTER(?o<'>') SERVICE <…> {…} #'`` passed the federation check. Such
queries are refused, as the grammar says they should be.
"""

from __future__ import annotations

# A "(" or "[" in a group (not in an expression) after one of these opens a collection, a path or
# a VALUES row; after anything else (FILTER, BIND, a function's name, an operator) an expression.
_LIST_AFTER = frozenset({"{", ".", ";", ",", "(", "[", ")", "]", "A", "VALUES"})
_CLAUSES = frozenset({"GROUP", "HAVING", "ORDER"})  # their brackets hold expressions
_CLAUSE_ENDS = frozenset({"LIMIT", "OFFSET", "VALUES"})


def _shown(text: str) -> str:
    """``text`` for a message: at most 60 characters."""
    return text if len(text) <= 60 else text[:57] + "..."


def is_iri(tok: str) -> bool:
    """Whether the token text ``tok`` is an IRI ("<...>")."""
    return tok[0] == "<" and tok[-1] == ">" and len(tok) > 1


def _ends_term(tok: str) -> bool:
    """Whether ``tok`` can end an expression's term, after which the engine reads "<" as an
    operator: a variable, a literal, a number, an IRI or prefixed name, a closing bracket, true or
    false, or a language tag (one token: "@en")."""
    if not tok:
        return False
    first = tok[0]
    return (first in "?$'\")]" or first.isdigit() or is_iri(tok)
            or ":" in tok or tok.upper() in ("TRUE", "FALSE") or first == "@")


def in_expression(toks: list[str]) -> str | None:
    """Why the query of ``toks`` (its token texts) is refused, if it has an IRI token following a
    term inside an expression's brackets; else None."""
    frames: list[bool] = []  # per open bracket: whether it holds an expression
    clause = [False]  # per open bracket and the top level: inside GROUP BY, HAVING or ORDER BY
    # The bracket levels (len(frames)) of the SELECTs whose projection is being read, innermost
    # last: a projection ends at its WHERE, FROM or group, at its own level. One flag for the whole
    # query was cleared by the "{" of an EXISTS inside a projection, or by a subquery's, and the
    # projection's next expression went unread (hostile testing: "SELECT (EXISTS{} AS ?e)
    # (?a<'>' AS ?b) WHERE { SERVICE <…> {} } #'" called the service with federation off).
    projections: list[int] = []
    prev = before = ""
    for tok in toks:
        if tok == "{":
            if projections and projections[-1] == len(frames):
                projections.pop()
            frames.append(False)
            clause.append(False)
        elif tok == "(" or tok == "[":
            up = prev.upper()
            if tok == "(" and prev == "<" and before == "<":
                expression = False  # "<<(": a triple term (SPARQL 1.2), whose members are terms
            elif frames and frames[-1] or projections and projections[-1] == len(frames) or clause[-1]:
                expression = True
            elif tok == "[" or up in _LIST_AFTER:
                expression = False
            elif up in ("FILTER", "BIND") or before.upper() == "FILTER":
                expression = True  # FILTER(…), BIND(…), FILTER regex(…), FILTER <f>(…)
            else:  # after a subject or predicate, a collection or a path; else an expression
                expression = not _ends_term(prev)
            frames.append(expression)
            clause.append(False)
        elif tok in (")", "]", "}"):
            if frames:
                frames.pop()
                clause.pop()
            while projections and projections[-1] > len(frames):  # closed around an unfinished one
                projections.pop()
        elif is_iri(tok):
            # in an expression, a "}" closes an EXISTS group and ">>" a triple term: terms too
            # (hostile testing: "FILTER(EXISTS{}<'>') SERVICE <…> #'" hid the SERVICE call)
            if frames and frames[-1] and prev and (_ends_term(prev) or prev == "}"
                                                   or prev == ">" and before == ">"):
                return (f"Malformed query: {_shown(tok)!r} is an IRI (SPARQL takes the longest "
                        f"token), and an IRI cannot follow {_shown(prev)!r} in an expression; to "
                        "compare, put spaces around '<' and '>'.")
        elif tok[0].isalpha():
            up = tok.upper()
            if up == "SELECT":
                projections.append(len(frames))
            elif up == "WHERE" or up == "FROM" or up in _CLAUSES:
                if projections and projections[-1] == len(frames):
                    projections.pop()
                clause[-1] = clause[-1] or up in _CLAUSES
            elif up in _CLAUSE_ENDS:
                clause[-1] = False
        before, prev = prev, tok
    return None


def after_double_angle(spans: list[tuple[int, str]], query: str) -> str | None:
    """Why the query is refused, if it has an IRI token the engine would read from inside, after
    a "<<" it takes for a triple term: one preceded by an odd run of "<" (it pairs them from the
    left), as in "<<a#b>"; ``spans`` are its tokens' (start, text). Else None."""
    for start, tok in spans:
        if is_iri(tok) and start and query[start - 1] == "<":
            run = 1
            while run < start and query[start - run - 1] == "<":
                run += 1  # each "<" is walked once: an IRI token stands between two runs
            if run % 2:
                return (f"Malformed query: the engine reads {_shown('<<' + tok[1:])!r} as '<<' "
                        f"(a triple term, SPARQL 1.2) and {_shown(tok[1:])!r}, where SPARQL 1.1 "
                        f"reads '<' and the IRI {_shown(tok)!r}; put a space between them.")
    return None
