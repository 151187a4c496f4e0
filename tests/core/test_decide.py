"""decide(): what one tick does for jobs, instances and budgets."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from core_factories import kinds, run, snapshot

from factories import NOW, instance, job, offer
from vastbid.core.actions import (
    ChangeBid,
    DestroyInstance,
    PlaceBid,
    RentOnDemand,
    StartInstance,
    StopInstance,
    UpdateJob,
)
from vastbid.core.budget import Budget
from vastbid.core.instances import InstanceStatus
from vastbid.core.jobs import JobState


def test_a_queued_job_bids_on_the_cheapest_offer_under_its_label() -> None:
    plan = run(
        snapshot([offer(1, min_bid=0.4, dph_total=0.9), offer(2, min_bid=0.2, dph_total=0.9)]), [job(7, attempt=2)]
    )
    (action,) = plan.actions
    assert isinstance(action, PlaceBid)
    assert (action.job_id, action.offer.id, action.price, action.label) == (7, 2, 0.2, "vastbid:test:7:3")
    assert action.reason and action.facts["cap"] == 1.0
    assert plan.committed_dph == pytest.approx(0.2)
    decision = plan.decisions[7]
    assert (decision.outcome, decision.strategy) == ("acquire", "cheapest_per_gpu")
    assert [o.id for o in decision.ranked] == [2, 1]


def test_offers_of_another_gpu_count_or_recently_unavailable_are_never_rented() -> None:
    offers = [
        offer(1, min_bid=0.1, dph_total=0.5, num_gpus=2),
        offer(2, min_bid=0.15, dph_total=0.5),
        offer(3, min_bid=0.2, dph_total=0.5),
    ]
    offers.append(offer(4, min_bid=0.16, dph_total=0.5, machine_id=99))
    plan = run(
        snapshot(offers, unavailable_offer_ids=frozenset({2}), unavailable_machine_ids=frozenset({99})), [job(1)]
    )
    (action,) = plan.actions
    assert isinstance(action, PlaceBid) and action.offer.id == 3


def test_offers_come_from_the_jobs_own_filter() -> None:
    offers = {"gpu_name=A100": [offer(1, min_bid=0.5, dph_total=0.9)], "": [offer(2, min_bid=0.1, dph_total=0.9)]}
    plan = run(snapshot(offers), [job(1, offer_filter="gpu_name=A100")])
    assert [a.offer.id for a in plan.actions if isinstance(a, PlaceBid)] == [1]


def test_one_offer_and_one_machine_chunk_per_plan_higher_priority_first() -> None:
    offers = [offer(1, min_bid=0.1, dph_total=0.9, machine_id=5), offer(2, min_bid=0.1, dph_total=0.9, machine_id=5)]
    offers.append(offer(3, min_bid=0.3, dph_total=0.9))
    plan = run(snapshot(offers), [job(1, priority=0), job(2, priority=5), job(3, priority=0)])
    rented = {a.job_id: a.offer.id for a in plan.actions if isinstance(a, PlaceBid)}
    assert rented == {2: 1, 1: 3}
    assert plan.decisions[3].outcome == "wait"


def test_a_chunk_we_already_hold_is_not_offered_to_another_job() -> None:
    held = instance(50, machine_id=5)
    plan = run(
        snapshot([offer(1, min_bid=0.1, dph_total=0.9, machine_id=5)], [held]),
        [job(1, state=JobState.RUNNING, instance_id=50), job(2)],
    )
    assert not any(isinstance(a, PlaceBid) for a in plan.actions)


def test_least_slack_first_among_equal_priority() -> None:
    offers = [offer(1, min_bid=0.1, dph_total=0.9)]
    loose = job(1, work_hours=2.0, deadline=NOW + timedelta(hours=20))
    tight = job(2, work_hours=2.0, deadline=NOW + timedelta(hours=3))
    plan = run(snapshot(offers), [loose, tight])
    assert [a.job_id for a in plan.actions] == [2]


def test_burn_cap_blocks_an_acquisition_with_a_reason_naming_it() -> None:
    plan = run(snapshot([offer(1, min_bid=0.5, dph_total=0.9)]), [job(1)], Budget(max_burn_per_hour=0.4))
    assert plan.actions == ()
    assert plan.decisions[1].outcome == "blocked"
    assert "burn cap $0.4000/h" in plan.decisions[1].why


def test_daily_cap_counts_spend_so_far_over_the_hours_to_the_next_tick() -> None:
    offers = [offer(1, min_bid=0.5, dph_total=0.9)]
    budget = Budget(daily_cap=10.0)
    # 0.5 $/h over the 0.25 h to the next tick is $0.125: more than the $0.10 left, less than $0.20
    blocked = run(snapshot(offers, spent_today=9.9), [job(1)], budget)
    assert blocked.actions == () and "daily cap $10.00" in blocked.decisions[1].why
    fits = run(snapshot(offers, spent_today=9.8), [job(1)], budget)
    assert kinds(fits) == ["place_bid"]


def test_the_balance_reserve_is_never_drawn_under() -> None:
    offers = [offer(1, min_bid=0.5, dph_total=0.9)]
    plan = run(snapshot(offers, balance=20.1), [job(1)], Budget(min_balance=20.0))
    assert plan.actions == () and "balance reserve $20.00" in plan.decisions[1].why


def test_a_job_never_passes_its_max_cost() -> None:
    offers = [offer(1, min_bid=0.5, dph_total=0.9)]
    blocked = run(snapshot(offers), [job(1, spent=4.9, max_cost=5.0)])
    assert blocked.actions == () and "job max cost $5.00" in blocked.decisions[1].why
    held = instance(50, machine_id=5)
    done = run(snapshot(offers, [held]), [job(1, state=JobState.RUNNING, instance_id=50, spent=5.0, max_cost=5.0)])
    assert kinds(done) == ["destroy_instance", "update_job"]
    assert done.actions[1].state is JobState.FAILED  # type: ignore[union-attr]
    assert done.committed_dph == 0.0


def test_an_outbid_job_rebids_in_place_within_its_cap() -> None:
    outbid = instance(50, machine_id=5, status=InstanceStatus.OUTBID, bid=0.3)
    offers = [offer(1, min_bid=0.45, dph_total=0.9, machine_id=5), offer(2, min_bid=0.4, dph_total=0.9)]
    plan = run(snapshot(offers, [outbid]), [job(1, state=JobState.RUNNING, instance_id=50)], margin=0.05)
    (action,) = plan.actions
    assert isinstance(action, ChangeBid)
    assert (action.instance_id, action.price) == (50, pytest.approx(0.4725))
    assert plan.committed_dph == pytest.approx(0.4725)


def test_an_outbid_job_whose_rebid_passes_the_cap_moves_then_destroys_the_old_one() -> None:
    outbid = instance(50, machine_id=5, status=InstanceStatus.OUTBID, bid=0.3)
    offers = [offer(1, min_bid=1.05, dph_total=2.0, machine_id=5), offer(2, min_bid=0.4, dph_total=0.9)]
    plan = run(snapshot(offers, [outbid]), [job(1, state=JobState.RUNNING, instance_id=50, attempt=1)], margin=0.1)
    assert kinds(plan) == ["place_bid", "destroy_instance"]
    place, destroy = plan.actions
    assert isinstance(place, PlaceBid) and place.offer.id == 2 and place.label == "vastbid:test:1:2"
    assert isinstance(destroy, DestroyInstance) and destroy.instance_id == 50
    assert plan.decisions[1].outcome == "migrate"


def test_an_outbid_auto_job_falls_back_to_on_demand() -> None:
    outbid = instance(50, machine_id=5, status=InstanceStatus.OUTBID, bid=0.3)
    offers = [offer(1, min_bid=1.5, dph_total=2.0, machine_id=5), offer(2, min_bid=1.5, dph_total=0.8)]
    plan = run(snapshot(offers, [outbid]), [job(1, state=JobState.RUNNING, instance_id=50)])
    assert isinstance(plan.actions[0], RentOnDemand) and plan.actions[0].price == 0.8


def test_an_exited_instance_finishes_its_job() -> None:
    ok = instance(50, machine_id=5, status=InstanceStatus.EXITED, status_msg="Exited (0) 2 minutes ago")
    bad = instance(51, machine_id=6, status=InstanceStatus.EXITED, status_msg="container exit code: 137")
    jobs = [job(1, state=JobState.RUNNING, instance_id=50), job(2, state=JobState.RUNNING, instance_id=51)]
    plan = run(snapshot([], [ok, bad]), jobs)
    updates = {a.job_id: a.state for a in plan.actions if isinstance(a, UpdateJob)}
    assert updates == {1: JobState.SUCCEEDED, 2: JobState.FAILED}
    assert {a.instance_id for a in plan.actions if isinstance(a, DestroyInstance)} == {50, 51}
    assert "code 137" in plan.decisions[2].why


def test_a_cancelled_jobs_instance_is_destroyed_and_nothing_else_happens() -> None:
    held = instance(50, machine_id=5)
    plan = run(
        snapshot([offer(1, min_bid=0.1, dph_total=0.2)], [held]), [job(1, state=JobState.CANCELLED, instance_id=50)]
    )
    (action,) = plan.actions
    assert isinstance(action, DestroyInstance) and action.instance_id == 50 and "cancelled" in action.reason
    assert plan.committed_dph == 0.0


def test_a_vanished_instance_requeues_its_job_which_acquires_again() -> None:
    plan = run(snapshot([offer(1, min_bid=0.1, dph_total=0.2)], []), [job(1, state=JobState.RUNNING, instance_id=50)])
    assert kinds(plan) == ["update_job", "place_bid"]
    update = plan.actions[0]
    assert isinstance(update, UpdateJob) and update.state is JobState.QUEUED and update.detach_instance


def test_a_job_past_its_deadline_expires_and_its_instance_goes() -> None:
    held = instance(50, machine_id=5)
    late = job(1, state=JobState.RUNNING, instance_id=50, work_hours=5.0, deadline=NOW - timedelta(minutes=1))
    plan = run(snapshot([], [held]), [late])
    assert kinds(plan) == ["destroy_instance", "update_job"]
    assert plan.actions[1].state is JobState.EXPIRED  # type: ignore[union-attr]


def test_prices_rising_past_the_cap_shed_the_lowest_priority_spend_first() -> None:
    high = instance(50, machine_id=5, bid=0.6, storage=0.05)
    low = instance(51, machine_id=6, bid=0.6, storage=0.05)
    jobs = [
        job(1, state=JobState.RUNNING, instance_id=50, priority=10),
        job(2, state=JobState.RUNNING, instance_id=51, priority=1),
    ]
    plan = run(snapshot([], [high, low]), jobs, Budget(max_burn_per_hour=1.0))
    stop = plan.actions[0]
    assert isinstance(stop, StopInstance) and stop.instance_id == 51
    assert "burn cap $1.0000/h" in stop.reason
    assert plan.decisions[2].outcome == "shed"
    assert plan.committed_dph == pytest.approx(0.70)
    # with no room even for storage, instances are destroyed, lowest priority first
    plan = run(snapshot([], [high, low]), jobs, Budget(max_burn_per_hour=0.05))
    assert [(a.kind, a.instance_id) for a in plan.actions if not isinstance(a, UpdateJob)] == [
        ("destroy_instance", 51),
        ("destroy_instance", 50),
    ]
    assert plan.committed_dph == pytest.approx(0.0)


def test_a_stopped_instance_of_ours_is_started_again_when_the_budget_allows() -> None:
    stopped = instance(50, machine_id=5, status=InstanceStatus.STOPPED, bid=0.4, storage=0.02)
    running_job = job(1, state=JobState.INTERRUPTED, instance_id=50)
    plan = run(snapshot([], [stopped]), [running_job])
    assert isinstance(plan.actions[0], StartInstance) and plan.decisions[1].outcome == "resume"
    assert plan.committed_dph == pytest.approx(0.42)
    held_back = run(snapshot([], [stopped]), [running_job], Budget(max_burn_per_hour=0.3))
    assert held_back.actions == () and "burn cap" in held_back.decisions[1].why


def test_hysteresis_keeps_a_running_job_unless_the_gain_is_worth_it() -> None:
    running = instance(50, machine_id=5, bid=1.0)
    j = job(1, cap_per_gpu=2.0, state=JobState.RUNNING, instance_id=50, work_hours=10.0, progress_hours=2.0)
    small = run(snapshot([offer(2, min_bid=0.85, dph_total=3.0)], [running]), [j])
    assert small.actions == () and small.decisions[1].outcome == "keep"
    assert "minimum gain of 20%" in small.decisions[1].why
    big = run(snapshot([offer(2, min_bid=0.5, dph_total=3.0)], [running]), [j])
    assert kinds(big) == ["place_bid", "destroy_instance"]


def test_hysteresis_counts_the_restart_overhead_against_the_work_left() -> None:
    running = instance(50, machine_id=5, bid=1.0)
    nearly_done = job(
        1, cap_per_gpu=2.0, state=JobState.RUNNING, instance_id=50, work_hours=10.0, progress_hours=9.9,
        restart_overhead_hours=0.5,
    )  # fmt: skip
    plan = run(snapshot([offer(2, min_bid=0.5, dph_total=3.0)], [running]), [nearly_done])
    assert plan.actions == () and "does not pay for the restart" in plan.decisions[1].why


def test_a_job_naming_an_unloaded_strategy_is_blocked_not_crashed() -> None:
    plan = run(snapshot([offer(1, min_bid=0.1, dph_total=0.2)]), [job(1, strategy="nonesuch")])
    assert plan.actions == () and "'nonesuch' is not loaded" in plan.decisions[1].why


def test_the_same_inputs_give_the_same_plan() -> None:
    offers = [offer(i, min_bid=0.1 + (i % 7) / 10, dph_total=0.9, machine_id=i % 5) for i in range(30)]
    jobs = [job(i, priority=i % 3) for i in range(8)]
    snap = snapshot(offers)
    assert run(snap, jobs) == run(snap, list(reversed(jobs)))
    assert run(snap, jobs) == run(replace(snap, offers={"": list(offers)}), jobs)
