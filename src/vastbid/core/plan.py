"""``Plan``: the output of ``decide()``: ordered actions, the decision record per job and the committed $/h."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vastbid.core.actions import Action
from vastbid.core.offers import Offer


@dataclass(frozen=True, slots=True)
class JobDecision:
    """What was decided for one job and why (one row of the decision log)."""

    job_id: int
    strategy: str
    """The strategy key that served the job ("" when none was consulted)."""
    outcome: str
    """What the plan does for the job: ``acquire``, ``keep``, ``rebid``, ``migrate``, ``release``, ``wait``,
    ``resume``, ``finish``, ``requeue``, ``expire``, ``shed``, ``destroy``, ``blocked``..."""
    why: str
    ranked: tuple[Offer, ...] = ()
    """The top candidates the strategy saw, best first."""
    facts: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything one tick decided."""

    actions: tuple[Action, ...]
    """In the order the executor applies them."""
    decisions: Mapping[int, JobDecision]
    """Per job id."""
    committed_dph: float
    """$/h of every live instance once the plan is applied (running price + storage)."""
    limit_dph: float | None = None
    """The most $/h the budgets allowed this tick (``None``: uncapped)."""
    binding_cap: str | None = None
    """Which cap set ``limit_dph``."""

    def actions_for(self, job_id: int) -> tuple[Action, ...]:
        """The actions concerning one job, in order."""
        return tuple(a for a in self.actions if a.job_id == job_id)
