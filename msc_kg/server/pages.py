"""Pages for people: the landing page data, example queries from queries/*.rq, entity pages."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pyoxigraph as ox

from msc_kg.namespaces import MSC as ONTOLOGY_NS
from msc_kg.namespaces import MSCD as INSTANCE_NS
from msc_kg.server.results import json_term

LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
# Statements an entity page shows at most (or --max-rows, if lower): a class with 300 000 instances
# made a 17 MB page in 5-8 s, and four at once timed out (hostile testing); /sparql gives the rest.
MAX_ROWS = 1000
LABELS = 20  # labels of a statement's other end a page reads at most, on average

# The page's order: by direction, property, then the other end's text, datatype and language. Not
# by the other end itself: the engine aborts its process on some orderings of numbers mixed with
# other literals (see msc_kg.server.sortrisk), which one property's objects may be; these keys are
# strings and IRIs (or unbound), which order totally.
_ORDER = "DESC(?dir) ?p STR(?x) DATATYPE(?x) LANG(?x)"
# The entity's statements, outgoing (dir "out") and incoming ("in"), the first {limit} of them in
# the page's order. {e} is the entity as an N-Triples IRI (validated). The cap counts statements,
# not rows: each label of the other end made a row of its own (hostile testing). DISTINCT: the
# union default graph (--union-default-graph) holds a statement once per graph that has it.
_STATEMENTS = """{{ SELECT DISTINCT ?dir ?p ?x WHERE {{
    {{ {e} ?p ?x BIND("out" AS ?dir) }} UNION {{ ?x ?p {e} BIND("in" AS ?dir) }}
  }} ORDER BY %s LIMIT {limit} }}""" % _ORDER
# One SELECT gives everything an entity page shows: those statements with a label for the other
# end; asked for one statement more than shown, which tells whether the page is cut.
ENTITY_SELECT = """
SELECT DISTINCT ?dir ?p ?x ?xlabel WHERE {{
  %s
  OPTIONAL {{ ?x <%s> ?xlabel }}
}} ORDER BY %s
""" % (_STATEMENTS, LABEL, _ORDER)
# What RDF clients get, as the page shows it: the same statements (an entity seen only as an
# object was served an empty graph) and the labels of their other ends.
ENTITY_CONSTRUCT = """
CONSTRUCT {{ ?s ?p ?o . ?x <%s> ?l }}
WHERE {{
  %s
  BIND(IF(?dir = "out", {e}, ?x) AS ?s) BIND(IF(?dir = "out", ?x, {e}) AS ?o)
  OPTIONAL {{ ?x <%s> ?l }}
}}
""" % (LABEL, _STATEMENTS, LABEL)
# What the entity's own statements lead to, as DESCRIBE gives it (each resource's statements, blank
# nodes followed): blank nodes (an OWL class's restrictions and value sets) and the IRIs of its own
# document ({doc}#…, such as a finding's #anchor and the #quote and #position the anchor names).
# Pages gave the bare blank node, and a client stripping a fragment (RFC 3986 §3.5) fetched
# /id/finding-X and found nothing of finding-X#quote (linked-data review). Only from the statements
# the page keeps (the first {limit}): a capped page described the blank nodes of statements it cut
# (change review), and never the entity itself (a self-loop of a hash IRI gave all its statements
# past the cap: hostile testing). {doc}: the entity's IRI without its fragment, validated, so no
# '"' or '\\'.
ENTITY_CLOSURE = """DESCRIBE ?x ?h WHERE {{
  %s
  FILTER(?dir = "out" && ?x != {e} && (isBlank(?x) || isIRI(?x) && STRSTARTS(STR(?x), "{doc}#")))
  OPTIONAL {{ ?x ?q ?h FILTER(isIRI(?x) && ?h != {e}
                             && (isBlank(?h) || isIRI(?h) && STRSTARTS(STR(?h), "{doc}#"))) }}
}}""" % _STATEMENTS
# How many statements use the entity as their property: asked when it is neither subject nor object.
ENTITY_AS_PROPERTY = "SELECT (COUNT(*) AS ?n) WHERE {{ ?s {e} ?o }}"
# Whether the graph holds a triple term (RDF 1.2), and the statements whose triple term (an
# object) names an entity: scans, for a 404 (the first once, the second where there are any)
ANY_TRIPLE_TERM = "ASK { ?s ?p ?t FILTER(isTRIPLE(?t)) }"
ENTITY_IN_TRIPLE_TERMS = ("SELECT (COUNT(*) AS ?n) WHERE {{ ?s ?p ?t FILTER(isTRIPLE(?t) && "
                          "{e} IN (SUBJECT(?t), PREDICATE(?t), OBJECT(?t))) }}")


def example_queries(folder: Path) -> list[dict]:
    """The ``*.rq`` files of ``folder`` with their ``# Purpose:`` / ``# Returns:`` headers."""
    examples = []
    for path in sorted(Path(folder).glob("*.rq")) if Path(folder).is_dir() else []:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        meta = {"name": path.stem, "purpose": "", "returns": "", "query": text}
        for line in text.splitlines():
            stripped = line.strip()
            if not stripped.startswith("#"):
                break
            key, _, value = stripped.lstrip("#").strip().partition(":")
            if key.lower() in ("purpose", "returns"):
                meta[key.lower()] = value.strip()
        examples.append(meta)
    return examples


def local_link(iri: str) -> str:
    """The path of this server's page for ``iri``: /entity?iri=… where a path would lead elsewhere
    (a client removes "." and ".." segments, RFC 3986 §5.2.4, and the router merges "//")."""
    for ns, path in ((INSTANCE_NS, "/id/"), (ONTOLOGY_NS, "/ontology/")):
        local = iri[len(ns):]
        if iri.startswith(ns) and not any(seg in ("", ".", "..") for seg in local.split("/")):
            return path + quote(local)
    return "/entity?iri=" + quote(iri, safe="")


def property_link(iri: str) -> str:
    """Where a property's name links: its page here for the project's own terms, else the IRI
    itself when it is an http(s) address (rdfs:label's page here would say it is not in the graph,
    which holds it only as a property: hostile testing), else the page here."""
    if not iri.startswith((INSTANCE_NS, ONTOLOGY_NS)) and iri.startswith(("http://", "https://")):
        return iri
    return local_link(iri)


def short(iri: str, prefixes: dict[str, str]) -> str:
    """``iri`` as a prefixed name when a prefix matches."""
    for prefix, ns in prefixes.items():
        if iri.startswith(ns) and len(iri) > len(ns):
            return f"{prefix}:{iri[len(ns):]}"
    return iri


def entity_rows(body: bytes, cap: int) -> tuple[list[dict], list[dict], str | None, bool]:
    """Split the ENTITY_SELECT JSON results into outgoing rows, incoming rows, the label and
    whether the entity has more than ``cap`` statements (the rows of the one after are dropped)."""
    data = json.loads(body)
    out, inc, label = [], [], None
    seen: dict[tuple, None] = {}
    for b in data["results"]["bindings"]:
        seen.setdefault((b["dir"]["value"], b["p"]["value"], json.dumps(b["x"], sort_keys=True)))
        if len(seen) > cap:
            return out, inc, label, True
        row = {"p": b["p"]["value"], "x": b["x"], "xlabel": b.get("xlabel", {}).get("value")}
        if b["dir"]["value"] == "out":
            if row["p"] == LABEL and label is None and b["x"]["type"] == "literal":
                label = b["x"]["value"]
            out.append(row)
        else:
            inc.append(row)
    return out, inc, label, False


RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


def blank_nodes(ntriples: bytes) -> dict[str, list[tuple[str, dict]]]:
    """The statements of each blank node of ``ntriples`` (what ENTITY_CLOSURE describes), by its
    label, for the page to show a blank node's description where it had its bare label (an OWL
    class's owl:oneOf value set read "b0ae5004…": linked-data review)."""
    found: dict[str, list[tuple[str, dict]]] = {}
    for t in ox.parse(ntriples, format=ox.RdfFormat.N_TRIPLES, lenient=True):
        if isinstance(t.subject, ox.BlankNode):
            found.setdefault(t.subject.value, []).append((t.predicate.value, json_term(t.object)))
    for statements in found.values():
        statements.sort(key=lambda s: (s[0], json.dumps(s[1], sort_keys=True)))  # a triple term's
        # value is a dict, which does not order against a string
    return found


def list_items(blanks: dict, label: str) -> list[dict] | None:
    """The members of the RDF list (rdf:first, rdf:rest, ... rdf:nil) starting at blank node
    ``label``, or None when it is no well-formed list."""
    items, seen = [], set()
    while label not in seen:
        seen.add(label)
        statements = blanks.get(label, [])
        first = [o for p, o in statements if p == RDF_NS + "first"]
        rest = [o for p, o in statements if p == RDF_NS + "rest"]
        if len(first) != 1 or len(rest) != 1 or len(statements) != 2:
            return None
        items.append(first[0])
        if rest[0] == {"type": "uri", "value": RDF_NS + "nil"}:
            return items
        if rest[0]["type"] != "bnode":
            return None
        label = rest[0]["value"]
    return None

