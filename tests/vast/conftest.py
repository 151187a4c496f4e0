"""Fixtures for the market API tests: a simulator, a client over it (in process or over a real socket), and an
adapter whose clock and sleep are the simulator's manual clock (no test waits in real time)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from vastbid.sim import FaultConfig, ManualClock, SimConfig, Simulator
from vastbid.vast.factory import make_market_api
from vastbid.vast.http import HttpSettings, RetryPolicy
from vastbid.vast.lowcode import LowCodeApi
from vastbid.vast.native import NativeVastApi

API_KEY = "sim-key-0123456789abcdef"
LOWCODE_TOKEN = "sim-token-fedcba9876543210"
START = 1_800_000_000.0


@dataclass
class Market:
    """One simulator, the client into it and what the client did."""

    sim: Simulator
    client: httpx.Client
    surface: str
    sleeps: list[float] = field(default_factory=list)
    sent: list[httpx.Request] = field(default_factory=list)

    @property
    def key(self) -> str:
        return API_KEY if self.surface == "native" else LOWCODE_TOKEN

    def sleep(self, seconds: float) -> None:
        """The adapter's sleep: recorded, and the simulator's clock moves instead of real time passing."""
        self.sleeps.append(seconds)
        self.sim.advance(seconds)

    def monotonic(self) -> float:
        return self.sim.clock.now()

    def api(self, **opts: Any) -> Any:
        """A fresh adapter for this surface on the shared client."""
        opts.setdefault("settings", HttpSettings(timeout=5.0, retry=RetryPolicy(max_attempts=3, backoff_initial=0.5)))
        return make_market_api(
            self.surface,  # type: ignore[arg-type]
            self.client,
            self.key,
            monotonic=self.monotonic,
            sleep=self.sleep,
            **opts,
        )

    def count(self, fragment: str) -> int:
        """Requests sent whose path contains ``fragment``."""
        return sum(1 for r in self.sent if fragment in r.url.path)


def make_sim(*, scenario: str = "small", seed: int = 7) -> Simulator:
    config = SimConfig(seed=seed, scenario=scenario, api_key=API_KEY, lowcode_token=LOWCODE_TOKEN, processes=False)
    return Simulator(config, clock=ManualClock(start=START), faults=FaultConfig(seed=seed))


@pytest.fixture(params=["native", "lowcode"])
def surface(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["inprocess", "socket"])
def wire(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def open_market(stack: ExitStack, surface: str, wire: str) -> Market:
    sim = make_sim()
    sent: list[httpx.Request] = []
    hooks = {"request": [sent.append]}
    if wire == "inprocess":
        client = httpx.Client(transport=sim.transport(), base_url="http://sim.local", event_hooks=hooks)
    else:
        url = stack.enter_context(sim.serve(host="127.0.0.1", port=0))
        client = httpx.Client(base_url=url, event_hooks=hooks)
    stack.callback(client.close)
    return Market(sim=sim, client=client, surface=surface, sent=sent)


@pytest.fixture
def market(surface: str, wire: str) -> Iterator[Market]:
    with ExitStack() as stack:
        yield open_market(stack, surface, wire)


@pytest.fixture
def inprocess_market(surface: str) -> Iterator[Market]:
    """Both surfaces, in process only (fault and pacing tests)."""
    with ExitStack() as stack:
        yield open_market(stack, surface, "inprocess")


@pytest.fixture
def api(market: Market) -> NativeVastApi | LowCodeApi:
    return market.api()  # type: ignore[no-any-return]
