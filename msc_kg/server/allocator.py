"""The serving processes' memory allocator: mimalloc, preloaded when the system has it.

Oxigraph allocates and frees for every solution it makes. Measured on the 10⁵-triple benchmark
graph, with pyoxigraph in a Python process, glibc's malloc made the same queries 1.07-2.2× slower
than mimalloc (label lookup 53 → 24 µs, text search 5.9 → 3.2 ms, ORDER BY paging 19.6 → 14.3
ms; in a repeat 49 → 23 µs, 5.6 → 3.5 ms, 18.7 → 17.4 ms; jemalloc was in between and glibc's
tunables changed nothing). An allocator is chosen as a
process starts (it must serve every allocation, the interpreter's first ones too), so the server
command runs itself again with the library in ``LD_PRELOAD``; the loader and serving processes
are forked from it and share it. The variable is taken out again once the process runs, so the
commands it starts (the reasoner's Java runtime while building) keep the environment they were
given.

``MSC_KG_ALLOCATOR`` chooses: unset or ``auto`` (mimalloc if the dynamic loader finds it — the
Debian/Ubuntu package libmimalloc2.0 —, else the system allocator), ``system``, or the name
(``jemalloc``) or path of an allocator library to preload. An ``LD_PRELOAD`` set by the user is
left as it is. A program that cannot be read twice (``python - < server.py``, a pipe) is not
started again: it is served with the system allocator, and says so.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

VARIABLE = "MSC_KG_ALLOCATOR"
# Set for the second start: "<pid>:<process name>" (exec keeps the pid, so an inherited one is
# told apart). mimalloc's own settings are left at their defaults: it gives freed pages back to
# the system 100 ms after they are freed, so a query holds more resident memory for a while than
# with glibc's malloc and meets a small --memory-mb sooner (hostile testing: an isolated query
# with a 10 MB answer needed 64-96 MB rather than 48-64); without the delay
# (MIMALLOC_RESET_DELAY=0) it needed no more than with glibc's malloc, but queries making many
# solutions took 12-40% longer at 10⁶ triples (the materialised contradictions 14.9 → 17.3 ms, the
# comparison of Table 1 with the body 101 → 127 ms), so that choice is left to the operator.
_MARK = "MSC_KG_PRELOADED"
_KNOWN = ("mimalloc", "jemalloc", "tcmalloc")  # allocators told by their library's name
_ELF64 = b"\x7fELF\x02"  # the start of a 64-bit ELF file


def wanted(environ=os.environ) -> str | None:
    """The library to preload as ``environ`` asks, or None for the system allocator; ValueError
    saying why for a choice that names no library."""
    choice = environ.get(VARIABLE, "auto").strip() or "auto"
    if choice.lower() == "system":
        return None
    if choice.lower() == "auto":
        return ctypes.util.find_library("mimalloc")
    if any(c.isspace() or c == ":" for c in choice):  # LD_PRELOAD splits at both
        raise ValueError(f"{VARIABLE}={choice}: LD_PRELOAD cannot carry a name with spaces or "
                         "colons")
    if os.sep in choice or choice.startswith("~"):
        path = os.path.abspath(os.path.expanduser(choice))  # the second start may not share cwd
        if not os.path.isfile(path):
            raise ValueError(f"{VARIABLE}={choice}: no such file" if not os.path.exists(path)
                             else f"{VARIABLE}={choice}: not a file")
        with open(path, "rb") as fh:
            if fh.read(len(_ELF64)) != _ELF64:
                raise ValueError(f"{VARIABLE}={choice}: not a 64-bit ELF shared library")
        return path
    found = ctypes.util.find_library(choice.removeprefix("lib").split(".so")[0])
    if found is None:
        raise ValueError(f"{VARIABLE}={choice}: the dynamic loader knows no library of that name")
    return found


def _rereadable() -> bool:
    """Whether running ``sys.orig_argv`` again runs this program again: not when it was read from
    standard input or a pipe, which the first start has read to the end."""
    script = sys.argv[0] if sys.argv else ""
    return script in ("-c", "-m") or bool(script) and script != "-" and os.path.isfile(script)


def preload() -> None:
    """Run this command (``sys.orig_argv``) again with the wanted allocator preloaded, once;
    return where none is wanted or the user set LD_PRELOAD. On the second start, restore the
    environment and the process name, and say so if the library did not become the allocator.
    A choice that names no library ends the process (status 2) with the reason."""
    pid, _, name = os.environ.pop(_MARK, "").partition(":")
    if pid == str(os.getpid()):
        os.environ.pop("LD_PRELOAD", None)
        if name:
            from msc_kg.server.supervise import name_process

            name_process(name.encode())
        if in_use() == "system":
            print(f"msc-kg: {os.environ.get(VARIABLE) or 'mimalloc'} was not loaded as the "
                  "allocator (see the dynamic loader's message above); serving with the system "
                  "allocator", file=sys.stderr)
        return
    try:
        library = wanted()
    except ValueError as exc:
        print(f"error: {exc} (give 'auto', 'system', a library name such as jemalloc, or the "
              "path of an allocator library)", file=sys.stderr)
        raise SystemExit(2) from None
    if library is None or os.environ.get("LD_PRELOAD", "").strip() or not sys.executable:
        return
    if not _rereadable():
        print("msc-kg: the program was read from standard input or a pipe and cannot be started "
              f"again with {os.path.basename(library)} preloaded; serving with the system allocator",
              file=sys.stderr)
        return
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]],
              {**os.environ, "LD_PRELOAD": library, _MARK: f"{os.getpid()}:{_process_name()}"})


def _process_name() -> str:
    """This process's name as ps shows it (Linux; "" elsewhere)."""
    try:
        with open("/proc/self/comm") as fh:
            return fh.read().strip()
    except OSError:
        return ""


class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def malloc_library() -> str | None:
    """The file of the library whose ``malloc`` this process calls (dladdr(3)), or None."""
    try:
        libc = ctypes.CDLL(None)
        info = _DlInfo()
        address = ctypes.cast(libc.malloc, ctypes.c_void_p)
        if libc.dladdr(address, ctypes.byref(info)) and info.dli_fname:
            return os.fsdecode(info.dli_fname)
    except (OSError, AttributeError):
        pass
    return None


def _mapped_allocator() -> str | None:
    """The file of a known allocator mapped into this process (/proc/self/maps), or None."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                name = os.path.basename(line.rstrip("\n").rpartition(" ")[2])
                if any(name.startswith(f"lib{known}") for known in _KNOWN):
                    return name
    except OSError:
        pass
    return None


def in_use() -> str:
    """The allocator of this process: "mimalloc", "jemalloc" or "tcmalloc", the file name of
    another library that provides ``malloc``, or "system" (the C library's). Where ``malloc``
    resolves into the program itself (the PLT stub of a non-PIE python, as Debian's python3.11
    is: /health said "python3.11" with mimalloc loaded: install review), the allocator mapped."""
    found = malloc_library() or "libc.so"
    if os.path.realpath(found) == os.path.realpath(sys.executable):
        found = _mapped_allocator() or "libc.so"
    library = os.path.basename(found)
    for known in _KNOWN:
        if library.startswith(f"lib{known}"):
            return known
    return "system" if library.startswith("libc.so") or library.startswith("libc-") else library
