"""Fixtures for the simulator tests: a small quiet market on a manual clock, and an httpx client into it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sim_helpers import START

from vastbid.sim import ManualClock, SimConfig, Simulator


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=START)


@pytest.fixture
def sim(clock: ManualClock) -> Simulator:
    return Simulator(SimConfig(seed=3, scenario="small", processes=False), clock=clock)


@pytest.fixture
def client(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=sim.transport(), base_url="http://sim.local", headers={"Authorization": "Bearer sim-key"}
    ) as c:
        yield c
