"""Candidate pools: which offers each job's strategy is shown, ranked once per group, claimed once per plan.

Offers come per query (the job's ``offer_filter``). A *base pool* is one query's offers with the job's GPU count,
rentable, and not recently unavailable (by offer or machine). A *ranked pool* orders a base pool once for a group
of jobs sharing (filter, GPU count, strategy, rental): with the strategy's ``prerank`` when it has one, otherwise
cheapest first (that order is shared by every strategy without its own). Each job then gets a window from the
front of its ranked pool: offers not yet claimed in this plan (by offer id, or by machine: two of our jobs never
share a machine, so our own bids never outbid each other) whose cheapest allowed price could fit its cap, plus the
offer of the machine chunk it already holds. No per-job scan of the whole market.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vastbid.core.jobs import Rental
from vastbid.core.offers import Offer
from vastbid.core.snapshot import MarketSnapshot

EPS_PRICE = 1e-9


def price_floor(offer: Offer, rental: Rental) -> float:
    """The least ``offer`` can be rented for under ``rental`` ($/h, whole offer)."""
    if rental is Rental.INTERRUPTIBLE:
        return offer.min_bid
    if rental is Rental.ON_DEMAND:
        return offer.dph_total
    return min(offer.min_bid, offer.dph_total)


def interleave(*orders: Sequence[Offer]) -> list[Offer]:
    """Round-robin over several orderings of the same offers, each offer once (first place wins)."""
    seen: set[int] = set()
    out: list[Offer] = []
    for row in zip(*orders, strict=True):
        for offer in row:
            if offer.id not in seen:
                seen.add(offer.id)
                out.append(offer)
    return out


def default_order(offers: Sequence[Offer], rental: Rental) -> list[Offer]:
    """Cheapest first for ``rental``; for ``auto`` the cheapest interruptible and on-demand offers alternate."""
    by_bid = sorted(offers, key=lambda o: (o.min_bid, o.id))
    if rental is Rental.INTERRUPTIBLE:
        return by_bid
    by_ask = sorted(offers, key=lambda o: (o.dph_total, o.id))
    if rental is Rental.ON_DEMAND:
        return by_ask
    return interleave(by_bid, by_ask)


@dataclass(slots=True)
class _RankedPool:
    offers: Sequence[Offer]
    start: int = 0
    """Every offer before ``start`` is claimed for good."""


class CandidatePools:
    """The offers of one snapshot, grouped, ranked and claimed as one plan is built."""

    def __init__(self, snapshot: MarketSnapshot, window: int) -> None:
        self._offers = snapshot.offers
        self._bad_offers = snapshot.unavailable_offer_ids
        self._bad_machines = snapshot.unavailable_machine_ids
        self._window = max(window, 1)
        self._base: dict[tuple[str, int], list[Offer]] = {}
        self._by_key: dict[tuple[str, int], dict[tuple[int, int], Offer]] = {}
        self._ranked: dict[tuple[str, int, str, Rental], _RankedPool] = {}
        self._orders: dict[tuple[str, int, str], list[Offer]] = {}
        self.claimed_ids: set[int] = set()
        self.claimed_machines: set[int] = set()

    def base(self, query: str, num_gpus: int) -> list[Offer]:
        """The query's usable offers with ``num_gpus`` GPUs, in the snapshot's order."""
        key = (query, num_gpus)
        pool = self._base.get(key)
        if pool is None:
            bad_o, bad_m = self._bad_offers, self._bad_machines
            pool = [
                o
                for o in self._offers.get(query, ())
                if o.num_gpus == num_gpus and o.rentable and o.id not in bad_o and o.machine_id not in bad_m
            ]
            self._base[key] = pool
        return pool

    def offer_for_chunk(self, query: str, chunk: tuple[int, int]) -> Offer | None:
        """The usable offer of machine chunk ``(machine_id, num_gpus)`` in ``query``'s results (lowest id)."""
        key = (query, chunk[1])
        index = self._by_key.get(key)
        if index is None:
            index = {}
            for offer in sorted(self.base(query, chunk[1]), key=lambda o: o.id, reverse=True):
                index[offer.stable_key] = offer
            self._by_key[key] = index
        return index.get(chunk)

    def _sorted(self, query: str, num_gpus: int, by: str) -> list[Offer]:
        key = (query, num_gpus, by)
        order = self._orders.get(key)
        if order is None:
            base = self.base(query, num_gpus)
            if by == "bid":
                order = sorted(base, key=lambda o: (o.min_bid, o.id))
            else:
                order = sorted(base, key=lambda o: (o.dph_total, o.id))
            self._orders[key] = order
        return order

    def _ranked_pool(self, query: str, num_gpus: int, group: str, strategy: object, rental: Rental) -> _RankedPool:
        """The group's ranking: the strategy's ``prerank`` (see ``PreRanking``) or the shared cheapest-first order."""
        prerank = getattr(strategy, "prerank", None)
        key = (query, num_gpus, group if prerank is not None else "", rental)
        pool = self._ranked.get(key)
        if pool is None:
            if prerank is not None:
                base = self.base(query, num_gpus)
                allowed = {id(o) for o in base}
                order: Sequence[Offer] = [o for o in prerank(tuple(base), rental) if id(o) in allowed]
            elif rental is Rental.INTERRUPTIBLE:
                order = self._sorted(query, num_gpus, "bid")
            elif rental is Rental.ON_DEMAND:
                order = self._sorted(query, num_gpus, "ask")
            else:
                order = interleave(self._sorted(query, num_gpus, "bid"), self._sorted(query, num_gpus, "ask"))
            pool = _RankedPool(order)
            self._ranked[key] = pool
        return pool

    def is_claimed(self, offer: Offer, own_chunk: tuple[int, int] | None = None) -> bool:
        """Whether another job already has ``offer`` (its id or its machine) in this plan."""
        if offer.id in self.claimed_ids:
            return True
        own_machine = own_chunk[0] if own_chunk is not None else None
        return offer.machine_id in self.claimed_machines and offer.machine_id != own_machine

    def window(
        self,
        query: str,
        num_gpus: int,
        *,
        group: str,
        strategy: object,
        rental: Rental,
        cap: float,
        own_chunk: tuple[int, int] | None,
    ) -> tuple[Offer, ...]:
        """The candidates one job's strategy sees: the front of its group's ranking, unclaimed, under its cap."""
        pool = self._ranked_pool(query, num_gpus, group, strategy, rental)
        offers = pool.offers
        ids, machines = self.claimed_ids, self.claimed_machines
        own_machine = own_chunk[0] if own_chunk is not None else None
        start, end = pool.start, len(offers)
        while start < end and (offers[start].id in ids or offers[start].machine_id in machines):
            start += 1
        pool.start = start
        out: list[Offer] = []
        size = self._window
        limit = cap + EPS_PRICE
        for i in range(start, end):
            offer = offers[i]
            if offer.id in ids or price_floor(offer, rental) > limit:
                continue
            if offer.machine_id in machines and offer.machine_id != own_machine:
                continue
            out.append(offer)
            if len(out) >= size:
                break
        if own_chunk is not None:
            own = self.offer_for_chunk(query, own_chunk)
            if own is not None and own.id not in self.claimed_ids and all(o.id != own.id for o in out):
                out.append(own)
        return tuple(out)

    def claim(self, offer: Offer) -> None:
        """Give ``offer`` (and its machine) to one job for the rest of the plan."""
        self.claimed_ids.add(offer.id)
        self.claimed_machines.add(offer.machine_id)

    def claim_chunk(self, chunk: tuple[int, int]) -> None:
        """Reserve the machine of a chunk we already hold."""
        self.claimed_machines.add(chunk[0])
