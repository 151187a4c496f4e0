"""``greedy``: interruptible whenever there is capacity (cheapest place), else wait; Safety Net to on demand.

Can't Be Late (NSDI 2024) baseline: Exploitation (stay on spot until preempted), Thrifty (idle when done) and
the Safety Net (when not on spot and the slack is under twice the restart overhead, on demand until done).
Without a deadline it is plain "cheapest interruptible, else wait".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from vastbid.strategies import _deadline as dl
from vastbid.strategies.base import Choice


def _stay_on_demand(s: dl.Situation) -> Choice | None:
    return s.keep("on demand: stay until done (safety net)") if dl.on_demand(s.instance) else None


_CHEAPEST_SPOT = dl.cheapest_spot("cheapest interruptible capacity")


@dataclass(frozen=True, kw_only=True, slots=True)
class Greedy(dl.RuleBook):
    """Spot when available, otherwise wait; on demand only when the deadline requires it."""

    name: ClassVar[str] = "greedy"
    RULES: ClassVar[tuple[dl.Rule, ...]] = (dl.thrifty, dl.exploitation, _stay_on_demand, dl.safety_net, _CHEAPEST_SPOT)
    IDLE_WHY: ClassVar[str] = "no interruptible capacity: wait"
    bid_margin: dl.BidMargin = 0.1
