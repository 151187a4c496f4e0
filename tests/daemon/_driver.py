"""A daemon process for the subprocess tests, run as ``python _driver.py URL DB MODE [N]``.

MODE ``kill:<point>`` ticks once and SIGKILLs itself at the executor's checkpoint ``<point>``; ``ticks`` ticks
N times and exits; ``forever`` runs the loop with a tick every N seconds until SIGTERM. The daemon talks to the
simulator served at URL (native adapter) and to the SQLite file DB. Loads standalone: no test imports.
"""

from __future__ import annotations

import os
import signal
import sys

import httpx

from vastbid.core.budget import Budget
from vastbid.daemon.clock import SystemClock
from vastbid.daemon.config import DaemonConfig
from vastbid.daemon.loop import run_forever
from vastbid.daemon.tick import Daemon
from vastbid.store.store import open_store
from vastbid.vast.factory import make_market_api


def main(url: str, db: str, mode: str, number: str = "1") -> int:
    kill_at = mode.removeprefix("kill:") if mode.startswith("kill:") else None

    def checkpoint(point: str) -> None:
        if point == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    client = httpx.Client(base_url=url, timeout=10.0)
    api = make_market_api("native", client, "sim-key", sleep=lambda _s: None)
    store = open_store(f"sqlite:///{db}", upgrade=True)
    tick_seconds = float(number) if mode == "forever" else 60.0
    config = DaemonConfig(deployment="test", tick_seconds=tick_seconds, budget=Budget(), config_hash="crash")
    daemon = Daemon(config, api, store, SystemClock(), checkpoint=checkpoint)
    if mode == "forever":
        return run_forever(daemon, tick_seconds=tick_seconds, on_tick=lambda: print("tick", flush=True))
    for _ in range(int(number) if kill_at is None else 1):
        result = daemon.tick()
        print("tick", result.ok, result.error, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
