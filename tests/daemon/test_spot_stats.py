"""The daemon measures how long each machine's spot capacity lasts and shows it to deadline strategies only."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest

from vastbid.core.choice import Choice, StrategyContext
from vastbid.core.offers import Offer
from vastbid.core.spot_runs import has_spot_capacity
from vastbid.daemon import tick as tick_module
from vastbid.strategies.deadline_aware import DeadlineAware
from vastbid.strategies.registry import build_strategy
from vastbid.vast.port import CreateRequest

from ._world import TICK_SECONDS, World, job_spec

FILTER = "gpu_name=RTX_4090"
FILTER_3090 = "gpu_name=RTX_3090 num_gpus=1"


class _Recording(DeadlineAware):
    """``deadline_aware`` that keeps every context it was shown."""

    seen: list[StrategyContext]

    def choose(self, ctx: StrategyContext) -> Choice:
        self.seen.append(ctx)
        return super().choose(ctx)


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[StrategyContext]:
    """The contexts the daemon's ``deadline_aware`` strategies are shown, in order."""
    contexts: list[StrategyContext] = []

    def build(name: str, params: Mapping[str, Any] | None = None) -> Any:
        if name != "deadline_aware":
            return build_strategy(name, params)
        strategy = _Recording(DeadlineAware.Params.model_validate(dict(params or {})))
        strategy.seen = contexts
        return strategy

    monkeypatch.setattr(tick_module, "build_strategy", build)
    return contexts


def deadline_spec(world: World, name: str = "deadline", **extra: Any) -> dict[str, Any]:
    deadline = (world.now() + timedelta(hours=12)).isoformat()
    fields = {"offer_filter": FILTER, "strategy": "deadline_aware", "work_hours": 3.0, "deadline": deadline}
    return job_spec(name, 3, **{**fields, **extra})


def stats_of(ctx: StrategyContext) -> dict[int, dict[str, Any]]:
    stats = ctx.job.extra.get("spot_stats")
    assert isinstance(stats, dict)
    return stats


def spot_offers(offers: tuple[Offer, ...] | list[Offer]) -> list[Offer]:
    return [o for o in offers if has_spot_capacity(o)]


def test_a_deadline_job_s_strategy_sees_spot_ages_of_its_candidates_and_the_stored_job_has_none(
    world: World, shown: list[StrategyContext]
) -> None:
    job = world.store.jobs.submit(deadline_spec(world))
    daemon = world.daemon()
    world.run(daemon, 4)

    assert len(shown) == 4
    first, last = stats_of(shown[0]), stats_of(shown[-1])
    assert first and last
    for ctx in shown:
        stats = stats_of(ctx)
        assert {o.machine_id for o in ctx.offers} <= set(stats)
    # A machine with spot capacity on every tick: its current run is as old as the ticks the daemon watched it
    # (four ticks seen up, each counted whole, as in the backtests).
    steady = [o.machine_id for o in spot_offers(shown[0].offers) if o.machine_id in last]
    assert steady
    ages = [last[m]["up_hours"] for m in steady]
    assert max(ages) == pytest.approx(4 * TICK_SECONDS / 3600.0)
    assert all(first[m]["up_hours"] == pytest.approx(TICK_SECONDS / 3600.0) for m in steady)  # one tick seen

    stored = world.store.jobs.get(job.id)
    assert "spot_stats" not in stored.extra
    assert all("spot_stats" not in j.extra for j in world.store.jobs.list())


def test_a_machine_rented_away_ended_its_run_when_last_seen(world: World, shown: list[StrategyContext]) -> None:
    world.store.jobs.submit(deadline_spec(world, offer_filter=FILTER_3090))
    daemon = world.daemon()
    world.run(daemon, 3)
    ours = {i.machine_id for i in world.ours()}
    others = [o for o in spot_offers(shown[-1].offers) if o.machine_id not in ours]
    assert others
    machine = others[0].machine_id
    rival = world.other_client()
    listed = [
        o for o in rival.search_offers("gpu_name=RTX_3090", limit=200, order="dph_total") if o.machine_id == machine
    ]
    whole = max(listed, key=lambda o: o.num_gpus)
    rival.create_instance(whole.id, CreateRequest(image="rival", disk_gb=10, label="rival"))  # on demand, every GPU
    world.run(daemon, 5)

    assert all(o.machine_id != machine for o in shown[-1].offers)  # gone from the listing
    stats = daemon.spot_runs.stats_for([machine], world.now())[machine]
    # Seen up on the first three ticks, then never again: the run lasted those three ticks.
    assert stats == {"up_hours": 0.0, "past_up_hours": (pytest.approx(3 * TICK_SECONDS / 3600.0),)}


def test_jobs_without_a_deadline_get_no_spot_statistics(world: World, shown: list[StrategyContext]) -> None:
    world.store.jobs.submit(deadline_spec(world, deadline=None, work_hours=None))
    world.run(world.daemon(), 2)
    assert shown
    assert all("spot_stats" not in ctx.job.extra for ctx in shown)


def test_statistics_the_job_already_carries_are_left_as_they_are(world: World, shown: list[StrategyContext]) -> None:
    given = {"7": {"up_hours": 1.0, "past_up_hours": [2.0, 3.0]}}
    job = world.store.jobs.submit(deadline_spec(world))
    world.store.jobs.update(job.id, extra={"spot_stats": given})
    world.run(world.daemon(), 2)
    assert all(ctx.job.extra["spot_stats"] == given for ctx in shown)
