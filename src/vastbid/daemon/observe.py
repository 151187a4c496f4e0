"""Step 1 of a tick: observe the market and our account, so that every job sees the offers it could use.

A *demand* is a distinct (filter, GPU count) with the highest cap of the jobs sharing it ($/h for the whole offer,
``needs``); a filter no need was given for is one demand of any GPU count and no cap. Searches are ordered by the
minimum bid, the least any rental of an offer costs (Vast's minimum bid never exceeds the on-demand price), so a
search that stopped at its limit still holds every offer of its scope whose minimum bid is under the last one it
returned (its *bound*): a demand whose cap is under that bound has seen every offer it could use.

1. First look: one search, cheapest minimum bid first, at most ``page`` offers: the one filter's own search, or
   with several filters a broad search of everything rentable, each filter then evaluated locally (through a
   GPU-name index). A market within one page is seen whole, and a steady tick costs this one search, one listing
   page per 25 instances, and the account.
2. Only when the first look stopped at its limit: the demands it left uncovered are searched for the offers they
   lack (minimum bid from the bound up to their cap), coarse to fine, each step only for what is still uncovered:
   one search per set of GPU names the filters pin (a *shard*: everything rentable of those models), then per
   (GPU names, GPU count), then each demand on its own filter. A market a few pages large costs a search per
   model; a huge one, a search per model and count.
3. At most ``max_searches`` searches a tick. A demand still uncovered (its own search full, the budget spent, the
   search refused or rate limited) keeps the cheapest offers seen, and its filter is named in ``cut``.

A filter that does not compile, or that the market refuses on the first look, is a failure of the jobs using it
only: it is left out and named in ``query_errors``. Any other failure raises: a tick that cannot see acts on nothing.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from vastbid.core.instances import Instance, InstanceStatus
from vastbid.core.jobs import Job
from vastbid.core.offers import Offer
from vastbid.errors import (
    InvalidInputError,
    MarketError,
    RateLimitedError,
    RequestRejectedError,
    SearchQuotaExceededError,
)
from vastbid.store.instances import InstanceRecord, InstanceRecordState
from vastbid.vast.port import Account, MarketApi
from vastbid.vast.query import CompiledQuery, OfferIndex, compile_query

log = structlog.get_logger("vastbid.observe")

BROAD_QUERY = "verified=any external=any rentable=true"
"""The broad search: everything rentable; each job's own filter (CLI defaults included) then runs locally."""
ORDER = "min_bid"
"""Every search's order: cheapest minimum bid first (the least any rental of an offer costs)."""
PAGE = 10_000
"""The most offers one search returns (the client's largest ``limit``)."""
MAX_SEARCHES = 48
"""Searches a tick may make at most (Vast publishes no interval for searches, only a daily quota)."""
_PRICE_STEP = 1e-6
"""Prices in follow-up queries are rounded outwards to this ($/h), so rounding never hides an offer."""


@dataclass(frozen=True, slots=True)
class Need:
    """What one job needs of its filter's offers: ``num_gpus`` GPUs for at most ``max_dph`` $/h (the whole offer)."""

    num_gpus: int
    max_dph: float


def needs_of(jobs: Iterable[Job]) -> dict[str, set[Need]]:
    """Per filter of the jobs not finished, what they need (``observe``'s ``needs``)."""
    out: dict[str, set[Need]] = {}
    for job in jobs:
        if not job.state.is_final:
            out.setdefault(job.spec.offer_filter, set()).add(Need(job.spec.num_gpus, job.max_price))
    return out


@dataclass(frozen=True, slots=True)
class Observation:
    """What one tick saw."""

    taken_at: datetime
    offers: dict[str, list[Offer]]
    """Per distinct job filter, the offers matching it."""
    scanned: list[Offer]
    """Every offer the searches returned (each once)."""
    instances: list[Instance]
    """Every instance on the account (the listing was read whole)."""
    account: Account
    query_errors: dict[str, str]
    """Per job filter that could not be used: why (those jobs fail; the others are served)."""
    cut: dict[str, int] = field(default_factory=dict)
    """Per job filter whose view may lack offers some of its jobs could use: how many offers its view holds (the
    cheapest ones, by minimum bid). A filter absent here saw every offer its jobs could use."""
    searches: int = 0
    """Searches this observation made."""


@dataclass(slots=True, eq=False)
class _Demand:
    text: str
    query: CompiledQuery
    num_gpus: int | None
    cap: float
    """The most any of its jobs pays, $/h for the whole offer (``inf`` when unknown)."""
    seen_below: float = 0.0
    """Every offer of this demand with a lower minimum bid has been seen."""
    covered: bool = False

    def settle(self, bound: float | None) -> None:
        """A search whose scope holds this demand's offers from ``seen_below`` up to its cap came back: complete
        (``bound`` None) or complete under ``bound``."""
        if bound is None or self.cap < bound:
            self.covered = True
        else:
            self.seen_below = max(self.seen_below, bound)


class _Searches:
    """Runs the tick's searches, keeps each offer once (first seen wins), counts them against the budget."""

    def __init__(self, api: MarketApi, page: int, budget: int) -> None:
        self.api = api
        self.page = page
        self.budget = budget
        self.count = 0
        self.offers: dict[int, Offer] = {}

    @property
    def spent(self) -> bool:
        return self.count >= self.budget

    def run(self, text: str) -> float | None:
        """Search ``text``; ``None`` when it returned everything, else the bound under which it is complete."""
        self.count += 1
        found = self.api.search_offers(text, limit=self.page, order=ORDER)
        keep = self.offers.setdefault
        for offer in found:
            keep(offer.id, offer)
        if len(found) < self.page:
            return None
        return max(o.min_bid for o in found)


def observe(
    api: MarketApi,
    filters: Collection[str],
    now: datetime,
    *,
    needs: Mapping[str, Iterable[Need]] | None = None,
    page: int | None = None,
    max_searches: int | None = None,
) -> Observation:
    """Search (only when some job needs candidates), list every instance, read the balance.

    ``needs``: per filter, what its jobs need (``needs_of(jobs)``); ``page`` and ``max_searches`` default to ``PAGE``
    and ``MAX_SEARCHES``.
    """
    errors: dict[str, str] = {}
    compiled: dict[str, CompiledQuery] = {}
    for text in sorted(set(filters)):
        try:
            compiled[text] = compile_query(text)
        except InvalidInputError as exc:
            errors[text] = f"{type(exc).__name__}: {exc}"
    searches = _Searches(api, page or PAGE, max(max_searches or MAX_SEARCHES, 1))
    demands = _demands(compiled, needs or {})
    if len(compiled) == 1:
        text = next(iter(compiled))
        try:
            bound = searches.run(text)
        except (InvalidInputError, RequestRejectedError) as exc:
            errors[text] = f"{type(exc).__name__}: {exc}"
            del compiled[text]
            demands = []
        else:
            for demand in demands:
                demand.settle(bound)
    elif compiled:
        bound = searches.run(BROAD_QUERY)
        for demand in demands:
            demand.settle(bound)
    _follow_up(searches, [d for d in demands if not d.covered])
    scanned = list(searches.offers.values())
    index = OfferIndex(scanned)
    offers = {text: index.matching(query) for text, query in compiled.items()}
    cut = {d.text: len(offers[d.text]) for d in demands if not d.covered}
    if cut:
        log.info("market_view_cut", filters=len(cut), searches=searches.count, offers=len(scanned))
    instances = api.list_instances()
    account = api.account()
    return Observation(
        taken_at=now,
        offers=offers,
        scanned=scanned,
        instances=instances,
        account=account,
        query_errors=errors,
        cut=cut,
        searches=searches.count,
    )


def _demands(compiled: Mapping[str, CompiledQuery], needs: Mapping[str, Iterable[Need]]) -> list[_Demand]:
    """One demand per (filter, GPU count) with the highest cap; one of any count and no cap per filter without
    needs."""
    out: list[_Demand] = []
    for text, query in compiled.items():
        caps: dict[int, float] = {}
        for need in needs.get(text, ()):
            caps[need.num_gpus] = max(caps.get(need.num_gpus, 0.0), need.max_dph)
        if not caps:
            out.append(_Demand(text, query, None, math.inf))
        out.extend(_Demand(text, query, n, caps[n]) for n in sorted(caps))
    return out


def _follow_up(searches: _Searches, pending: Sequence[_Demand]) -> None:
    """Search what the first look left uncovered, coarse to fine, each step only for what is still uncovered:
    a shard per set of GPU names, then per (GPU names, count), then each demand on its own filter. A shard is made
    only for two demands or more (one demand is better served by its own filter)."""
    for by_count in (False, True):
        shards: dict[tuple[frozenset[str], int | None], list[_Demand]] = {}
        for demand in pending:
            names = demand.query.gpu_names
            if not demand.covered and names and all(_plain_name(n) for n in names):
                shards.setdefault((names, demand.num_gpus if by_count else None), []).append(demand)
        for (names, num_gpus), members in sorted(shards.items(), key=lambda s: (sorted(s[0][0]), s[0][1] or 0)):
            if len(members) > 1:
                low, high = min(m.seen_below for m in members), max(m.cap for m in members)
                _search_for(searches, _shard_text(names, num_gpus, low, high), members)
    for demand in sorted(pending, key=lambda d: (d.text, d.num_gpus or 0)):
        if not demand.covered:
            text = f"{demand.text} {_range_clauses(demand.num_gpus, demand.seen_below, demand.cap)}".strip()
            _search_for(searches, text, [demand])


def _search_for(searches: _Searches, text: str, demands: Sequence[_Demand]) -> None:
    """One follow-up search within the budget, settling ``demands``; one that is not made (budget spent) or fails
    (refused, rate limited, quota reached: no more searches this tick) leaves them uncovered."""
    if searches.spent:
        return
    try:
        bound = searches.run(text)
    except (InvalidInputError, RequestRejectedError, RateLimitedError, SearchQuotaExceededError) as exc:
        log.warning("market_search_skipped", error=str(exc), error_class=type(exc).__name__)
        if isinstance(exc, RateLimitedError | SearchQuotaExceededError):
            searches.budget = searches.count
        return
    for demand in demands:
        demand.settle(bound)


def _plain_name(name: str) -> bool:
    """A GPU name that the query grammar can carry back (spaces become ``_``)."""
    return bool(name) and not any(c in name for c in "_,[]\"'=<>!") and name == name.strip()


def _shard_text(names: frozenset[str], num_gpus: int | None, low: float, high: float) -> str:
    """Everything rentable of the models ``names`` with ``num_gpus`` GPUs and a minimum bid in ``[low, high]``."""
    wire = sorted(n.replace(" ", "_") for n in names)
    gpus = f"gpu_name={wire[0]}" if len(wire) == 1 else f"gpu_name in [{','.join(wire)}]"
    return f"{BROAD_QUERY} {gpus} {_range_clauses(num_gpus, low, high)}".strip()


def _range_clauses(num_gpus: int | None, low: float, high: float) -> str:
    clauses: list[str] = []
    if num_gpus is not None:
        clauses.append(f"num_gpus={num_gpus}")
    if low > 0:
        clauses.append(f"min_bid>={math.floor(low / _PRICE_STEP) * _PRICE_STEP:.6f}")
    if math.isfinite(high):
        clauses.append(f"min_bid<={math.ceil((high + _PRICE_STEP) / _PRICE_STEP) * _PRICE_STEP:.6f}")
    return " ".join(clauses)


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
