"""The endpoint's settings: documented defaults, overridden by the ``config`` mapping of create_app."""

from __future__ import annotations

import os

from msc_kg.namespaces import MSCD as INSTANCE_NS
from msc_kg.paths import QUERIES_DIR

DEFAULTS = {
    "timeout": 30.0,  # seconds a query may run before its worker is killed (503)
    "max_rows": 100_000,  # SELECT rows / CONSTRUCT triples per response; announced in headers
    "max_body": 1_000_000,  # bytes of POST body; larger requests get 413
    "service_allow": (),  # SERVICE endpoints that may be called; empty = federation off
    "workers": min(4, os.cpu_count() or 1),  # query processes: forked workers, or (inline) the
    # serving processes of server.py
    "query_slots": 64,  # inline engine: queries evaluated at once per serving process; more wait
    # (up to the timeout, then 503). Many, so that the cores are shared: with 4, a quick query
    # waited in line behind a flood of slow ones (seconds; see README, Limits)
    "queue_ms": 100.0,  # inline engine: how long a query waits for the one its process is
    # evaluating, rather than evaluating beside it (which costs more; InlineEngine._take_turn);
    # none waits while a core is free
    "engine": "process",  # "process": a pool of forked query workers (create_app's default);
    # "inline": queries run in the serving thread under a watchdog (server.py, see supervise.py)
    "memory_mb": 2048,  # memory a query process may add beyond the loaded graph (address space
    # of a worker; resident memory of an inline serving process)
    "max_per_client": None,  # open connections one client address may hold per serving process:
    # None, half of --max-connections; 0, no cap (behind a proxy every client has its address)
    "union_default_graph": False,  # True: the default graph is the union of all graphs, its own too
    "base_iri": INSTANCE_NS,  # relative IRIs in queries resolve against this base
    "cors": True,  # Access-Control-Allow-Origin: * and preflight answers
    "cache_size": 256,  # responses kept in the LRU cache (0 disables it)
    "cache_mb": 64,  # and at most this many MB of response bodies and query texts (per process)
    "cache_max_age": 300,  # Cache-Control max-age of query responses, seconds
    "base_url": None,  # the service's public address ("https://kg.example.org/"): the service
    # description names its sparql and data under it; None: the address each request was sent to
    "manifest": None,  # release manifest (conforms, versions) shown in the service description
    "documents": None,  # RDF/XML files served at their ontology and version IRIs (documents.py);
    # None: the release's (build/msc-kg-ontology.owl, build/msc-kg.owl) when serving it, else none
    "queries_dir": QUERIES_DIR,  # *.rq example queries shown on the landing page
    "title": "msc-kg",
}

# The largest values the command lines take: a larger --max-rows (2**63) reached the row cap's
# islice, a --timeout of 1e10 s the clock's time_t, and every query got 500 while /health said ok;
# more serving processes or query slots than these only exhaust the machine (bad-input audit).
LIMITS = {"max_rows": 1_000_000_000, "timeout": 31_536_000.0, "queue_ms": 60_000.0, "workers": 256,
          "query_slots": 4096, "max_body": 1 << 40, "memory_mb": 1 << 30, "max_connections": 1_000_000}


def merge(config: dict | None) -> dict:
    """Defaults updated with ``config``; unknown keys are an error (a typo must not pass silently)."""
    merged = dict(DEFAULTS)
    unknown = set(config or {}) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown server settings: {', '.join(sorted(unknown))}")
    merged.update(config or {})
    merged["service_allow"] = frozenset(merged["service_allow"] or ())
    return merged
