"""Trace mode: zones follow their files' minimum bids and availability; an unavailable zone outbids ours."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from sim_helpers import START, create, offers, show

from vastbid.errors import SimError
from vastbid.sim import ManualClock, SimConfig, Simulator


def _zone(tmp_path: Path) -> str:
    path = tmp_path / "zone.json"
    path.write_text(
        json.dumps(
            {
                "name": "test-zone-v100x1",
                "zone": "us-east-1a",
                "gpu_name": "Tesla V100",
                "num_gpus": 1,
                "gap_seconds": 600,
                "on_demand_price": 3.06,
                "available": [1, 1, 0, 0, 1],
                "spot_price": [0.9, 1.0, 1.0, 1.1, 1.2],
            }
        )
    )
    return str(path)


def test_trace_zone_prices_and_availability_follow_the_file(tmp_path: Path) -> None:
    sim = Simulator(
        SimConfig(scenario="trace", trace_files=[_zone(tmp_path)], trace_pool_size=2), clock=ManualClock(start=START)
    )
    with httpx.Client(
        transport=sim.transport(), base_url="http://sim.local", headers={"Authorization": "Bearer sim-key"}
    ) as client:
        zone = offers(client, type="bid", gpu_name={"eq": "Tesla V100"})
        assert len(zone) == 2 and all(o["min_bid"] == pytest.approx(0.9) for o in zone)
        assert all(o["dph_base"] == pytest.approx(0.9) for o in zone)
        assert offers(client, gpu_name={"eq": "Tesla V100"})[0]["dph_base"] == pytest.approx(3.06)
        iid = create(client, zone[0]["id"], 1.5).json()["new_contract"]
        sim.advance(600)
        assert offers(client, type="bid", gpu_name={"eq": "Tesla V100"})[0]["min_bid"] >= 1.0
        assert show(client, iid)["actual_status"] == "running"  # type: ignore[index]
        sim.advance(600)  # tick 2: unavailable
        assert states_of(show(client, iid)) == ("stopped", "stopped")
        assert min(o["min_bid"] for o in offers(client, type="bid", gpu_name={"eq": "Tesla V100"})) >= 100.0
        sim.advance(1200)  # tick 4: available again, ours resumes
        assert show(client, iid)["intended_status"] == "running"  # type: ignore[index]


def states_of(row: dict[str, object] | None) -> tuple[object, object]:
    assert row is not None
    return row["actual_status"], row["intended_status"]


def test_a_bad_trace_file_is_a_sim_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x"}')
    with pytest.raises(SimError, match="missing"):
        Simulator(SimConfig(scenario="trace", trace_files=[str(bad)]), clock=ManualClock(start=START))
    with pytest.raises(SimError):
        SimConfig(scenario="nope")


def test_real_trace_files_load(traces_dir: Path) -> None:
    folder = traces_dir / "aws-v100"
    files = sorted(str(p) for p in folder.glob("*.json"))[:2]
    sim = Simulator(SimConfig(scenario="trace", trace_files=files), clock=ManualClock(start=START))
    sim.advance(86400)
    assert len(sim.state.offers) == 2 * 4
