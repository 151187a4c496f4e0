"""Benchmark: the share of servable jobs that get a candidate, before and after issue 11, at 20k and 100k offers.

For each market size (``SimConfig(offers=N)``: the simulator's default model mix, other participants off) and the
varied job set of ``bench/_market.py`` (``--jobs``, 48 filters, 1-8 GPUs, caps around each model's prices, three
rentals), side by side in one run:

- *servable*: some offer of the whole market (read from the simulator itself) matches the job's filter, has its GPU
  count, is rentable, and its cheapest price under the job's rental is within the job's cap;
- *before*: the daemon's view before issue 11: one broad search of the 10,000 offers with the lowest whole-offer
  price (``dph_total``), each filter evaluated locally;
- *after*: ``observe()`` with the jobs' needs (searches ordered by minimum bid, follow-ups for what the first look
  did not cover); ``--without-needs``: told the filters only (each then wants every offer it matches);
- a job *gets a candidate* when its filter's view holds such an offer.

Also printed per size: searches made, offers received, filters whose view was cut. Target: after = 100 %.

    .venv/bin/python bench/coverage.py [--offers 20000 100000] [--jobs 200] [--json]
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _market import START, emit
from scale import api_over, build_market, make_jobs
from vastbid.core.candidates import EPS_PRICE, price_floor
from vastbid.core.jobs import Job
from vastbid.core.offers import Offer
from vastbid.daemon.observe import BROAD_QUERY, PAGE, needs_of, observe
from vastbid.sim.search import search
from vastbid.vast.convert import offers_from_json
from vastbid.vast.query import compile_query, search_body

LEGACY_LIMIT = 10_000


def usable(job: Job, offer: Offer) -> bool:
    """Whether ``offer`` could serve ``job`` (its filter aside): GPU count, rentable, cheapest price within cap."""
    spec = job.spec
    return (
        offer.num_gpus == spec.num_gpus
        and offer.rentable
        and price_floor(offer, spec.rental) <= job.max_price + EPS_PRICE
    )


def served(jobs: list[Job], views: dict[str, list[Offer]]) -> set[int]:
    """The ids of the jobs whose filter's view holds an offer that could serve them."""
    return {job.id for job in jobs if any(usable(job, o) for o in views.get(job.spec.offer_filter, ()))}


def measure(offers: int, jobs_count: int, page: int, *, with_needs: bool = True) -> dict[str, Any]:
    """One market size: servable, before, after; the figures."""
    sim = build_market(offers)
    now = datetime.fromtimestamp(START, UTC)
    jobs = make_jobs(jobs_count, now)
    filters = sorted({job.spec.offer_filter for job in jobs})
    with sim.lock:
        everything = offers_from_json(search(sim.state, search_body(BROAD_QUERY, limit=10**9, order="dph_total")))
    whole = {text: compile_query(text).filter(everything) for text in filters}
    servable = served(jobs, whole)

    calls = {"searches": 0, "bytes": 0}

    def count(response: httpx.Response) -> None:
        if response.request.url.path.endswith("/bundles/"):
            calls["searches"] += 1
            calls["bytes"] += len(response.read())

    api = api_over(sim.transport(), count)
    legacy = api.search_offers(BROAD_QUERY, limit=LEGACY_LIMIT, order="dph_total")
    before = served(jobs, {text: compile_query(text).filter(legacy) for text in filters})
    legacy_calls = dict(calls)
    calls.update(searches=0, bytes=0)
    seen = observe(api, filters, now, needs=needs_of(jobs) if with_needs else None, page=page)
    after = served(jobs, seen.offers)
    return {
        "offers_listed": len(sim.state.offers),
        "jobs": len(jobs),
        "distinct_filters": len(filters),
        "servable_jobs": len(servable),
        "before": {
            "jobs_with_candidate": len(before & servable),
            "share": round(len(before & servable) / len(servable), 4) if servable else 1.0,
            "searches": legacy_calls["searches"],
            "offers_received": len(legacy),
            "payload_bytes": legacy_calls["bytes"],
        },
        "after": {
            "jobs_with_candidate": len(after & servable),
            "share": round(len(after & servable) / len(servable), 4) if servable else 1.0,
            "searches": seen.searches,
            "offers_received": len(seen.scanned),
            "payload_bytes": calls["bytes"],
            "cut_filters": sorted(seen.cut),
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--offers", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--page", type=int, default=PAGE, help="the most offers one search returns")
    parser.add_argument("--without-needs", action="store_true", help="observe() told the filters only, not the needs")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    sizes = [measure(n, args.jobs, args.page, with_needs=not args.without_needs) for n in args.offers]
    table: list[tuple[str, str]] = []
    for size in sizes:
        before, after = size["before"], size["after"]
        received = f"{after['offers_received']:,} ({after['payload_bytes'] / 1e6:.1f} MB)"
        gain = f"{after['share'] / before['share']:.2f}x" if before["share"] else "n/a"
        table += [
            (f"{size['offers_listed']:,} offers", f"{size['jobs']} jobs, {size['servable_jobs']} servable"),
            ("  before: with a candidate", f"{before['jobs_with_candidate']} ({before['share']:.1%}), 1 search"),
            ("  after: with a candidate", f"{after['jobs_with_candidate']} ({after['share']:.1%})"),
            ("  after: searches", str(after["searches"])),
            ("  after: offers received", f"{received}; filters cut: {len(after['cut_filters'])}"),
            ("  after / before (share)", gain),
            ("  target after = 100 %", "met" if after["share"] >= 1.0 else "MISSED"),
        ]
    emit({"sizes": sizes, "page": args.page, "with_needs": not args.without_needs}, table, as_json=args.json)


if __name__ == "__main__":
    main()
