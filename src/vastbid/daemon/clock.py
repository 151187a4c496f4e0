"""Where the daemon's "now" comes from: the wall clock, or a virtual one (demo, backtests, tests)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

import structlog

log = structlog.get_logger("vastbid.clock")


class Clock(Protocol):
    """Something that tells the time, in UTC."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        return datetime.now(UTC)


class EpochClock:
    """A clock read from a function of epoch seconds (e.g. the simulator's clock)."""

    def __init__(self, seconds: Callable[[], float]) -> None:
        self._seconds = seconds

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        return datetime.fromtimestamp(self._seconds(), UTC)


class SteadyClock:
    """Wall time that never jumps: between two readings it advances by what a monotonic clock measured.

    The first reading is the wall clock's. Later ones follow the wall clock while it agrees with the monotonic
    clock (within ``tolerance``, so slow drift corrections are followed); a step of the wall clock (an NTP jump, a
    VM resumed, a hand-set date) is logged once and not followed: the tick's "now" keeps advancing at the monotonic
    rate, so a step is never billed, never expires a deadline early and never stalls readiness. A restart adopts
    the wall clock again.
    """

    def __init__(
        self,
        wall: Clock,
        monotonic: Callable[[], float],
        *,
        tolerance: timedelta = timedelta(seconds=30),
        on_step: Callable[[timedelta], None] | None = None,
    ) -> None:
        self._wall = wall
        self._monotonic = monotonic
        self._tolerance = tolerance
        self._on_step = on_step or _log_step
        self._anchor: tuple[datetime, float] | None = None
        self._step: timedelta | None = None

    def now(self) -> datetime:
        """The current time, timezone-aware UTC, never moved by a wall-clock step."""
        wall, mono = self._wall.now(), self._monotonic()
        if self._anchor is None:
            self._anchor = (wall, mono)
            return wall
        expected = self._anchor[0] + timedelta(seconds=max(mono - self._anchor[1], 0.0))
        step = wall - expected
        if abs(step) <= self._tolerance:
            self._anchor = (wall, mono)
            self._step = None
            return wall
        if self._step is None or abs(step - self._step) > self._tolerance:
            self._step = step
            self._on_step(step)
        return expected


def _log_step(step: timedelta) -> None:
    log.warning("wall_clock_step", step_seconds=round(step.total_seconds(), 3), followed=False)
