"""``uniform_progress``: Uniform Progress from Can't Be Late (NSDI 2024), parameter-free.

Expected progress is ep(t) = t * C0 / R0 and cp(t) the work done. Per tick, in order (``RULES``):
1. Thrifty: done -> hold nothing.
2. Exploitation: on spot -> stay until preempted.
3. Safety Net: R(t) < C(t) + 2d -> on demand (and stay there: on demand the slack is constant).
4. Hysteresis: on demand and cp(t) < ep(t + 2d) -> stay on demand.
5. Take any available spot, even when behind.
6. Idle and behind (cp < ep) -> on demand; otherwise wait (or release on-demand capacity once ahead).
Without a deadline it behaves like ``greedy``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from vastbid.strategies import _deadline as dl
from vastbid.strategies.base import Choice


def _behind(s: dl.Situation) -> Choice | None:
    if s.schedule is None or not s.schedule.behind:
        return None
    if dl.on_demand(s.instance):
        return s.keep("behind the uniform progress line: stay on demand")
    return s.take_on_demand("idle and behind ep(t): on demand")


_ANY_SPOT = dl.cheapest_spot("interruptible capacity available: take it")


@dataclass(frozen=True, kw_only=True, slots=True)
class UniformProgress(dl.RuleBook):
    """Spot whenever there is some; on demand when behind the uniform progress line, with hysteresis."""

    name: ClassVar[str] = "uniform_progress"
    RULES: ClassVar[tuple[dl.Rule, ...]] = (
        dl.thrifty,
        dl.exploitation,
        dl.safety_net,
        dl.hysteresis,
        _ANY_SPOT,
        _behind,
    )
    IDLE_WHY: ClassVar[str] = "ahead of the uniform progress line and no spot: idle"
    bid_margin: dl.BidMargin = 0.1
