"""The daemon's loop: one non-overlapping interval job on APScheduler 3.x, graceful stop, systemd notify.

``run_forever`` ticks at once, then every ``tick_seconds`` (with jitter); a tick still running when the next is
due is not doubled (``max_instances=1``) and missed runs collapse into one (``coalesce``). SIGTERM and SIGINT
let the tick in flight finish, tell systemd ``STOPPING=1``, save the spot-run statistics and return 0; instances
are left as they are (the next start reconciles them). Each finished tick pets the systemd watchdog.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType

import structlog
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from vastbid.daemon.tick import Daemon
from vastbid.obs import notify

log = structlog.get_logger("vastbid.loop")


def run_forever(
    daemon: Daemon,
    *,
    tick_seconds: float,
    jitter_seconds: float = 0.0,
    on_tick: Callable[[], None] | None = None,
) -> int:
    """Tick until SIGTERM/SIGINT; the exit code (0 after a graceful stop)."""
    scheduler = BlockingScheduler(timezone=UTC)

    def tick() -> None:
        result = daemon.tick()
        notify.watchdog()
        notify.status(f"tick {result.tick_id} {'ok' if result.ok else 'failed'}")
        if on_tick is not None:
            on_tick()

    scheduler.add_job(
        tick,
        IntervalTrigger(seconds=tick_seconds, jitter=int(jitter_seconds) or None),
        id="tick",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),
        misfire_grace_time=None,
    )

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", signal=signal.Signals(signum).name)
        notify.stopping()
        if scheduler.running:  # a second signal while stopping changes nothing
            scheduler.shutdown(wait=True)  # returns once the tick in flight has finished

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    notify.ready()
    log.info("started", tick_seconds=tick_seconds, jitter_seconds=jitter_seconds)
    try:
        scheduler.start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    daemon.save_spot_runs()  # what was learned since the last periodic save (never raises)
    log.info("stopped")
    return 0
