"""Benchmark: one ``decide()`` over a large market against ``json.loads`` of the same offers' search payload.

The market is the simulator's (``_market``): ``--offers`` offers with Vast's wire fields, served as one broad
search's JSON body. Side by side in one run, alternating, ``--repeat`` times each, medians reported:
- ``json_parse_seconds``: ``json.loads`` of that body (the floor any client pays to read the market);
- ``decide_seconds``: ``decide()`` for ``--jobs`` queued jobs (24+ distinct filters, six strategies, 1-8 GPUs,
  three rentals) over the offers already split per filter, as the daemon's snapshot holds them.
Also, once each: converting the JSON to ``Offer`` values and evaluating every job filter locally (what ``observe``
does after a broad search). Target: ``ratio = decide / parse <= 1``.

    .venv/bin/python bench/decide.py [--offers 20000] [--jobs 200] [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _market import START, build_simulator, emit, job_specs, offers_payload
from vastbid.core.budget import Budget
from vastbid.core.choice import Strategy
from vastbid.core.decide import decide
from vastbid.core.jobs import Job, JobSpec, JobState
from vastbid.core.offers import Offer
from vastbid.core.policy import DecidePolicy, strategy_key
from vastbid.core.snapshot import MarketSnapshot
from vastbid.strategies.registry import Registry
from vastbid.vast.convert import offers_from_json
from vastbid.vast.query import compile_query

DEFAULT_STRATEGY = "cheapest_per_gpu"


def timed(fn: Callable[[], object]) -> float:
    """Wall seconds of one call, with the collector quiet so neither side pays the other's garbage."""
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        fn()
        return time.perf_counter() - started
    finally:
        gc.enable()


def make_jobs(count: int, now: datetime) -> list[Job]:
    """``count`` queued jobs from the shared specifications."""
    return [
        Job(id=i + 1, spec=JobSpec.model_validate(spec), state=JobState.QUEUED, created_at=now)
        for i, spec in enumerate(job_specs(count))
    ]


def make_strategies(jobs: list[Job], registry: Registry) -> dict[str, Strategy]:
    """One built strategy per distinct (name, parameters), keyed as ``decide()`` looks them up."""
    out: dict[str, Strategy] = {}
    for job in jobs:
        key = strategy_key(job, DEFAULT_STRATEGY)
        if key not in out:
            out[key] = registry.build(job.spec.strategy or DEFAULT_STRATEGY, job.spec.strategy_params)
    return out


def split_by_filter(offers: list[Offer], jobs: list[Job], now: float) -> dict[str, list[Offer]]:
    """Each distinct job filter's matching offers (the daemon's broad-search path)."""
    return {text: compile_query(text, now=now).filter(offers) for text in sorted({j.spec.offer_filter for j in jobs})}


def run(offers: int, jobs_count: int, repeat: int) -> dict[str, Any]:
    """Build the market and jobs, time both sides ``repeat`` times alternately; the figures."""
    sim, _clock = build_simulator(offers)
    payload = offers_payload(sim, offers)
    del sim
    now = datetime.fromtimestamp(START, UTC)
    rows = json.loads(payload)["offers"]
    fields_per_offer = len(rows[0]) if rows else 0
    gc.collect()
    started = time.perf_counter()
    market = offers_from_json(rows)
    convert_seconds = time.perf_counter() - started
    rows = None
    jobs = make_jobs(jobs_count, now)
    started = time.perf_counter()
    per_filter = split_by_filter(market, jobs, START)
    filter_seconds = time.perf_counter() - started
    snapshot = MarketSnapshot(taken_at=now, offers=per_filter, instances=(), balance=1e6)
    strategies = make_strategies(jobs, Registry.from_entry_points())
    policy = DecidePolicy(deployment="bench", default_strategy=DEFAULT_STRATEGY)
    budget = Budget()
    plan = decide(
        snapshot, jobs, budget=budget, strategies=strategies, policy=policy
    )  # warm-up: imports, compiled queries
    parse_times: list[float] = []
    decide_times: list[float] = []
    for _ in range(repeat):
        parse_times.append(timed(lambda: json.loads(payload)))
        decide_times.append(timed(lambda: decide(snapshot, jobs, budget=budget, strategies=strategies, policy=policy)))
    parse_s = statistics.median(parse_times)
    decide_s = statistics.median(decide_times)
    outcomes: dict[str, int] = {}
    for decision in plan.decisions.values():
        outcomes[decision.outcome] = outcomes.get(decision.outcome, 0) + 1
    return {
        "offers": len(market),
        "fields_per_offer": fields_per_offer,
        "payload_bytes": len(payload),
        "jobs": len(jobs),
        "distinct_filters": len(per_filter),
        "strategies": sorted(strategies),
        "repeat": repeat,
        "json_parse_seconds": round(parse_s, 6),
        "decide_seconds": round(decide_s, 6),
        "ratio": round(decide_s / parse_s, 4) if parse_s > 0 else None,
        "target_ratio": 1.0,
        "decide_runs_seconds": [round(t, 6) for t in decide_times],
        "json_parse_runs_seconds": [round(t, 6) for t in parse_times],
        "convert_seconds": round(convert_seconds, 6),
        "filter_seconds": round(filter_seconds, 6),
        "actions": len(plan.actions),
        "outcomes": dict(sorted(outcomes.items())),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--offers", type=int, default=20_000)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    figures = run(args.offers, args.jobs, max(args.repeat, 1))
    ratio = figures["ratio"]
    table = [
        ("offers / fields each", f"{figures['offers']:,} / {figures['fields_per_offer']}"),
        ("payload", f"{figures['payload_bytes'] / 1e6:.1f} MB"),
        ("jobs / distinct filters", f"{figures['jobs']} / {figures['distinct_filters']}"),
        ("json.loads (median)", f"{figures['json_parse_seconds'] * 1000:.1f} ms"),
        ("decide() (median)", f"{figures['decide_seconds'] * 1000:.1f} ms"),
        ("ratio decide / parse", f"{ratio:.3f}  (target <= 1: {'met' if ratio <= 1 else 'MISSED'})"),
        ("JSON -> Offer (once)", f"{figures['convert_seconds'] * 1000:.1f} ms"),
        ("local filters (once)", f"{figures['filter_seconds'] * 1000:.1f} ms"),
        ("plan", f"{figures['actions']} actions; " + ", ".join(f"{k} {v}" for k, v in figures["outcomes"].items())),
    ]
    emit(figures, table, as_json=args.json)


if __name__ == "__main__":
    main()
