"""Builders of snapshots, strategy maps and ``decide()`` runs for the core tests (offers, jobs and instances come
from ``tests/factories.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from factories import NOW
from vastbid.core.budget import Budget
from vastbid.core.choice import Strategy
from vastbid.core.decide import decide
from vastbid.core.instances import Instance
from vastbid.core.jobs import Job
from vastbid.core.offers import Offer
from vastbid.core.plan import Plan
from vastbid.core.policy import DecidePolicy
from vastbid.core.snapshot import MarketSnapshot
from vastbid.strategies.cheapest_per_gpu import CheapestPerGpu
from vastbid.strategies.perf_per_dollar import PerfPerDollar
from vastbid.strategies.stable_cheapest import StableCheapest

POLICY = DecidePolicy(deployment="test", hours_to_next_tick=0.25)


def strategies(margin: float = 0.0) -> dict[str, Strategy]:
    """The price strategies, with ``bid_margin`` (0 keeps the arithmetic of the tests plain)."""
    return {
        "cheapest_per_gpu": CheapestPerGpu(bid_margin=margin),
        "perf_per_dollar": PerfPerDollar(bid_margin=margin),
        "stable_cheapest": StableCheapest(bid_margin=margin),
    }


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
    return decide(snap, jobs, budget=budget or Budget(), strategies=strategies(margin), policy=policy)


def kinds(plan: Plan) -> list[str]:
    """The action kinds, in order."""
    return [a.kind for a in plan.actions]
