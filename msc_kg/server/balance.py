"""Open-connection counts shared by the serving processes, so that the least busy one accepts.

All serving processes wait on the one listening socket and the kernel wakes them all for a new
connection; whichever calls accept() first gets it. Measured with 8 keep-alive clients and two
serving processes, that split the connections 6/2 or 5/3 more often than 4/4, and the process
with six was saturated (its Python work shares one interpreter lock) while the other idled. Each
process now publishes how many connections it has open, and one that has more than another live
process waits a moment before accepting, so the less busy one takes the connection; if nobody
takes it, the busier process accepts after all (no connection waits more than a few ms).
"""

from __future__ import annotations

import multiprocessing
import threading

ABSENT = -1  # a slot without a serving process (not started, retired, or dead)


class Balance:
    """A shared array of open-connection counts, one slot per serving process."""

    def __init__(self, slots: int):
        self.counts = multiprocessing.Array("i", [ABSENT] * slots, lock=False)
        self.slot: int | None = None  # this process's slot, once it serves
        self._lock = threading.Lock()  # set() and leave() run in different threads

    def join(self, slot: int) -> None:
        """In a new serving process: take ``slot`` (replacing any process that had it)."""
        self.slot = slot
        self.counts[slot] = 0

    def leave(self) -> None:
        """Stop taking connections: free the slot for a replacement and write to it no more."""
        with self._lock:
            if self.slot is not None:
                self.counts[self.slot] = ABSENT
                self.slot = None

    def clear(self, slot: int) -> None:
        """In the supervisor: mark the slot of a process that died as free."""
        self.counts[slot] = ABSENT

    def set(self, open_connections: int) -> None:
        """Publish this process's number of open connections."""
        with self._lock:  # never after leave(): the slot may be a replacement's by then
            if self.slot is not None:
                self.counts[self.slot] = open_connections

    def defer(self, open_connections: int) -> bool:
        """Whether another live serving process has fewer open connections than this one."""
        return any(ABSENT < c < open_connections
                   for slot, c in enumerate(self.counts[:]) if slot != self.slot)
