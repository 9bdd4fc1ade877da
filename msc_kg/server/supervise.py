"""The serving processes: a supervisor keeps N of them alive; a loader process makes them.

The supervisor never holds the graph. A loader process it forks loads the graph and builds the app
(serve.load), forks the serving processes, which share its pages copy-on-write, and exits; the
kernel then hands them to the supervisor (PR_SET_CHILD_SUBREAPER), and the loader's mapping of the
graph goes away without a page being written. That matters because Oxigraph writes to the pages it
reads (a lock per statement): every process that reads a page still shared with another makes its
own copy, so a supervisor holding the graph made N serving processes cost N + 1 copies of it
(measured at 5·10⁶ triples, PSS of the process tree after warm-up: 4.6 GB before, 3.2 GB now). Each
serving process touches its whole graph (inline.warm) before it forks its isolation worker, which
then shares the warmed pages rather than holding on to the loader's.

A replacement — for a process whose watchdog stopped a runaway query (it tells the supervisor
through a pipe and retires, taking connections until its replacement serves, so that queries timing
out together in every process leave the server serving) or one that died another way (after a short
back-off when that keeps happening) — gets a loader of its own, which loads the same files again,
so it takes as long as the start did, while the others serve. It first checks that the files are
unchanged since the start (size, modification time, inode): a process serving other data than the
others would give other answers under the same entity tags. If they changed, or the load fails, the
supervisor says why and tries again every RETRY s; once no serving process is left, none serves the
data as first loaded, so the files are loaded as they are now, as at a start but with new entity
tags. While no serving process takes connections (Balance.holding says whether a retired one still
does), the supervisor answers each 503 itself (it reads no request and runs no query); after
GIVE_UP loaders in a row end without a word, it stops with status 1. SIGTERM or SIGINT to the
supervisor is passed on: every process stops accepting, finishes the requests it is answering, and
exits; the supervisor then returns 0. The supervisor itself never starts a thread or runs a query,
so forking it is always safe. Without PR_SET_CHILD_SUBREAPER (not Linux), each serving process is a
loader of its own.
"""

from __future__ import annotations

import gc
import json
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
from msc_kg.server.endpoint import CORS_HEADERS, CORS_LINES
from msc_kg.server.engine import QUERY_STACK
from msc_kg.server.http import Server
from msc_kg.server.inline import Watchdog, count, warm

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
PR_SET_PDEATHSIG, PR_SET_NAME, PR_SET_CHILD_SUBREAPER = 1, 15, 36
RETRY = 10.0  # seconds between attempts to load the graph for a replacement serving process
# Loaders that end without a word (an exception, not a StartError) in a row while no serving process
# is left, before the supervisor gives up: code changed on disk under a running server made every
# loader fail alike (an ImportError between the modules it had imported and the new ones), and it
# kept the socket open with nothing answering it (hostile testing). Ending lets a process manager
# start the server afresh.
GIVE_UP = 3
UNAVAILABLE = ("No serving process is running: a new one is being loaded (see the server's log "
               "if this lasts); retry shortly.\n").encode()
MEMORY_GRACE = 1.0  # seconds a serving process past its memory limit lets other requests finish


class StartError(Exception):
    """The graph cannot be served: ``message`` says why, ``code`` is the exit status."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _prctl(option: int, value: int | bytes) -> bool:
    """Linux prctl(2) (bytes are passed as a C string); False where it fails or does not exist."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(option, value) == 0
    except (OSError, AttributeError):
        return False


def name_process(title: bytes) -> None:
    """Linux: name this process as ps, top and /proc/PID/comm show it (15 bytes at most)."""
    _prctl(PR_SET_NAME, title[:15])


def _die_with_parent(parent: int) -> None:
    """Linux: have the kernel send SIGTERM when the supervisor dies (even by SIGKILL), so no
    serving process outlives it holding the port."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def fingerprint(files) -> list[list]:
    """What tells whether ``files`` changed: path, size, modification time and inode of each."""
    out = []
    for path in map(str, files):
        try:
            st = os.stat(path)
            out.append([path, st.st_size, st.st_mtime_ns, st.st_ino])
        except OSError:
            out.append([path, None, None, None])
    return out


def _changed(before: list[list], now: list[list]) -> str | None:
    """The first file that differs between two fingerprints, or None."""
    return next((a[0] for a, b in zip(before, now) if a != b), None)


def settle() -> None:
    """Move what the loader holds out of the cyclic garbage collector's reach (gc.freeze), before
    the serving processes are forked: a full collection then no longer walks the modules, the app
    and the graph's bookkeeping. Measured on the release (about 41 000 objects): a full collection
    in a serving process took 20 ms, a pause that fell on whichever request set it off, and 2 µs
    after; and a collection no longer writes to the loader's pages, which the serving processes
    share copy-on-write (the gc module's documentation advises it for fork without exec)."""
    gc.collect()
    gc.freeze()


def _child(app, sock: socket.socket, notify_fd: int, max_connections: int, balance: Balance,
           slot: int) -> int:
    """A serving process: serve until SIGTERM or until the watchdog retires it; return 0."""
    name_process(b"msc-kg serve")
    state = app.extensions["msc_kg"]
    cfg = state.config
    # An engine abort (see README, Operating it) must not write a core file the size of the graph.
    resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    server = Server(app, sock, max_connections=max_connections, max_per_peer=cfg.get("max_per_client"),
                    max_body=cfg["max_body"],
                    read_timeout=30.0, idle_timeout=30.0, direct=app.wsgi_app.direct,
                    unsent=app.wsgi_app.unsent,
                    balance=balance, error_headers=CORS_HEADERS if cfg["cors"] else None)

    reasons: list[str] = []  # why the watchdog retired this process ("timeout" may come first)
    held: list[float] = []  # until when it takes connections after a timeout (relieve)

    def retire(reason: str) -> None:
        first = not reasons
        reasons.append(reason)
        balance.leave()  # its replacement takes the slot
        if reason == "timeout" and first:
            # It still takes connections until its replacement serves (relieve): when every
            # process retired at once, none did, and the supervisor answered 503 until
            # replacements were loaded (the release, 10 queries timing out together: the next 5
            # requests got 503). After a breach of the memory limit, it stops at once.
            balance.hold(slot, os.getpid())
            held.append(time.monotonic() + cfg["timeout"])
        else:
            stop()
        if not first:
            return
        # said on stderr: retirements left no trace, while the 503 of a server left without a
        # serving process says to see its log (native-load audit)
        why = ("a query went over the memory limit of a serving process (--memory-mb); it finishes its "
               "other requests and a new one is loaded" if reason == "memory" else
               f"a query ran past --timeout ({cfg['timeout']:g} s), and the engine cannot stop it; it "
               "serves until a new one is loaded, then finishes its requests")
        print(f"msc-kg: serving process {os.getpid()} retires: {why}", file=sys.stderr, flush=True)
        try:
            os.write(notify_fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass

    def relieve() -> None:
        """Run by the watchdog at each tick (no thread of its own: one may not start, and the
        watchdog died of it): after a timeout, stop taking connections once the replacement
        serves, or --timeout after retiring."""
        if held and (not server.accepting or balance.joined(slot) or time.monotonic() > held[0]):
            stop()

    def stop() -> None:
        held.clear()
        server.accepting = False
        balance.unhold(os.getpid())

    def on_signal(signum, frame):  # only a flag: a handler must not take the balance's lock
        server.accepting = False

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # blocked since the fork (spawn)
    # Touch the graph before taking connections (its first touch is slow) and before forking the
    # isolation worker, which then shares this process's copy of the pages (see above); the fork
    # comes while this process has no other thread (a fork copies locks other threads may hold),
    # and so that the first query needing the worker does not wait for it (10⁶ triples: 16 ms).
    warm(state.engine.store)
    state.engine.start_isolation()
    # what endpoint.query_view sends with a 503 (the server adds the CORS headers)
    state.engine.watchdog = Watchdog(server, cfg["timeout"], cfg["memory_mb"], retire,
                                     headers={"Retry-After": "5"}, isolation=state.engine.isolation,
                                     relieve=relieve)
    state.engine.balance = balance  # a query waits its turn only while every core is busy
    threading.stack_size(QUERY_STACK)  # connection threads, created from here on, run queries
    balance.join(slot)
    server.serve_forever()
    balance.leave()
    # After a breach of the memory limit the query that made it still runs and takes memory: the
    # other requests get a second to finish, not the timeout
    memory = state.engine.watchdog.reason == "memory"
    server.shutdown(grace=MEMORY_GRACE if memory else cfg["timeout"] + 5)
    return 0


class _Loader:
    """The supervisor's view of a loader process: its pid, the slots it loads for, what it said."""

    def __init__(self, pid: int, slots: list[int]):
        self.pid, self.slots = pid, slots
        self.buffer = b""
        self.started: set[int] = set()  # the slots it forked serving processes for
        self.error: tuple[int, str] | None = None


def _send(fd: int, **message) -> None:
    """Write one JSON line to the supervisor (all of it: a validation report can be long)."""
    data = (json.dumps(message) + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


def supervise(load, files, sock: socket.socket, processes: int, max_connections: int,
              announce=lambda: None) -> int:
    """Serve the app ``load()`` builds from ``processes`` serving processes until SIGTERM/SIGINT
    and return 0; or, when the first load raises StartError, print its message and return its
    code. ``load(True)`` loads it again for a replacement, once ``files`` are found unchanged.
    ``announce()`` runs when the first serving processes are forked."""
    adopt = _prctl(PR_SET_CHILD_SUBREAPER, 1)  # orphans of our loaders become our children
    # shown by /health; serving processes add their isolation workers' replacements (inline.py)
    restarts = multiprocessing.Value("i", 0)
    salt = os.urandom(8).hex()  # of the entity tags, the same in every serving process (cache.py)
    balance = Balance(processes)
    notify_r, notify_w = os.pipe()
    children: dict[int, int] = {}  # pid → its slot in ``balance``
    loaders: dict[int, _Loader] = {}  # the read end of its pipe → loader
    pending: dict[int, float] = {}  # slot → when to try loading for it again
    retired: set[int] = set()  # replaced already; not replaced again when they exit
    loader_pids: set[int] = set()  # loaders not yet reaped
    unknown_dead: set[int] = set()  # reaped before a loader's message named them
    crashes: list[float] = []
    first: list[list] | None = None  # the fingerprint of ``files`` as first loaded
    failed: int | None = None  # the exit status when the first load failed
    announced = False  # announce() has run: a serving process was made once
    served = False  # a serving process was started: before, connections wait for the first
    stopping = False
    crashed_loaders = 0  # loaders in a row that ended without a word while none was serving
    parent = os.getpid()

    def spawn(slots: list[int]) -> None:
        nonlocal first, salt
        if first is not None and all(pid in retired for pid in children):
            changed = _changed(first, fingerprint(files))
            if changed:  # no process serves the data as first loaded: load it as at a start
                print(f"msc-kg: {changed} changed since the server started and no serving "
                      "process is left; loading the files as they are now", file=sys.stderr, flush=True)
                first, salt = None, os.urandom(8).hex()  # new data: new entity tags
        if not adopt and len(slots) > 1:  # each serving process loads for itself
            for slot in slots:
                spawn([slot])
            return
        sys.stdout.flush()
        sys.stderr.flush()
        # SIGTERM/SIGINT stay blocked in the new processes until they have their own handlers:
        # one arriving earlier would run the supervisor's handler, inherited, and be lost.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        out_r, out_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 2
            try:
                signal.set_wakeup_fd(-1)  # the supervisor's, inherited
                for fd in (notify_r, out_r, wake_r, wake_w, *loaders):
                    os.close(fd)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # stopped while loading
                name_process(b"msc-kg load")
                _die_with_parent(parent)
                code = _load_and_fork(load, files, first, slots, adopt, out_w, parent,
                                      (sock, notify_w, max_connections, balance), (restarts, salt))
            except BaseException:  # noqa: BLE001 — a loader never returns into the supervisor
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.close(out_w)
        loaders[out_r] = _Loader(pid, slots)
        loader_pids.add(pid)

    def started(pid: int, slot: int) -> None:
        nonlocal served
        children[pid] = slot
        served = True
        if pid in unknown_dead:  # it died before its loader's message arrived
            unknown_dead.discard(pid)
            lost(pid, slot, "ended before it served")

    def lost(pid: int, slot: int, how: str) -> None:
        children.pop(pid, None)
        if stopping:
            return
        now = time.monotonic()
        crashes[:] = [t for t in crashes if now - t < 10] + [now]
        print(f"msc-kg: serving process {pid} {how}; starting another", file=sys.stderr, flush=True)
        if len(crashes) > 5:
            time.sleep(1.0)
        count(restarts)
        balance.clear(slot)
        spawn([slot])

    def heard(fd: int) -> None:
        nonlocal first, failed, stopping, announced
        loader = loaders[fd]
        data = os.read(fd, 65536)
        loader.buffer += data
        *lines, loader.buffer = loader.buffer.split(b"\n")
        for line in lines:
            message = json.loads(line)
            if "ready" in message and first is None:
                first = message["ready"]
                if not announced:
                    announced = True
                    announce()
            elif "pid" in message:
                loader.started.add(message["slot"])
                started(message["pid"], message["slot"])
            elif "error" in message:
                loader.error = (message["code"], message["error"])
        if data:
            return
        os.close(fd)  # the loader is done: every message is in
        del loaders[fd]
        if not announced and failed is None:  # the server's first load failed: say why and stop
            if not stopping:  # (a loader stopped by SIGTERM failed for no reason to tell)
                failed, text = loader.error or (2, "error: the graph could not be loaded (see above)")
                print(text, file=sys.stderr, flush=True)
            stopping = True
            return
        missing = [slot for slot in loader.slots if slot not in loader.started]
        if missing and not stopping:
            nonlocal crashed_loaders
            crashed_loaders = 0 if loader.error or not unserved() else crashed_loaders + 1
            if crashed_loaders >= GIVE_UP:
                failed, stopping = 1, True
                print(f"msc-kg: {GIVE_UP} loaders in a row ended early (see above) and no serving "
                      "process is left; stopping, so that the server can be started afresh (code "
                      "changed on disk under a running server does this)", file=sys.stderr, flush=True)
                return
            text = loader.error[1] if loader.error else "its loader ended early (see above)"
            print(f"msc-kg: no new serving process for slot(s) {missing}: {text}; trying again "
                  f"in {RETRY:g} s", file=sys.stderr, flush=True)
            for slot in missing:
                pending[slot] = time.monotonic() + RETRY

    def unserved() -> bool:
        """No serving process takes connections (none, or every one retiring and none of those
        still taking them until its replacement serves)."""
        return all(pid in retired for pid in children) and not balance.holding()

    def on_signal(signum, frame):  # the loop below passes it on (a child forked while the
        nonlocal stopping  # handler ran would otherwise be missed)
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # A signal writes a byte here, so the loop wakes when a child ends or SIGTERM comes rather
    # than at its next 0.2 s tick (a replacement is started that much sooner).
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    spawn(list(range(processes)))
    told: dict[int, float] = {}  # child or loader → when it was last sent SIGTERM
    try:
        while children or loaders or (pending and not stopping):
            now = time.monotonic()
            if stopping:
                for pid in [*children, *(loader.pid for loader in loaders.values())]:
                    if now - told.get(pid, -10.0) >= 5.0:  # again every 5 s until it exits
                        told[pid] = now
                        try:
                            os.kill(pid, signal.SIGTERM)
                        except ProcessLookupError:
                            pass
            due = [slot for slot, when in pending.items() if now >= when and not stopping]
            for slot in due:
                del pending[slot]
            if due:
                spawn(due)
            # while nothing serves, the supervisor answers 503 itself (connections waited unanswered);
            # not before the first serving process is started (a start's first requests wait for it:
            # the load was announced before it was forked, and a request in between got the 503)
            answer = served and not stopping and unserved()
            try:
                ready, _, _ = select.select([notify_r, wake_r, *loaders, *([sock] if answer else [])],
                                            [], [], 0.2)
            except InterruptedError:
                ready = []
            for fd in ready:
                if fd == wake_r:
                    os.read(wake_r, 4096)
                elif fd is sock:
                    _unavailable(sock)
                elif fd != notify_r:
                    heard(fd)
            notes = os.read(notify_r, 4096).split() if notify_r in ready else []  # read even when stopping
            for line in notes if not stopping else ():
                pid = int(line)
                if pid in children and pid not in retired:
                    retired.add(pid)
                    count(restarts)
                    spawn([children[pid]])
            while True:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                balance.unhold(pid)  # when it ended before it said so
                if pid in retired:
                    retired.discard(pid)
                    children.pop(pid, None)
                elif pid in children:
                    lost(pid, children[pid], f"ended unexpectedly ({_describe(status)})")
                elif pid in loader_pids:
                    loader_pids.discard(pid)
                else:  # a serving process its loader has not named yet, or an isolation
                    unknown_dead.add(pid)  # worker whose serving process ended before it
            if not loaders:  # no loader left to name one
                unknown_dead.clear()
    finally:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in (notify_r, notify_w, wake_r, wake_w, *loaders):
            os.close(fd)
    return failed or 0


def _load_and_fork(load, files, first, slots: list[int], adopt: bool, out: int, supervisor: int,
                   serving: tuple, shared: tuple) -> int:
    """In a loader process: load the graph (again, when ``first`` holds the fingerprint of the
    first load), fork a serving process for each slot — or, without ``adopt``, serve the one slot
    itself — and tell the supervisor through ``out``; return the exit status. ``shared``: the
    supervisor's restart counter and entity-tag salt, which every serving process uses."""
    try:
        if first is not None:
            changed = _changed(first, fingerprint(files))
            if changed:
                how = "changed" if os.path.exists(changed) else "was removed"
                raise StartError(2, f"{changed} {how} since the server started; restart the "
                                    "server to serve it (a serving process loading it now would "
                                    "answer differently from the others)")
        app = load(first is not None)
    except StartError as exc:
        _send(out, error=exc.message, code=exc.code)
        return exc.code
    if first is None:  # taken after the load: a server's first load may rebuild the release
        _send(out, ready=fingerprint(files))
    settle()
    state = app.extensions["msc_kg"]
    state.engine.restart_counter, state.cache.salt = shared
    sock, notify_w, max_connections, balance = serving
    if not adopt:
        _send(out, pid=os.getpid(), slot=slots[0])
        os.close(out)
        return _child(app, sock, notify_w, max_connections, balance, slots[0])
    loader = os.getpid()
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)  # until each has its own handlers
    for slot in slots:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(out)
                deadline = time.monotonic() + 10.0
                while os.getppid() == loader and time.monotonic() < deadline:
                    time.sleep(0.002)  # until the loader has exited and we are the supervisor's
                _die_with_parent(supervisor)
                code = _child(app, sock, notify_w, max_connections, balance, slot)
            except BaseException:  # noqa: BLE001 — a serving process never returns into the loader
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _send(out, pid=pid, slot=slot)
    return 0


def _unavailable(sock: socket.socket) -> None:
    """Answer one waiting connection 503, waiting at most 0.1 s for its request: what it sent is
    read first (so closing it does not reset the connection before the answer is read)."""
    sock.setblocking(False)  # as the serving processes have it (http.Server): never a wait here
    try:
        conn, _ = sock.accept()
    except OSError:
        return  # a serving process took it
    with conn:
        conn.setblocking(False)
        try:  # the request, if it comes within 0.1 s: HEAD gets no body (the supervisor waits no
            asked = conn.recv(65536) if select.select([conn], [], [], 0.1)[0] else b""  # longer)
        except OSError:
            asked = b""
        head = (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
                f"Retry-After: {RETRY:g}\r\nConnection: close\r\nContent-Length: {len(UNAVAILABLE)}\r\n"
                f"{CORS_LINES}\r\n").encode()  # CORS: a browser read it as a network error
        no_body = asked.lstrip(b"\r\n").startswith(b"HEAD ")  # RFC 9112 §6.3
        try:
            conn.sendall(head + (b"" if no_body else UNAVAILABLE))
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            return f"signal {signal.Signals(number).name}"
        except ValueError:
            return f"signal {number}"
    return f"exit status {os.WEXITSTATUS(status)}"
