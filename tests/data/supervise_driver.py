"""Runs msc_kg.server.supervise over the small graph with a loader the test controls: once the file
``argv[2]`` exists, a replacement's load fails — with a StartError (``argv[3]`` "error") or an
exception, as code changed on disk under a running server made it (``argv[3]`` "crash")."""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server_fixtures import make_app  # noqa: E402

from msc_kg.server import supervise as sv  # noqa: E402
from msc_kg.server.serve import listen  # noqa: E402

sv.RETRY = 0.3
port, flag, how = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]


def load(again: bool):
    if not again and os.environ.get("SLOW_START"):  # a first load that takes a while
        time.sleep(1.5)
    if again and flag.exists():
        if how == "error":
            raise sv.StartError(2, "error: the data cannot be loaded now")
        raise ImportError("cannot import name 'added_in_upgrade'")
    return make_app(engine="inline", workers=1)


sock = listen("127.0.0.1", port)
sys.exit(sv.supervise(load, [], sock, 1, 64, lambda: print("ready", flush=True)))
