"""Counts the serving processes share: open connections, so that the least busy one accepts, and
queries each is evaluating, so that a query waits its turn only while every core is busy.

All serving processes wait on the one listening socket and the kernel wakes them all for a new
connection; whichever calls accept() first gets it. Measured with 8 keep-alive clients and two
serving processes, that split the connections 6/2 or 5/3 more often than 4/4, and the process
with six was saturated (its Python work shares one interpreter lock) while the other idled. Each
process now publishes how many connections it has open, and one that has more than another live
process waits a moment before accepting, so the less busy one takes the connection; if nobody
takes it, the busier process accepts after all (no connection waits more than a few ms).

A serving process evaluates one query at a time while the others can wait a little
(msc_kg.server.inline.InlineEngine._take_turn): beside another in the same process a query costs
more processor time. That is worth a wait only while the other serving processes keep the other
cores busy; while one of them idles, a core is free, and a second query evaluated at once uses it.
"""

from __future__ import annotations

import multiprocessing
import threading

ABSENT = -1  # a slot without a serving process (not started, retired, or dead)


class Balance:
    """Shared arrays of open-connection counts and of queries being evaluated, one slot per
    serving process."""

    def __init__(self, slots: int):
        self.counts = multiprocessing.Array("i", [ABSENT] * slots, lock=False)
        self.busy = multiprocessing.Array("i", [0] * slots, lock=False)
        # the pid of a retired serving process that still takes connections for the slot until
        # its replacement serves (supervise._child), else 0: the supervisor then answers none
        self.held = multiprocessing.Array("i", [0] * slots, lock=False)
        self.slot: int | None = None  # this process's slot, once it serves
        self._lock = threading.Lock()  # set(), evaluating() and leave() run in different threads
        self._evaluating = 0  # queries this process is evaluating (published in ``busy``)

    def join(self, slot: int) -> None:
        """In a new serving process: take ``slot`` (replacing any process that had it)."""
        self.slot = slot
        self.busy[slot] = self._evaluating
        self.counts[slot] = 0

    def leave(self) -> None:
        """Stop taking connections: free the slot for a replacement and write to it no more."""
        with self._lock:
            if self.slot is not None:
                self.counts[self.slot] = ABSENT
                self.busy[self.slot] = 0
                self.slot = None

    def clear(self, slot: int) -> None:
        """In the supervisor: mark the slot of a process that died as free."""
        self.counts[slot] = ABSENT
        self.busy[slot] = 0

    def hold(self, slot: int, pid: int) -> None:
        """Say that retired process ``pid`` still takes connections for ``slot``."""
        self.held[slot] = pid

    def unhold(self, pid: int) -> None:
        """Say that ``pid`` takes no more connections (it stopped, or the supervisor reaped it)."""
        for slot, holder in enumerate(self.held[:]):
            if holder == pid:
                self.held[slot] = 0

    def holding(self) -> bool:
        """Whether a retired serving process still takes connections."""
        return any(self.held[:])

    def joined(self, slot: int) -> bool:
        """Whether a serving process has taken ``slot`` (a retired one's replacement)."""
        return self.counts[slot] != ABSENT

    def evaluating(self, change: int) -> None:
        """Count a query this process starts (1) or ends (-1) evaluating, and publish the count."""
        with self._lock:
            self._evaluating += change
            if self.slot is not None:
                self.busy[self.slot] = self._evaluating

    def live(self) -> int:
        """The serving processes that take connections now."""
        return sum(c != ABSENT for c in self.counts[:])

    def evaluated(self, here: int = 0) -> int:
        """The queries all serving processes are evaluating now, this one's counted as at least
        ``here``: a query that holds its turn may not have published its count yet (a second
        query then saw a core free and ran beside it, under load)."""
        busy = self.busy[:]
        if self.slot is not None and here > busy[self.slot]:
            busy[self.slot] = here
        return sum(busy)

    def set(self, open_connections: int) -> None:
        """Publish this process's number of open connections."""
        with self._lock:  # never after leave(): the slot may be a replacement's by then
            if self.slot is not None:
                self.counts[self.slot] = open_connections

    def defer(self, open_connections: int) -> bool:
        """Whether another live serving process has fewer open connections than this one."""
        return any(ABSENT < c < open_connections
                   for slot, c in enumerate(self.counts[:]) if slot != self.slot)
