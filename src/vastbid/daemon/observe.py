"""Step 1 of a tick: observe the market and our account, as few API calls as a steady tick allows.

With few distinct job filters, one search per filter (cheapest first, cached within the tick); with more, one
broad search of everything rentable evaluated locally against each filter, so a tick never costs more than
``MAX_SEARCHES`` searches however many filters the queue holds. Then the complete instance listing and the
account. A filter that does not compile, or that the market refuses, is a failure of the jobs using it only: it is
left out and named in ``query_errors``. Any other failure raises: a tick that cannot see acts on nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog

from vastbid.core.instances import Instance, InstanceStatus
from vastbid.core.offers import Offer
from vastbid.errors import InvalidInputError, MarketError, RequestRejectedError
from vastbid.store.instances import InstanceRecord, InstanceRecordState
from vastbid.vast.port import Account, MarketApi
from vastbid.vast.query import CompiledQuery, compile_query

log = structlog.get_logger("vastbid.observe")

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
    query_errors: dict[str, str]
    """Per job filter that could not be used: why (those jobs fail; the others are served)."""


def observe(api: MarketApi, filters: Collection[str], now: datetime) -> Observation:
    """Search (only when some job needs candidates), list every instance, read the balance."""
    errors: dict[str, str] = {}
    compiled: dict[str, CompiledQuery] = {}
    for text in sorted(set(filters)):
        try:
            compiled[text] = compile_query(text)
        except InvalidInputError as exc:
            errors[text] = f"{type(exc).__name__}: {exc}"
    offers: dict[str, list[Offer]] = {}
    if len(compiled) <= MAX_SEARCHES:
        for text in compiled:
            try:
                offers[text] = api.search_offers(text, limit=FILTER_LIMIT, order="dph_total")
            except (InvalidInputError, RequestRejectedError) as exc:
                errors[text] = f"{type(exc).__name__}: {exc}"
        seen = {o.id: o for found in offers.values() for o in found}
        scanned = list(seen.values())
    else:
        scanned = api.search_offers(BROAD_QUERY, limit=BROAD_LIMIT, order="dph_total")
        offers = {text: query.filter(scanned) for text, query in compiled.items()}
    instances = api.list_instances()
    account = api.account()
    return Observation(
        taken_at=now, offers=offers, scanned=scanned, instances=instances, account=account, query_errors=errors
    )


@dataclass(frozen=True, slots=True)
class Confirmation:
    """What direct reads said of our live instances that a listing did not show."""

    instances: list[Instance]
    """The listing, plus the instances a direct read found after all."""
    unconfirmed: frozenset[int]
    """Instances neither listed nor confirmed gone (the read failed): not gone, and not replaced this tick."""


def confirm_missing(api: MarketApi, listing: Sequence[Instance], records: Iterable[InstanceRecord]) -> Confirmation:
    """Ask ``GET /instances/{id}/`` about each live instance of ours the listing lacks.

    One missing row is not "gone": only a direct read that finds nothing says so. A read that fails leaves the
    instance unconfirmed (the tick neither marks it gone nor replaces it).
    """
    listed = {i.id for i in listing}
    live_ids = {r.instance_id for r in records if r.state is InstanceRecordState.LIVE and r.instance_id is not None}
    found: list[Instance] = []
    unconfirmed: set[int] = set()
    for instance_id in sorted(live_ids - listed):
        try:
            instance = api.get_instance(instance_id)
        except MarketError as exc:
            log.warning("instance_unconfirmed", instance_id=instance_id, error=str(exc), error_class=type(exc).__name__)
            unconfirmed.add(instance_id)
            continue
        if instance is not None and instance.status is not InstanceStatus.GONE:
            log.warning("instance_missing_from_listing", instance_id=instance_id)
            found.append(instance)
    return Confirmation(instances=[*listing, *found], unconfirmed=frozenset(unconfirmed))
