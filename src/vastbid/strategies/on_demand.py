"""``on_demand``: the baseline that never takes interruptible capacity (cheapest on-demand place, until done)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from vastbid.strategies import _deadline as dl
from vastbid.strategies.base import Choice


def _already(s: dl.Situation) -> Choice | None:
    return s.keep("on demand already") if dl.on_demand(s.instance) else None


def _cheapest(s: dl.Situation) -> Choice | None:
    return s.take_on_demand("cheapest on-demand place")


@dataclass(frozen=True, kw_only=True, slots=True)
class OnDemand(dl.RuleBook):
    """Rent the cheapest on-demand place the job may pay for and keep it until the work is done."""

    name: ClassVar[str] = "on_demand"
    RULES: ClassVar[tuple[dl.Rule, ...]] = (dl.thrifty, _already, _cheapest)
    IDLE_WHY: ClassVar[str] = "no on-demand place within the job's cap"
