"""``Plan``: the output of ``decide()``: ordered actions, the decision record per job and the committed $/h."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from vastbid.core.actions import Action
from vastbid.core.offers import Offer


class JobOutcome(StrEnum):
    """What a plan does for one job (the decision log's ``action`` for jobs that got no action of their own)."""

    ACQUIRE = "acquire"
    KEEP = "keep"
    REBID = "rebid"
    MIGRATE = "migrate"
    RELEASE = "release"
    WAIT = "wait"
    RESUME = "resume"
    FINISH = "finish"
    REQUEUE = "requeue"
    EXPIRE = "expire"
    SHED = "shed"
    DESTROY = "destroy"
    FAILED = "failed"
    """The job hit its max cost and is stopped for good."""
    BLOCKED = "blocked"
    """The strategy's choice was refused (budget, cap, rental, hysteresis...): the reason says which."""
    ERROR = "error"
    """Something concerning this job alone failed (its filter, its strategy): the job is skipped this tick."""
    DEFERRED = "deferred"
    """Its create waits for a later tick: this tick already starts as many as its interval allows (pacing)."""

    @property
    def is_quiet(self) -> bool:
        """Whether the decision log need not record it each tick (nothing changes)."""
        return self in (JobOutcome.KEEP, JobOutcome.WAIT, JobOutcome.DEFERRED)


class ErrorCause(StrEnum):
    """Why deciding for one job failed (the ``cause`` label of ``vastbid_job_errors_total``)."""

    FILTER = "filter"
    """Its offer filter does not compile or cannot be searched."""
    STRATEGY_UNKNOWN = "strategy_unknown"
    """Its strategy is not installed."""
    STRATEGY_PARAMS = "strategy_params"
    """Its strategy parameters no longer validate."""
    STRATEGY_FAILED = "strategy_failed"
    """Its strategy raised while choosing or ranking."""


@dataclass(frozen=True, slots=True)
class StrategyUnavailable:
    """Stands for a strategy that could not be built, in the mapping given to ``decide()``: the job gets an error."""

    cause: ErrorCause
    message: str


@dataclass(frozen=True, slots=True)
class JobDecision:
    """What was decided for one job and why (one row of the decision log)."""

    job_id: int
    strategy: str
    """The strategy key that served the job ("" when none was consulted)."""
    outcome: JobOutcome
    """What the plan does for the job."""
    why: str
    ranked: tuple[Offer, ...] = ()
    """The top candidates the strategy saw, best first."""
    facts: Mapping[str, Any] = field(default_factory=dict)
    cause: ErrorCause | None = None
    """Set when ``outcome`` is ``ERROR``."""


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
