"""``DecidePolicy``: the knobs of ``decide()`` that are not money (budgets are ``Budget``), and strategy keys."""

from __future__ import annotations

import json
from dataclasses import dataclass

from vastbid.core.jobs import Job


@dataclass(frozen=True, slots=True)
class DecidePolicy:
    """How ``decide()`` serves jobs."""

    deployment: str
    """Goes into every label: ``vastbid:<deployment>:<job_id>:<attempt>``."""
    default_strategy: str = "cheapest_per_gpu"
    """For jobs that name none."""
    min_migration_gain: float = 0.2
    """A running job moves only to save at least this fraction of its $/h (hysteresis)."""
    hours_to_next_tick: float = 5.0 / 60.0
    """How long this plan's commitments run before the next decision: budgets are checked over it."""
    unknown_work_horizon_hours: float = 6.0
    """For jobs without a work estimate: the hours a migration's saving is counted over (vs its overhead)."""
    candidate_window: int = 32
    """How many of a group's best unclaimed candidates each job's strategy sees."""


def strategy_key(job: Job, default_strategy: str) -> str:
    """The key of the built strategy serving ``job`` in the ``strategies`` mapping given to ``decide()``.

    A job without parameters is served by the strategy built under its bare name; a job with parameters by the
    one built under ``"<name>?<canonical JSON of the parameters>"``, so the daemon builds one strategy per
    distinct (name, parameters) and jobs sharing them share a group.
    """
    name = job.spec.strategy or default_strategy
    if not job.spec.strategy_params:
        return name
    return f"{name}?{json.dumps(job.spec.strategy_params, sort_keys=True, separators=(',', ':'), default=str)}"
