"""``uniform_progress``: Uniform Progress from Can't Be Late (NSDI 2024), parameter-free.

Expected progress is ep(t) = t * C0 / R0 and cp(t) the work done. Per tick, in order:
1. Thrifty: done -> hold nothing.
2. Safety Net: not on spot and R(t) < C(t) + 2d -> on demand (and stay there: on demand the slack is constant).
3. Exploitation: on spot -> stay until preempted.
4. Hysteresis: on demand and cp(t) < ep(t + 2d) -> stay on demand.
5. Take any available spot, even when behind.
6. Idle and behind (cp < ep) -> on demand; otherwise wait (or release on-demand capacity once ahead).
Without a deadline it behaves like ``greedy``.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from vastbid.strategies import _deadline as dl
from vastbid.strategies.base import Choice, StrategyContext, StrategyParams


class UniformProgress:
    """Spot whenever there is some; on demand when behind the uniform progress line, with hysteresis."""

    name: ClassVar[str] = "uniform_progress"

    class Params(StrategyParams):
        """``bid_margin``: bid this fraction over the minimum bid (capped by the job's price cap)."""

        bid_margin: float = Field(default=0.1, ge=0.0, le=10.0)

    def __init__(self, params: UniformProgress.Params | None = None) -> None:
        self._params = params if params is not None else UniformProgress.Params()

    @property
    def params(self) -> UniformProgress.Params:
        """The validated parameters."""
        return self._params

    def choose(self, ctx: StrategyContext) -> Choice:
        """See the module docstring."""
        schedule = dl.schedule_of(ctx)
        facts = dl.schedule_facts(schedule)
        if schedule is not None and schedule.finished:
            return dl.finished_choice(ctx)
        if dl.on_spot(ctx.instance):
            return dl.keep("on spot: stay until preempted (exploitation)", facts)
        od_places = dl.on_demand_places(ctx)
        if schedule is not None and schedule.safety_net_due():
            if dl.on_demand(ctx.instance):
                return dl.keep("slack under 2 restart overheads: stay on demand (safety net)", facts)
            if od_places:
                return dl.rent_on_demand(
                    ctx, od_places[0], "slack under 2 restart overheads: safety net", ranked=od_places, facts=facts
                )
        if schedule is not None and dl.on_demand(ctx.instance) and not schedule.ahead_of(2 * schedule.overhead):
            return dl.keep("on demand until cp(t) >= ep(t + 2d) (hysteresis)", facts)
        spots = dl.spot_places(ctx)
        if spots:
            bid = dl.bid_for(spots[0], ctx.job, self._params.bid_margin)
            return dl.rent_spot(
                ctx, spots[0], bid, "interruptible capacity available: take it", ranked=spots, facts=facts
            )
        if schedule is not None and schedule.behind:
            if dl.on_demand(ctx.instance):
                return dl.keep("behind the uniform progress line: stay on demand", facts)
            if od_places:
                return dl.rent_on_demand(
                    ctx, od_places[0], "idle and behind ep(t): on demand", ranked=od_places, facts=facts
                )
        return dl.idle(ctx, "ahead of the uniform progress line and no spot: idle", facts)
