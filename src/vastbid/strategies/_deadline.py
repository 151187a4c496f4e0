"""Shared pure math of the deadline strategies (Can't Be Late, NSDI 2024): the schedule, places, choices and rules.

The model: a job needs ``C0 = spec.work_hours`` of work before ``spec.deadline``, its schedule starting at
``job.created_at`` (so ``R0 = deadline - created_at``); each start on a new instance costs the restart overhead
``d = spec.restart_overhead_hours`` in time. Each ``Offer`` is a *place*: interruptible capacity exists there
when its ``min_bid`` fits the job's cap and is under the on-demand price (``dph_total``); on demand is always
there at ``dph_total``.

What the deadline strategies read from the context (they keep no state of their own):
- ``job.progress_hours``, ``job.spec`` (work, deadline, overhead), ``job.created_at`` and ``ctx.now``;
- ``ctx.instance``: ``is_bid`` tells spot from on demand, ``status`` tells working (running, loading,
  provisioning, scheduling) from preempted (outbid) or dead, ``machine_id`` tells which place it is on.

A deadline strategy is an ordered list of rules (``Rule``: a ``Situation`` in, a ``Choice`` or ``None`` out) of
which the first that acts decides (``RuleBook``); the rules the strategies share live here (``thrifty``,
``exploitation``, ``safety_net``, ``hysteresis``, ``cheapest_spot``), each strategy's own in its module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, ClassVar

from pydantic import Field

from vastbid.core.instances import Instance, InstanceStatus
from vastbid.core.jobs import Job
from vastbid.core.offers import Offer, RentalType
from vastbid.strategies.base import Choice, StrategyContext, Verb

BidMargin = Annotated[
    float, Field(ge=0.0, le=10.0, description="bid this fraction over the minimum bid (capped by the job's cap)")
]
"""The ``bid_margin`` parameter of the deadline strategies that take spot."""
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


def rent(
    ctx: StrategyContext,
    offer: Offer,
    rental: RentalType,
    price: float,
    why: str,
    *,
    ranked: Sequence[Offer],
    facts: Mapping[str, Any],
) -> Choice:
    """Rent ``offer`` as ``rental`` at ``price``: a migration when an instance is held, else an acquisition."""
    return Choice(
        verb=Verb.MIGRATE if holds_instance(ctx.instance) else Verb.ACQUIRE,
        why=why,
        offer=offer,
        rental=rental,
        price=price,
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


@dataclass(frozen=True)
class Situation:
    """One deadline job on one tick, as the rules see it: the context, its schedule and the places, each computed
    at most once."""

    ctx: StrategyContext
    bid_margin: float = 0.0
    """Bid this fraction over a spot place's minimum (within the job's cap)."""

    @cached_property
    def schedule(self) -> Schedule | None:
        """The job's schedule (``None`` without a work estimate or a deadline)."""
        return schedule_of(self.ctx)

    @cached_property
    def facts(self) -> dict[str, Any]:
        """The schedule as decision-log facts."""
        return schedule_facts(self.schedule)

    @cached_property
    def spots(self) -> list[Offer]:
        """Places with interruptible capacity within the cap, cheapest first."""
        return spot_places(self.ctx)

    @cached_property
    def od_places(self) -> list[Offer]:
        """Places to rent on demand within the cap, cheapest first."""
        return on_demand_places(self.ctx)

    @property
    def instance(self) -> Instance | None:
        """The job's current instance."""
        return self.ctx.instance

    def keep(self, why: str) -> Choice:
        """Leave the current instance as it is."""
        return keep(why, self.facts)

    def idle(self, why: str) -> Choice:
        """Hold nothing (release what is held)."""
        return idle(self.ctx, why, self.facts)

    def take_spot(self, ranked: Sequence[Offer], why: str) -> Choice | None:
        """Rent the first of ``ranked`` as an interruptible at ``bid_margin`` over its minimum; ``None`` if empty."""
        if not ranked:
            return None
        bid = bid_for(ranked[0], self.ctx.job, self.bid_margin)
        return rent(self.ctx, ranked[0], RentalType.INTERRUPTIBLE, bid, why, ranked=ranked, facts=self.facts)

    def take_on_demand(self, why: str) -> Choice | None:
        """Rent the cheapest on-demand place at its ask; ``None`` when there is none."""
        if not self.od_places:
            return None
        best = self.od_places[0]
        return rent(self.ctx, best, RentalType.ON_DEMAND, best.dph_total, why, ranked=self.od_places, facts=self.facts)


Rule = Callable[[Situation], Choice | None]
"""One step of a deadline strategy: a choice when it acts, ``None`` to leave the decision to the next rule."""


class RuleBook:
    """Mixin of the deadline strategies: ``choose`` runs ``rules()`` in order and the first that acts decides; when
    none does, the job holds nothing (``Situation.idle`` with ``IDLE_WHY``).

    ``rules()`` is the class's ``RULES``; a strategy whose rules read its parameters overrides it. A strategy that
    takes spot has a ``bid_margin`` field (its bid over a place's minimum).
    """

    __slots__ = ()

    RULES: ClassVar[tuple[Rule, ...]] = ()
    IDLE_WHY: ClassVar[str] = "no rule acted: idle"

    def rules(self) -> Sequence[Rule]:
        """The rules, in order."""
        return self.RULES

    def choose(self, ctx: StrategyContext) -> Choice:
        """The choice of the first rule that acts, else idle; see the strategy's module docstring."""
        situation = Situation(ctx, getattr(self, "bid_margin", 0.0))
        for rule in self.rules():
            choice = rule(situation)
            if choice is not None:
                return choice
        return situation.idle(self.IDLE_WHY)


def cheapest_spot(why: str) -> Rule:
    """The rule "take the cheapest spot place, if any" (giving ``why``)."""

    def rule(s: Situation) -> Choice | None:
        return s.take_spot(s.spots, why)

    return rule


def thrifty(s: Situation) -> Choice | None:
    """Thrifty: the work is done, hold nothing."""
    if s.schedule is None or not s.schedule.finished:
        return None
    if holds_instance(s.instance):
        return Choice(verb=Verb.RELEASE, why="work done: release (thrifty)")
    return Choice(verb=Verb.WAIT, why="work done: nothing to hold (thrifty)")


def exploitation(s: Situation) -> Choice | None:
    """Exploitation: on spot, stay until preempted."""
    return s.keep("on spot: stay until preempted (exploitation)") if on_spot(s.instance) else None


def safety_net(s: Situation) -> Choice | None:
    """Safety Net: not on spot (the rule before sees to that) and R(t) < C(t) + 2d -> on demand, and stay there."""
    if s.schedule is None or not s.schedule.safety_net_due():
        return None
    if on_demand(s.instance):
        return s.keep("slack under 2 restart overheads: stay on demand (safety net)")
    return s.take_on_demand("slack under 2 restart overheads: safety net")


def hysteresis(s: Situation) -> Choice | None:
    """Uniform Progress's hysteresis: on demand while cp(t) < ep(t + 2d)."""
    if s.schedule is None or not on_demand(s.instance) or s.schedule.ahead_of(2 * s.schedule.overhead):
        return None
    return s.keep("on demand until cp(t) >= ep(t + 2d) (hysteresis)")
