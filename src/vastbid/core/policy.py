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
    """The tick interval: how long after this tick the next one starts, at the soonest."""
    observe_seconds: float = 10.0
    """From a tick's start until it acts (observing, reconciling, deciding): paid once now and once at the next tick."""
    create_seconds: float = 4.5
    """Vast's pace between two creates (the ``asks`` rate class): the Nth create of a plan is sent N times this in."""
    rebid_seconds: float = 5.5
    """Vast's pace between two bid changes (the ``bid_price`` rate class)."""
    destroy_seconds: float = 3.0
    """Vast's pace between two destroys: the next tick needs this per instance to give every one up."""
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
