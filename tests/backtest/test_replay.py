"""The replay's accounting on tiny traces: cost by kind, progress, overhead, preemptions, misses, migrations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import pytest

from vastbid.backtest.model import JobShape
from vastbid.backtest.replay import ON_DEMAND, PREEMPTED, SPOT, replay
from vastbid.core.offers import RentalType
from vastbid.strategies.base import Choice, StrategyContext, Verb
from vastbid.strategies.greedy import Greedy
from vastbid.strategies.on_demand import OnDemand

from ._tiny import zone, zones


class Scripted:
    """Plays a fixed list of (verb, rental, zone index) per tick; KEEP after the script ends."""

    name: ClassVar[str] = "scripted"

    def __init__(self, script: Sequence[tuple[Verb, RentalType | None, int]]) -> None:
        self.script = list(script)
        self.seen: list[StrategyContext] = []

    def choose(self, ctx: StrategyContext) -> Choice:
        self.seen.append(ctx)
        tick = len(self.seen) - 1
        if tick >= len(self.script):
            return Choice(verb=Verb.KEEP, why="script over")
        verb, rental, index = self.script[tick]
        if verb in (Verb.ACQUIRE, Verb.MIGRATE):
            offer = ctx.offers[index]
            price = offer.min_bid if rental is RentalType.INTERRUPTIBLE else offer.dph_total
            return Choice(verb=verb, why="script", offer=offer, rental=rental, price=price)
        return Choice(verb=verb, why="script")


def shape(work: int, deadline: int, overhead: int) -> JobShape:
    return JobShape(work_ticks=work, deadline_ticks=deadline, overhead_ticks=overhead, gap_hours=1.0)


def test_spot_run_pays_overhead_then_progresses_and_stops_when_done() -> None:
    traces = zones(zone([1, 1, 1, 1, 1, 1], 1.0))
    result = replay(Greedy(), traces, shape(work=2, deadline=6, overhead=1), 0)
    assert result.finished
    assert result.finish_hours == pytest.approx(3.0)  # one overhead tick, two working ticks
    assert result.spot_cost == pytest.approx(3.0)
    assert result.on_demand_cost == 0.0
    assert result.overhead_hours == pytest.approx(1.0)
    assert result.cost == pytest.approx(3.0)
    assert result.timeline[:3].tolist() == [SPOT, SPOT, SPOT]


def test_preemption_stops_progress_and_is_counted() -> None:
    traces = zones(zone([1, 1, 0, 0, 0, 0, 0, 0], 1.0))
    script = [(Verb.ACQUIRE, RentalType.INTERRUPTIBLE, 0), (Verb.KEEP, None, 0), (Verb.WAIT, None, 0)]
    strategy = Scripted(script + [(Verb.WAIT, None, 0)] * 5)
    result = replay(strategy, traces, shape(work=3, deadline=8, overhead=1), 0)
    assert result.interruptions == 1
    assert result.progress_hours == pytest.approx(1.0)
    assert result.spot_cost == pytest.approx(2.0)  # nothing billed while preempted
    assert result.missed
    assert result.timeline[2] == PREEMPTED
    assert strategy.seen[2].instance is not None
    assert strategy.seen[2].instance.status == "outbid"
    assert strategy.seen[2].offers[0].min_bid >= 100.0  # no capacity: the minimum bid is out of reach


def test_cost_is_split_by_kind_and_a_switch_is_a_migration_with_new_overhead() -> None:
    traces = zones(zone([1] * 8, 0.5, on_demand=2.0))
    script = [
        (Verb.ACQUIRE, RentalType.INTERRUPTIBLE, 0),
        (Verb.KEEP, None, 0),
        (Verb.MIGRATE, RentalType.ON_DEMAND, 0),
        (Verb.KEEP, None, 0),
        (Verb.KEEP, None, 0),
    ]
    result = replay(Scripted(script), traces, shape(work=3, deadline=8, overhead=1), 0)
    # spot: overhead + 1 work tick at 0.5; on demand: overhead + 2 work ticks at 2.0
    assert result.spot_cost == pytest.approx(1.0)
    assert result.on_demand_cost == pytest.approx(6.0)
    assert result.migrations == 1
    assert result.instances == 2
    assert result.finished
    assert result.timeline[:5].tolist() == [SPOT, SPOT, ON_DEMAND, ON_DEMAND, ON_DEMAND]


def test_a_job_that_never_runs_misses_its_deadline_and_costs_nothing() -> None:
    traces = zones(zone([0] * 5, 1.0))
    result = replay(Scripted([(Verb.WAIT, None, 0)] * 5), traces, shape(work=2, deadline=5, overhead=1), 0)
    assert result.missed
    assert result.cost == 0.0


def test_progress_and_deadline_reach_the_strategy_in_hours() -> None:
    traces = zones(zone([1] * 6, 1.0))
    strategy = Scripted([(Verb.ACQUIRE, RentalType.ON_DEMAND, 0)])
    replay(strategy, traces, shape(work=3, deadline=6, overhead=1), 0)
    third = strategy.seen[2]
    assert third.job.progress_hours == pytest.approx(1.0)
    assert third.job.spec.work_hours == pytest.approx(3.0)
    assert third.job.spec.deadline == third.job.created_at + (third.now - third.job.created_at) * 3
    assert third.instance is not None and not third.instance.is_bid


def test_on_demand_only_costs_work_plus_one_overhead() -> None:
    traces = zones(zone([1] * 10, 0.5, on_demand=3.0))
    result = replay(OnDemand(), traces, shape(work=4, deadline=10, overhead=2), 0)
    assert result.cost == pytest.approx(6 * 3.0)
    assert result.spot_cost == 0.0


def test_job_shape_rounds_to_the_tick_grid() -> None:
    grid = JobShape.from_hours(48, 0.8, 0.2, 195 / 3600)
    assert grid.work_ticks == 887  # 48 h rounded up
    assert grid.deadline_ticks == 1107  # 60 h rounded down
    assert grid.overhead_ticks == 4  # 0.2 h to the nearest tick
    assert grid.feasible
