"""Wiring a daemon from settings: the market client paces its calls on the clock it is given, on both surfaces."""

from __future__ import annotations

import time

import pytest

from vastbid.config.settings import MarketSettings, Settings, Surface
from vastbid.daemon.wiring import market_api
from vastbid.sim import ManualClock, SimConfig, Simulator
from vastbid.vast.port import CreateRequest

KEY = "wiring-key"


@pytest.mark.parametrize("surface", [Surface.NATIVE, Surface.LOWCODE])
def test_creates_are_paced_on_the_simulator_s_clock_not_the_wall_clock(
    surface: Surface, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = ManualClock(start=1_800_000_000.0)
    sim = Simulator(SimConfig(seed=3, scenario="small", processes=False, api_key=KEY, lowcode_token=KEY), clock=clock)
    settings = Settings(market=MarketSettings(surface=surface))
    slept: list[float] = []

    def sim_sleep(seconds: float) -> None:  # what `run --simulate` passes: time passes on the market's clock
        slept.append(seconds)
        clock.advance(seconds)

    def wall_sleep(seconds: float) -> None:
        raise AssertionError(f"paced on the wall clock ({seconds:.2f} s)")

    monkeypatch.setattr(time, "sleep", wall_sleep)
    base = "http://sim.local" + ("/vastai" if surface is Surface.LOWCODE else "")
    api = market_api(settings, transport=sim.transport(), base_url=base, key=KEY, monotonic=clock.now, sleep=sim_sleep)
    offers = [o for o in api.search_offers("rentable=true", limit=50, order="dph_total") if o.num_gpus == 1][:3]
    assert len(offers) == 3
    for number, offer in enumerate(offers):
        api.create_instance(offer.id, CreateRequest(image="img", disk_gb=10, label=f"pace-{number}"))

    # Vast asks 4.5 s between creates: two waits, measured and spent on the simulator's clock.
    assert len(slept) == 2
    assert all(4.0 < wait <= 4.5 for wait in slept)
