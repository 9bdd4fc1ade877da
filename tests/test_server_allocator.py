"""The serving processes' allocator (msc_kg.server.allocator): mimalloc where the system has it."""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_server_process import ROOT, free_port, health, serving_pids, start, stop_server, wait_ready

from msc_kg.server import allocator

# What "auto" must give here: CI installs libmimalloc2.0 (.ci/run); a machine without it serves
# with the system allocator.
EXPECTED = "mimalloc" if ctypes.util.find_library("mimalloc") else "system"
# A command that asks for the preload as the server does, then tells what it runs with and what
# the commands it starts would inherit.
PROBE = ("import os; from msc_kg.server import allocator; allocator.preload(); "
         "print(allocator.in_use(), os.environ.get('LD_PRELOAD'), 'MSC_KG_PRELOADED' in os.environ)")


def _probe(**env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", allocator.VARIABLE)}
    return subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True,
                          env={**environ, "PYTHONPATH": str(ROOT), **env}, timeout=60)


def _maps_mimalloc(pid: int) -> bool:
    return "libmimalloc" in Path(f"/proc/{pid}/maps").read_text()


def test_wanted_reads_the_variable(tmp_path):
    library = tmp_path / "libjemalloc.so.2"
    library.write_bytes(b"\x7fELF\x02" + bytes(59))  # what wanted() reads of an ELF header
    assert allocator.wanted({allocator.VARIABLE: "system"}) is None
    assert allocator.wanted({allocator.VARIABLE: "SYSTEM"}) is None
    assert allocator.wanted({allocator.VARIABLE: str(library)}) == str(library)
    assert allocator.wanted({}) == ctypes.util.find_library("mimalloc")
    assert allocator.wanted({allocator.VARIABLE: " auto "}) == ctypes.util.find_library("mimalloc")


def test_in_use_names_the_library_that_provides_malloc():
    # this test process runs with the C library's malloc (pytest is not started by the server)
    assert os.path.basename(allocator.malloc_library()).startswith("libc.so")
    assert allocator.in_use() == "system"


def test_a_library_that_provides_no_malloc_is_not_taken_for_the_allocator():
    # libm is mapped into every Python process: naming it was taken for using it (hostile testing)
    done = _probe(**{allocator.VARIABLE: ctypes.util.find_library("m")})
    assert done.stdout.split() == ["system", "None", "False"]
    assert done.stderr.startswith("msc-kg: libm.so.6 was not loaded as the allocator")


def test_the_preload_restores_the_environment_for_the_commands_started():
    done = _probe()
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [EXPECTED, "None", "False"]


def test_the_system_allocator_when_asked():
    done = _probe(**{allocator.VARIABLE: "system"})
    assert done.stdout.split() == ["system", "None", "False"]


def test_a_user_ld_preload_is_left_as_it_is():
    done = _probe(LD_PRELOAD="libm.so.6")
    assert done.stdout.split() == ["system", "libm.so.6", "False"]


@pytest.mark.parametrize("choice, reason", [
    ("/nonexistent/libmimalloc.so", "no such file"),
    ("/tmp", "not a file"),
    (str(ROOT / "server.py"), "not a 64-bit ELF shared library"),
    ("no-such-allocator", "the dynamic loader knows no library of that name"),
    ("/tmp/a b.so", "LD_PRELOAD cannot carry a name with spaces or colons"),
    ("/tmp/a:b.so", "LD_PRELOAD cannot carry a name with spaces or colons"),
])
def test_a_choice_naming_no_library_is_a_clear_error(choice, reason):
    done = _probe(**{allocator.VARIABLE: choice})
    assert done.returncode == 2
    assert done.stderr == (f"error: MSC_KG_ALLOCATOR={choice}: {reason} (give 'auto', 'system', a "
                           "library name such as jemalloc, or the path of an allocator library)\n")
    assert done.stdout == ""


def test_a_program_read_from_standard_input_is_served_with_the_system_allocator():
    # started again, it would read an input already read to the end and do nothing (hostile testing)
    environ = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", allocator.VARIABLE)}
    done = subprocess.run([sys.executable, "-"], input=PROBE, cwd=ROOT, capture_output=True,
                          text=True, env={**environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert done.stdout.split() == ["system", "None", "False"]
    if EXPECTED == "mimalloc":
        assert done.stderr == ("msc-kg: the program was read from standard input or a pipe and "
                               f"cannot be started again with {os.path.basename(allocator.wanted({}))} "
                               "preloaded; serving with the system allocator\n")


def test_a_mark_inherited_from_another_process_is_ignored():
    # the mark of the second start names its own pid; one in the environment it was given is not
    done = _probe(MSC_KG_PRELOADED="1:other")
    assert done.stdout.split() == [EXPECTED, "None", "False"]
    done = _probe(MSC_KG_PRELOADED="1:other", **{allocator.VARIABLE: "/nonexistent/lib.so"})
    assert done.returncode == 2


def test_the_console_script_keeps_its_process_name():
    script = Path(sys.executable).parent / "msc-kg"
    if not script.exists():
        pytest.skip("msc-kg is not installed next to this interpreter")
    port = free_port()
    proc = subprocess.Popen([str(script), "serve", "--data", str(ROOT / "tests" / "data" / "server" / "small.ttl"),
                             "--port", str(port)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_ready(port, proc)
        assert Path(f"/proc/{proc.pid}/comm").read_text().strip() == "msc-kg"
        assert health(port)["allocator"] == EXPECTED
    finally:
        stop_server(proc)


def test_a_library_name_is_found_by_the_dynamic_loader():
    assert allocator.wanted({allocator.VARIABLE: "libm"}) == ctypes.util.find_library("m")
    assert allocator.wanted({allocator.VARIABLE: "libm.so.6"}) == ctypes.util.find_library("m")
    assert allocator.wanted({allocator.VARIABLE: "m"}) == ctypes.util.find_library("m")


@pytest.mark.parametrize("choice", ["auto", "system"])
def test_the_serving_processes_run_with_the_allocator_chosen(choice, monkeypatch):
    monkeypatch.setenv(allocator.VARIABLE, choice)
    expected = EXPECTED if choice == "auto" else "system"
    port = free_port()
    proc = start("--data", str(ROOT / "tests" / "data" / "server" / "small.ttl"), "--port", str(port))
    try:
        wait_ready(port, proc)
        assert health(port)["allocator"] == expected
        pids = serving_pids(proc)
        assert len(pids) == 2
        assert {_maps_mimalloc(pid) for pid in pids | {proc.pid}} == {expected == "mimalloc"}
    finally:
        stop_server(proc)


def test_in_use_reads_the_mapped_allocator_where_malloc_resolves_into_the_program(monkeypatch):
    """Debian's python3.11 is no PIE: malloc's address is the program's PLT stub, and /health said
    the allocator was "python3.11" with mimalloc loaded (install review)."""
    monkeypatch.setattr(allocator, "malloc_library", lambda: sys.executable)
    monkeypatch.setattr(allocator, "_mapped_allocator", lambda: "libmimalloc.so.2.0")
    assert allocator.in_use() == "mimalloc"
    monkeypatch.setattr(allocator, "_mapped_allocator", lambda: None)
    assert allocator.in_use() == "system"
