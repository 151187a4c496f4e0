"""The budget ledger of one plan: committed $/h, the limit the caps allow, and what each instance commits.

Committed $/h is what every live instance costs per hour once the plan is applied: its running price (bid or ask)
plus storage, for any instance that may bill GPU time (running, starting, scheduling, outbid: it may resume on its
own, offline: it may come back), storage only for a stopped or exited one, nothing for a gone or destroyed one.
A new interruptible commits its bid (storage is not known before it exists; the next tick sees it), a new on-demand
rental its ask (``dph_total`` includes storage).

Over the ``hours`` until the next tick, the caps give one limit on committed $/h:
``max_burn_per_hour``; ``(daily_cap - spent_today) / hours``; ``(monthly_cap - spent_month) / hours``;
``(balance - min_balance) / hours``. The ledger refuses any increase past it and names the cap that binds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vastbid.core.budget import Budget
from vastbid.core.instances import Instance, InstanceStatus
from vastbid.core.jobs import Job

EPS_DPH = 1e-9
"""Tolerance on $/h comparisons."""

_STORAGE_ONLY = frozenset({InstanceStatus.STOPPED, InstanceStatus.EXITED})


def instance_gpu_commit(instance: Instance) -> float:
    """The GPU part of what ``instance`` commits ($/h): zero while stopped, exited or gone."""
    if instance.status is InstanceStatus.GONE or instance.status in _STORAGE_ONLY:
        return 0.0
    return instance.gpu_dph


def instance_commit(instance: Instance) -> float:
    """What ``instance`` commits per hour: GPU (when it may bill) plus storage (until destroyed)."""
    if instance.status is InstanceStatus.GONE:
        return 0.0
    return instance_gpu_commit(instance) + instance.storage_dph


def job_max_cost(job: Job, budget: Budget) -> float | None:
    """The most ``job`` may cost in all: the lower of its own ``max_cost`` and the budget's per-job cap."""
    caps = [c for c in (job.spec.max_cost, budget.per_job_max_cost) if c is not None]
    return min(caps) if caps else None


@dataclass(frozen=True, slots=True)
class Cap:
    """One cap, as a limit on committed $/h, with words for the decision log."""

    name: str
    limit_dph: float
    detail: str


def caps_of(budget: Budget, balance: float, spent_today: float, spent_month: float, hours: float) -> list[Cap]:
    """Every cap of ``budget`` as a limit on committed $/h over ``hours``."""
    hours = max(hours, 1e-6)
    caps: list[Cap] = []
    if budget.max_burn_per_hour is not None:
        caps.append(Cap("max_burn_per_hour", budget.max_burn_per_hour, f"burn cap ${budget.max_burn_per_hour:.4f}/h"))
    if budget.daily_cap is not None:
        caps.append(
            Cap(
                "daily_cap",
                (budget.daily_cap - spent_today) / hours,
                f"daily cap ${budget.daily_cap:.2f} (spent ${spent_today:.2f} today)",
            )
        )
    if budget.monthly_cap is not None:
        caps.append(
            Cap(
                "monthly_cap",
                (budget.monthly_cap - spent_month) / hours,
                f"monthly cap ${budget.monthly_cap:.2f} (spent ${spent_month:.2f} this month)",
            )
        )
    caps.append(
        Cap(
            "min_balance",
            (balance - budget.min_balance) / hours,
            f"balance reserve ${budget.min_balance:.2f} (balance ${balance:.2f})",
        )
    )
    return caps


@dataclass(slots=True)
class Ledger:
    """Committed $/h as the plan is built, against the caps (mutable, private to one ``decide()`` call)."""

    caps: list[Cap]
    hours: float
    committed: float = 0.0
    _limit: Cap | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._limit = min(self.caps, key=lambda c: (c.limit_dph, c.name)) if self.caps else None

    @property
    def limit(self) -> float | None:
        """The most committed $/h allowed (``None``: uncapped)."""
        return None if self._limit is None else self._limit.limit_dph

    @property
    def binding(self) -> Cap | None:
        """The cap that sets the limit."""
        return self._limit

    @property
    def over(self) -> float:
        """How far committed $/h is above the limit (0 when within)."""
        if self._limit is None:
            return 0.0
        return max(self.committed - self._limit.limit_dph, 0.0)

    def refusal(self, delta: float) -> str | None:
        """Why adding ``delta`` $/h is not allowed, or ``None`` when it fits (a decrease always fits)."""
        if delta <= 0:
            return None
        after = self.committed + delta
        for cap in sorted(self.caps, key=lambda c: (c.limit_dph, c.name)):
            if after > cap.limit_dph + EPS_DPH:
                return (
                    f"{cap.detail}: committing ${after:.4f}/h would pass it "
                    f"(at most ${max(cap.limit_dph, 0.0):.4f}/h over the next {self.hours:.3f} h)"
                )
        return None

    def add(self, delta: float) -> None:
        """Record a change of committed $/h."""
        self.committed += delta
