"""Acceptance: the daemon against the simulator, through its HTTP surface, on a manual clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from vastbid.config.settings import OrphanPolicy
from vastbid.core.instances import Instance, InstanceStatus
from vastbid.core.jobs import JobState
from vastbid.core.labels import parse_label
from vastbid.daemon.tick import Daemon
from vastbid.store.decisions import DecisionOutcome
from vastbid.store.spend import SpendKind
from vastbid.vast.port import CreateRequest

from ._world import DEPLOYMENT, TICK_SECONDS, World, job_spec

FILTER_4090 = "gpu_name=RTX_4090"
FILTER_3090 = "gpu_name=RTX_3090"


def spec(name: str, **extra: Any) -> dict[str, Any]:
    return job_spec(name, 5, **{"offer_filter": FILTER_4090, **extra})


def ours_for(world: World, job_id: int) -> list[Instance]:
    return [i for i in world.ours() if (parsed := parse_label(i.label)) is not None and parsed[1] == job_id]


def outbid(world: World, machine_id: int, price_per_gpu: float) -> int:
    """A competitor bids on every GPU of ``machine_id`` through the API; its instance id."""
    competitor = world.other_client()
    offers = [
        o for o in competitor.search_offers(FILTER_4090, limit=100, order="dph_total") if o.machine_id == machine_id
    ]
    whole = max(offers, key=lambda o: o.num_gpus)
    request = CreateRequest(image="rival", disk_gb=10, label="rival", price=price_per_gpu * whole.num_gpus)
    return competitor.create_instance(whole.id, request).instance_id


def test_queued_jobs_get_instances_within_their_caps(world: World) -> None:
    single = world.store.jobs.submit(spec("one", max_price_per_gpu=0.5))
    double = world.store.jobs.submit(spec("two", num_gpus=2, offer_filter="gpu_name=RTX_3090 num_gpus=2"))
    daemon = world.daemon()
    world.run(daemon, 5)

    for job in (single, double):
        current = world.store.jobs.get(job.id)
        assert current.state is JobState.RUNNING
        (inst,) = ours_for(world, job.id)
        assert inst.id == current.instance_id
        assert inst.label == f"vastbid:{DEPLOYMENT}:{job.id}:1"
        assert inst.is_bid
        assert inst.bid_price is not None
        assert inst.bid_price <= job.spec.max_price_per_gpu * job.spec.num_gpus + 1e-9
        assert inst.num_gpus == job.spec.num_gpus
        assert inst.status is InstanceStatus.RUNNING


def test_two_of_our_jobs_never_share_a_machine_so_our_bids_never_outbid_each_other(world: World) -> None:
    # The cheapest 1-GPU and 2-GPU RTX 3090 chunks of this market are on the same machine.
    jobs = [
        world.store.jobs.submit(spec("one", offer_filter="gpu_name=RTX_3090 num_gpus=1")),
        world.store.jobs.submit(spec("two", num_gpus=2, offer_filter="gpu_name=RTX_3090 num_gpus=2")),
    ]
    daemon = world.daemon()
    world.run(daemon, 4)

    machines = [inst.machine_id for job in jobs for inst in ours_for(world, job.id)]
    assert len(machines) == len(jobs)
    assert len(set(machines)) == len(machines)
    changes = [d for d in world.store.decisions.query() if d.action == "change_bid"]
    assert changes == []


def test_an_outbid_job_is_rebid_or_moved_within_one_tick(world: World) -> None:
    job = world.store.jobs.submit(spec("j", max_price_per_gpu=1.0))
    daemon = world.daemon()
    world.run(daemon, 4)
    first = world.store.jobs.get(job.id)
    assert first.state is JobState.RUNNING
    (inst,) = ours_for(world, job.id)
    rival_price = (inst.bid_price or 0.0) / inst.num_gpus + 0.05
    assert rival_price < job.spec.max_price_per_gpu
    outbid(world, inst.machine_id, rival_price)
    world.sim.advance(1)
    (paused,) = ours_for(world, job.id)
    assert paused.status is not InstanceStatus.RUNNING

    result = daemon.tick()
    acted = {
        d.action for d in world.store.decisions.query(tick_id=result.tick_id) if d.outcome is DecisionOutcome.APPLIED
    }
    assert acted & {"change_bid", "start_instance", "place_bid"}, acted
    world.sim.advance(TICK_SECONDS)
    world.run(daemon, 5)

    current = world.store.jobs.get(job.id)
    assert current.state is JobState.RUNNING
    (now_inst,) = ours_for(world, job.id)
    assert now_inst.status is InstanceStatus.RUNNING
    assert now_inst.bid_price is not None
    assert now_inst.bid_price <= job.spec.max_price_per_gpu * now_inst.num_gpus + 1e-9


def test_a_job_whose_container_exits_succeeds_and_its_instance_is_destroyed(world: World) -> None:
    job = world.store.jobs.submit(spec("short", env={"SIM_WORK_HOURS": "0.5"}))
    daemon = world.daemon()
    world.run(daemon, 3)
    assert ours_for(world, job.id)
    world.run(daemon, 40)

    assert world.store.jobs.get(job.id).state is JobState.SUCCEEDED
    assert ours_for(world, job.id) == []


def test_a_cancelled_jobs_instance_is_destroyed_at_the_next_tick(world: World) -> None:
    job = world.store.jobs.submit(spec("c"))
    daemon = world.daemon()
    world.run(daemon, 3)
    assert len(ours_for(world, job.id)) == 1

    world.store.jobs.cancel(job.id)
    daemon.tick()

    assert ours_for(world, job.id) == []
    assert world.store.jobs.get(job.id).state is JobState.CANCELLED


def deadline_job(world: World, offer_filter: str, cap: float) -> tuple[int, datetime]:
    deadline = world.now() + timedelta(hours=3)
    job = world.store.jobs.submit(
        spec(
            "deadline",
            offer_filter=offer_filter,
            max_price_per_gpu=cap,
            strategy="deadline_aware",
            rental="auto",
            work_hours=2,
            deadline=deadline.isoformat(),
            restart_overhead_hours=0.1,
            env={"SIM_WORK_HOURS": "2", "SIM_CHECKPOINT": "deadline"},
        )
    )
    return job.id, deadline


def run_to_deadline(world: World, daemon: Daemon, job_id: int, deadline: datetime) -> list[bool]:
    """Tick every 5 minutes until the job is done or its deadline passes; is_bid of its instance at each tick."""
    rentals: list[bool] = []
    while world.now() < deadline and world.store.jobs.get(job_id).state is not JobState.SUCCEEDED:
        daemon.tick()
        rentals += [i.is_bid for i in ours_for(world, job_id)]
        world.sim.advance(300)
    return rentals


def test_a_deadline_job_falls_back_to_on_demand_and_finishes_in_time(world: World) -> None:
    job_id, deadline = deadline_job(world, FILTER_3090, cap=0.3)
    daemon = world.daemon(tick_seconds=300)
    world.run(daemon, 3, seconds=300)
    (spot,) = ours_for(world, job_id)
    assert spot.is_bid
    # Interruptible capacity vanishes: a renter takes the job's machine on demand, rivals outbid every other one
    # at a price over the job's cap.
    rival = world.other_client()
    offers = rival.search_offers(FILTER_3090, limit=100, order="dph_total")
    for machine_id in {o.machine_id for o in offers}:
        whole = max((o for o in offers if o.machine_id == machine_id), key=lambda o: o.num_gpus)
        price = None if machine_id == spot.machine_id else 0.8 * whole.num_gpus
        rival.create_instance(whole.id, CreateRequest(image="rival", disk_gb=10, label="rival", price=price))

    rentals = run_to_deadline(world, daemon, job_id, deadline)

    final = world.store.jobs.get(job_id)
    assert final.state is JobState.SUCCEEDED, (final.state, final.progress_hours)
    assert False in rentals, "the job never moved onto an on-demand instance"
    assert ours_for(world, job_id) == []


def test_a_deadline_job_outbid_on_the_only_machine_goes_on_demand_there(world: World) -> None:
    job_id, deadline = deadline_job(world, FILTER_4090, cap=0.6)
    daemon = world.daemon(tick_seconds=300)
    world.run(daemon, 3, seconds=300)
    (spot,) = ours_for(world, job_id)
    outbid(world, spot.machine_id, 1.1)  # the only listed RTX 4090 machine, over the job's cap

    rentals = run_to_deadline(world, daemon, job_id, deadline)

    assert world.store.jobs.get(job_id).state is JobState.SUCCEEDED
    assert False in rentals


def test_dry_run_records_decisions_and_creates_nothing(world: World) -> None:
    world.store.jobs.submit(spec("dry"))
    daemon = world.daemon(dry_run=True)
    world.run(daemon, 3)

    assert world.api.list_instances() == []
    outcomes = [d.outcome for d in world.store.decisions.query() if d.action == "place_bid"]
    assert outcomes
    assert set(outcomes) == {DecisionOutcome.SKIPPED_DRY_RUN}
    assert not any(method == "PUT" and "/asks/" in path for method, path in world.requests)


def _plant(world: World, label: str, nth_machine: int) -> int:
    """An instance made by hand (not by the daemon) on the ``nth_machine`` cheapest RTX 3090 machine."""
    other = world.other_client()
    offers = other.search_offers(FILTER_3090, limit=100, order="dph_total")
    machines = list(dict.fromkeys(o.machine_id for o in offers))
    offer = next(o for o in offers if o.machine_id == machines[nth_machine])
    request = CreateRequest(image="img", disk_gb=10, label=label, price=offer.min_bid + 0.05)
    return other.create_instance(offer.id, request).instance_id


@pytest.mark.parametrize(
    ("policy", "kept"),
    [(OrphanPolicy.DESTROY, False), (OrphanPolicy.REPORT, True), (OrphanPolicy.ADOPT, None)],
)
def test_orphans_follow_the_policy_and_foreign_instances_are_never_touched(
    make_world: Callable[..., World], policy: OrphanPolicy, kept: bool | None
) -> None:
    world = make_world()
    job = world.store.jobs.submit(spec("adoptee", offer_filter=FILTER_3090, max_price_per_gpu=2.0))
    if policy is not OrphanPolicy.ADOPT:
        world.store.jobs.cancel(job.id)  # no job claims the orphan
    orphan = _plant(world, f"vastbid:{DEPLOYMENT}:{job.id}:1", 0)
    stranger = _plant(world, "someone-else", 1)
    other_deployment = _plant(world, "vastbid:prod:1:1", 2)
    daemon = world.daemon(orphan_policy=policy)
    world.run(daemon, 3)

    listed = {i.id for i in world.api.list_instances()}
    assert {stranger, other_deployment} <= listed
    if kept is not None:
        assert (orphan in listed) is kept
    actions = {d.action for d in world.store.decisions.query()}
    expected = {OrphanPolicy.DESTROY: "orphan_destroy", OrphanPolicy.REPORT: "orphan_report"}.get(policy)
    if policy is OrphanPolicy.ADOPT:
        # Adopted, the job owns it (it may then migrate to a cheaper place, never holding two).
        assert "orphan_adopt" in actions
        (held,) = ours_for(world, job.id)
        assert world.store.jobs.get(job.id).instance_id == held.id
    else:
        assert expected in actions


def test_the_spend_ledger_tracks_the_sims_charges_per_kind(world: World) -> None:
    job = world.store.jobs.submit(spec("metered"))
    daemon = world.daemon()
    totals: list[float] = []
    for _ in range(30):
        daemon.tick()
        totals.append(world.store.spend.spent_by_job(job.id))
        world.sim.advance(TICK_SECONDS)
    daemon.tick()
    assert totals == sorted(totals)
    assert totals[-1] > totals[5] > 0

    (inst,) = ours_for(world, job.id)
    charged = world.sim.state.instances[inst.id]
    start, end = world.now() - timedelta(days=1), world.now() + timedelta(days=1)
    gpu = world.store.spend.spent_between(start, end, kind=SpendKind.GPU, job_id=job.id)
    storage = world.store.spend.spent_between(start, end, kind=SpendKind.STORAGE, job_id=job.id)
    one_tick = TICK_SECONDS / 3600.0
    assert gpu == pytest.approx(charged.gpu_cost, abs=inst.gpu_dph * one_tick + 1e-6)
    assert storage == pytest.approx(charged.disk_cost, abs=inst.storage_dph * one_tick + 1e-6)
    assert storage > 0


def _stable_job(world: World, name: str) -> int:
    job = world.store.jobs.submit(
        spec(
            name,
            offer_filter="gpu_name=RTX_3090 num_gpus=1",
            max_price_per_gpu=0.2,
            strategy="stable_cheapest",
            strategy_params={"within_fraction": 1.0},
        )
    )
    return job.id


def _machine_of(world: World, job_id: int) -> int:
    (inst,) = ours_for(world, job_id)
    return inst.machine_id


def test_stable_cheapest_avoids_a_machine_where_we_were_interrupted(make_world: Callable[..., World]) -> None:
    control = make_world()
    first_choice = _machine_of_fresh_job(control)

    world = make_world()
    victim = _stable_job(world, "victim")
    daemon = world.daemon()
    world.run(daemon, 3)
    assert _machine_of(world, victim) == first_choice
    rival = world.other_client()
    offer = next(
        o
        for o in rival.search_offers("gpu_name=RTX_3090", limit=100, order="dph_total")
        if o.machine_id == first_choice and o.num_gpus == max_gpus(world, first_choice)
    )
    rival_id = rival.create_instance(
        offer.id, CreateRequest(image="rival", disk_gb=10, label="rival", price=0.3 * offer.num_gpus)
    ).instance_id
    world.run(daemon, 4)
    assert _machine_of(world, victim) != first_choice  # moved away: the rival bids over its cap
    rival.destroy_instance(rival_id)
    world.run(daemon, 1)

    newcomer = _stable_job(world, "newcomer")
    world.run(daemon, 3)

    assert _machine_of(world, newcomer) != first_choice


def _machine_of_fresh_job(world: World) -> int:
    job_id = _stable_job(world, "control")
    world.run(world.daemon(), 3)
    return _machine_of(world, job_id)


def max_gpus(world: World, machine_id: int) -> int:
    offers = world.other_client().search_offers("gpu_name=RTX_3090", limit=100, order="dph_total")
    return max(o.num_gpus for o in offers if o.machine_id == machine_id)
