"""Where the daemon's "now" comes from: the wall clock, or a virtual one (demo, backtests, tests)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol


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
