"""A bounded LRU cache of query responses, and their entity tags (RFC 9110 §8.8.3, §13.1.2).

The served graph never changes while the server runs, so a response is determined by (query,
media type, dataset parameters) — except for queries calling non-deterministic functions (RAND,
NOW, UUID, STRUUID, BNODE), which the caller does not cache. The entity tag is therefore made of
a value drawn when the server starts (a restart may serve other data) and a hash of that key, not
of the body: measured, hashing a 90 KB result took 60 µs of a 1.3 ms query. It is weak ("W/"):
blank-node labels a CONSTRUCT template mints may differ between serving processes, so equal tags
promise equivalent responses, not identical bytes; If-None-Match compares weakly anyway.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict


class ResponseCache:
    """Thread-safe LRU mapping a key to (body, content type, headers); ``size`` 0 disables it.

    Bounded twice: at most ``size`` entries and ``max_bytes`` of bodies and the texts of their keys
    (an entry larger than a quarter of that is not kept), so a run of large results, or of long
    queries with short answers, cannot grow a process's memory.
    """

    def __init__(self, size: int, max_bytes: int = 64 * 1024 * 1024):
        self.size = size
        self.max_bytes = max_bytes
        self.bytes = 0
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.salt = os.urandom(8).hex()  # server.py sets the supervisor's, shared by all its processes

    def tag(self, key) -> str:
        """The weak entity tag of the response to ``key`` (a tuple of strings and tuples).

        Python's hash of a string is SipHash keyed by a per-interpreter secret, which the serving
        processes inherit from the supervisor, so they agree on it, replacements included (they
        also get its ``salt``); a restart draws new ones.
        """
        return f'W/"{self.salt}{hash(key) & 0xFFFFFFFFFFFFFFFF:016x}"'

    def get(self, key):
        """The cached value for ``key`` (and mark it recently used), or None."""
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, key, value) -> None:
        """Store ``value``, evicting the least recently used entry beyond ``size``."""
        size = _size(key, value)
        if self.size <= 0 or size > self.max_bytes // 4:
            return
        with self._lock:  # each entry keeps its size: measured, counting again cost 3 µs a put
            old = self._data.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self._data[key] = (value, size)
            self.bytes += size
            while len(self._data) > self.size or self.bytes > self.max_bytes:
                self.bytes -= self._data.popitem(last=False)[1][1]

    def __len__(self) -> int:
        return len(self._data)


def _size(key, value) -> int:
    """The bytes an entry counts for: its body and the texts of its key (a query of up to
    --max-body; hostile testing: 300 padded ASK queries kept 250 MB that the bound did not see)."""
    size = len(value[0])
    for part in key if type(key) is tuple else (key,):
        if type(part) is str:
            size += len(part)
        elif type(part) is tuple:
            for p in part:
                if type(p) is str:
                    size += len(p)
    return size
