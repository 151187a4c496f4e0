"""``on_demand``: the baseline that never takes interruptible capacity (cheapest on-demand place, until done)."""

from __future__ import annotations

from typing import ClassVar

from vastbid.strategies import _deadline as dl
from vastbid.strategies.base import Choice, StrategyContext, StrategyParams


class OnDemand:
    """Rent the cheapest on-demand place the job may pay for and keep it until the work is done."""

    name: ClassVar[str] = "on_demand"

    class Params(StrategyParams):
        """No parameters."""

    def __init__(self, params: OnDemand.Params | None = None) -> None:
        self._params = params if params is not None else OnDemand.Params()

    @property
    def params(self) -> OnDemand.Params:
        """The validated parameters."""
        return self._params

    def choose(self, ctx: StrategyContext) -> Choice:
        """Keep a working on-demand instance; otherwise rent the cheapest on-demand place."""
        schedule = dl.schedule_of(ctx)
        facts = dl.schedule_facts(schedule)
        if schedule is not None and schedule.finished:
            return dl.finished_choice(ctx)
        if dl.on_demand(ctx.instance):
            return dl.keep("on demand already", facts)
        places = dl.on_demand_places(ctx)
        if not places:
            return dl.idle(ctx, "no on-demand place within the job's cap", facts)
        return dl.rent_on_demand(ctx, places[0], "cheapest on-demand place", ranked=places, facts=facts)
