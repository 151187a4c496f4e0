"""Secrets stay out of logs and reprs; the server survives concurrent clients on a scaled clock."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from vastbid.sim import ScaledClock, SimConfig, Simulator


def test_request_logs_redact_the_key_and_the_token(caplog: pytest.LogCaptureFixture) -> None:
    config = SimConfig(seed=1, scenario="small", processes=False, api_key="k-SECRET-1", lowcode_token="t-SECRET-2")
    assert "SECRET" not in repr(config)
    sim = Simulator(config)
    with caplog.at_level(logging.INFO), sim.serve() as url:
        assert httpx.get(f"{url}/api/v0/users/current", params={"api_key": "k-SECRET-1"}).status_code == 200
        assert httpx.get(f"{url}/vastai/balance", params={"api_token": "t-SECRET-2"}).status_code == 200
        assert httpx.get(f"{url}/vastai/balance", params={"api_token": "t-SECRET-3"}).status_code == 401
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "werkzeug")
    assert "/vastai/balance" in text and "REDACTED" in text
    assert "SECRET" not in text


def test_concurrent_clients_on_a_scaled_clock() -> None:
    sim = Simulator(SimConfig(seed=2, scenario="small"), clock=ScaledClock(speed=3600.0))
    with sim.serve() as url, httpx.Client(base_url=url, headers={"Authorization": "Bearer sim-key"}) as client:

        def search(_: int) -> int:
            return len(client.post("/api/v0/bundles/", json={"limit": 100}).json()["offers"])

        with ThreadPoolExecutor(max_workers=4) as pool:
            counts = list(pool.map(search, range(12)))
    assert all(count > 0 for count in counts)
    assert sim.state.now > sim.state.epoch  # the market moved with the clock
