"""Scenario replay: the real daemon path against the embedded simulator on a virtual clock (``vastbid demo``).

The simulator's clock is manual: each step advances it by one tick interval, then the daemon ticks exactly as it
would in production (observe, reconcile, decide, act, record) through the in-process HTTP transport. A small
varied job set runs: interruptible jobs on several GPU models, a deadline job and an on-demand job; each job's
container does ``SIM_WORK_HOURS`` of work after boot (checkpointed, so progress survives moves).
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from vastbid.config.settings import OrphanPolicy
from vastbid.core.budget import Budget
from vastbid.core.jobs import Job
from vastbid.daemon.clock import EpochClock
from vastbid.daemon.config import DaemonConfig
from vastbid.daemon.tick import Daemon
from vastbid.obs.metrics import Metrics
from vastbid.sim import ManualClock, SimConfig, Simulator
from vastbid.store.store import Store
from vastbid.vast.factory import make_market_api
from vastbid.vast.port import MarketApi

DEMO_START = 1_800_000_000.0
"""The simulator's epoch at the start of a demo (a fixed moment: runs are reproducible)."""

DEMO_BUDGET = Budget(max_burn_per_hour=8.0, daily_cap=120.0, min_balance=20.0)


def demo_jobs(start: datetime) -> list[dict[str, Any]]:
    """The demo's job set: three interruptible jobs, one deadline job, one on-demand job."""

    def work(name: str, hours: float) -> dict[str, str]:
        return {"SIM_WORK_HOURS": f"{hours:g}", "SIM_CHECKPOINT": name}

    return [
        {
            "name": "train-4090",
            "image": "pytorch/pytorch:latest",
            "offer_filter": "gpu_name=RTX_4090",
            "max_price_per_gpu": 0.5,
            "rental": "interruptible",
            "work_hours": 4,
            "env": work("train-4090", 4),
        },
        {
            "name": "sweep-3090x2",
            "image": "pytorch/pytorch:latest",
            "offer_filter": "gpu_name=RTX_3090 num_gpus=2",
            "num_gpus": 2,
            "max_price_per_gpu": 0.25,
            "rental": "interruptible",
            "work_hours": 6,
            "env": work("sweep-3090x2", 6),
        },
        {
            "name": "render-a6000",
            "image": "blender/blender:latest",
            "offer_filter": "gpu_name=RTX_A6000",
            "max_price_per_gpu": 0.55,
            "rental": "auto",
            "work_hours": 3,
            "env": work("render-a6000", 3),
            "strategy": "stable_cheapest",
        },
        {
            "name": "paper-deadline-a100",
            "image": "pytorch/pytorch:latest",
            "offer_filter": "gpu_name=A100_SXM4",
            "max_price_per_gpu": 1.6,
            "rental": "auto",
            "work_hours": 8,
            "env": work("paper-deadline-a100", 8),
            "deadline": (start + timedelta(hours=12)).isoformat(),
            "restart_overhead_hours": 0.2,
            "strategy": "deadline_aware",
            "priority": 10,
        },
        {
            "name": "serve-l40s",
            "image": "vllm/vllm-openai:latest",
            "offer_filter": "gpu_name=L40S",
            "max_price_per_gpu": 1.1,
            "rental": "on_demand",
            "work_hours": 2,
            "env": work("serve-l40s", 2),
        },
    ]


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """What a demo run did, in the keys ``vastbid demo --json`` prints."""

    sim_hours: float
    seed: int
    ticks: int
    jobs_total: int
    jobs_succeeded: int
    spend_usd: float
    on_demand_equivalent_usd: float
    savings_fraction: float
    interruptions: int
    decisions: int
    budget_violations: int

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain JSON values."""
        return asdict(self)


def run_demo(
    store: Store,
    *,
    sim_hours: float = 24.0,
    seed: int = 7,
    tick_seconds: float = 300.0,
    metrics: Metrics | None = None,
    progress: Callable[[float], None] | None = None,
) -> DemoSummary:
    """Run the daemon for ``sim_hours`` of simulated time against a seeded simulator; the summary."""
    clock = ManualClock(start=DEMO_START)
    key = secrets.token_hex(16)
    sim = Simulator(SimConfig(seed=seed, scenario="default", api_key=key, initial_credit=500.0), clock=clock)
    client = httpx.Client(transport=sim.transport(), base_url="http://sim.local")
    api = make_market_api("native", client, key, sleep=lambda _s: None, monotonic=clock.now)
    start = datetime.fromtimestamp(DEMO_START, UTC)
    submitted = store.jobs.submit_many(demo_jobs(start))
    on_demand_rates = _on_demand_rates(api, submitted)
    config = DaemonConfig(
        deployment="demo",
        tick_seconds=tick_seconds,
        budget=DEMO_BUDGET,
        config_hash="demo",
        orphan_policy=OrphanPolicy.DESTROY,
    )
    daemon = Daemon(config, api, store, EpochClock(clock.now), metrics=metrics)
    ticks = math.ceil(sim_hours * 3600.0 / tick_seconds)
    violations = 0
    for step in range(ticks):
        result = daemon.tick()
        if result.plan is not None and _violates(result.plan.committed_dph, DEMO_BUDGET):
            violations += 1
        if progress is not None:
            progress((step + 1) / ticks)
        sim.advance(tick_seconds)
    jobs = [store.jobs.get(job.id) for job in submitted]
    spend = store.spend.spent_between(start, datetime.fromtimestamp(clock.now(), UTC) + timedelta(seconds=1))
    daily = store.spend.daily_totals(start.date(), datetime.fromtimestamp(clock.now(), UTC).date())
    if DEMO_BUDGET.daily_cap is not None:
        violations += sum(1 for amount in daily.values() if amount > DEMO_BUDGET.daily_cap + 1e-6)
    equivalent = sum(_work_done(job) * on_demand_rates.get(job.id, 0.0) for job in jobs)
    return DemoSummary(
        sim_hours=sim_hours,
        seed=seed,
        ticks=ticks,
        jobs_total=len(jobs),
        jobs_succeeded=sum(1 for job in jobs if job.state.value == "succeeded"),
        spend_usd=round(spend, 4),
        on_demand_equivalent_usd=round(equivalent, 4),
        savings_fraction=round(1 - spend / equivalent, 4) if equivalent > 0 else 0.0,
        interruptions=sum(job.interruptions for job in jobs),
        decisions=len(store.decisions.query()),
        budget_violations=violations,
    )


def _violates(committed_dph: float, budget: Budget) -> bool:
    return budget.max_burn_per_hour is not None and committed_dph > budget.max_burn_per_hour + 1e-9


def _work_done(job: Job) -> float:
    if job.state.value == "succeeded" and job.spec.work_hours is not None:
        return job.spec.work_hours
    return job.progress_hours


def _on_demand_rates(api: MarketApi, jobs: list[Job]) -> dict[int, float]:
    """The cheapest on-demand $/h matching each job's filter at the start: what on-demand only would pay."""
    rates: dict[int, float] = {}
    for job in jobs:
        cheapest = api.search_offers(job.spec.offer_filter, limit=1, order="dph_total")
        if cheapest:
            rates[job.id] = cheapest[0].dph_total
    return rates
