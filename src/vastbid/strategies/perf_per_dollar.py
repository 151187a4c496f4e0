"""``perf_per_dollar``: the highest DLPerf per dollar (``dlperf / price``), ties to the cheaper offer.

Priced like the others (interruptible at the minimum bid plus ``bid_margin`` when the job allows it and it fits the
cap, else on demand). A healthy instance is proposed to move when another candidate gives more DLPerf per dollar
than its own machine's listing does (``decide()`` still refuses a move that does not save money).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from vastbid.core.candidates import interleave
from vastbid.core.instances import Instance
from vastbid.core.jobs import Rental
from vastbid.core.offers import Offer
from vastbid.strategies import _common as common
from vastbid.strategies.base import Choice, StrategyContext


def _value(dlperf: float, price: float) -> float:
    return dlperf / max(price, common.EPS)


@dataclass(frozen=True, kw_only=True, slots=True)
class PerfPerDollar:
    """Most deep-learning performance per dollar."""

    name: ClassVar[str] = "perf_per_dollar"
    bid_margin: common.BidMargin = 0.05

    def prerank(self, offers: Sequence[Offer], rental: Rental) -> Sequence[Offer]:
        """Most DLPerf per dollar first, at the minimum bid and/or the ask as ``rental`` allows."""
        eps = common.EPS
        by_bid = sorted(offers, key=lambda o: (-o.dlperf / max(o.min_bid, eps), o.min_bid, o.id))
        if rental is Rental.INTERRUPTIBLE:
            return by_bid
        by_ask = sorted(offers, key=lambda o: (-o.dlperf / max(o.dph_total, eps), o.dph_total, o.id))
        return by_ask if rental is Rental.ON_DEMAND else interleave(by_bid, by_ask)

    def choose(self, ctx: StrategyContext) -> Choice:
        """See the module docstring."""
        margin = self.bid_margin
        ranked = sorted(
            common.priced_candidates(ctx, margin),
            key=lambda p: (-_value(p.offer.dlperf, p.price), p.price, p.offer.id),
        )

        def better(candidate: common.Priced, inst: Instance) -> bool:
            own = common.own_offer(ctx, inst)
            if own is None:
                return False
            current = _value(own.dlperf, inst.gpu_dph)
            return _value(candidate.offer.dlperf, candidate.price) > current * (1 + 1e-6)

        choice = common.choose_ranked(
            ctx, ranked, margin=margin, goal="most DLPerf per $", facts={"strategy": self.name}, better=better
        )
        if choice.offer is not None and choice.price is not None:
            facts = {
                **choice.facts,
                "dlperf": choice.offer.dlperf,
                "dlperf_per_dollar": _value(choice.offer.dlperf, choice.price),
            }
            return Choice(
                verb=choice.verb,
                why=choice.why,
                offer=choice.offer,
                rental=choice.rental,
                price=choice.price,
                facts=facts,
                ranked=choice.ranked,
            )
        return choice
