"""What a strategy sees (``StrategyContext``) and answers (``Choice``), and the ``Strategy`` protocol itself.

These live in ``core`` because ``decide()`` (core) builds the contexts and applies the choices;
``vastbid.strategies.base`` re-exports every name, and strategies import them from there.

A strategy answers, for one job on one tick: which offer, interruptible or on demand, at what price, and what to
do with the instance the job already holds (keep it, re-bid, migrate, fall back to on demand, wait, release).
Strategies are pure and deterministic: the same context gives the same choice, nothing is mutated, "now" is in
the context. Every choice carries a ``why`` for the decision log.

Contract (tested over every registered strategy):
- ``choice.offer`` is one of ``ctx.offers`` (or ``None``); ``choice.ranked`` is a subset of ``ctx.offers``;
- ``choice.price`` never exceeds the job's cap (``ctx.job.max_price``, $/h for the whole offer);
- no offers and no instance gives a ``WAIT`` choice with no offer;
- the context is not mutated and the same context always gives the same choice.

Candidate window: ``decide()`` does not show a strategy every matching offer. Per group of jobs sharing a filter,
GPU count, strategy and rental it orders the candidates once, with the strategy's optional ``prerank`` (see
``PreRanking``) or by default cheapest first (for ``auto``: the cheapest interruptible and the cheapest on demand
alternately), and shows each job the first ``DecidePolicy.candidate_window`` of them that are unclaimed and could
fit its cap, plus the offer of the machine it already holds. A strategy must therefore choose well from the front
of its own ordering.

``decide()`` applies budgets, hysteresis and ordering on top; a strategy never sees money it may not spend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Protocol, runtime_checkable

from vastbid.core.instances import Instance
from vastbid.core.jobs import Job, Rental
from vastbid.core.offers import Offer, RentalType
from vastbid.core.spot_runs import SpotStats


class Verb(StrEnum):
    """What a strategy wants done for a job."""

    ACQUIRE = "acquire"
    """Rent ``offer`` as ``rental`` at ``price`` (the job holds no live instance)."""
    KEEP = "keep"
    """Leave the current instance as it is."""
    REBID = "rebid"
    """Change the current interruptible's bid to ``price`` (raise after an outbid, or lower)."""
    MIGRATE = "migrate"
    """Give up the current instance and rent ``offer`` as ``rental`` at ``price`` instead."""
    WAIT = "wait"
    """Hold nothing new this tick (an outbid instance may resume in place)."""
    RELEASE = "release"
    """Give up the current instance and hold nothing (e.g. prices rose past a threshold)."""


@dataclass(frozen=True, slots=True)
class MachineRecord:
    """What we learned of one machine from our own history."""

    interruptions: int = 0
    rentals: int = 0
    hours_observed: float = 0.0


@dataclass(frozen=True, slots=True)
class StrategyContext:
    """Everything a strategy may look at for one job on one tick."""

    job: Job
    offers: Sequence[Offer]
    """Candidates: offers matching the job's filter and GPU count; prices are not pre-filtered."""
    now: datetime
    instance: Instance | None = None
    """The job's current instance, if it holds one."""
    history: Mapping[int, MachineRecord] = field(default_factory=dict)
    """Per ``machine_id``: interruptions and rentals we observed."""
    spot_stats: Mapping[int, SpotStats] = field(default_factory=dict)
    """Per ``machine_id``: how long its spot capacity has lasted (given for the machines of jobs with a deadline)."""


@dataclass(frozen=True, slots=True)
class Choice:
    """A strategy's answer, with its reason and the facts behind it."""

    verb: Verb
    why: str
    offer: Offer | None = None
    rental: RentalType | None = None
    price: float | None = None
    """$/h for the whole offer: the bid for an interruptible, the ask (``dph_total``) on demand."""
    facts: Mapping[str, Any] = field(default_factory=dict)
    ranked: tuple[Offer, ...] = ()
    """The top candidates the strategy saw, best first (kept in the decision log)."""


@runtime_checkable
class Strategy(Protocol):
    """A pure, deterministic policy for one job on one tick.

    A strategy is a small frozen value (a keyword-only dataclass) whose fields are its parameters; the registry
    (``vastbid.strategies.registry``) validates them once, when it builds the value.
    """

    name: ClassVar[str]

    def choose(self, ctx: StrategyContext) -> Choice:
        """Answer for ``ctx.job``; see the module docstring for the contract."""
        ...


@runtime_checkable
class PreRanking(Protocol):
    """Optional: a strategy that orders a group's candidates once per tick, best first.

    ``decide()`` calls ``prerank`` once per (filter, GPU count, strategy, rental) group and shows each job of the
    group a window from the front of the result (see the module docstring). The order may depend only on the
    offers and ``rental``, never on one job; it must contain only offers from ``offers``.
    """

    def prerank(self, offers: Sequence[Offer], rental: Rental) -> Sequence[Offer]:
        """``offers`` best first for jobs renting as ``rental``."""
        ...
