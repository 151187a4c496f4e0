"""How many creates one tick starts: few enough that the tick ends well inside its interval.

Vast asks for ``create_interval`` seconds between two creates (4.5 s), so a first tick with hundreds of bids would
run for many minutes, outlive the systemd watchdog and delay every other job's re-bid. ``defer_creates`` keeps the
first creates of a plan (``decide()`` orders them by priority, least slack, id) up to the budget of the tick,
``PACED_SHARE`` of the interval, and defers the rest, with every other action of their jobs, to the next ticks;
each deferred job gets a ``deferred`` decision with the figures. Deferring only ever commits less money.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from vastbid.core.actions import Action, PlaceBid, RentOnDemand
from vastbid.core.plan import JobDecision, JobOutcome, Plan

PACED_SHARE = 0.8
"""The share of the tick interval that paced creates may take."""


@dataclass(frozen=True, slots=True)
class Paced:
    """The actions this tick applies, and the jobs whose creates wait for a later tick."""

    actions: list[Action]
    plan: Plan
    """The plan, its deferred jobs' decisions marked ``deferred``."""
    deferred: list[int] = field(default_factory=list)
    limit: int = 0


def creates_per_tick(tick_seconds: float, create_interval: float) -> int:
    """How many creates fit in ``PACED_SHARE`` of a tick (at least one)."""
    if create_interval <= 0:
        return 1_000_000
    return max(1, int(PACED_SHARE * tick_seconds / create_interval))


def defer_creates(actions: Sequence[Action], plan: Plan, limit: int) -> Paced:
    """``actions`` with the creates past ``limit`` (and every action of their jobs) left for later ticks."""
    deferred: list[int] = []
    creates = 0
    for action in actions:
        if isinstance(action, PlaceBid | RentOnDemand):
            creates += 1
            if creates > limit and action.job_id not in deferred:
                deferred.append(action.job_id)
    if not deferred:
        return Paced(list(actions), plan, [], limit)
    waiting = set(deferred)
    kept = [a for a in actions if a.job_id is None or a.job_id not in waiting]
    why = f"waits for a later tick: this one starts {limit} create(s), as many as its interval allows"
    decisions = dict(plan.decisions)
    for job_id in deferred:
        old = decisions.get(job_id)
        decisions[job_id] = JobDecision(job_id, old.strategy if old else "", JobOutcome.DEFERRED, why)
    return Paced(kept, dataclasses.replace(plan, decisions=decisions), deferred, limit)
