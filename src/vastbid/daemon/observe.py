"""Step 1 of a tick: observe the market and our account, as few API calls as a steady tick allows.

With few distinct job filters, one search per filter (cheapest first, cached within the tick); with more, one
broad search of everything rentable evaluated locally against each filter, so a tick never costs more than
``MAX_SEARCHES`` searches however many filters the queue holds. Then the complete instance listing and the
account. Any failure raises: a tick that cannot see acts on nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from vastbid.core.instances import Instance
from vastbid.core.offers import Offer
from vastbid.vast.port import Account, MarketApi
from vastbid.vast.query import compile_query

BROAD_QUERY = "verified=any external=any rentable=true"
"""The broad search: everything rentable; each job's own filter (CLI defaults included) then runs locally."""
MAX_SEARCHES = 1
"""Up to this many distinct filters are searched one by one; more share one broad search (a steady tick then
costs one search, one listing page per 25 instances, and the account)."""
FILTER_LIMIT = 1_000
BROAD_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class Observation:
    """What one tick saw."""

    taken_at: datetime
    offers: dict[str, list[Offer]]
    """Per distinct job filter, the offers matching it."""
    scanned: list[Offer]
    """Every offer the search returned."""
    instances: list[Instance]
    """Every instance on the account (the listing was read whole)."""
    account: Account


def observe(api: MarketApi, filters: Collection[str], now: datetime) -> Observation:
    """Search (only when some job needs candidates), list every instance, read the balance."""
    distinct = sorted(set(filters))
    offers: dict[str, list[Offer]] = {}
    if len(distinct) <= MAX_SEARCHES:
        for text in distinct:
            offers[text] = api.search_offers(text, limit=FILTER_LIMIT, order="dph_total")
        seen = {o.id: o for found in offers.values() for o in found}
        scanned = list(seen.values())
    else:
        scanned = api.search_offers(BROAD_QUERY, limit=BROAD_LIMIT, order="dph_total")
        offers = {text: compile_query(text).filter(scanned) for text in distinct}
    instances = api.list_instances()
    account = api.account()
    return Observation(taken_at=now, offers=offers, scanned=scanned, instances=instances, account=account)
