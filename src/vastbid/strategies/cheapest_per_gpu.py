"""``cheapest_per_gpu``: the lowest $/GPU/h for the rental the job allows.

Interruptible at the minimum bid plus ``bid_margin`` (``auto`` jobs when it fits the cap), else on demand. A held
instance stays while fine; it is proposed to move when a strictly cheaper candidate exists (``decide()`` applies
the minimum-gain hysteresis), re-bids when outbid within the cap, else moves or waits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from vastbid.core.instances import Instance
from vastbid.strategies import _common as common
from vastbid.strategies.base import Choice, StrategyContext


@dataclass(frozen=True, kw_only=True, slots=True)
class CheapestPerGpu:
    """Take the cheapest offer per GPU."""

    name: ClassVar[str] = "cheapest_per_gpu"
    bid_margin: common.BidMargin = 0.05

    def choose(self, ctx: StrategyContext) -> Choice:
        """See the module docstring."""
        margin = self.bid_margin
        ranked = sorted(common.priced_candidates(ctx, margin), key=lambda p: (p.per_gpu, p.offer.id))
        return common.choose_ranked(
            ctx,
            ranked,
            margin=margin,
            goal="lowest $/GPU/h",
            facts={"strategy": self.name},
            better=_cheaper,
        )


def _cheaper(candidate: common.Priced, inst: Instance) -> bool:
    return candidate.price < inst.gpu_dph - common.EPS
