"""Large graph downloads sent while they are written: the writer runs in a thread, chunks pass a short queue.

Oxigraph writes a graph into a file-like object (``Store.dump(output)``, ``serialize(output=)``)
and releases the interpreter lock between writes; returning the whole body as bytes instead holds
the body in memory (741 MB of N-Triples at 5·10⁶ triples) and, measured at 10⁶ triples, holds the
lock for 90 ms at its end while the 148 MB bytes object is made, which stalls every other request
of the serving process. Here at most ``DEPTH`` chunks of ``CHUNK`` bytes wait for the client.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator

CHUNK = 1 << 18  # bytes per chunk handed to the connection
DEPTH = 4  # chunks written ahead of the client
_END = object()


class Abandoned(Exception):
    """The reader of a stream went away; raised in the writer to stop it."""


class _Sink:
    """The binary file-like given to the writer: collects writes, passes on CHUNK-sized chunks."""

    def __init__(self, out: queue.Queue, stop: threading.Event):
        self.out, self.stop, self.buf = out, stop, bytearray()

    def write(self, data) -> int:
        self.buf += data
        if len(self.buf) >= CHUNK:
            self.pass_on(bytes(self.buf))
            self.buf.clear()
        return len(data)

    def flush(self) -> None:
        pass

    def pass_on(self, item) -> None:
        """Queue ``item`` once there is room; Abandoned if the reader stopped meanwhile."""
        while not self.stop.is_set():
            try:
                self.out.put(item, timeout=0.2)
                return
            except queue.Full:
                continue
        raise Abandoned("the reader went away")


def chunks(write: Callable[[_Sink], object]) -> Iterator[bytes]:
    """Run ``write(output)`` in a thread and yield what it writes, about CHUNK bytes at a time.

    An exception of the writer is raised here, after the chunks written before it. Closing the
    iterator early (the client went away) stops the writer at its next write. The thread starts
    at the first ``next``, so an iterator never read costs nothing.
    """
    out: queue.Queue = queue.Queue(DEPTH)
    stop = threading.Event()
    sink = _Sink(out, stop)

    def run() -> None:
        try:
            write(sink)
            if sink.buf:
                sink.pass_on(bytes(sink.buf))
            end = _END
        except BaseException as exc:  # noqa: BLE001 — handed to the reader, which raises it
            end = exc
        try:
            sink.pass_on(end)
        except Abandoned:
            pass

    threading.Thread(target=run, daemon=True, name="msc-kg-stream").start()
    try:
        while (item := out.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
