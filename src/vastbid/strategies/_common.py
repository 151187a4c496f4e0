"""Shared rules of the price-ranking strategies: how an offer is priced, and what to do with a held instance.

Pricing (``price_offer``): interruptible at ``bid = min_bid * (1 + bid_margin)``, never above the job's cap (an
offer whose minimum bid is over the cap is out); on demand at ``dph_total`` when it fits the cap. The job's
``spec.rental`` limits the choice; ``auto`` is interruptible when the minimum bid fits the cap, else on demand.

With an instance (``choose_ranked``): keep it while it is fine; when it is outbid, re-bid in place if the machine's
current minimum (its offer among the candidates, else ``instance.min_bid``) plus the margin fits the cap and beats
our bid; else migrate to the best other candidate; else wait (it may resume in place). An offline instance moves
to the best other candidate when there is one. ``decide()`` adds budgets and hysteresis on top.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field

from vastbid.core.instances import Instance, InstanceStatus
from vastbid.core.jobs import Rental
from vastbid.core.offers import Offer, RentalType
from vastbid.strategies.base import Choice, StrategyContext, Verb

MIN_BID = 0.001
"""The smallest bid the marketplace accepts, $/h."""
EPS = 1e-9
TOP = 5
"""How many ranked candidates a choice keeps for the decision log."""

_NO_INSTANCE = frozenset({InstanceStatus.GONE, InstanceStatus.EXITED})


BidMargin = Annotated[
    float, Field(ge=0.0, le=1.0, description="bid this fraction over the minimum bid (capped by the job's cap)")
]
"""The ``bid_margin`` parameter every price-ranking strategy has (default 0.05)."""


@dataclass(frozen=True, slots=True)
class Priced:
    """An offer with the rental and price a job would take it at."""

    offer: Offer
    rental: RentalType
    price: float
    """$/h for the whole offer."""

    @property
    def per_gpu(self) -> float:
        """$/GPU/h."""
        return self.price / max(self.offer.num_gpus, 1)


def bid_price(min_bid: float, margin: float, cap: float) -> float | None:
    """The bid for a machine whose minimum is ``min_bid``: margin over it, never over ``cap``; ``None`` if over."""
    if min_bid > cap + EPS:
        return None
    return min(max(min_bid * (1.0 + margin), MIN_BID), cap)


def price_offer(offer: Offer, rental: Rental, margin: float, cap: float) -> Priced | None:
    """How a job allowing ``rental`` with cap ``cap`` would rent ``offer``, or ``None`` when it cannot."""
    if rental is not Rental.ON_DEMAND:
        bid = bid_price(offer.min_bid, margin, cap)
        if bid is not None:
            return Priced(offer, RentalType.INTERRUPTIBLE, bid)
        if rental is Rental.INTERRUPTIBLE:
            return None
    if offer.dph_total <= cap + EPS:
        return Priced(offer, RentalType.ON_DEMAND, offer.dph_total)
    return None


def priced_candidates(ctx: StrategyContext, margin: float) -> list[Priced]:
    """Every candidate the job could rent within its cap, in the context's order."""
    rental, cap = ctx.job.spec.rental, ctx.job.max_price
    out = []
    for offer in ctx.offers:
        priced = price_offer(offer, rental, margin, cap)
        if priced is not None:
            out.append(priced)
    return out


def held(ctx: StrategyContext) -> Instance | None:
    """The job's instance if it still holds one."""
    inst = ctx.instance
    return inst if inst is not None and inst.status not in _NO_INSTANCE else None


def own_offer(ctx: StrategyContext, inst: Instance) -> Offer | None:
    """The candidate for the machine chunk ``inst`` sits on, if listed."""
    chunk = (inst.machine_id, ctx.job.spec.num_gpus)
    return next((o for o in ctx.offers if o.stable_key == chunk), None)


def describe(p: Priced) -> str:
    """ "offer 7 (machine 3, 2x RTX_4090) interruptible at $0.3150/h ($0.1575/GPU/h)"."""
    o = p.offer
    return (
        f"offer {o.id} (machine {o.machine_id}, {o.num_gpus}x {o.gpu_name}) {p.rental.value} "
        f"at ${p.price:.4f}/h (${p.per_gpu:.4f}/GPU/h)"
    )


def _rent(verb: Verb, p: Priced, why: str, facts: Mapping[str, Any], ranked: tuple[Offer, ...]) -> Choice:
    rank = next((i for i, o in enumerate(ranked) if o.id == p.offer.id), None)
    return Choice(
        verb=verb,
        why=why,
        offer=p.offer,
        rental=p.rental,
        price=p.price,
        facts={**facts, "price": p.price, "price_per_gpu": p.per_gpu, "rental": p.rental.value, "rank": rank},
        ranked=ranked,
    )


def choose_ranked(
    ctx: StrategyContext,
    ranked: Sequence[Priced],
    *,
    margin: float,
    goal: str,
    facts: Mapping[str, Any],
    rebid_limit_per_gpu: float | None = None,
    release_why: str | None = None,
    outbid_fallback: Verb = Verb.WAIT,
    better: Callable[[Priced, Instance], bool] | None = None,
) -> Choice:
    """The common answer for a job given its candidates ``ranked`` best first by the strategy's ``goal``.

    ``rebid_limit_per_gpu`` bounds a re-bid further than the cap; ``release_why`` (set by the caller when the
    held instance should go) releases it; ``outbid_fallback`` is the verb when an outbid instance can neither
    re-bid nor move (``WAIT`` or ``RELEASE``); ``better(candidate, instance)`` says whether a healthy instance
    should move to the best other candidate.
    """
    job = ctx.job
    top = tuple(p.offer for p in ranked[:TOP])
    base = {**facts, "cap": job.max_price, "candidates": len(ctx.offers), "fitting": len(ranked)}
    inst = held(ctx)
    if inst is None:
        if ranked:
            return _rent(Verb.ACQUIRE, ranked[0], f"{goal}: {describe(ranked[0])}", base, top)
        return Choice(
            verb=Verb.WAIT,
            why=f"no candidate fits the cap ${job.max_price:.4f}/h ({len(ctx.offers)} seen): wait",
            facts=base,
            ranked=top,
        )
    base["instance_id"] = inst.id
    base["instance_price"] = inst.gpu_dph
    chunk = (inst.machine_id, job.spec.num_gpus)
    others = [p for p in ranked if p.offer.stable_key != chunk]
    if release_why is not None:
        return Choice(verb=Verb.RELEASE, why=release_why, facts=base, ranked=top)
    if inst.status is InstanceStatus.OUTBID:
        own = own_offer(ctx, inst)
        current_min = own.min_bid if own is not None else inst.min_bid
        base["current_min_bid"] = current_min
        blocked = "the machine's minimum bid is unknown"
        if current_min is not None:
            bid = bid_price(current_min, margin, job.max_price)
            if bid is None:
                blocked = f"its minimum bid ${current_min:.4f}/h is over the cap ${job.max_price:.4f}/h"
            elif bid <= (inst.bid_price or 0.0) + EPS:
                blocked = f"a re-bid of ${bid:.4f}/h would not beat our bid ${inst.bid_price or 0.0:.4f}/h"
            elif rebid_limit_per_gpu is not None and bid / job.spec.num_gpus > rebid_limit_per_gpu + EPS:
                blocked = f"a re-bid of ${bid:.4f}/h is over ${rebid_limit_per_gpu:.4f}/GPU/h"
            else:
                why = (
                    f"outbid on instance {inst.id}: re-bid ${bid:.4f}/h (minimum ${current_min:.4f}/h plus "
                    f"{margin:.0%}, cap ${job.max_price:.4f}/h)"
                )
                return Choice(
                    verb=Verb.REBID,
                    why=why,
                    rental=RentalType.INTERRUPTIBLE,
                    price=bid,
                    facts={**base, "price": bid},
                    ranked=top,
                )
        if others:
            return _rent(Verb.MIGRATE, others[0], f"outbid and {blocked}: move to {describe(others[0])}", base, top)
        why = f"outbid and {blocked}; no other candidate fits"
        if outbid_fallback is Verb.RELEASE:
            return Choice(verb=Verb.RELEASE, why=f"{why}: release", facts=base, ranked=top)
        return Choice(verb=Verb.WAIT, why=f"{why}: wait to resume in place", facts=base, ranked=top)
    if inst.status is InstanceStatus.OFFLINE and others:
        return _rent(
            Verb.MIGRATE, others[0], f"instance {inst.id} is offline: move to {describe(others[0])}", base, top
        )
    if better is not None and others and better(others[0], inst):
        return _rent(Verb.MIGRATE, others[0], f"{goal}: {describe(others[0])} beats instance {inst.id}", base, top)
    return Choice(
        verb=Verb.KEEP, why=f"instance {inst.id} is {inst.status.value} and fine: keep", facts=base, ranked=top
    )
