"""Small builders of offers, jobs, instances and contexts for strategy tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from vastbid.core.instances import Instance, InstanceStatus
from vastbid.core.jobs import Job, JobSpec, JobState
from vastbid.core.offers import Offer
from vastbid.strategies.base import MachineRecord, StrategyContext

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def offer(
    id: int,
    *,
    min_bid: float,
    dph: float,
    machine: int | None = None,
    gpus: int = 1,
    dlperf: float = 10.0,
    reliability: float = 0.99,
) -> Offer:
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
        dlperf=dlperf,
        reliability=reliability,
    )


def job(*, cap_per_gpu: float = 1.0, rental: str = "auto", gpus: int = 1, id: int = 1, **spec: Any) -> Job:
    """A queued job with a cap of ``cap_per_gpu`` $/GPU/h."""
    state = spec.pop("state", JobState.QUEUED)
    instance_id = spec.pop("instance_id", None)
    return Job(
        id=id,
        spec=JobSpec(name=f"job{id}", image="img", max_price_per_gpu=cap_per_gpu, rental=rental, num_gpus=gpus, **spec),
        state=state,
        created_at=NOW,
        instance_id=instance_id,
    )


def instance(
    id: int = 77,
    *,
    machine: int,
    status: InstanceStatus = InstanceStatus.RUNNING,
    bid: float | None = 0.3,
    dph: float = 0.5,
    gpus: int = 1,
    min_bid: float | None = None,
) -> Instance:
    """An instance of ours; ``bid=None`` means on demand."""
    return Instance(
        id=id,
        machine_id=machine,
        label=None,
        is_bid=bid is not None,
        bid_price=bid,
        dph_total=dph if bid is None else bid,
        num_gpus=gpus,
        gpu_name="RTX_4090",
        started_at=NOW,
        status=status,
        min_bid=min_bid,
    )


def ctx(
    j: Job,
    offers: Sequence[Offer] = (),
    inst: Instance | None = None,
    history: Mapping[int, MachineRecord] | None = None,
) -> StrategyContext:
    """The context a strategy sees."""
    return StrategyContext(job=j, offers=tuple(offers), now=NOW, instance=inst, history=history or {})
