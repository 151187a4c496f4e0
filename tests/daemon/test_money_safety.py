"""Money safety in the tick: a listing missing a row never replaces a running instance, a settled intent never comes
back to life, and a database that vanished stops the daemon from acting."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from vastbid.core.budget import Budget
from vastbid.core.jobs import JobState
from vastbid.core.labels import parse_label
from vastbid.daemon.clock import EpochClock, SteadyClock
from vastbid.daemon.service import DaemonService
from vastbid.obs.metrics import Metrics
from vastbid.store.schema import SpendRow
from vastbid.vast.factory import make_market_api
from vastbid.vast.port import CreateRequest

from ._world import KEY, World, job_spec

FILTER = "gpu_name=RTX_4090"


def other_deployment(world: World, count: int) -> list[int]:
    """``count`` instances of another deployment on the same account (on demand, cheap 3090s)."""
    rival = world.other_client()
    offers = [o for o in rival.search_offers("gpu_name=RTX_3090", limit=100, order="dph_total") if o.num_gpus == 1]
    ids = []
    for offer in offers[:count]:
        ids.append(rival.create_instance(offer.id, CreateRequest(image="x", disk_gb=5, label="other:1")).instance_id)
    return ids


def small_pages(world: World) -> None:
    client = httpx.Client(transport=world.sim.transport(), base_url="http://sim.local")
    world.api = make_market_api("native", client, KEY, sleep=lambda _s: None, monotonic=world.clock.now, page_size=2)


def ours(world: World, job_id: int) -> list[int]:
    return [i.id for i in world.ours() if (p := parse_label(i.label)) is not None and p[1] == job_id]


@pytest.mark.parametrize("total", ["with_total", "without_total"])
def test_an_instance_destroyed_between_listing_pages_never_makes_ours_look_gone(world: World, total: str) -> None:
    first, second = other_deployment(world, 2)  # page 1 of the listing (ids ascend)
    job = world.store.jobs.submit(job_spec("steady", 5, offer_filter=FILTER))
    small_pages(world)
    daemon = world.daemon()
    world.run(daemon, 6)
    (held,) = ours(world, job.id)  # first on page 2
    other_deployment(world, 1)
    assert world.store.jobs.get(job.id).state is JobState.RUNNING

    # The old offset paging, and another deployment destroys its instance between our page 1 and page 2: page 2
    # then starts one row late and our instance is not in the listing at all.
    world.sim.faults.offset_paging = True
    world.sim.faults.add("listing_race", "v1_instances", instance_id=first, page=1)
    if total == "without_total":
        world.sim.faults.add("no_total", "v1_instances", count=None)
    world.run(daemon, 3)

    assert ours(world, job.id) == [held]  # no second instance, the first never destroyed
    current = world.store.jobs.get(job.id)
    assert current.instance_id == held and current.state is JobState.RUNNING
    actions = [d.action for d in world.store.decisions.query(job_id=job.id)]
    assert "instance_gone" not in actions and "destroy_instance" not in actions
    assert actions.count("place_bid") == 1
    assert second  # the other deployment's second instance was never touched by us


def test_a_late_create_result_for_a_settled_intent_is_destroyed_not_revived(world: World) -> None:
    job = world.store.jobs.submit(job_spec("raced", 5, offer_filter=FILTER))
    other = world.daemon()  # a second process on the same database (run --once, or a replica)
    raced: list[bool] = []

    def meanwhile(point: str) -> None:
        # While A's create is in flight, B settles A's open intent (no instance carries its label yet) as failed
        # and creates attempt 2.
        if point == "after_intent" and not raced:
            raced.append(True)
            assert other.tick().ok

    first = world.daemon(checkpoint=meanwhile)
    first.tick()  # A's create returns now: its row was settled, so the instance it made is destroyed
    world.sim.advance(60)

    live = ours(world, job.id)
    assert len(live) == 1
    (kept,) = live
    assert parse_label(next(i.label for i in world.ours() if i.id == kept)) == ("test", job.id, 2)
    assert world.store.jobs.get(job.id).instance_id == kept
    records = world.store.instances.for_job(job.id)
    assert [(r.attempt, r.state.value) for r in records] == [(1, "failed"), (2, "live")]
    world.run(first, 2)
    assert ours(world, job.id) == [kept]


def test_a_deleted_sqlite_file_stops_the_daemon_and_readiness_within_one_tick(
    make_world: Callable[..., World], tmp_path: object
) -> None:
    world = make_world()
    job = world.store.jobs.submit(job_spec("kept", 5, offer_filter=FILTER))
    daemon = world.daemon()
    service = DaemonService(daemon, window=timedelta(minutes=10))
    world.run(daemon, 2)
    assert service.ready()[0]
    held = ours(world, job.id)
    requests_before = len(world.requests)

    path = world.store.url.removeprefix("sqlite:///")
    os.remove(path)

    result = daemon.tick()
    assert not result.ok
    assert "DatabaseChangedError" in (result.error or "")
    ready, reason = service.ready()
    assert not ready and "database" in reason
    assert not os.path.exists(path)  # nothing created in its place
    assert len(world.requests) == requests_before  # it acted on nothing: not even a search
    assert ours(world, job.id) == held  # and destroyed nothing


def test_an_orphan_left_running_by_the_report_policy_counts_against_the_burn_cap(world: World) -> None:
    gone = world.store.jobs.submit(job_spec("gone", 5, offer_filter=FILTER))
    world.store.jobs.cancel(gone.id)  # no job claims the instance below any more
    rival = world.other_client()
    offer = next(o for o in rival.search_offers(FILTER, limit=50, order="dph_total") if o.num_gpus == 1)
    label = f"vastbid:test:{gone.id}:1"
    orphan = rival.create_instance(offer.id, CreateRequest(image="x", disk_gb=10, label=label)).instance_id  # on demand
    orphan_dph = next(i.dph_total for i in world.api.list_instances() if i.id == orphan)
    job = world.store.jobs.submit(job_spec("new", 5, offer_filter=FILTER))

    # The cap leaves room for the new job alone, not for the new job and the orphan we still pay for.
    daemon = world.daemon(budget=Budget(max_burn_per_hour=orphan_dph * 1.2))
    result = daemon.tick()

    assert result.ok and result.plan is not None
    assert result.plan.committed_dph >= orphan_dph  # the orphan's burn is committed spend
    assert ours(world, job.id) == []  # so nothing new was bought over the cap
    assert "max_burn" in (result.plan.decisions[job.id].why + str(result.plan.binding_cap))
    listed = {i.id for i in world.api.list_instances()}
    assert orphan in listed  # the report policy still leaves it alone


def test_wall_clock_steps_are_neither_billed_nor_acted_on(make_world: Callable[..., World]) -> None:
    world = make_world(scenario="default")
    deadline = (world.now() + timedelta(hours=12)).isoformat()
    jobs = [
        world.store.jobs.submit(
            job_spec(f"capped-{n}", 20, offer_filter=FILTER, max_cost=1.0, deadline=deadline, work_hours=8.0)
        )
        for n in range(2)
    ]
    offset = [0.0]  # the wall clock = the market's clock + a step the test sets
    steps: list[timedelta] = []
    wall = EpochClock(lambda: world.clock.now() + offset[0])
    clock = SteadyClock(wall, world.clock.now, on_step=steps.append)
    daemon = world.daemon()
    daemon.clock = clock

    def run(ticks: int) -> None:
        for _ in range(ticks):
            assert daemon.tick().ok
            world.sim.advance(60)

    run(6)
    held = sorted(i for job in jobs for i in ours(world, job.id))
    assert len(held) == 2
    offset[0] += 8 * 3600  # +8 h
    run(5)
    offset[0] -= 3600  # then -1 h
    run(5)

    assert [round(s.total_seconds()) for s in steps] == [8 * 3600, 7 * 3600]
    for job in jobs:
        current = world.store.jobs.get(job.id)
        assert current.state is JobState.RUNNING, current.state_reason  # no max_cost failure, no expiry
    assert sorted(i for job in jobs for i in ours(world, job.id)) == held  # nothing destroyed or replaced
    # Nothing billed for the jumps: the ledger is what the simulator charged (to within the last tick's minute).
    billed = sum(world.sim.state.instances[i].gpu_cost + world.sim.state.instances[i].disk_cost for i in held)
    ledger = sum(world.store.spend.spent_by_job(job.id) for job in jobs)
    assert ledger == pytest.approx(billed, rel=0.05)
    assert ledger < 1.0


def test_a_tick_that_cannot_search_still_destroys_cancelled_jobs_instances_and_keeps_the_daily_cap(
    make_world: Callable[..., World],
) -> None:
    world = make_world(scenario="default")
    tick = 5.0
    cap = 0.06
    jobs = [
        world.store.jobs.submit(job_spec(f"od-{n}", 20, offer_filter=FILTER, rental="on_demand", max_price_per_gpu=1.0))
        for n in range(4)
    ]
    daemon = world.daemon(tick_seconds=tick, budget=Budget(daily_cap=cap))
    results = []
    committed = 0.0
    for step in range(120):  # ten minutes of 5 s ticks
        if step == 6:
            world.sim.faults.search_quota = 0  # the daily search quota is exhausted after 30 s
        if step == 7:
            world.store.jobs.cancel(jobs[0].id)  # and the user cancels a job at 35 s
        results.append(daemon.tick())
        if step == 5:
            committed = sum(i.dph_total for i in world.api.list_instances())  # the burn once all four run
        world.sim.advance(tick)

    assert all(r.ok for r in results[:6]) and not any(r.ok for r in results[6:])
    ours_now = {i.id for i in world.api.list_instances() if i.label and i.label.startswith("vastbid:test:")}
    cancelled = [r.instance_id for r in world.store.instances.for_job(jobs[0].id) if r.instance_id is not None]
    assert cancelled and not set(cancelled) & ours_now  # destroyed though the market could not be searched
    billed = world.sim.state.deposits[0][1] - world.sim.state.credit  # the simulator's own bill
    assert billed <= cap + committed * tick / 3600.0, (billed, cap)


def test_by_default_an_orphan_no_job_can_take_is_destroyed_once_its_grace_period_is_over(world: World) -> None:
    gone = world.store.jobs.submit(job_spec("gone", 5, offer_filter=FILTER))
    world.store.jobs.cancel(gone.id)
    rival = world.other_client()
    offer = next(o for o in rival.search_offers(FILTER, limit=50, order="dph_total") if o.num_gpus == 1)
    label = f"vastbid:test:{gone.id}:1"
    orphan = rival.create_instance(offer.id, CreateRequest(image="x", disk_gb=10, label=label)).instance_id
    daemon = world.daemon(orphan_grace_seconds=300)  # the default policy: adopt_or_destroy

    listed = []
    for _ in range(8):  # one tick a minute
        daemon.tick()
        listed.append(orphan in {i.id for i in world.api.list_instances()})
        world.sim.advance(60)

    assert listed == [True] * 5 + [False] * 3  # reported for five minutes (another process may claim it), then gone
    actions = [d.action for d in world.store.decisions.query()]
    assert actions.count("orphan_report") == 5 and actions.count("orphan_destroy") == 1


def test_the_ledger_is_checked_against_vast_s_charges_daily_and_a_gap_is_shown(world: World) -> None:
    job = world.store.jobs.submit(job_spec("metered", 50, offer_filter=FILTER))
    metrics = Metrics(CollectorRegistry())
    daemon = world.daemon(metrics=metrics)
    world.run(daemon, 30)

    (first,) = [d for d in world.store.decisions.query() if d.action == "ledger_check"]  # on the first tick
    assert abs(first.facts["difference"]) < 1e-3
    world.sim.advance(24 * 3600 - 30 * 60)  # a day after the first check: the next one is due
    daemon.tick()
    checks = [d for d in world.store.decisions.query() if d.action == "ledger_check"]
    assert len(checks) == 2
    latest = checks[-1].facts
    (inst,) = ours(world, job.id)
    burn = next(i.dph_total for i in world.api.list_instances() if i.id == inst)
    assert latest["instances"] == 1 and latest["ledger"] > 0
    # Vast bills to the second and we to the tick, taking an instance to have stayed as each tick sees it.
    assert abs(latest["difference"]) <= 0.01 * latest["ledger"] + burn * 60 / 3600
    gauge = metrics.registry.get_sample_value("vastbid_ledger_difference_dollars")
    assert gauge == pytest.approx(latest["difference"], abs=1e-6)


def test_an_instance_billed_without_a_gap_grows_one_ledger_row_per_kind_and_day(world: World) -> None:
    job = world.store.jobs.submit(job_spec("steady", 50, offer_filter=FILTER))
    world.run(world.daemon(), 60)  # an hour of one-minute ticks

    with world.store.engine.connect() as connection:
        rows = list(connection.execute(select(SpendRow.kind, SpendRow.amount).where(SpendRow.job_id == job.id)))
    assert len(rows) <= 4  # storage from its first tick, GPU from its boot: not one row per tick
    assert sum(amount for _kind, amount in rows) == pytest.approx(world.store.spend.spent_by_job(job.id))
    assert world.store.jobs.get(job.id).spent == pytest.approx(sum(amount for _kind, amount in rows))
