"""Builders for strategy tests: the shared offers, jobs and instances of ``tests/factories.py``, and the context a
strategy sees."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from factories import NOW, instance, job, offer
from vastbid.core.instances import Instance
from vastbid.core.jobs import Job
from vastbid.core.offers import Offer
from vastbid.strategies.base import MachineRecord, StrategyContext

__all__ = ["NOW", "ctx", "instance", "job", "offer"]


def ctx(
    j: Job,
    offers: Sequence[Offer] = (),
    inst: Instance | None = None,
    history: Mapping[int, MachineRecord] | None = None,
) -> StrategyContext:
    """The context a strategy sees, at ``NOW``."""
    return StrategyContext(job=j, offers=tuple(offers), now=NOW, instance=inst, history=history or {})
