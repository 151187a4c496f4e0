"""Benchmark: the observe step's CPU, and observe + decide, against ``json.loads`` of the search replies it received.

A market of about ``--offers`` offers (``SimConfig(offers=N)``: the simulator's default model mix, other
participants off) and ``--jobs`` jobs (the varied set of ``bench/_market.py``: 48 filters, 1-8 GPUs, three rentals,
six strategies). First the daemon's ``observe()`` runs once against the simulator and every reply is recorded; then
the same ``observe()`` is replayed from those bytes (an httpx mock transport: no simulator CPU in the figures), so
this process's CPU is the daemon's own. Side by side in one run, alternating, ``--repeat`` times, medians:

- ``json_loads``: ``json.loads`` of every search reply body observe received (the floor any client pays);
- ``observe``: the whole ``observe()`` (HTTP client, typed decoding, offers, each filter's view, listing, account);
- ``legacy_parse``: what the daemon did before issue 11 with the same bytes: ``json.loads``, ``offers_from_json``,
  then every filter evaluated over every offer;
- ``decide``: ``decide()`` over the observed views (the steady tick's other CPU-heavy step).

Targets: ``observe / json_loads <= 1.5``; ``(observe + decide) / json_loads <= 3``.

    .venv/bin/python bench/scale.py [--offers 20000] [--jobs 1000] [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _market import SIM_KEY, START, emit, job_specs
from vastbid.core.budget import Budget
from vastbid.core.choice import Strategy
from vastbid.core.decide import decide
from vastbid.core.jobs import Job, JobSpec, JobState
from vastbid.core.policy import DecidePolicy, strategy_key
from vastbid.core.snapshot import MarketSnapshot
from vastbid.daemon.observe import PAGE, Observation, needs_of, observe
from vastbid.sim import ManualClock, SimConfig, Simulator
from vastbid.strategies.registry import Registry
from vastbid.vast.convert import offers_from_json
from vastbid.vast.factory import make_market_api
from vastbid.vast.port import MarketApi
from vastbid.vast.query import compile_query

BASE_URL = "http://sim.local"
DEFAULT_STRATEGY = "cheapest_per_gpu"
SEARCH_PATH = "/api/v0/bundles/"
TARGET_OBSERVE = 1.5
TARGET_TICK = 3.0


def build_market(offers: int, seed: int = 0) -> Simulator:
    """A quiet simulator (no other participants) of about ``offers`` offers, the default model mix."""
    config = SimConfig(
        seed=seed, scenario="default", api_key=SIM_KEY, processes=False, initial_credit=1e7, offers=offers
    )
    return Simulator(config, clock=ManualClock(start=START))


def make_jobs(count: int, now: datetime) -> list[Job]:
    """``count`` queued jobs from the shared specifications."""
    return [
        Job(id=i + 1, spec=JobSpec.model_validate(spec), state=JobState.QUEUED, created_at=now)
        for i, spec in enumerate(job_specs(count))
    ]


def api_over(transport: httpx.BaseTransport, on_response: Callable[[httpx.Response], None] | None = None) -> MarketApi:
    """The daemon's native adapter over ``transport`` (no pacing waits), calling ``on_response`` on each reply."""
    hooks = {"response": [on_response]} if on_response is not None else {}
    client = httpx.Client(transport=transport, base_url=BASE_URL, event_hooks=hooks)
    return make_market_api("native", client, SIM_KEY, sleep=lambda _s: None)


class Recorder(httpx.BaseTransport):
    """Passes requests to the simulator and keeps every reply, keyed by the request."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.replies: dict[tuple[str, str, bytes], tuple[int, bytes]] = {}
        self.search_bodies: list[bytes] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        content = response.read()
        self.replies[_key(request)] = (response.status_code, content)
        if request.url.path == SEARCH_PATH:
            self.search_bodies.append(content)
        return httpx.Response(response.status_code, headers=response.headers, content=content)


def _key(request: httpx.Request) -> tuple[str, str, bytes]:
    return (request.method, str(request.url), request.read())


def replay(recorder: Recorder) -> httpx.MockTransport:
    """A transport answering each recorded request with its recorded reply."""
    headers = {"Content-Type": "application/json"}

    def answer(request: httpx.Request) -> httpx.Response:
        status, content = recorder.replies[_key(request)]
        return httpx.Response(status, content=content, headers=headers)

    return httpx.MockTransport(answer)


def cpu(fn: Callable[[], object]) -> float:
    """CPU seconds of one call, with the collector quiet so neither side pays the other's garbage."""
    gc.collect()
    gc.disable()
    try:
        started = time.process_time()
        fn()
        return time.process_time() - started
    finally:
        gc.enable()


def legacy_parse(bodies: Iterable[bytes], filters: Iterable[str]) -> None:
    """The daemon's parsing before issue 11: ``json.loads``, every offer converted, every filter over every offer."""
    offers = [o for body in bodies for o in offers_from_json(json.loads(body)["offers"])]
    for text in filters:
        compile_query(text).filter(offers)


def strategies_for(jobs: list[Job]) -> dict[str, Strategy]:
    """One built strategy per distinct (name, parameters), keyed as ``decide()`` looks them up."""
    registry = Registry.from_entry_points()
    out: dict[str, Strategy] = {}
    for job in jobs:
        key = strategy_key(job, DEFAULT_STRATEGY)
        if key not in out:
            out[key] = registry.build(job.spec.strategy or DEFAULT_STRATEGY, job.spec.strategy_params)
    return out


def run(offers: int, jobs_count: int, repeat: int, page: int = PAGE) -> dict[str, Any]:
    """Record one observe against the simulator, then time the steps side by side; the figures."""
    sim = build_market(offers)
    listed = len(sim.state.offers)
    now = datetime.fromtimestamp(START, UTC)
    jobs = make_jobs(jobs_count, now)
    filters = {job.spec.offer_filter for job in jobs}
    needs = needs_of(jobs)
    recorder = Recorder(sim.transport())
    seen = observe(api_over(recorder), filters, now, needs=needs, page=page)
    del sim
    bodies = list(recorder.search_bodies)
    api = api_over(replay(recorder))

    def observe_once() -> Observation:
        return observe(api, filters, now, needs=needs, page=page)

    snapshot = MarketSnapshot(taken_at=now, offers=seen.offers, instances=(), balance=1e6)
    strategies = strategies_for(jobs)
    policy = DecidePolicy(deployment="bench", default_strategy=DEFAULT_STRATEGY)
    budget = Budget()

    def decide_once() -> object:
        return decide(snapshot, jobs, budget=budget, strategies=strategies, policy=policy)

    observe_once()
    decide_once()  # warm-up: imports, compiled queries
    times: dict[str, list[float]] = {"json_loads": [], "observe": [], "legacy_parse": [], "decide": []}
    for _ in range(repeat):
        times["json_loads"].append(cpu(lambda: [json.loads(body) for body in bodies]))
        times["observe"].append(cpu(observe_once))
        times["legacy_parse"].append(cpu(lambda: legacy_parse(bodies, sorted(filters))))
        times["decide"].append(cpu(decide_once))
    median = {name: statistics.median(runs) for name, runs in times.items()}
    loads = median["json_loads"] or 1e-9
    return {
        "offers_listed": listed,
        "jobs": jobs_count,
        "distinct_filters": len(filters),
        "searches": seen.searches,
        "offers_received": sum(len(json.loads(body)["offers"]) for body in bodies),
        "offers_seen": len(seen.scanned),
        "payload_bytes": sum(len(body) for body in bodies),
        "cut_filters": len(seen.cut),
        "repeat": repeat,
        "cpu_seconds": {name: round(value, 6) for name, value in median.items()},
        "cpu_runs_seconds": {name: [round(t, 6) for t in runs] for name, runs in times.items()},
        "observe_ratio": round(median["observe"] / loads, 4),
        "legacy_parse_ratio": round(median["legacy_parse"] / loads, 4),
        "tick_ratio": round((median["observe"] + median["decide"]) / loads, 4),
        "target_observe_ratio": TARGET_OBSERVE,
        "target_tick_ratio": TARGET_TICK,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--offers", type=int, default=20_000)
    parser.add_argument("--jobs", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--page", type=int, default=PAGE, help="the most offers one search returns")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    figures = run(args.offers, args.jobs, max(args.repeat, 1), page=args.page)
    f = figures
    ms = {name: value * 1000 for name, value in f["cpu_seconds"].items()}
    observe_ratio, tick_ratio = f["observe_ratio"], f["tick_ratio"]
    observe_verdict = "met" if observe_ratio <= TARGET_OBSERVE else "MISSED"
    tick_verdict = "met" if tick_ratio <= TARGET_TICK else "MISSED"
    table = [
        ("offers listed / jobs / filters", f"{f['offers_listed']:,} / {f['jobs']} / {f['distinct_filters']}"),
        ("searches / offers received / seen", f"{f['searches']} / {f['offers_received']:,} / {f['offers_seen']:,}"),
        ("search replies", f"{f['payload_bytes'] / 1e6:.1f} MB; filters cut: {f['cut_filters']}"),
        ("json.loads of the replies (CPU)", f"{ms['json_loads']:.1f} ms"),
        ("observe() (CPU)", f"{ms['observe']:.1f} ms"),
        ("  ratio observe / json.loads", f"{observe_ratio:.3f}  (target <= {TARGET_OBSERVE}: {observe_verdict})"),
        ("legacy parse path (CPU)", f"{ms['legacy_parse']:.1f} ms  (ratio {f['legacy_parse_ratio']:.3f})"),
        ("decide() (CPU)", f"{ms['decide']:.1f} ms"),
        ("  ratio (observe + decide) / json.loads", f"{tick_ratio:.3f}  (target <= {TARGET_TICK}: {tick_verdict})"),
    ]
    emit(figures, table, as_json=args.json)


if __name__ == "__main__":
    main()
