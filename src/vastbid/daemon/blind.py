"""When a tick cannot see the market: enforce what must stop, from what the daemon last saw, and commit nothing new.

A failed search or listing used to mean a tick enforced nothing: a cancelled job's instance ran on and a daily cap
was crossed for as long as the market stayed unseen. ``blind_plan`` decides on what the daemon knows instead:
- the instances of the last successful observation (``LastView``), and the jobs as the database has them;
- the money spent so far, from the ledger, plus the last committed burn over the time since that observation (the
  ledger cannot accrue without a listing: the estimate is never below what was really committed);
- no offers at all.
It runs the same ``decide()`` and keeps only the actions that reduce spending (destroy, stop, and the job updates
that go with them): a cancelled or expired job's instance is destroyed, a cap crossed by the estimate sheds the
lowest priority spend. A job whose instance the last view does not show is left alone (nothing says it vanished),
unless the job is over, when its instance is destroyed by the id the database holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from vastbid.core.actions import Action, DestroyInstance, StopInstance, UpdateJob
from vastbid.core.budget import Budget
from vastbid.core.choice import Strategy
from vastbid.core.decide import decide
from vastbid.core.instances import Instance
from vastbid.core.jobs import Job
from vastbid.core.plan import Plan, StrategyUnavailable
from vastbid.core.policy import DecidePolicy
from vastbid.core.snapshot import MarketSnapshot
from vastbid.daemon import record
from vastbid.daemon.executor import Executor
from vastbid.store.store import Store

log = structlog.get_logger("vastbid.blind")

_REDUCING = (DestroyInstance, StopInstance, UpdateJob)


@dataclass(frozen=True, slots=True)
class LastView:
    """What the last successful tick saw of our account."""

    at: datetime
    instances: Sequence[Instance] = ()
    committed_dph: float = 0.0
    balance: float = 0.0


@dataclass(frozen=True, slots=True)
class BlindPlan:
    """The spending-reducing actions of a tick that could not see the market."""

    actions: list[Action] = field(default_factory=list)
    plan: Plan | None = None


def blind_plan(
    jobs: Sequence[Job],
    last: LastView | None,
    now: datetime,
    *,
    spent_today: float,
    spent_month: float,
    budget: Budget,
    strategies: Mapping[str, Strategy | StrategyUnavailable],
    policy: DecidePolicy,
) -> BlindPlan:
    """What to do when observing failed (see the module docstring)."""
    known = {i.id: i for i in last.instances} if last is not None else {}
    actions: list[Action] = []
    decidable: list[Job] = []
    for job in jobs:
        if job.instance_id is None or job.instance_id in known:
            decidable.append(job)
        elif job.state.is_final:
            why = f"job is {job.state.value} and the market cannot be seen: destroy its instance {job.instance_id}"
            actions.append(DestroyInstance(job.id, job.instance_id, why, {"blind": True}))
    if last is None:
        return BlindPlan(actions)
    unseen_hours = max((now - last.at).total_seconds(), 0.0) / 3600.0
    estimate = last.committed_dph * unseen_hours  # spent since the ledger last accrued, at most
    same_day = now.astimezone(UTC).date() == last.at.astimezone(UTC).date()
    same_month = same_day or now.astimezone(UTC).strftime("%Y%m") == last.at.astimezone(UTC).strftime("%Y%m")
    snapshot = MarketSnapshot(
        taken_at=now,
        offers={},
        instances=list(known.values()),
        balance=last.balance - estimate,
        spent_today=spent_today + (estimate if same_day else last.committed_dph * _hours_today(now)),
        spent_month=spent_month + (estimate if same_month else last.committed_dph * _hours_today(now)),
    )
    plan = decide(snapshot, decidable, budget=budget, strategies=strategies, policy=policy)
    actions += [a for a in plan.actions if isinstance(a, _REDUCING)]
    return BlindPlan(actions, plan)


def _hours_today(now: datetime) -> float:
    moment = now.astimezone(UTC)
    return moment.hour + moment.minute / 60.0 + moment.second / 3600.0


class BlindEnforcer:
    """Keeps the last view of the account and, when a tick cannot observe, applies ``blind_plan`` through the
    executor (every action with its decision row, as on any tick)."""

    def __init__(self, store: Store, executor: Executor, config_hash: str) -> None:
        self._store = store
        self._executor = executor
        self._config_hash = config_hash
        self.last: LastView | None = None

    def remember(self, view: LastView) -> None:
        """What a successful tick saw."""
        self.last = view

    def enforce(  # noqa: PLR0917 - the tick's inputs, each named
        self,
        tick_id: int,
        now: datetime,
        jobs: Sequence[Job],
        budget: Budget,
        strategies: Mapping[str, Strategy | StrategyUnavailable],
        policy: DecidePolicy,
    ) -> int:
        """Apply what must stop; how many actions were applied. Never raises (the tick's own error stands)."""
        try:
            spend = self._store.spend
            blind = blind_plan(
                jobs,
                self.last,
                now,
                spent_today=spend.spent_on_day(now.astimezone(UTC).date()),
                spent_month=spend.spent_in_month(now),
                budget=budget,
                strategies=strategies,
                policy=policy,
            )
            if not blind.actions:
                return 0
            plan = blind.plan or Plan(actions=(), decisions={}, committed_dph=0.0)
            rows = record.planned_rows(record.RowContext(tick_id, now, self._config_hash), blind.actions, plan)
            report = self._executor.apply(rows, {job.id: job for job in jobs}, now)
        except Exception as exc:  # enforcing blind is best effort: the tick has already failed
            log.warning("blind_enforcement_failed", error=str(exc), error_class=type(exc).__name__)
            return 0
        log.warning("blind_enforcement", actions=len(blind.actions), applied=report.applied, failed=report.failed)
        return report.applied
