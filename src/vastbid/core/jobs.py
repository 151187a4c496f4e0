"""Jobs: what to run and on what, their life states, and the validated job specification.

States: ``queued -> acquiring -> running <-> interrupted -> succeeded | failed | cancelled | expired``.
Progress is the running time accrued after boot (or what the job reports through the API), in hours.

``JobSpec`` checks what a spec says on its own (types, ranges, names). A job file and the HTTP API use the flags'
names ``filter`` and ``params``; the old names ``offer_filter`` and ``strategy_params`` still load (and remain the
attribute names). ``timing_problems(spec, now)`` and ``price_warnings(spec)`` are the checks that need "now" or
judge the spec against the market at large; the front door (``vastbid.store.jobs.parse_job_specs`` with checks)
adds the offer query and the strategy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator


class JobState(StrEnum):
    """Where a job is in its life."""

    QUEUED = "queued"
    ACQUIRING = "acquiring"
    RUNNING = "running"
    INTERRUPTED = "interrupted"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        """Whether the job is over (nothing more will be spent on it)."""
        return self in _FINAL


_FINAL = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.EXPIRED})


class Rental(StrEnum):
    """Which rental types a job accepts."""

    INTERRUPTIBLE = "interruptible"
    ON_DEMAND = "on_demand"
    AUTO = "auto"


RENAMED_FIELDS: dict[str, str] = {"filter": "offer_filter", "params": "strategy_params"}
"""The names a spec is written with (the flags' names) -> the old names that still load."""


class JobSpec(BaseModel):
    """A job as a user submits it (flags, TOML or JSON), validated; the error names the field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    image: str = Field(min_length=1, max_length=1024)
    onstart: str | None = Field(default=None, max_length=4000)
    args: list[str] | None = None
    env: dict[str, str] = Field(default_factory=dict)
    disk_gb: float = Field(default=20.0, gt=0, le=10_000)
    num_gpus: int = Field(default=1, ge=1, le=64)
    offer_filter: str = Field(
        default="",
        max_length=2000,
        validation_alias=AliasChoices("filter", "offer_filter"),
        description="`vastai search offers` query (given as `filter`; `offer_filter` is its old name)",
    )
    max_price_per_gpu: float = Field(gt=0, le=128, description="max $/GPU/h the job may pay")
    rental: Rental = Rental.AUTO
    work_hours: float | None = Field(default=None, gt=0, le=100_000)
    deadline: datetime | None = None
    restart_overhead_hours: float = Field(default=0.1, ge=0, le=48)
    resumable: bool = True
    priority: int = Field(default=0, ge=-1000, le=1000)
    max_cost: float | None = Field(default=None, gt=0, description="the most this job may cost in all, $")
    strategy: str | None = None
    strategy_params: dict[str, Any] = Field(
        default_factory=dict,
        validation_alias=AliasChoices("params", "strategy_params"),
        description="the strategy's parameters (given as `params`; `strategy_params` is its old name)",
    )

    @model_validator(mode="before")
    @classmethod
    def _one_name_per_field(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for new, old in RENAMED_FIELDS.items():
                if new in data and old in data:
                    raise ValueError(f"give {new} or {old} (its old name), not both")
        return data

    @field_validator("deadline")
    @classmethod
    def _deadline_is_aware(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("deadline needs a time zone, e.g. 2026-12-01T18:00:00Z")
        if value is not None and "work_hours" in info.data and info.data["work_hours"] is None:
            raise ValueError("a deadline needs work_hours (the estimate the schedule is planned against): give both")
        return value

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not key or not key.replace("_", "").isalnum() or key[0].isdigit():
                raise ValueError(f"environment variable name {key!r} is not a valid name")
        return value


LOWEST_CONCEIVABLE_PRICE_PER_GPU = 0.01
"""$/GPU/h under which no Vast.ai offer, interruptible or not, has ever been seen: a cap below it only waits."""


@dataclass(frozen=True, slots=True)
class SpecProblem:
    """One thing wrong with a spec: the field as the user names it, and what is wrong and how to fix it."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def _hours(value: float) -> str:
    return f"{value:.4g} h"


def timing_problems(spec: JobSpec, now: datetime) -> list[SpecProblem]:
    """A deadline already past, or too close to fit ``work_hours`` plus one restart overhead even on demand."""
    if spec.deadline is None:
        return []
    if spec.deadline <= now:
        return [
            SpecProblem(
                "deadline",
                f"{spec.deadline.isoformat()} is already past (now {now.isoformat(timespec='seconds')}): "
                "give a later deadline, or none",
            )
        ]
    work = spec.work_hours or 0.0
    needed = timedelta(hours=work + spec.restart_overhead_hours)
    if spec.deadline - now < needed:
        left = (spec.deadline - now).total_seconds() / 3600
        earliest = (now + needed).isoformat(timespec="minutes")
        return [
            SpecProblem(
                "deadline",
                f"{spec.deadline.isoformat()} leaves {_hours(left)}, but work_hours ({_hours(work)}) plus "
                f"restart_overhead_hours ({_hours(spec.restart_overhead_hours)}) need "
                f"{_hours(work + spec.restart_overhead_hours)} even on demand: give a deadline after {earliest}, "
                "or less work_hours",
            )
        ]
    return []


def price_warnings(spec: JobSpec) -> list[SpecProblem]:
    """Accepted but suspicious: a price cap under every offer ever seen (the job would wait for ever)."""
    if spec.max_price_per_gpu < LOWEST_CONCEIVABLE_PRICE_PER_GPU:
        return [
            SpecProblem(
                "max_price_per_gpu",
                f"{spec.max_price_per_gpu:g} $/GPU/h is under every offer seen on Vast.ai (the cheapest are about "
                f"{LOWEST_CONCEIVABLE_PRICE_PER_GPU:g}): the job will likely wait for ever; check it with "
                "`vastbid jobs submit --check`",
            )
        ]
    return []


@dataclass(frozen=True, slots=True)
class Job:
    """A job as the daemon sees it on a tick: its spec, its state and its progress."""

    id: int
    spec: JobSpec
    state: JobState
    created_at: datetime
    attempt: int = 0
    """How many instances have been created for it; part of the label."""
    progress_hours: float = 0.0
    spent: float = 0.0
    """What it has cost so far, $."""
    instance_id: int | None = None
    interruptions: int = 0
    on_demand_since: datetime | None = None
    """When it last moved onto an on-demand instance (hysteresis for deadline strategies)."""
    state_reason: str | None = None
    """Why the job is in its state, or why it waits (as last recorded)."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def remaining_hours(self) -> float | None:
        """Work left, when the job has an estimate."""
        if self.spec.work_hours is None:
            return None
        return max(self.spec.work_hours - self.progress_hours, 0.0)

    @property
    def max_price(self) -> float:
        """The most the job may pay per hour for its whole instance."""
        return self.spec.max_price_per_gpu * self.spec.num_gpus


JobKind = Literal["interruptible", "on_demand", "auto"]
