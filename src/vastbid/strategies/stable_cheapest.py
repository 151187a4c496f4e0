"""``stable_cheapest``: among offers within ``within_fraction`` of the cheapest, the most stable one.

The band is every fitting candidate whose $/GPU/h is at most the cheapest's times ``1 + within_fraction``. In it,
offers sort by the interruptions we saw on their machine (``ctx.history``, fewest first), then Vast's reliability
(highest first), then price and id; candidates outside the band follow, cheapest first. A held instance is kept
while fine (moving costs stability); outbid, it re-bids within the cap, else moves, else waits. ``decide()`` shows
a strategy the front of its pre-ranking (cheapest first), so the band is taken among the cheapest candidates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from pydantic import Field

from vastbid.strategies import _common as common
from vastbid.strategies.base import Choice, MachineRecord, StrategyContext

_UNSEEN = MachineRecord()


@dataclass(frozen=True, kw_only=True, slots=True)
class StableCheapest:
    """Cheap enough, and least likely to be interrupted."""

    name: ClassVar[str] = "stable_cheapest"
    bid_margin: common.BidMargin = 0.05
    within_fraction: Annotated[
        float, Field(ge=0.0, le=1.0, description="how far over the cheapest $/GPU/h an offer may be to count as cheap")
    ] = 0.1

    def choose(self, ctx: StrategyContext) -> Choice:
        """See the module docstring."""
        priced = sorted(common.priced_candidates(ctx, self.bid_margin), key=lambda c: (c.per_gpu, c.offer.id))
        facts: dict[str, object] = {"strategy": self.name, "within_fraction": self.within_fraction}
        if priced:
            limit = priced[0].per_gpu * (1.0 + self.within_fraction) + common.EPS
            band = [c for c in priced if c.per_gpu <= limit]
            rest = priced[len(band) :]
            history = ctx.history

            def stability(c: common.Priced) -> tuple[int, float, float, int]:
                seen = history.get(c.offer.machine_id, _UNSEEN)
                return (seen.interruptions, -c.offer.reliability, c.per_gpu, c.offer.id)

            priced = sorted(band, key=stability) + rest
            best = priced[0]
            facts.update(
                band_limit_per_gpu=limit,
                band_size=len(band),
                interruptions=history.get(best.offer.machine_id, _UNSEEN).interruptions,
                reliability=best.offer.reliability,
            )
        return common.choose_ranked(
            ctx,
            priced,
            margin=self.bid_margin,
            goal=f"most stable within {self.within_fraction:.0%} of the cheapest",
            facts=facts,
        )
