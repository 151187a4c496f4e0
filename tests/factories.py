"""The tests' shared builders: offers, job specs, jobs, instances, and a clock the test moves by hand.

Every builder takes the value object's own field names as keyword overrides and fills the rest with plain
defaults: one RTX_4090 at $0.50/h on demand and $0.30/h minimum bid, a job capped at $1/GPU/h, an instance
bid at $0.30/h. Prices are $/h for the whole offer or instance, as in ``vastbid.core``.

Import it as ``from factories import ...``: pytest puts ``tests/`` on ``sys.path`` (it holds the root
``conftest.py`` and has no ``__init__.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from vastbid.core.instances import Instance, InstanceStatus
from vastbid.core.jobs import Job, JobSpec, JobState
from vastbid.core.offers import Offer, RentalType
from vastbid.store import Store

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
"""The tests' default "now"."""


def offer(
    id: int = 1,
    *,
    machine_id: int | None = None,
    host_id: int = 1,
    gpu_name: str = "RTX_4090",
    num_gpus: int = 1,
    gpu_ram_gb: float = 24.0,
    dph_total: float = 0.5,
    min_bid: float = 0.3,
    dlperf: float = 10.0,
    reliability: float = 0.99,
    verified: bool = False,
    geolocation: str = "",
    inet_down: float = 0.0,
    disk_space: float = 0.0,
    cuda_max_good: float = 0.0,
    rentable: bool = True,
    end_date: float | None = None,
) -> Offer:
    """An offer; ``machine_id`` defaults to ``1000 + id``, so distinct ids are distinct machines."""
    return Offer(
        id=id,
        machine_id=1000 + id if machine_id is None else machine_id,
        host_id=host_id,
        gpu_name=gpu_name,
        num_gpus=num_gpus,
        gpu_ram_gb=gpu_ram_gb,
        dph_total=dph_total,
        min_bid=min_bid,
        dlperf=dlperf,
        reliability=reliability,
        verified=verified,
        geolocation=geolocation,
        inet_down=inet_down,
        disk_space=disk_space,
        cuda_max_good=cuda_max_good,
        rentable=rentable,
        end_date=end_date,
    )


def spec(*, name: str = "job", image: str = "img", max_price_per_gpu: float = 1.0, **fields: Any) -> JobSpec:
    """A job spec; ``fields`` are ``JobSpec``'s other fields (``num_gpus``, ``rental``, ``work_hours``, ...)."""
    return JobSpec(name=name, image=image, max_price_per_gpu=max_price_per_gpu, **fields)


def job(
    id: int = 1,
    *,
    cap_per_gpu: float = 1.0,
    state: JobState = JobState.QUEUED,
    created_at: datetime = NOW,
    attempt: int = 0,
    progress_hours: float = 0.0,
    spent: float = 0.0,
    instance_id: int | None = None,
    interruptions: int = 0,
    on_demand_since: datetime | None = None,
    **spec_fields: Any,
) -> Job:
    """A job named ``job{id}`` capped at ``cap_per_gpu`` $/GPU/h; ``spec_fields`` go to its ``JobSpec``."""
    return Job(
        id=id,
        spec=spec(name=f"job{id}", max_price_per_gpu=cap_per_gpu, **spec_fields),
        state=state,
        created_at=created_at,
        attempt=attempt,
        progress_hours=progress_hours,
        spent=spent,
        instance_id=instance_id,
        interruptions=interruptions,
        on_demand_since=on_demand_since,
    )


def instance(
    id: int = 77,
    *,
    machine_id: int,
    status: InstanceStatus = InstanceStatus.RUNNING,
    bid: float | None = 0.3,
    dph: float = 0.5,
    storage: float = 0.0,
    num_gpus: int = 1,
    gpu_name: str = "RTX_4090",
    started_at: datetime | None = NOW,
    status_msg: str | None = None,
    min_bid: float | None = None,
    label: str | None = None,
    offer_id: int | None = None,
) -> Instance:
    """An instance of ours on ``machine_id``: bid at ``bid`` $/h, or on demand at ``dph`` when ``bid`` is None.

    ``storage`` ($/h) is added to ``dph_total`` either way; ``label`` defaults to ``vastbid:test:{id}:1``.
    """
    return Instance(
        id=id,
        machine_id=machine_id,
        label=f"vastbid:test:{id}:1" if label is None else label,
        is_bid=bid is not None,
        bid_price=bid,
        dph_total=(dph if bid is None else bid) + storage,
        num_gpus=num_gpus,
        gpu_name=gpu_name,
        started_at=started_at,
        status=status,
        status_msg=status_msg,
        storage_dph=storage,
        min_bid=min_bid,
        offer_id=offer_id,
    )


class FakeClock:
    """A UTC clock the test sets and moves by hand; it never reads the wall clock.

    It serves every clock the code takes: ``now()`` is the daemon's ``Clock`` protocol, calling it is the store's
    ``Callable[[], datetime]``, and ``epoch`` is the metrics' ``Callable[[], float]`` (epoch seconds).
    """

    def __init__(self, start: datetime = NOW) -> None:
        if start.tzinfo is None:
            raise ValueError("a FakeClock starts at an aware UTC datetime")
        self._at = start.astimezone(UTC)

    def now(self) -> datetime:
        """The clock's time, aware UTC."""
        return self._at

    def __call__(self) -> datetime:
        """The clock's time, aware UTC (the store's clock signature)."""
        return self._at

    def epoch(self) -> float:
        """The clock's time in epoch seconds."""
        return self._at.timestamp()

    def set(self, at: datetime) -> datetime:
        """Jump to ``at`` (aware) and return it."""
        if at.tzinfo is None:
            raise ValueError("a FakeClock is set to an aware UTC datetime")
        self._at = at.astimezone(UTC)
        return self._at

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move on by ``delta`` or by ``timedelta(**kwargs)`` (``seconds=``, ``hours=``, ...); return the new time."""
        self._at += (delta or timedelta()) + timedelta(**kwargs)
        return self._at


INTENT_JOB_SPEC = {"name": "train", "image": "img", "max_price_per_gpu": 0.5}
"""A job submission the store tests record intents for."""


def record_intent(store: Store, job_id: int, attempt: int = 1) -> str:
    """Commit the intent of an interruptible create for ``job_id`` (offer 111 on machine 22 at $0.35/h); its label."""
    label = f"vastbid:test:{job_id}:{attempt}"
    store.instances.record_intent(
        label=label,
        job_id=job_id,
        attempt=attempt,
        rental=RentalType.INTERRUPTIBLE,
        offer_id=111,
        machine_id=22,
        price=0.35,
    )
    return label
