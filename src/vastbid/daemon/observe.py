"""Step 1 of a tick: observe the market and our account, as few API calls as a steady tick allows.

One broad search (every rentable offer, no default filters) is evaluated locally against each distinct job
filter, so a tick costs one search however many filters the queue holds; then the complete instance listing and
the account. Any failure raises: a tick that cannot see acts on nothing.
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
"""The one search of a tick: everything rentable; each job's own filter (CLI defaults included) runs locally."""


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
    """Search once (only when some job needs candidates), list every instance, read the balance."""
    scanned: list[Offer] = api.search_offers(BROAD_QUERY) if filters else []
    offers = {text: compile_query(text).filter(scanned) for text in sorted(set(filters))}
    instances = api.list_instances()
    account = api.account()
    return Observation(taken_at=now, offers=offers, scanned=scanned, instances=instances, account=account)
