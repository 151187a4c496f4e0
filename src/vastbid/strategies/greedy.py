"""``greedy``: interruptible whenever there is capacity (cheapest place), else wait; Safety Net to on demand.

Can't Be Late (NSDI 2024) baseline: Exploitation (stay on spot until preempted), Thrifty (idle when done) and
the Safety Net (when not on spot and the slack is under twice the restart overhead, on demand until done).
Without a deadline it is plain "cheapest interruptible, else wait".
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from vastbid.strategies import _deadline as dl
from vastbid.strategies.base import Choice, StrategyContext, StrategyParams


class Greedy:
    """Spot when available, otherwise wait; on demand only when the deadline requires it."""

    name: ClassVar[str] = "greedy"

    class Params(StrategyParams):
        """``bid_margin``: bid this fraction over the minimum bid (capped by the job's price cap)."""

        bid_margin: float = Field(default=0.1, ge=0.0, le=10.0)

    def __init__(self, params: Greedy.Params | None = None) -> None:
        self._params = params if params is not None else Greedy.Params()

    @property
    def params(self) -> Greedy.Params:
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
        if dl.on_demand(ctx.instance):
            return dl.keep("on demand: stay until done (safety net)", facts)
        if schedule is not None and schedule.safety_net_due():
            places = dl.on_demand_places(ctx)
            if places:
                return dl.rent_on_demand(
                    ctx, places[0], "slack under 2 restart overheads: safety net", ranked=places, facts=facts
                )
        spots = dl.spot_places(ctx)
        if spots:
            bid = dl.bid_for(spots[0], ctx.job, self._params.bid_margin)
            return dl.rent_spot(ctx, spots[0], bid, "cheapest interruptible capacity", ranked=spots, facts=facts)
        return dl.idle(ctx, "no interruptible capacity: wait", facts)
