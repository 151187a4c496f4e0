"""Builders of offers, jobs, instances, snapshots and strategy maps for decide() tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from vastbid.core.budget import Budget
from vastbid.core.choice import Strategy
from vastbid.core.decide import decide
from vastbid.core.instances import Instance, InstanceStatus
from vastbid.core.jobs import Job, JobSpec, JobState
from vastbid.core.offers import Offer
from vastbid.core.plan import Plan
from vastbid.core.policy import DecidePolicy
from vastbid.core.snapshot import MarketSnapshot
from vastbid.strategies.cheapest_per_gpu import CheapestPerGpu
from vastbid.strategies.perf_per_dollar import PerfPerDollar
from vastbid.strategies.stable_cheapest import StableCheapest

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
POLICY = DecidePolicy(deployment="test", hours_to_next_tick=0.25)


def strategies(margin: float = 0.0) -> dict[str, Strategy]:
    """The price strategies, with ``bid_margin`` (0 keeps the arithmetic of the tests plain)."""
    return {
        "cheapest_per_gpu": CheapestPerGpu(CheapestPerGpu.Params(bid_margin=margin)),
        "perf_per_dollar": PerfPerDollar(PerfPerDollar.Params(bid_margin=margin)),
        "stable_cheapest": StableCheapest(StableCheapest.Params(bid_margin=margin)),
    }


def offer(id: int, *, min_bid: float, dph: float, machine: int | None = None, gpus: int = 1) -> Offer:
    """An offer; prices are $/h for the whole offer."""
    return Offer(
        id=id,
        machine_id=machine if machine is not None else 1000 + id,
        host_id=1,
        gpu_name="RTX_4090",
        num_gpus=gpus,
        gpu_ram_gb=24.0,
        dph_total=dph,
        min_bid=min_bid,
        dlperf=10.0,
        reliability=0.99,
    )


def job(
    id: int,
    *,
    cap_per_gpu: float = 1.0,
    state: JobState = JobState.QUEUED,
    instance_id: int | None = None,
    attempt: int = 0,
    spent: float = 0.0,
    progress: float = 0.0,
    **spec: Any,
) -> Job:
    """A job; ``spec`` goes to ``JobSpec``."""
    return Job(
        id=id,
        spec=JobSpec(name=f"job{id}", image="img", max_price_per_gpu=cap_per_gpu, **spec),
        state=state,
        created_at=NOW,
        attempt=attempt,
        instance_id=instance_id,
        spent=spent,
        progress_hours=progress,
    )


def instance(
    id: int,
    *,
    machine: int,
    status: InstanceStatus = InstanceStatus.RUNNING,
    bid: float | None = 0.3,
    dph: float = 0.5,
    storage: float = 0.0,
    gpus: int = 1,
    status_msg: str | None = None,
    min_bid: float | None = None,
) -> Instance:
    """An instance of ours; ``bid=None`` means on demand at ``dph`` (+ ``storage``)."""
    return Instance(
        id=id,
        machine_id=machine,
        label=f"vastbid:test:{id}:1",
        is_bid=bid is not None,
        bid_price=bid,
        dph_total=(dph if bid is None else bid) + storage,
        num_gpus=gpus,
        gpu_name="RTX_4090",
        started_at=NOW,
        status=status,
        status_msg=status_msg,
        storage_dph=storage,
        min_bid=min_bid,
    )


def snapshot(
    offers: Sequence[Offer] | Mapping[str, Sequence[Offer]] = (),
    instances: Sequence[Instance] = (),
    *,
    balance: float = 1000.0,
    **kw: Any,
) -> MarketSnapshot:
    """A snapshot; a plain offer list is the result of the empty filter."""
    by_query = offers if isinstance(offers, Mapping) else {"": list(offers)}
    return MarketSnapshot(taken_at=NOW, offers=by_query, instances=list(instances), balance=balance, **kw)


def run(
    snap: MarketSnapshot,
    jobs: Sequence[Job],
    budget: Budget | None = None,
    *,
    policy: DecidePolicy = POLICY,
    margin: float = 0.0,
) -> Plan:
    """``decide()`` with the price strategies at ``NOW``."""
    return decide(snap, jobs, budget or Budget(), strategies(margin), NOW, policy)


def kinds(plan: Plan) -> list[str]:
    """The action kinds, in order."""
    return [a.kind for a in plan.actions]
