"""Shared fixtures of the benchmarks: a large simulated market (about N offers) and a varied queue of jobs.

The market is the simulator's own (so offers carry Vast's ~60 wire fields and realistic spreads: the 8 GPU
models of ``sim.scenarios``, 1-8 GPUs per machine, halves offered as chunks, per-GPU prices and minimum bids within
each model's band, reliability, locations), grown to the wanted size with ``Market.add_machine``. Other
participants are off, so a second tick sees exactly the same market. The jobs mix 24+ distinct filters, GPU
counts, rentals and six strategies.
"""

from __future__ import annotations

import json
import random
import resource
import sys
from typing import Any

import httpx

from vastbid.sim import ManualClock, SimConfig, Simulator
from vastbid.sim.entities import OTHER
from vastbid.sim.scenarios import random_machine
from vastbid.vast.query import search_body

START = 1_800_000_000.0
"""The simulator's epoch (a fixed moment: runs are reproducible)."""
SIM_KEY = "bench-key-not-a-secret"
BASE_URL = "http://sim.local"


def build_simulator(offers: int, seed: int = 0) -> tuple[Simulator, ManualClock]:
    """A quiet simulator (no other participants) listing at least ``offers`` offers, on a manual clock."""
    clock = ManualClock(start=START)
    sim = Simulator(
        SimConfig(seed=seed, scenario="small", api_key=SIM_KEY, processes=False, initial_credit=1e7), clock=clock
    )
    market = sim.state
    rng = random.Random(f"bench:{seed}")
    machine_id = 2_000_000
    hosts = max(offers // 4, 10)
    while len(market.offers) < offers:
        machine_id += rng.randint(1, 9)
        host_id = 3_000_000 + rng.randrange(hosts)
        market.add_machine(random_machine(rng, machine_id, host_id, OTHER, start=START, days=(30.0, 365.0)))
    return sim, clock


def client_for(sim: Simulator, event_hooks: dict[str, list[Any]] | None = None) -> httpx.Client:
    """An httpx client talking to ``sim`` in process."""
    return httpx.Client(transport=sim.transport(), base_url=BASE_URL, event_hooks=event_hooks)


def offers_payload(sim: Simulator, limit: int) -> bytes:
    """The raw body of one broad search (everything rentable, cheapest first): what the API sends over the wire."""
    body = search_body("verified=any external=any rentable=true", limit=limit, order="dph_total")
    with client_for(sim) as client:
        reply = client.post("/api/v0/bundles/", json=body, headers={"Authorization": f"Bearer {SIM_KEY}"})
    reply.raise_for_status()
    return reply.content


GPU_FILTERS = ("RTX_3090", "RTX_4090", "RTX_5090", "RTX_A6000", "L40S", "A100_SXM4", "H100_SXM", "Tesla_V100")
# The ceiling of each model's per-GPU price band (sim.scenarios), so caps land inside the market's spread.
PRICE_TOP = {"RTX_3090": 0.30, "RTX_4090": 0.60, "RTX_5090": 0.90, "RTX_A6000": 0.60, "L40S": 1.10}
PRICE_TOP |= {"A100_SXM4": 1.60, "H100_SXM": 2.80, "Tesla_V100": 0.30}
EXTRAS = (
    "",
    "reliability>0.98",
    "geolocation in [US,CA]",
    "inet_down>=1000 reliability>0.95",
    "verified=any dlperf>=20",
    "geolocation in [DE,FR,NL,SE,FI,PL]",
)
STRATEGIES: tuple[tuple[str | None, dict[str, Any]], ...] = (
    (None, {}),
    ("cheapest_per_gpu", {}),
    ("perf_per_dollar", {}),
    ("stable_cheapest", {}),
    ("price_threshold", {"acquire_below": 0.9, "release_above": 1.2}),
    ("deadline_aware", {}),
    ("uniform_progress", {}),
)
RENTALS = ("interruptible", "auto", "on_demand")


def job_specs(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """``count`` job specifications (``JobSpec`` fields) with varied filters, GPU counts, caps, rentals, strategies."""
    rng = random.Random(f"jobs:{seed}")
    specs: list[dict[str, Any]] = []
    for index in range(count):
        gpu = GPU_FILTERS[index % len(GPU_FILTERS)]
        extra = EXTRAS[(index // len(GPU_FILTERS)) % len(EXTRAS)]
        num_gpus = rng.choice((1, 1, 1, 2, 2, 4, 8))
        name, params = STRATEGIES[index % len(STRATEGIES)]
        spec: dict[str, Any] = {
            "name": f"bench-{index}",
            "image": "pytorch/pytorch:latest",
            "offer_filter": f"gpu_name={gpu} {extra}".strip(),
            "num_gpus": num_gpus,
            "max_price_per_gpu": round(PRICE_TOP[gpu] * rng.uniform(0.5, 1.2), 4),
            "rental": RENTALS[index % len(RENTALS)],
            "work_hours": round(rng.uniform(1.0, 48.0), 1),
            "env": {"SIM_WORK_HOURS": "1000"},
            "priority": rng.randint(0, 10),
        }
        if name is not None:
            spec["strategy"] = name
            if params:
                spec["strategy_params"] = params
        if name in ("deadline_aware", "uniform_progress"):
            spec["deadline"] = "2027-01-31T00:00:00+00:00"
            spec["restart_overhead_hours"] = 0.2
        specs.append(spec)
    return specs


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, MB (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def emit(figures: dict[str, Any], table: list[tuple[str, str]], *, as_json: bool) -> None:
    """Print ``figures`` as one JSON document, or ``table`` as aligned text."""
    if as_json:
        print(json.dumps(figures, indent=2, sort_keys=True))
        return
    width = max(len(label) for label, _ in table)
    for label, value in table:
        print(f"{label:<{width}}  {value}")
