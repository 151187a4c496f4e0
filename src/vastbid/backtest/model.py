"""The backtest's job model on a trace's tick grid, shared by the replay and the oracle.

Everything happens at tick granularity: a tick is spent wholly idle, on demand or on spot in one zone. The job's
work, deadline and restart overhead are whole numbers of ticks (``JobShape.from_hours`` rounds: work up, the
deadline down, the overhead to the nearest tick and at least one tick when it is not zero). The job spec the
strategies see carries these effective values, so a strategy's arithmetic and the accounting agree exactly.

A new instance (from idle, after a switch, or resuming after a preemption) spends its first ``overhead_ticks``
ticks in restart overhead: billed, no progress.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vastbid.errors import BacktestError


@dataclass(frozen=True, slots=True)
class JobShape:
    """A deadline job on a tick grid."""

    work_ticks: int
    deadline_ticks: int
    overhead_ticks: int
    gap_hours: float

    @classmethod
    def from_hours(
        cls, work_hours: float, deadline_ratio: float, restart_overhead_hours: float, gap_hours: float
    ) -> JobShape:
        """``deadline_ratio`` is work / deadline (the paper's C0/R0, e.g. 0.8)."""
        if work_hours <= 0:
            raise BacktestError(f"work hours must be positive, got {work_hours}")
        if not 0 < deadline_ratio <= 1:
            raise BacktestError(f"the deadline ratio (work / deadline) must be in (0, 1], got {deadline_ratio}")
        if restart_overhead_hours < 0:
            raise BacktestError(f"the restart overhead must not be negative, got {restart_overhead_hours}")
        work = math.ceil(work_hours / gap_hours - 1e-9)
        deadline = math.floor(work_hours / deadline_ratio / gap_hours + 1e-9)
        overhead = 0 if restart_overhead_hours == 0 else max(1, round(restart_overhead_hours / gap_hours))
        return cls(work_ticks=work, deadline_ticks=deadline, overhead_ticks=overhead, gap_hours=gap_hours)

    @property
    def work_hours(self) -> float:
        """Effective work, hours."""
        return self.work_ticks * self.gap_hours

    @property
    def deadline_hours(self) -> float:
        """Effective time to the deadline, hours."""
        return self.deadline_ticks * self.gap_hours

    @property
    def overhead_hours(self) -> float:
        """Effective restart overhead, hours."""
        return self.overhead_ticks * self.gap_hours

    @property
    def feasible(self) -> bool:
        """Whether on demand from the start meets the deadline."""
        return self.work_ticks + self.overhead_ticks <= self.deadline_ticks
