"""Properties of decide() over random markets, job sets and price moves.

Whatever the market does, no plan commits more $/h than the burn cap, spends past the daily or monthly cap, draws
the balance under the reserve or carries a job past its max cost, over the whole time until what it commits can be
stopped (the tick, observing now and at the next tick, the plan's paced actions, and destroying every instance then
live); it never gives one offer or machine chunk to two jobs, never rents above a job's cap, and the same inputs
always give the same plan. The committed $/h (storage at the job's disk included) and the horizon are recomputed
here from the instances and the actions, not read from the plan. Jobs use every registered strategy that loads.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from core_factories import strategies
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories import NOW, offer
from vastbid.core.actions import ChangeBid, DestroyInstance, PlaceBid, RentOnDemand, StartInstance, StopInstance
from vastbid.core.budget import Budget
from vastbid.core.decide import decide
from vastbid.core.instances import Instance, InstanceStatus
from vastbid.core.jobs import Job, JobSpec, JobState, Rental
from vastbid.core.offers import Offer
from vastbid.core.plan import Plan
from vastbid.core.policy import DecidePolicy
from vastbid.core.snapshot import MarketSnapshot
from vastbid.errors import StrategyError
from vastbid.strategies.base import Strategy
from vastbid.strategies.registry import Registry

FILTERS = ["", "gpu_name=RTX_4090"]


def _every_strategy() -> dict[str, Strategy]:
    """Every registered strategy that loads (price_threshold with thresholds), plus the test defaults."""
    built = strategies(0.05)
    registry = Registry.from_entry_points()
    for name in registry.names():
        params = {"acquire_below": 0.8, "release_above": 1.2} if name == "price_threshold" else None
        try:
            built.setdefault(name, registry.build(name, params))
        except StrategyError:
            continue
    return built


STRATEGIES = _every_strategy()
NAMES = sorted(STRATEGIES)
money = st.floats(min_value=0.01, max_value=3.0, allow_nan=False)
PACES = {PlaceBid: 4.5, RentOnDemand: 4.5, ChangeBid: 5.5, DestroyInstance: 3.0}
"""Vast's pace per action kind, seconds (the ``DecidePolicy`` defaults)."""
OBSERVE_SECONDS = 10.0
DESTROY_SECONDS = 3.0


@st.composite
def markets(draw: st.DrawFn) -> tuple[MarketSnapshot, list[Job], Budget, float]:
    offers: dict[str, list[Offer]] = {f: [] for f in FILTERS}
    for i in range(draw(st.integers(0, 30))):
        gpus = draw(st.sampled_from([1, 2]))
        per_gb_month = draw(st.sampled_from([0.0, 0.1, 0.3]))  # 0: the search did not say
        searched = per_gb_month * 5 / 720  # the 5 GB a search prices into dph_total
        made = offer(
            i,
            machine_id=draw(st.integers(1, 12)),
            num_gpus=gpus,
            dph_total=draw(money) + searched,
            min_bid=draw(money),
            dlperf=draw(st.floats(0.0, 50.0)),
            reliability=draw(st.floats(0.0, 1.0)),
            rentable=draw(st.booleans()) or draw(st.booleans()),
        )
        offers[draw(st.sampled_from(FILTERS))].append(
            replace(made, storage_cost=per_gb_month, storage_total_cost=searched)
        )
    jobs: list[Job] = []
    instances: list[Instance] = []
    for j in range(draw(st.integers(0, 8))):
        state = draw(st.sampled_from(list(JobState)))
        instance_id = None
        if state is not JobState.QUEUED and draw(st.booleans()):
            instance_id = 500 + j
            is_bid = draw(st.booleans())
            price = draw(money)  # the price we rented at; the market may have moved since
            storage = draw(st.sampled_from([0.0, 0.01, 0.05]))
            instances.append(
                Instance(
                    id=instance_id,
                    machine_id=draw(st.integers(1, 12)),
                    label=None,
                    is_bid=is_bid,
                    bid_price=price if is_bid else None,
                    dph_total=price + storage,
                    num_gpus=draw(st.sampled_from([1, 2])),
                    gpu_name="RTX_4090",
                    started_at=NOW,
                    status=draw(st.sampled_from(list(InstanceStatus))),
                    storage_dph=storage,
                    min_bid=draw(st.one_of(st.none(), money)),
                    status_msg=draw(st.sampled_from([None, "Exited (0)", "exit code 3"])),
                )
            )
            if draw(st.integers(0, 9)) == 0:  # sometimes the instance vanished from the listing
                instances.pop()
        spec: dict[str, Any] = {}
        spent = draw(st.floats(0.0, 20.0))
        if draw(st.booleans()):  # a max cost anywhere, or within a few cents of what the job spent
            spec["max_cost"] = draw(st.floats(0.5, 50.0) | st.floats(spent + 0.001, spent + 0.05))
        jobs.append(
            Job(
                id=j,
                spec=JobSpec(
                    name=f"j{j}",
                    image="img",
                    num_gpus=draw(st.sampled_from([1, 2])),
                    offer_filter=draw(st.sampled_from(FILTERS)),
                    max_price_per_gpu=draw(st.floats(0.05, 2.0)),
                    disk_gb=draw(st.sampled_from([5.0, 20.0, 4000.0])),
                    rental=draw(st.sampled_from(list(Rental))),
                    priority=draw(st.integers(-2, 2)),
                    strategy=draw(st.sampled_from([None, *NAMES])),
                    **spec,
                ),
                state=state,
                created_at=NOW,
                instance_id=instance_id,
                spent=spent,
            )
        )
    spent_today = draw(st.floats(0.0, 100.0))
    spent_month = draw(st.floats(0.0, 1000.0))
    few_cents = st.floats(0.0, 0.3)  # a cap nearly reached: what the horizon's length decides
    budget = Budget(
        max_burn_per_hour=draw(st.one_of(st.none(), st.floats(0.0, 6.0))),
        daily_cap=draw(st.none() | st.floats(1.0, 100.0) | few_cents.map(lambda d: spent_today + d)),
        monthly_cap=draw(st.none() | st.floats(1.0, 1000.0) | few_cents.map(lambda d: spent_month + d)),
        min_balance=draw(st.floats(0.0, 50.0)),
    )
    snap = MarketSnapshot(
        taken_at=NOW,
        offers=offers,
        instances=instances,
        balance=draw(st.floats(0.0, 100.0)),
        spent_today=spent_today,
        spent_month=spent_month,
        unavailable_offer_ids=frozenset(draw(st.lists(st.integers(0, 30), max_size=3))),
    )
    return snap, jobs, budget, draw(st.sampled_from([5 / 3600, 1 / 60, 0.25, 1.0]))


def new_rental_dph(action: PlaceBid | RentOnDemand, disk_gb: float) -> float:
    """What a new rental costs per hour: its bid or its ask without the searched storage, plus storage at the disk."""
    o = action.offer
    gpu = action.price if isinstance(action, PlaceBid) else o.dph_total - o.storage_total_cost
    storage = o.storage_cost * disk_gb / 720 if o.storage_cost > 0 else o.storage_total_cost
    return gpu + storage


def committed_after(snap: MarketSnapshot, jobs: list[Job], plan: Plan) -> tuple[float, dict[int, float], int]:
    """$/h of every live instance once the plan's actions are applied, recomputed from scratch; the same per job
    (its instance, old or new); how many instances still bill."""
    disks = {job.id: job.spec.disk_gb for job in jobs}
    owner = {job.instance_id: job.id for job in jobs if job.instance_id is not None}
    gpu: dict[int, float] = {}
    storage: dict[int, float] = {}
    for inst in snap.instances:
        if inst.status is InstanceStatus.GONE:
            continue
        idle = inst.status in (InstanceStatus.STOPPED, InstanceStatus.EXITED)
        gpu[inst.id] = 0.0 if idle else inst.gpu_dph
        storage[inst.id] = inst.storage_dph
    bids = {inst.id: inst.gpu_dph for inst in snap.instances}
    new: dict[int, float] = {}
    for action in plan.actions:
        if isinstance(action, PlaceBid | RentOnDemand):
            new[action.job_id] = new_rental_dph(action, disks[action.job_id])
        elif isinstance(action, DestroyInstance):
            gpu.pop(action.instance_id, None)
            storage.pop(action.instance_id, None)
        elif isinstance(action, StopInstance):
            gpu[action.instance_id] = 0.0
        elif isinstance(action, ChangeBid):
            bids[action.instance_id] = action.price
            if gpu.get(action.instance_id):
                gpu[action.instance_id] = action.price
        elif isinstance(action, StartInstance):
            gpu[action.instance_id] = bids[action.instance_id]
    per_job = dict(new)
    for inst_id, dph in storage.items():
        if inst_id in owner:
            per_job[owner[inst_id]] = per_job.get(owner[inst_id], 0.0) + dph + gpu[inst_id]
    total = sum(new.values()) + sum(gpu.values()) + sum(storage.values())
    return total, per_job, len(new) + len(storage)


def horizon_hours(plan: Plan, tick_hours: float, live: int) -> float:
    """Until what the plan commits can be stopped: the tick, observing twice, every paced action of the plan, and
    destroying each instance still live at the next tick."""
    paces = sum(PACES.get(type(action), 0.0) for action in plan.actions)
    return (tick_hours * 3600 + 2 * OBSERVE_SECONDS + paces + DESTROY_SECONDS * live) / 3600


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(market=markets())
def test_no_plan_breaks_a_budget_and_the_same_inputs_give_the_same_plan(
    market: tuple[MarketSnapshot, list[Job], Budget, float],
) -> None:
    snap, jobs, budget, hours = market
    policy = DecidePolicy(deployment="prop", hours_to_next_tick=hours, candidate_window=4)
    plan = decide(snap, jobs, budget=budget, strategies=STRATEGIES, policy=policy)
    assert plan == decide(snap, jobs, budget=budget, strategies=STRATEGIES, policy=policy)

    committed, per_job, live = committed_after(snap, jobs, plan)
    assert abs(committed - plan.committed_dph) < 1e-6
    horizon = horizon_hours(plan, hours, live)
    eps = 1e-6
    if committed > eps:  # the plan holds spend: every cap must allow it until it can be stopped
        if budget.max_burn_per_hour is not None:
            assert committed <= budget.max_burn_per_hour + eps
        if budget.daily_cap is not None:
            assert snap.spent_today + committed * horizon <= budget.daily_cap + eps
        if budget.monthly_cap is not None:
            assert snap.spent_month + committed * horizon <= budget.monthly_cap + eps
        assert snap.balance - committed * horizon >= budget.min_balance - eps
    for job in jobs:
        if job.spec.max_cost is not None and per_job.get(job.id, 0.0) > eps:
            assert job.spent + per_job[job.id] * horizon <= job.spec.max_cost + eps

    by_id = {job.id: job for job in jobs}
    creates = [a for a in plan.actions if isinstance(a, PlaceBid | RentOnDemand)]
    assert len({a.offer.id for a in creates}) == len(creates)
    assert len({a.offer.stable_key for a in creates}) == len(creates)
    for action in creates:
        job = by_id[action.job_id]
        assert not job.state.is_final
        assert action.offer in snap.offers[job.spec.offer_filter]
        assert action.offer.id not in snap.unavailable_offer_ids
        assert action.price <= job.max_price + eps
        assert job.spec.rental is not (Rental.ON_DEMAND if isinstance(action, PlaceBid) else Rental.INTERRUPTIBLE)
    for action in plan.actions:
        if isinstance(action, ChangeBid):
            assert action.price <= by_id[action.job_id].max_price + eps
    destroyed = [a.instance_id for a in plan.actions if isinstance(a, DestroyInstance)]
    assert len(destroyed) == len(set(destroyed))
