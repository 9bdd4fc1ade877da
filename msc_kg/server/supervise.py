"""The serving processes: a supervisor forks N of them after the graph is loaded and keeps N alive.

Each serving process shares the loaded store copy-on-write, accepts on the one listening socket
(the least busy first, msc_kg.server.balance) and answers with msc_kg.server.http in threads,
evaluating queries inline (msc_kg.server.inline; those that may order values of their own in a
worker process it forks at start). A process whose watchdog stopped a runaway
query tells the supervisor through a pipe and retires; the supervisor forks its replacement at
once. A process that dies any other way (a crash) is replaced too, after a short back-off when
that keeps happening. SIGTERM or SIGINT to the supervisor is passed on: every process stops
accepting, finishes the requests it is answering, and exits; the supervisor then returns 0.
The supervisor itself never starts a thread or runs a query, so forking it is always safe.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import select
import signal
import socket
import sys
import threading
import time

from msc_kg.server.balance import Balance
from msc_kg.server.endpoint import CORS_HEADERS
from msc_kg.server.engine import QUERY_STACK
from msc_kg.server.http import Server
from msc_kg.server.inline import Watchdog, warm

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def _die_with_parent(parent: int) -> None:
    """Linux: have the kernel send SIGTERM when the supervisor dies (even by SIGKILL), so no
    serving process outlives it holding the port."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # it died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _child(app, sock: socket.socket, notify_fd: int, max_connections: int, balance: Balance,
           slot: int) -> int:
    """A serving process: serve until SIGTERM or until the watchdog retires it; return 0."""
    state = app.extensions["msc_kg"]
    cfg = state.config
    # An engine abort (see README, Operating it) must not write a core file the size of the graph.
    resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    balance.join(slot)
    server = Server(app, sock, max_connections=max_connections, max_body=cfg["max_body"],
                    read_timeout=30.0, idle_timeout=30.0, direct=app.wsgi_app.direct,
                    balance=balance)

    def retire(reason: str) -> None:
        server.accepting = False
        balance.leave()  # its replacement takes the slot
        try:
            os.write(notify_fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass

    def on_signal(signum, frame):  # only a flag: a handler must not take the balance's lock
        server.accepting = False

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # blocked since the fork (spawn)
    # Fork the isolation worker now, while this process has no other thread (a fork copies locks
    # other threads may hold), and so that the first query needing it does not wait for the fork
    # (measured at 10^6 triples: 16 ms).
    state.engine.start_isolation()
    headers = {"Retry-After": "5"}  # what endpoint.query_view sends with a 503
    if cfg["cors"]:
        headers |= CORS_HEADERS
    state.engine.watchdog = Watchdog(server, cfg["timeout"], cfg["memory_mb"], retire,
                                     headers=headers)
    threading.stack_size(QUERY_STACK)  # connection threads, created from here on, run queries
    threading.Thread(target=warm, args=(state.engine.store,), daemon=True, name="msc-kg-warm").start()
    server.serve_forever()
    balance.leave()
    server.shutdown(grace=cfg["timeout"] + 5)
    return 0


def supervise(app, sock: socket.socket, processes: int, max_connections: int) -> int:
    """Fork ``processes`` serving processes and keep them running until SIGTERM/SIGINT."""
    engine = app.extensions["msc_kg"].engine
    engine.restart_counter = multiprocessing.Value("i", 0, lock=False)  # shown by /health
    balance = Balance(processes)
    notify_r, notify_w = os.pipe()
    children: dict[int, int] = {}  # pid → its slot in ``balance``
    retired: set[int] = set()  # replaced already; not replaced again when they exit
    crashes: list[float] = []
    stopping = False

    parent = os.getpid()

    def spawn(slot: int) -> None:
        # SIGTERM/SIGINT stay blocked in the new process until it has its own handlers: one
        # arriving earlier would run the supervisor's handler, inherited, and be lost.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        pid = os.fork()
        if pid != 0:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        if pid == 0:
            code = 1
            try:
                os.close(notify_r)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                _die_with_parent(parent)
                code = _child(app, sock, notify_w, max_connections, balance, slot)
            except BaseException:  # noqa: BLE001 — a serving process never returns into the supervisor
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children[pid] = slot

    def on_signal(signum, frame):  # the loop below passes it on (a child forked while the
        nonlocal stopping  # handler ran would otherwise be missed)
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for slot in range(processes):
        spawn(slot)
    told: dict[int, float] = {}  # child → when it was last sent SIGTERM
    try:
        while children:
            if stopping:
                now = time.monotonic()
                for pid in children:
                    if now - told.get(pid, -10.0) >= 5.0:  # again every 5 s until it exits
                        told[pid] = now
                        try:
                            os.kill(pid, signal.SIGTERM)
                        except ProcessLookupError:
                            pass
            try:
                ready, _, _ = select.select([notify_r], [], [], 0.2)
            except InterruptedError:
                ready = []
            notes = os.read(notify_r, 4096).split() if ready else []  # read even when stopping
            for line in notes if not stopping else ():
                pid = int(line)
                if pid in children and pid not in retired:
                    retired.add(pid)
                    engine.restart_counter.value += 1
                    spawn(children[pid])
            while children:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    children.clear()
                    break
                if pid == 0:
                    break
                slot = children.pop(pid, None)
                if slot is None:
                    continue  # not a serving process
                if pid in retired:
                    retired.discard(pid)
                    continue
                if not stopping:  # died unexpectedly: replace it, backing off if it keeps dying
                    now = time.monotonic()
                    crashes[:] = [t for t in crashes if now - t < 10] + [now]
                    print(f"msc-kg: serving process {pid} ended unexpectedly "
                          f"({_describe(status)}); starting another", file=sys.stderr, flush=True)
                    if len(crashes) > 5:
                        time.sleep(1.0)
                    engine.restart_counter.value += 1
                    balance.clear(slot)
                    spawn(slot)
    finally:
        os.close(notify_r)
        os.close(notify_w)
    return 0


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            return f"signal {signal.Signals(number).name}"
        except ValueError:
            return f"signal {number}"
    return f"exit status {os.WEXITSTATUS(status)}"
