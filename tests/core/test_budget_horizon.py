"""Budgets as hard bounds: a rental costs its full price (storage at the job's disk), and money caps hold over the
whole time until what a plan commits can be stopped (the tick, observing, the plan's paced creates, destroying)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from core_factories import kinds, run, snapshot

from factories import instance, job, offer
from vastbid.core.actions import PlaceBid, RentOnDemand, UpdateJob
from vastbid.core.budget import Budget
from vastbid.core.jobs import JobState, Rental
from vastbid.core.offers import Offer
from vastbid.core.policy import DecidePolicy

FIVE_SECOND_TICKS = DecidePolicy(deployment="test", hours_to_next_tick=5 / 3600)


def priced(offer_id: int, gpu: float, per_gb_month: float, *, min_bid: float = 0.3) -> Offer:
    """An offer as Vast's search shows it: ``dph_total`` = GPU ask + storage for the 5 GB searched."""
    searched = 5 * per_gb_month / 720
    made = offer(offer_id, dph_total=gpu + searched, min_bid=min_bid)
    return replace(made, storage_cost=per_gb_month, storage_total_cost=searched)


def test_an_on_demand_rental_costs_its_ask_plus_storage_at_the_jobs_own_disk() -> None:
    offers = [priced(1, 0.5, 0.3)]
    big = job(1, rental=Rental.ON_DEMAND, disk_gb=4000)  # 4000 GB at $0.3/GB/month is $1.67/h
    blocked = run(snapshot(offers), [big], Budget(max_burn_per_hour=2.0))
    assert blocked.actions == ()
    assert "burn cap $2.0000/h" in blocked.decisions[1].why and "$2.1667/h" in blocked.decisions[1].why

    small = job(1, rental=Rental.ON_DEMAND, disk_gb=20)
    fits = run(snapshot(offers), [small], Budget(max_burn_per_hour=2.0))
    (rent,) = fits.actions
    assert isinstance(rent, RentOnDemand)
    assert fits.committed_dph == pytest.approx(0.5 + 20 * 0.3 / 720)
    assert rent.facts["storage_dph"] == pytest.approx(20 * 0.3 / 720)


def test_a_new_bid_commits_its_storage_too() -> None:
    offers = [priced(1, 0.9, 0.3, min_bid=0.3)]
    big = job(1, rental=Rental.INTERRUPTIBLE, disk_gb=4000)
    blocked = run(snapshot(offers), [big], Budget(max_burn_per_hour=1.5))
    assert blocked.actions == () and "burn cap" in blocked.decisions[1].why
    fits = run(snapshot(offers), [job(1, rental=Rental.INTERRUPTIBLE, disk_gb=100)], Budget(max_burn_per_hour=1.5))
    assert kinds(fits) == ["place_bid"]
    assert fits.committed_dph == pytest.approx(0.3 + 100 * 0.3 / 720)


def test_an_offer_without_a_storage_price_costs_what_the_search_said() -> None:
    plan = run(snapshot([offer(1, dph_total=0.5)]), [job(1, rental=Rental.ON_DEMAND, disk_gb=4000)])
    assert kinds(plan) == ["rent_on_demand"] and plan.committed_dph == pytest.approx(0.5)


def test_a_daily_cap_holds_over_the_paced_creates_of_the_plan_and_the_tick_after() -> None:
    # 12 on-demand jobs at $1/h with $0.05 left today. Over one 5 s tick that would allow $36/h (all 12), but
    # the Nth create is sent 4.5 s x N in, and all run until the next tick has observed and destroyed them:
    # N x $1/h x (5 + 2 x 10 + 4.5 N + 3 N) s must stay under $0.05, so N = 3.
    offers = [offer(i, dph_total=1.0) for i in range(1, 13)]
    jobs = [job(i, rental=Rental.ON_DEMAND) for i in range(1, 13)]
    plan = run(snapshot(offers, spent_today=0.95), jobs, Budget(daily_cap=1.0), policy=FIVE_SECOND_TICKS)
    assert kinds(plan) == ["rent_on_demand"] * 3
    fourth = plan.decisions[4]
    assert fourth.outcome == "blocked" and "daily cap $1.00" in fourth.why and "(55 s from now)" in fourth.why
    assert plan.committed_dph * (5 + 20 + 3 * 7.5) / 3600 <= 0.05


def test_a_running_job_stops_for_good_before_its_burn_would_pass_its_max_cost() -> None:
    held = instance(50, machine_id=5, bid=None, dph=1.0)  # $1/h; the next chance to stop it is 923 s away
    near = run(snapshot([], [held]), [job(1, state=JobState.RUNNING, instance_id=50, spent=4.8, max_cost=5.0)])
    assert kinds(near) == ["destroy_instance", "update_job"]
    update = near.actions[1]
    assert isinstance(update, UpdateJob) and update.state is JobState.FAILED
    assert "would pass it before it can next be stopped" in update.reason

    room = run(snapshot([], [held]), [job(1, state=JobState.RUNNING, instance_id=50, spent=4.7, max_cost=5.0)])
    assert room.actions == () and room.decisions[1].outcome == "keep"


def test_a_jobs_max_cost_counts_the_creates_planned_after_it() -> None:
    # The capped job goes first (priority): alone it would run 32.5 s before it can be stopped ($0.009 at $1/h,
    # within its $0.012). Five more creates after it make that 70 s ($0.019): so it is not rented at all.
    offers = [offer(i, dph_total=1.0) for i in range(1, 7)]
    capped = job(1, rental=Rental.ON_DEMAND, priority=5, spent=1.0, max_cost=1.012)
    others = [job(i, rental=Rental.ON_DEMAND) for i in range(2, 7)]
    alone = run(snapshot(offers), [capped], policy=FIVE_SECOND_TICKS)
    assert kinds(alone) == ["rent_on_demand"]

    plan = run(snapshot(offers), [capped, *others], policy=FIVE_SECOND_TICKS)
    rented = sorted(a.job_id for a in plan.actions if isinstance(a, PlaceBid | RentOnDemand))
    assert rented == [2, 3, 4, 5, 6]
    assert plan.decisions[1].outcome == "blocked" and "job max cost $1.01" in plan.decisions[1].why
