"""The daemon tests' world: a quiet simulated market on a manual clock, the store, and a daemon wired to both
exactly as ``backtest/scenario.py`` does it (fixtures re-exported by ``conftest.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from vastbid.core.budget import Budget
from vastbid.core.instances import Instance
from vastbid.daemon.clock import EpochClock
from vastbid.daemon.config import DaemonConfig
from vastbid.daemon.executor import Checkpoint
from vastbid.daemon.memory import MarketMemory
from vastbid.daemon.tick import Daemon, TickResult
from vastbid.obs.metrics import Metrics
from vastbid.sim import ManualClock, SimConfig, Simulator
from vastbid.store.store import Store, open_store
from vastbid.strategies.registry import Registry
from vastbid.vast.factory import make_market_api
from vastbid.vast.port import MarketApi

START = 1_800_000_000.0
KEY = "sim-key"
DEPLOYMENT = "test"
TICK_SECONDS = 60.0


def job_spec(name: str, sim_work_hours: float, **extra: Any) -> dict[str, Any]:
    """A job submission for the simulated market, whose container exits after ``sim_work_hours`` of running;
    ``extra`` adds or overrides fields (``offer_filter`` among them)."""
    spec: dict[str, Any] = {
        "name": name,
        "image": "img",
        "max_price_per_gpu": 0.6,
        "env": {"SIM_WORK_HOURS": f"{sim_work_hours:g}"},
    }
    spec.update(extra)
    return spec


@dataclass
class World:
    """A simulator, an API client into it, a store, and the daemon under test."""

    clock: ManualClock
    sim: Simulator
    api: MarketApi
    store: Store
    requests: list[tuple[str, str]] = field(default_factory=list)
    """Every (method, path) our daemon's client sent to the simulator."""

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    def daemon(
        self,
        *,
        registry: Registry | None = None,
        metrics: Metrics | None = None,
        memory: MarketMemory | None = None,
        checkpoint: Checkpoint | None = None,
        **config: Any,
    ) -> Daemon:
        """A daemon on this world; ``config`` goes to ``DaemonConfig``."""
        options: dict[str, Any] = {
            "deployment": DEPLOYMENT,
            "tick_seconds": TICK_SECONDS,
            "budget": Budget(),
            "config_hash": "test",
        }
        options.update(config)
        return Daemon(
            DaemonConfig(**options),
            self.api,
            self.store,
            EpochClock(self.clock.now),
            registry=registry,
            metrics=metrics,
            memory=memory,
            checkpoint=checkpoint,
        )

    def other_client(self) -> MarketApi:
        """A second client on the same account (a competitor's or the user's own hand)."""
        client = httpx.Client(transport=self.sim.transport(), base_url="http://sim.local")
        return make_market_api("native", client, KEY, sleep=lambda _s: None, monotonic=self.clock.now)

    def run(self, daemon: Daemon, ticks: int, *, seconds: float = TICK_SECONDS) -> list[TickResult]:
        """Tick, then let ``seconds`` of market time pass, ``ticks`` times."""
        results = []
        for _ in range(ticks):
            results.append(daemon.tick())
            self.sim.advance(seconds)
        return results

    def ours(self) -> list[Instance]:
        """The instances on the sim that carry our deployment's prefix."""
        prefix = f"vastbid:{DEPLOYMENT}:"
        return [i for i in self.api.list_instances() if i.label and i.label.startswith(prefix)]


def recording_transport(sim: Simulator, log: list[tuple[str, str]]) -> httpx.BaseTransport:
    inner = sim.transport()

    class _Recording(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            log.append((request.method, request.url.path))
            return inner.handle_request(request)

    return _Recording()


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[Callable[..., World]]:
    """Build a world; keyword arguments go to ``SimConfig`` (quiet ``small`` market by default)."""
    stores: list[Store] = []

    def build(**sim_options: Any) -> World:
        options: dict[str, Any] = {"seed": 3, "scenario": "small", "processes": False, "api_key": KEY}
        options.update(sim_options)
        clock = ManualClock(start=START)
        sim = Simulator(SimConfig(**options), clock=clock)
        requests: list[tuple[str, str]] = []
        client = httpx.Client(transport=recording_transport(sim, requests), base_url="http://sim.local")
        api = make_market_api("native", client, KEY, sleep=lambda _s: None, monotonic=clock.now)
        store = open_store(
            f"sqlite:///{tmp_path}/daemon-{len(stores)}.db",
            upgrade=True,
            clock=lambda: datetime.fromtimestamp(clock.now(), UTC),
        )
        stores.append(store)
        return World(clock=clock, sim=sim, api=api, store=store, requests=requests)

    yield build
    for store in stores:
        store.close()


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()
