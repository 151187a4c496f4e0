"""The simulator's clocks: a manual clock a harness advances, and real time times a speed factor."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the simulated epoch time in seconds."""

    def now(self) -> float: ...


class ManualClock:
    """A clock that moves only when told to (tests and backtests)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (never backwards) and return the new time."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._now += float(seconds)
            return self._now

    def set(self, when: float) -> None:
        """Jump to ``when`` if it is not in the past."""
        with self._lock:
            self._now = max(self._now, float(when))


class ScaledClock:
    """Real time times ``speed``, starting at ``start`` (default: the real time now)."""

    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = float(speed)
        self._origin_real = time.monotonic()
        self._origin_sim = time.time() if start is None else float(start)

    def now(self) -> float:
        return self._origin_sim + (time.monotonic() - self._origin_real) * self.speed
