"""The official ``vastai`` CLI (1.9.x) works against the simulator over a real socket."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from vastbid.sim import ManualClock, SimConfig, Simulator

VASTAI = Path(sys.executable).with_name("vastai")
KEY = "cli-test-key"

pytestmark = [
    pytest.mark.skipif(not VASTAI.exists(), reason="the vastai CLI is not installed in this environment"),
    pytest.mark.slow,  # every vastai start imports for one to three seconds
]


@pytest.fixture
def sim() -> Simulator:
    return Simulator(
        SimConfig(seed=5, scenario="small", processes=False, api_key=KEY), clock=ManualClock(start=1_800_000_000.0)
    )


@pytest.fixture
def served(sim: Simulator, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    with sim.serve() as url:
        env = {
            **os.environ,
            "VAST_URL": url,
            "VAST_API_KEY": KEY,
            "VASTAI_NO_UPDATE_CHECK": "1",
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "XDG_STATE_HOME": str(tmp_path / "state"),
            "NO_COLOR": "1",
            "COLUMNS": "200",
        }
        yield url, env


def vastai(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VASTAI), *args], check=False, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )


def raw(env: dict[str, str], *args: str) -> Any:
    done = vastai(env, "--raw", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def instance(url: str, instance_id: int) -> dict[str, Any] | None:
    reply = httpx.get(f"{url}/api/v0/instances/{instance_id}/", headers={"Authorization": f"Bearer {KEY}"})
    row: dict[str, Any] | None = reply.json()["instances"]
    return row


def test_search_then_an_interruptible_instance_through_its_whole_life(
    sim: Simulator, served: tuple[str, dict[str, str]]
) -> None:
    url, env = served
    found = raw(env, "search", "offers", "num_gpus=1 reliability>0.85", "-i", "-o", "dph_total", "--limit", "5")
    assert 0 < len(found) <= 5
    assert all(o["num_gpus"] == 1 and o["reliability"] > 0.85 and o["verification"] == "verified" for o in found)
    assert [o["dph_total"] for o in found] == sorted(o["dph_total"] for o in found)
    offer = found[0]
    assert offer["dph_base"] == pytest.approx(offer["min_bid"])  # an interruptible search prices from the minimum
    price = round(offer["min_bid"] + 0.02, 4)
    created = raw(
        env,
        "create",
        "instance",
        str(offer["id"]),
        "--image",
        "pytorch/pytorch",
        "--disk",
        "20",
        "--bid_price",
        str(price),
    )
    assert created["success"] is True
    iid = int(created["new_contract"])
    row = instance(url, iid)
    assert row is not None and row["is_bid"] is True and row["dph_base"] == pytest.approx(price)

    listed = raw(env, "show", "instances")
    assert [r["id"] for r in listed] == [iid] and listed[0]["extra_env"] == {}
    sim.advance(200)
    assert instance(url, iid)["actual_status"] == "running"  # type: ignore[index]

    changed = vastai(env, "change", "bid", str(iid), "--price", str(price + 0.05))
    assert changed.returncode == 0 and "bid price changed" in changed.stdout.lower()
    assert instance(url, iid)["dph_base"] == pytest.approx(price + 0.05)  # type: ignore[index]

    assert "stopping" in vastai(env, "stop", "instance", str(iid)).stdout
    assert instance(url, iid)["actual_status"] == "stopped"  # type: ignore[index]
    assert "starting" in vastai(env, "start", "instance", str(iid)).stdout
    sim.advance(200)
    assert instance(url, iid)["actual_status"] == "running"  # type: ignore[index]

    user = raw(env, "show", "user")
    assert user["credit"] < 100.0 and "api_key" not in user and KEY not in json.dumps(user)

    destroyed = vastai(env, "destroy", "instance", str(iid), "-y")
    assert destroyed.returncode == 0 and "destroying instance" in destroyed.stdout
    assert instance(url, iid) is None
    assert raw(env, "show", "instances") == []
