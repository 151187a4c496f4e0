"""A daemon process factory for the chaos test, run as ``python _chaos_driver.py URL DB``.

Starting a Python process that imports the daemon takes over a second, too slow for forty restarts on a loaded
machine, so this process imports everything once and then forks one fresh daemon process per command. Each child
is a real daemon restart: it opens the SQLite file DB anew, builds a new ``Daemon`` (new market memory, new HTTP
client on the simulator served at URL) and ticks; it shares nothing with earlier runs but the imported code.

Commands arrive on stdin, one JSON object a line: ``{"now": epoch, "ticks": n, "kill": spec}``. The child's clock
(the daemon's and the store's) stands still at ``now``, the simulator's manual time, which the test moves only
between runs. ``kill`` says where the child SIGKILLs itself:
- ``none``: tick ``ticks`` times and exit 0;
- ``idle``: tick, say ``idle``, then wait between ticks until the test SIGKILLs it from outside;
- ``request:N`` / ``response:N``: just before the N-th HTTP request goes out / just after its answer arrived (the
  simulator has acted on it, the daemon has not seen it);
- ``accrued:N``: right after the N-th ledger transaction (``accrue_tick``) committed, before the tick row finishes;
- ``finish:N``: just before the N-th tick row is finished (everything acted and recorded);
- ``after_intent:N`` / ``after_create:N``: at the executor's checkpoints around the N-th create.
A kill point never reached leaves the run to end normally. Replies go to stdout, one line each: ``ready`` once,
then per command ``pid P``, a ``tick OK ERROR`` line per tick, ``idle`` (idle runs) and ``exit CODE`` (negative:
killed by that signal). Logs go to stderr. Loads standalone: no test imports.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from vastbid.core.budget import Budget
from vastbid.daemon.clock import EpochClock
from vastbid.daemon.config import DaemonConfig
from vastbid.daemon.tick import Daemon
from vastbid.obs.logging import configure_logging
from vastbid.store.spend import InstanceUsage, TickAccrual
from vastbid.store.store import open_store
from vastbid.vast.factory import make_market_api

DEPLOYMENT = "test"
KEY = "sim-key"
CLIENT_TIMEOUT_SECONDS = 1.0
"""Short, so a simulated slow answer (``slow`` fault longer than this) is a timeout: an ambiguous create."""


class Killer:
    """Counts the named moments of one run and SIGKILLs the process at the chosen one."""

    def __init__(self, spec: str) -> None:
        point, _, number = spec.partition(":")
        self.point = point
        self.number = int(number) if number else 1
        self.seen: Counter[str] = Counter()

    def at(self, point: str) -> None:
        self.seen[point] += 1
        if point == self.point and self.seen[point] == self.number:
            os.kill(os.getpid(), signal.SIGKILL)


def run(url: str, db: str, command: dict[str, Any], say: Callable[[str], None]) -> int:
    """One daemon process's life: open, tick, maybe die at the chosen moment."""
    killer = Killer(str(command["kill"]))
    moment = float(command["now"])
    now = datetime.fromtimestamp(moment, UTC)
    client = httpx.Client(
        base_url=url,
        timeout=CLIENT_TIMEOUT_SECONDS,
        event_hooks={
            "request": [lambda _request: killer.at("request")],
            "response": [lambda _response: killer.at("response")],
        },
    )
    api = make_market_api("native", client, KEY, sleep=lambda _s: None, monotonic=time.monotonic)
    store = open_store(f"sqlite:///{db}", upgrade=True, clock=lambda: now)
    accrue_tick = store.spend.accrue_tick

    def accrue_and_maybe_die(usages: Sequence[InstanceUsage]) -> TickAccrual:
        result = accrue_tick(usages)
        killer.at("accrued")
        return result

    finish = store.ticks.finish

    def maybe_die_then_finish(tick_id: int, **kwargs: Any) -> None:
        killer.at("finish")
        finish(tick_id, **kwargs)

    store.spend.accrue_tick = accrue_and_maybe_die  # type: ignore[method-assign]
    store.ticks.finish = maybe_die_then_finish  # type: ignore[method-assign]
    config = DaemonConfig(deployment=DEPLOYMENT, tick_seconds=60.0, budget=Budget(), config_hash="chaos")
    daemon = Daemon(config, api, store, EpochClock(lambda: moment), checkpoint=killer.at)
    for _ in range(int(command["ticks"])):
        result = daemon.tick()
        error = " ".join(str(result.error).split())[:1000]  # one short line: the replies are lines on a pipe
        say(f"tick {result.ok} {error}")
    if killer.point == "idle":
        say("idle")
        while True:  # between ticks, until the SIGKILL
            signal.pause()
    store.close()
    return 0


def main(url: str, db: str) -> int:
    replies = os.dup(1)
    os.dup2(2, 1)  # stray prints and logs go to stderr, the replies keep their own pipe
    configure_logging(level="warning", fmt="json", stream=sys.stderr)

    def say(line: str) -> None:
        os.write(replies, f"{line}\n".encode())

    say("ready")
    for line in sys.stdin:
        command = json.loads(line)
        go, going = os.pipe()
        pid = os.fork()
        if pid == 0:  # the daemon process
            code = 3
            try:
                os.close(going)
                os.read(go, 1)  # speak only after the parent announced our pid
                code = run(url, db, command, say)
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stderr.flush()
                os._exit(code)
        say(f"pid {pid}")
        os.close(go)
        os.write(going, b"!")
        os.close(going)
        _, status = os.waitpid(pid, 0)
        say(f"exit {os.waitstatus_to_exitcode(status)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
