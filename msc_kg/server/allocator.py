"""The serving processes' memory allocator: mimalloc, preloaded when the system has it.

Oxigraph allocates and frees for every solution it makes. Measured on the 10⁵-triple benchmark
graph, with pyoxigraph in a Python process, glibc's malloc made the same queries 1.1-2.2× slower
than mimalloc (label lookup 53 → 24 µs, text search 5.9 → 3.2 ms, ORDER BY paging 19.6 → 14.3
ms; jemalloc was in between and glibc's tunables changed nothing). An allocator is chosen as a
process starts (it must serve every allocation, the interpreter's first ones too), so the server
command runs itself again with the library in ``LD_PRELOAD``; the loader and serving processes
are forked from it and share it. The variable is taken out again once the process runs, so the
commands it starts (the reasoner's Java runtime while building) keep the environment they were
given.

``MSC_KG_ALLOCATOR`` chooses: unset or ``auto`` (mimalloc if the dynamic loader finds it — the
Debian/Ubuntu package libmimalloc2.0 —, else the system allocator), ``system``, or the name
(``jemalloc``) or path of an allocator library to preload. An ``LD_PRELOAD`` set by the user is
left as it is.
"""

from __future__ import annotations

import ctypes.util
import os
import sys

VARIABLE = "MSC_KG_ALLOCATOR"
_MARK = "MSC_KG_PRELOADED"  # set for the second start: what LD_PRELOAD was (nothing)


def wanted(environ=os.environ) -> str | None:
    """The library to preload as ``environ`` asks, or None for the system allocator; ValueError
    saying why for a choice that names no library."""
    choice = environ.get(VARIABLE, "auto").strip() or "auto"
    if choice == "system":
        return None
    if choice == "auto":
        return ctypes.util.find_library("mimalloc")
    if any(c.isspace() or c == ":" for c in choice):  # LD_PRELOAD splits at both
        raise ValueError(f"{VARIABLE}={choice}: LD_PRELOAD cannot carry a name with spaces or "
                         "colons")
    if os.sep in choice:
        if not os.path.isfile(choice):
            raise ValueError(f"{VARIABLE}={choice}: no such file")
        return choice
    found = ctypes.util.find_library(choice.removeprefix("lib").split(".so")[0])
    if found is None:
        raise ValueError(f"{VARIABLE}={choice}: the dynamic loader knows no library of that name")
    return found


def preload() -> None:
    """Run this command (``sys.orig_argv``) again with the wanted allocator preloaded, once;
    return where none is wanted or the user set LD_PRELOAD. On the second start, restore the
    environment. A choice that names no library ends the process (status 2) with the reason."""
    if _MARK in os.environ:
        os.environ.pop(_MARK)
        os.environ.pop("LD_PRELOAD", None)
        return
    try:
        library = wanted()
    except ValueError as exc:
        print(f"error: {exc} (give 'auto', 'system', a library name such as jemalloc, or the "
              "path of an allocator library)", file=sys.stderr)
        raise SystemExit(2) from None
    if library is None or os.environ.get("LD_PRELOAD") or not sys.executable:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]],
              {**os.environ, "LD_PRELOAD": library, _MARK: ""})


_KNOWN = ("mimalloc", "jemalloc", "tcmalloc")  # allocators told by their library's name


def in_use(maps: str = "/proc/self/maps") -> str:
    """The allocator of this process: "mimalloc", "jemalloc" or "tcmalloc" when one of those
    libraries is mapped, else the file name of a mapped MSC_KG_ALLOCATOR library, else "system"."""
    try:
        with open(maps) as fh:
            names = {os.path.basename(line.split()[-1]) for line in fh if "/" in line}
    except OSError:
        return "system"
    for known in _KNOWN:
        if any(name.startswith(f"lib{known}") for name in names):
            return known
    chosen = os.path.basename(os.environ.get(VARIABLE, ""))
    return chosen if chosen in names else "system"
