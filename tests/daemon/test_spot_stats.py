"""The daemon measures how long each machine's spot capacity lasts and shows it to deadline strategies only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any, ClassVar

import pytest
import structlog
from structlog.testing import capture_logs

from vastbid.core.choice import Choice, StrategyContext
from vastbid.core.offers import Offer
from vastbid.core.spot_runs import SpotRunState, SpotStats, has_spot_capacity
from vastbid.daemon import memory as memory_module
from vastbid.daemon.tick import Daemon
from vastbid.errors import StoreError
from vastbid.strategies.deadline_aware import DeadlineAware
from vastbid.strategies.registry import Registry
from vastbid.vast.port import CreateRequest

from ._world import TICK_SECONDS, World, job_spec

FILTER = "gpu_name=RTX_4090"
FILTER_3090 = "gpu_name=RTX_3090 num_gpus=1"


class _Recording(DeadlineAware):
    """``deadline_aware`` that keeps every context it was shown."""

    seen: ClassVar[list[StrategyContext]] = []

    def choose(self, ctx: StrategyContext) -> Choice:
        self.seen.append(ctx)
        return super().choose(ctx)


@pytest.fixture
def shown() -> list[StrategyContext]:
    """The contexts the daemon's ``deadline_aware`` strategies are shown, in order (see ``recording``)."""
    contexts: list[StrategyContext] = []
    _Recording.seen = contexts
    return contexts


def recording(world: World) -> Daemon:
    """A daemon whose ``deadline_aware`` records what it is shown."""
    return world.daemon(registry=Registry({"deadline_aware": _Recording}))


def deadline_spec(world: World, name: str = "deadline", **extra: Any) -> dict[str, Any]:
    deadline = (world.now() + timedelta(hours=12)).isoformat()
    fields = {"offer_filter": FILTER, "strategy": "deadline_aware", "work_hours": 3.0, "deadline": deadline}
    return job_spec(name, 3, **{**fields, **extra})


def stats_of(ctx: StrategyContext) -> dict[int, SpotStats]:
    return dict(ctx.spot_stats)


def spot_offers(offers: tuple[Offer, ...] | list[Offer]) -> list[Offer]:
    return [o for o in offers if has_spot_capacity(o)]


def test_a_deadline_job_s_strategy_sees_spot_ages_of_its_candidates_and_the_stored_job_has_none(
    world: World, shown: list[StrategyContext]
) -> None:
    job = world.store.jobs.submit(deadline_spec(world))
    daemon = recording(world)
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
    ages = [last[m].up_hours for m in steady]
    assert max(ages) == pytest.approx(4 * TICK_SECONDS / 3600.0)
    assert all(first[m].up_hours == pytest.approx(TICK_SECONDS / 3600.0) for m in steady)  # one tick seen

    stored = world.store.jobs.get(job.id)
    assert stored.extra == {} or set(stored.extra) == {"running_seen_at"}  # the statistics are never stored


def test_a_machine_rented_away_ended_its_run_when_last_seen(world: World, shown: list[StrategyContext]) -> None:
    world.store.jobs.submit(deadline_spec(world, offer_filter=FILTER_3090))
    daemon = recording(world)
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
    stats = daemon.memory.spot_runs.stats_for([machine], world.now())[machine]
    # Seen up on the first three ticks, then never again: the run lasted those three ticks.
    assert stats == SpotStats(up_hours=0.0, past_up_hours=(pytest.approx(3 * TICK_SECONDS / 3600.0),))


def test_jobs_without_a_deadline_get_no_spot_statistics(world: World, shown: list[StrategyContext]) -> None:
    world.store.jobs.submit(deadline_spec(world, deadline=None, work_hours=None))
    world.run(recording(world), 2)
    assert shown
    assert all(not ctx.spot_stats for ctx in shown)


def test_a_spot_source_given_to_the_memory_stands_in_for_the_measured_runs(
    world: World, shown: list[StrategyContext]
) -> None:
    given = {7: SpotStats(up_hours=1.0, past_up_hours=(2.0, 3.0))}
    world.store.jobs.submit(deadline_spec(world))
    memory = memory_module.MarketMemory(timedelta(seconds=TICK_SECONDS), spot_source=lambda _m, _now: given)
    daemon = world.daemon(registry=Registry({"deadline_aware": _Recording}), memory=memory)
    world.run(daemon, 2)
    assert shown and all(ctx.spot_stats == given for ctx in shown)


# --- across a restart ----------------------------------------------------------------------------------------------

SAVE_TICKS = int(memory_module.SAVE_EVERY / timedelta(seconds=TICK_SECONDS))
"""Ticks after a start until the spot runs are first saved."""


def test_a_restarted_daemon_shows_deadline_strategies_the_runs_the_first_one_learned(
    world: World, shown: list[StrategyContext]
) -> None:
    world.store.jobs.submit(deadline_spec(world, offer_filter=FILTER_3090))
    first = recording(world)
    world.run(first, 3)
    ours = {i.machine_id for i in world.ours()}
    machine = next(o.machine_id for o in spot_offers(shown[-1].offers) if o.machine_id not in ours)
    rival = world.other_client()
    listed = [
        o for o in rival.search_offers("gpu_name=RTX_3090", limit=200, order="dph_total") if o.machine_id == machine
    ]
    whole = max(listed, key=lambda o: o.num_gpus)
    rented = rival.create_instance(whole.id, CreateRequest(image="rival", disk_gb=10, label="rival"))
    world.run(first, 5)  # the machine gone past the tolerance: its three-tick run is over
    rival.destroy_instance(rented.instance_id)
    world.run(first, SAVE_TICKS + 1 - 8)  # back up, until the first save at the end of the last tick
    learned = first.memory.spot_runs.snapshot()
    assert learned and learned[-1].last_seen == world.now() - timedelta(seconds=TICK_SECONDS)
    expected = first.memory.spot_runs.stats_for([s.machine_id for s in learned], world.now())
    assert expected[machine].past_up_hours == (pytest.approx(3 * TICK_SECONDS / 3600.0),)

    restarted = recording(world)  # a new process over the same database
    world.run(restarted, 1)

    after = stats_of(shown[-1])
    assert after and set(after) <= set(expected)
    assert after == {m: expected[m] for m in after}  # ages and past runs as if the daemon had never stopped
    assert after[machine].past_up_hours == (pytest.approx(3 * TICK_SECONDS / 3600.0),)


@pytest.fixture
def tick_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """What the tick module logs during the test.

    The module's logger may already be cached by an earlier test that configured logging (structlog's
    ``cache_logger_on_first_use``), which ``capture_logs`` alone cannot see past: a fresh one is put in its place.
    """
    with capture_logs() as logs:
        monkeypatch.setattr(memory_module, "log", structlog.get_logger("vastbid.memory"))
        yield logs


def test_a_failed_save_is_logged_the_tick_carries_on_and_the_next_tick_saves(
    world: World, monkeypatch: pytest.MonkeyPatch, tick_logs: list[dict[str, Any]]
) -> None:
    world.store.jobs.submit(deadline_spec(world))
    daemon = world.daemon()

    def broken(_states: object) -> int:
        raise StoreError("database error: OperationalError: disk I/O error")

    monkeypatch.setattr(world.store.spot_runs, "replace_all", broken)
    results = world.run(daemon, SAVE_TICKS + 2)
    assert all(result.ok for result in results)
    failures = [entry for entry in tick_logs if entry["event"] == "spot_runs_save_failed"]
    assert len(failures) == 2  # tried at the end of each tick once due
    assert failures[0]["error_class"] == "StoreError"
    assert world.store.spot_runs.load() == []

    monkeypatch.undo()
    assert world.run(daemon, 1)[0].ok
    assert set(world.store.spot_runs.load()) == set(daemon.memory.spot_runs.snapshot())
    assert len(daemon.memory.spot_runs) > 0


def test_nothing_is_saved_over_the_stored_runs_until_they_could_be_loaded(
    world: World, monkeypatch: pytest.MonkeyPatch, tick_logs: list[dict[str, Any]]
) -> None:
    kept = SpotRunState(machine_id=999_999, last_seen=world.now(), past_up_hours=(5.0, 7.0))
    world.store.spot_runs.replace_all([kept])
    world.store.jobs.submit(deadline_spec(world))
    daemon = world.daemon()

    def broken() -> list[SpotRunState]:
        raise StoreError("database error: OperationalError: database is locked")

    monkeypatch.setattr(world.store.spot_runs, "load", broken)
    results = world.run(daemon, SAVE_TICKS + 2)
    assert all(result.ok for result in results)
    assert any(e["event"] == "spot_runs_load_failed" and e["error_class"] == "StoreError" for e in tick_logs)
    monkeypatch.undo()
    assert world.store.spot_runs.load() == [kept]  # never replaced by what the daemon saw without it

    world.run(daemon, SAVE_TICKS + 1)  # loaded on the next tick, saved a save period later
    assert daemon.memory.spot_runs.stats_for([999_999], world.now())[999_999].past_up_hours == (5.0, 7.0)
    saved = {s.machine_id: s for s in world.store.spot_runs.load()}
    assert saved[999_999] == kept
    assert len(saved) > 1
