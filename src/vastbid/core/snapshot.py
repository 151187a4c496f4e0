"""``MarketSnapshot``: what the daemon observed at the start of a tick, the only input ``decide()`` has of the world."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from vastbid.core.choice import MachineRecord
from vastbid.core.instances import Instance
from vastbid.core.offers import Offer
from vastbid.core.spot_runs import SpotStats


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """One tick's observation of the market and our account."""

    taken_at: datetime
    offers: Mapping[str, Sequence[Offer]]
    """Offers per query: the daemon searches once per distinct job filter, keyed by ``spec.offer_filter``."""
    instances: Sequence[Instance]
    """Every instance on the account (ours are mapped to jobs by ``job.instance_id``)."""
    balance: float
    """Spendable credit, $."""
    spent_today: float = 0.0
    """Spent so far this UTC day, $."""
    spent_month: float = 0.0
    """Spent so far this UTC month, $."""
    unavailable_offer_ids: frozenset[int] = frozenset()
    """Offers that recently failed to rent (taken, gone): skipped this tick."""
    unavailable_machine_ids: frozenset[int] = frozenset()
    """Machines that recently failed us: skipped this tick."""
    history: Mapping[int, MachineRecord] = field(default_factory=dict)
    """Per ``machine_id``: what we learned of it from our own rentals (strategies may read it)."""
    spot_stats: Mapping[tuple[str, int], Mapping[int, SpotStats]] = field(default_factory=dict)
    """Per group of jobs (filter, GPU count), per ``machine_id`` of its offers: how long spot capacity lasted there,
    as the daemon measured it (``MarketMemory``). Filled for the groups of jobs with a deadline."""
    query_errors: Mapping[str, str] = field(default_factory=dict)
    """Per job filter that could not be used (does not compile, refused by the market): why. Those jobs get an
    ``error`` decision; the others are served."""
