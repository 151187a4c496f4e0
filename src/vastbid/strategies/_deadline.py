"""Shared pure math of the deadline strategies (Can't Be Late, NSDI 2024): the schedule, places and choices.

The model: a job needs ``C0 = spec.work_hours`` of work before ``spec.deadline``, its schedule starting at
``job.created_at`` (so ``R0 = deadline - created_at``); each start on a new instance costs the restart overhead
``d = spec.restart_overhead_hours`` in time. Each ``Offer`` is a *place*: interruptible capacity exists there
when its ``min_bid`` fits the job's cap and is under the on-demand price (``dph_total``); on demand is always
there at ``dph_total``.

What the deadline strategies read from the context (they keep no state of their own):
- ``job.progress_hours``, ``job.spec`` (work, deadline, overhead), ``job.created_at`` and ``ctx.now``;
- ``ctx.instance``: ``is_bid`` tells spot from on demand, ``status`` tells working (running, loading,
  provisioning, scheduling) from preempted (outbid) or dead, ``machine_id`` tells which place it is on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vastbid.core.instances import Instance, InstanceStatus
from vastbid.core.jobs import Job
from vastbid.core.offers import Offer, RentalType
from vastbid.strategies.base import Choice, StrategyContext, Verb

EPS_HOURS = 1e-6
"""Tolerance on hour comparisons (datetimes carry microseconds)."""

_WORKING = frozenset(
    {InstanceStatus.RUNNING, InstanceStatus.LOADING, InstanceStatus.PROVISIONING, InstanceStatus.SCHEDULING}
)


@dataclass(frozen=True, slots=True)
class Schedule:
    """Where a deadline job stands, in hours."""

    work: float
    """C0: the work the job needs in all."""
    done: float
    """cp(t): the work done so far."""
    elapsed: float
    """t: hours since the schedule started."""
    horizon: float
    """R0: hours from the start of the schedule to the deadline."""
    overhead: float
    """d: the restart overhead."""

    @property
    def remaining_work(self) -> float:
        """C(t)."""
        return max(self.work - self.done, 0.0)

    @property
    def time_left(self) -> float:
        """R(t)."""
        return self.horizon - self.elapsed

    @property
    def slack(self) -> float:
        """R(t) - C(t): idle time the job can still afford."""
        return self.time_left - self.remaining_work

    @property
    def finished(self) -> bool:
        """Thrifty: nothing left to do."""
        return self.remaining_work <= EPS_HOURS

    def expected(self, at_elapsed: float) -> float:
        """ep(t) = t * C0 / R0: the uniform progress line."""
        if self.horizon <= 0:
            return self.work
        return min(at_elapsed, self.horizon) * self.work / self.horizon

    @property
    def behind(self) -> bool:
        """cp(t) < ep(t)."""
        return self.done < self.expected(self.elapsed) - EPS_HOURS

    def ahead_of(self, lead_hours: float) -> bool:
        """cp(t) >= ep(t + lead): the hysteresis test for leaving on demand."""
        return self.done >= self.expected(self.elapsed + lead_hours) - EPS_HOURS

    def safety_net_due(self, margin_overheads: float = 2.0) -> bool:
        """Safety Net: R(t) < C(t) + margin * d (the paper's margin is 2)."""
        return self.slack < margin_overheads * self.overhead - EPS_HOURS


def schedule_of(ctx: StrategyContext) -> Schedule | None:
    """The job's schedule, or ``None`` when it has no work estimate or no deadline."""
    job = ctx.job
    spec = job.spec
    if spec.work_hours is None or spec.deadline is None:
        return None
    return Schedule(
        work=spec.work_hours,
        done=job.progress_hours,
        elapsed=(ctx.now - job.created_at).total_seconds() / 3600.0,
        horizon=(spec.deadline - job.created_at).total_seconds() / 3600.0,
        overhead=spec.restart_overhead_hours,
    )


def is_working(instance: Instance | None) -> bool:
    """Whether the instance is up or coming up (not preempted, stopped or gone)."""
    return instance is not None and instance.status in _WORKING


def on_spot(instance: Instance | None) -> bool:
    """Whether the job runs (or boots) on an interruptible instance."""
    return instance is not None and instance.is_bid and is_working(instance)


def on_demand(instance: Instance | None) -> bool:
    """Whether the job runs (or boots) on an on-demand instance."""
    return instance is not None and not instance.is_bid and is_working(instance)


def holds_instance(instance: Instance | None) -> bool:
    """Whether there is an instance to give up (anything not gone)."""
    return instance is not None and instance.status is not InstanceStatus.GONE


def spot_places(ctx: StrategyContext) -> list[Offer]:
    """Places with interruptible capacity the job may pay for, cheapest first (ties by id)."""
    cap = ctx.job.max_price
    usable = [o for o in ctx.offers if o.rentable and o.min_bid <= cap and o.min_bid < o.dph_total]
    return sorted(usable, key=lambda o: (o.min_bid, o.id))


def on_demand_places(ctx: StrategyContext) -> list[Offer]:
    """Places the job may rent on demand, cheapest first (ties by id)."""
    cap = ctx.job.max_price
    usable = [o for o in ctx.offers if o.rentable and o.dph_total <= cap]
    return sorted(usable, key=lambda o: (o.dph_total, o.id))


def place_of(ctx: StrategyContext) -> Offer | None:
    """The offer of the machine the current instance is on, if it is among the candidates."""
    if ctx.instance is None:
        return None
    for offer in ctx.offers:
        if offer.machine_id == ctx.instance.machine_id:
            return offer
    return None


def bid_for(offer: Offer, job: Job, margin: float) -> float:
    """A bid ``margin`` (a fraction) over the offer's minimum, never over the job's cap."""
    return min(job.max_price, offer.min_bid * (1.0 + margin))


def _verb_for_new(ctx: StrategyContext) -> Verb:
    return Verb.MIGRATE if holds_instance(ctx.instance) else Verb.ACQUIRE


def rent_spot(
    ctx: StrategyContext, offer: Offer, bid: float, why: str, *, ranked: Sequence[Offer], facts: Mapping[str, Any]
) -> Choice:
    """Rent ``offer`` as an interruptible at ``bid``."""
    return Choice(
        verb=_verb_for_new(ctx),
        why=why,
        offer=offer,
        rental=RentalType.INTERRUPTIBLE,
        price=bid,
        facts=dict(facts),
        ranked=tuple(ranked[:5]),
    )


def rent_on_demand(
    ctx: StrategyContext, offer: Offer, why: str, *, ranked: Sequence[Offer], facts: Mapping[str, Any]
) -> Choice:
    """Rent ``offer`` on demand at its ask."""
    return Choice(
        verb=_verb_for_new(ctx),
        why=why,
        offer=offer,
        rental=RentalType.ON_DEMAND,
        price=offer.dph_total,
        facts=dict(facts),
        ranked=tuple(ranked[:5]),
    )


def keep(why: str, facts: Mapping[str, Any]) -> Choice:
    """Leave the current instance as it is."""
    return Choice(verb=Verb.KEEP, why=why, facts=dict(facts))


def idle(ctx: StrategyContext, why: str, facts: Mapping[str, Any]) -> Choice:
    """Hold nothing: release any instance (a preempted one too), wait otherwise.

    A held preempted interruptible would resume by itself when capacity returns, paying the restart overhead
    whatever the slack: a deadline strategy takes spot again only by its own choice, after its safety checks.
    """
    if holds_instance(ctx.instance):
        return Choice(verb=Verb.RELEASE, why=why, facts=dict(facts))
    return Choice(verb=Verb.WAIT, why=why, facts=dict(facts))


def finished_choice(ctx: StrategyContext) -> Choice:
    """Thrifty: the work is done, hold nothing."""
    if holds_instance(ctx.instance):
        return Choice(verb=Verb.RELEASE, why="work done: release (thrifty)")
    return Choice(verb=Verb.WAIT, why="work done: nothing to hold (thrifty)")


def schedule_facts(schedule: Schedule | None) -> dict[str, Any]:
    """The schedule as decision-log facts."""
    if schedule is None:
        return {}
    return {
        "done_h": round(schedule.done, 4),
        "remaining_h": round(schedule.remaining_work, 4),
        "time_left_h": round(schedule.time_left, 4),
        "slack_h": round(schedule.slack, 4),
        "expected_h": round(schedule.expected(schedule.elapsed), 4),
    }
