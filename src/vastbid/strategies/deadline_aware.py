"""``deadline_aware``: ours. Uniform Progress, made cost-aware with spot-lifetime estimates and a slack-based exit
from on demand.

Per tick, in order (the rules of ``DeadlineAware.rules``; C = work left, R = time left, S = R - C the slack,
d = restart overhead, k = on-demand / spot price):
1. Thrifty: done -> hold nothing.
2. Safety Net: not on spot and S < 2d -> on demand (cheapest place) until done.
3. Exploitation: on spot -> stay until preempted; in several places, migrate to a cheaper spot place only when
   the saving over its expected lifetime pays the overhead ``min_gain_overheads`` times over, and only with
   S >= 3d (the move spends d; the Safety Net needs 2d left to reach on demand after a preemption).
4. On demand: leave *for* a spot place whose expected remaining lifetime exceeds ``leave_gate * 2kd/(k-1)`` as
   soon as S >= ``od_exit_slack`` * d, ahead of the uniform line or not (progress on spot is as fast as on demand:
   the oracle never pays on demand while spot is up; the restart costs d of slack, and the Safety Net still holds
   afterwards). ``od_exit_slack=None`` restores UP's hysteresis (stay while cp(t) < ep(t + 2d)). Without such a
   spot, stay on demand (an idle stint is what sends UP back to on demand, paying d again), unless
   ``od_release_margin`` is set and S exceeds the reserve below by that many d. Leaving on demand is judged on
   the median remaining lifetime (``leave_quantile``), not the mean: most runs die young while a few last for
   days, and a run that dies young costs two restarts (there and back). ``leave_min_age`` can also ask for a
   run of capacity already that many restart overheads old.
5. Idle: take the spot place whose expected remaining lifetime L exceeds ``idle_gate * kd/(k-1)`` (skip
   short-lived spots) with the lowest price per useful hour, ``min_bid * L/(L-d)`` (SkyNomad's eta; plain
   ``min_bid`` with ``rank_by_lifetime=False``; the same ranking when leaving on demand); otherwise, if
   S < f * R(t) * (1 - C0/R0) -> on demand; else wait. f is ``idle_reserve`` (1.0: behind UP's line) less
   ``reserve_per_run_hour`` for each hour of the mean length of past runs of capacity (averaged over the places
   with statistics), never under ``reserve_floor``: where capacity comes back in long runs, a return soon makes
   up for a wait, so the job can wait longer before paying for on demand.

Measured on the V100 traces (``bench/backtest_bounds.py``): the slack-based exit is what cuts the regret (the
on-demand hours UP spends behind its hysteresis line while spot is up); waiting longer than UP's line
(``idle_reserve`` < 1 everywhere) or releasing on demand early costs more than it saves, while a reserve that
shrinks with the typical run length cut the regret on the zones with long runs (V100 us-east-2a/2b) and on the
GCP H100 zones, which were not used to choose it.

Lifetime estimates come from ``ctx.spot_stats`` per machine id (what was observed before now: ``up_hours``,
the age of the current run of capacity, and ``past_up_hours``, lengths of past runs; the daemon's ``SpotRuns``
fills it, the backtests from the trace's past): the expected remaining lifetime is the mean (from idle) or the
median (leaving on demand) of ``L - age`` over past runs that reached the current age. With no statistics the gates
are open (plain UP). The bid is ``bid_margin`` over the minimum, within the cap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, ClassVar

from pydantic import Field

from vastbid.core.offers import Offer
from vastbid.strategies import _deadline as dl
from vastbid.strategies.base import Choice, StrategyContext

RUNS_FOR_MEAN = 100
"""How many of the latest past runs the mean run length (for the idle reserve) is taken over."""
_SAME_HOURS = 1e-9
"""Run lengths and ages are whole ticks times a float tick length: closer than this, they are equal."""

_AtLeast0 = Annotated[float, Field(ge=0.0)]


def expected_remaining_lifetime(
    past_up_hours: Sequence[float], age_hours: float, min_samples: int, quantile: float | None = None
) -> float | None:
    """Mean (or the ``quantile``) of ``L - age`` over the past runs that reached ``age`` (``L >= age``: the ones
    that ended just then count, with 0 left); ``None`` with fewer than ``min_samples`` of them."""
    longer = sorted(length - age_hours for length in past_up_hours if length >= age_hours - _SAME_HOURS)
    if len(longer) < min_samples:
        return None
    if quantile is not None:
        return longer[min(int(quantile * len(longer)), len(longer) - 1)]
    return sum(longer) / len(longer)


@dataclass(frozen=True, kw_only=True, slots=True)
class DeadlineAware(dl.RuleBook):
    """Deadline-safe spot usage; see the module docstring. The fields are its tuning knobs (defaults measured on
    the V100 traces)."""

    name: ClassVar[str] = "deadline_aware"
    IDLE_WHY: ClassVar[str] = "no lasting spot and not behind: idle"

    bid_margin: dl.BidMargin = 0.1
    min_samples: Annotated[int, Field(ge=1)] = 5
    """Past runs needed before lifetime estimates gate anything."""
    idle_gate: _AtLeast0 = 1.0
    """From idle, take spot only if expected lifetime > idle_gate * k*d/(k-1)."""
    leave_gate: _AtLeast0 = 1.0
    """Leave on demand for spot only if expected lifetime > leave_gate * 2k*d/(k-1)."""
    min_gain_overheads: _AtLeast0 = 2.0
    """Spot-to-spot migration must save this many restart overheads' worth over the expected lifetime."""
    lifetime_quantile: Annotated[float | None, Field(ge=0.0, le=1.0)] = None
    """Gate on this quantile of the remaining lifetime of past runs as old as the current one (None: the mean)."""
    rank_by_lifetime: bool = True
    """Rank lasting spot places by min_bid * L/(L - d) (price per useful hour) instead of min_bid."""
    od_exit_slack: Annotated[float | None, Field(ge=2.0)] = 2.0
    """X: leave on demand for a lasting spot whenever the slack is at least X*d (None: UP's hysteresis)."""
    idle_reserve: _AtLeast0 = 1.0
    """Idle without lasting spot -> on demand when slack < idle_reserve * R(t) * (1 - C0/R0) (1.0: behind ep)."""
    reserve_per_run_hour: _AtLeast0 = 0.05
    """The reserve's factor shrinks by this much per hour of the mean length of past runs of capacity."""
    reserve_floor: _AtLeast0 = 0.6
    """...but never below this factor."""
    od_release_margin: Annotated[float | None, Field(ge=0.0)] = None
    """On demand without lasting spot: release to idle once the slack exceeds that reserve by this many d."""
    leave_quantile: Annotated[float | None, Field(ge=0.0, le=1.0)] = 0.5
    """Leaving on demand: gate on this quantile of the remaining lifetime (None: as from idle)."""
    leave_min_age: _AtLeast0 = 0.0
    """Leaving on demand: only for a spot whose current run has lasted this many restart overheads already
    (1.25 helps where capacity flaps, 1c/1f, and costs as much where runs are long, 2a/2b)."""

    def rules(self) -> tuple[dl.Rule, ...]:
        """The rules in order (bound to the parameters); the first that acts decides, else idle."""
        return (
            dl.thrifty,
            self._exploit_or_move,
            dl.safety_net,
            self._on_demand_gate,
            self._leave_on_demand,
            self._release_on_demand,
            self._stay_on_demand,
            self._lasting_spot,
            self._short_of_reserve,
        )

    # The rules, in their order.

    def _exploit_or_move(self, s: dl.Situation) -> Choice | None:
        """On spot: stay until preempted, or move to a cheaper spot place when that pays its restart overhead."""
        ctx, spots = s.ctx, s.spots
        if not dl.on_spot(ctx.instance):
            return None
        current = dl.place_of(ctx)
        if current is None or len(spots) < 2 or ctx.instance is None:
            return dl.exploitation(s)
        paying = ctx.instance.bid_price if ctx.instance.bid_price is not None else current.min_bid
        paying = min(paying, current.min_bid) if current.min_bid < ctx.job.max_price else paying
        best = spots[0]
        if best.machine_id == current.machine_id:
            return s.keep("on the cheapest spot place")
        schedule = s.schedule
        if schedule is not None and schedule.slack < 3.0 * schedule.overhead - dl.EPS_HOURS:
            # a move spends d of slack; the Safety Net needs 2d left to reach on demand after a preemption
            return s.keep("on spot: too little slack to pay another restart")
        life = self._lifetime(ctx, best)
        overhead = ctx.job.spec.restart_overhead_hours
        saving = (paying - best.min_bid) * (life if life is not None else 0.0)
        if saving > self.min_gain_overheads * overhead * best.min_bid:
            return s.take_spot(spots, "a cheaper spot place pays its restart overhead")
        return s.keep("on spot: a cheaper place would not pay its restart overhead")

    def _on_demand_gate(self, s: dl.Situation) -> Choice | None:
        """On demand: stay while the slack is under ``od_exit_slack`` d (or, without it, behind UP's hysteresis)."""
        schedule = s.schedule
        if schedule is None or not dl.on_demand(s.instance):
            return None
        if self.od_exit_slack is None:
            return dl.hysteresis(s)
        if schedule.slack < self.od_exit_slack * schedule.overhead:
            return s.keep("on demand: too little slack to risk spot")
        return None

    def _leave_on_demand(self, s: dl.Situation) -> Choice | None:
        """On demand, past the gate: leave for a spot place expected to last."""
        if not dl.on_demand(s.instance):
            return None
        lasting = self._lasting_spots(s.ctx, s.spots, self._od_price(s), 2.0 * self.leave_gate, leaving=True)
        return s.take_spot(lasting, "ahead: leave on demand for a lasting spot")

    def _release_on_demand(self, s: dl.Situation) -> Choice | None:
        """On demand without a lasting spot: release once ``od_release_margin`` d over the reserve."""
        schedule = s.schedule
        if schedule is None or self.od_release_margin is None or not dl.on_demand(s.instance):
            return None
        if schedule.slack >= self._reserve(s.ctx, schedule) + self.od_release_margin * schedule.overhead:
            return s.idle("well ahead and no lasting spot: release on demand")
        return None

    def _stay_on_demand(self, s: dl.Situation) -> Choice | None:
        return s.keep("ahead, but no spot expected to last: stay on demand") if dl.on_demand(s.instance) else None

    def _lasting_spot(self, s: dl.Situation) -> Choice | None:
        """Idle: the spot place expected to outlast its overhead, cheapest per useful hour."""
        lasting = self._lasting_spots(s.ctx, s.spots, self._od_price(s), self.idle_gate)
        return s.take_spot(lasting, "spot expected to outlast its overhead")

    def _short_of_reserve(self, s: dl.Situation) -> Choice | None:
        """Idle without a lasting spot: on demand when the slack is under the reserve."""
        schedule = s.schedule
        if schedule is None or not schedule.slack < self._reserve(s.ctx, schedule) - dl.EPS_HOURS:
            return None
        return s.take_on_demand("idle and behind ep(t): on demand")

    # What the rules estimate.

    @staticmethod
    def _od_price(s: dl.Situation) -> float:
        return s.od_places[0].dph_total if s.od_places else s.ctx.job.max_price

    def _lifetime(self, ctx: StrategyContext, offer: Offer, *, leaving: bool = False) -> float | None:
        zone = ctx.spot_stats.get(offer.machine_id)
        if zone is None:
            return None
        past, age = zone.past_up_hours, zone.up_hours
        if not leaving:
            return expected_remaining_lifetime(past, age, self.min_samples, self.lifetime_quantile)
        quantile = self.leave_quantile if self.leave_quantile is not None else self.lifetime_quantile
        life = expected_remaining_lifetime(past, age, self.min_samples, quantile)
        if life is not None and age < self.leave_min_age * ctx.job.spec.restart_overhead_hours - dl.EPS_HOURS:
            return 0.0  # too young: most runs of capacity die early, and each such cycle costs two restarts
        return life

    def _lasting_spots(
        self, ctx: StrategyContext, spots: list[Offer], od_price: float, gate: float, *, leaving: bool = False
    ) -> list[Offer]:
        """Spot places whose expected lifetime beats ``gate * k*d/(k-1)`` for their own k."""
        overhead = ctx.job.spec.restart_overhead_hours
        kept: list[tuple[float, Offer]] = []
        for offer in spots:
            k = od_price / offer.min_bid if offer.min_bid > 0 else float("inf")
            if k <= 1:
                continue
            threshold = gate * k * overhead / (k - 1)
            life = self._lifetime(ctx, offer, leaving=leaving)
            if life is None or life > threshold:
                useful = 1.0 if life is None or not self.rank_by_lifetime else (life - overhead) / life
                kept.append((offer.min_bid / max(useful, 1e-9), offer))
        kept.sort(key=lambda pair: (pair[0], pair[1].min_bid, pair[1].id))
        return [offer for _, offer in kept]

    def _reserve(self, ctx: StrategyContext, schedule: dl.Schedule) -> float:
        if schedule.horizon <= 0:
            return max(schedule.time_left, 0.0)  # a deadline at (or before) the job's creation: no slack to spend
        factor = self.idle_reserve
        run_hours = self._mean_run_hours(ctx)
        if run_hours is not None:
            factor = max(min(self.reserve_floor, factor), factor - self.reserve_per_run_hour * run_hours)
        return factor * schedule.time_left * (1.0 - schedule.work / schedule.horizon)

    def _mean_run_hours(self, ctx: StrategyContext) -> float | None:
        """The mean length of the last ``RUNS_FOR_MEAN`` past runs, averaged over places with enough of them."""
        means: list[float] = []
        for zone in ctx.spot_stats.values():
            recent = zone.past_up_hours[-RUNS_FOR_MEAN:]
            if len(recent) >= self.min_samples:
                means.append(sum(float(x) for x in recent) / len(recent))
        return sum(means) / len(means) if means else None
