"""Budgets: the owner's money rules. ``decide()`` enforces them and nothing else does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vastbid.config.settings import BudgetSettings


@dataclass(frozen=True, slots=True)
class Budget:
    """Caps on spending. ``None`` means no cap of that kind."""

    max_burn_per_hour: float | None = None
    """The most all our instances may cost together per hour (committed $/h, storage included)."""
    daily_cap: float | None = None
    """The most spent in one UTC day, $."""
    monthly_cap: float | None = None
    """The most spent in one UTC month, $."""
    min_balance: float = 0.0
    """The account balance never to be drawn under, $."""
    per_job_max_cost: float | None = None
    """The most any one job may cost in all, $ (a job's own ``max_cost`` may be lower)."""

    @classmethod
    def from_settings(cls, settings: BudgetSettings) -> Budget:
        """The budget the ``[budget]`` settings section describes (an unset ``min_balance`` keeps nothing back)."""
        return cls(
            max_burn_per_hour=settings.max_burn_per_hour,
            daily_cap=settings.daily_cap,
            monthly_cap=settings.monthly_cap,
            min_balance=settings.min_balance or 0.0,
            per_job_max_cost=settings.per_job_max_cost,
        )
