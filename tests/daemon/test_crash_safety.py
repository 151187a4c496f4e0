"""A daemon SIGKILLed in the middle of a create (a real process) loses nothing and doubles nothing on restart."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from vastbid.core.labels import parse_label
from vastbid.sim import ManualClock, SimConfig, Simulator
from vastbid.store.decisions import DecisionOutcome
from vastbid.store.instances import InstanceRecordState
from vastbid.store.store import open_store
from vastbid.vast.factory import make_market_api

from ._world import DEPLOYMENT, KEY, START

DRIVER = Path(__file__).with_name("_driver.py")


def drive(url: str, db: Path, mode: str, ticks: int = 1) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DRIVER), url, str(db), mode, str(ticks)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("point", ["after_intent", "after_create"])
def test_a_daemon_killed_mid_create_recovers_without_duplicates_or_lost_rows(tmp_path: Path, point: str) -> None:
    clock = ManualClock(start=START)
    sim = Simulator(SimConfig(seed=3, scenario="small", processes=False, api_key=KEY), clock=clock)
    db = tmp_path / "crash.db"
    store = open_store(f"sqlite:///{db}", upgrade=True)
    jobs = store.jobs.submit_many(
        [
            {"name": f"j{n}", "image": "img", "offer_filter": "gpu_name=RTX_3090", "max_price_per_gpu": 0.6}
            for n in range(2)
        ]
    )
    store.close()
    prefix = f"vastbid:{DEPLOYMENT}:"

    with sim.serve(host="127.0.0.1", port=0) as url:
        killed = drive(url, db, f"kill:{point}")
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        store = open_store(f"sqlite:///{db}", upgrade=True)
        before = {d.id: d for d in store.decisions.query()}
        assert any(d.action == "place_bid" and d.outcome is DecisionOutcome.PLANNED for d in before.values())
        store.close()
        made = [i for i in sim_instances(url) if i[1].startswith(prefix)]
        assert len(made) == (1 if point == "after_create" else 0)

        sim.advance(60)
        again = drive(url, db, "ticks", 3)
        assert again.returncode == 0, again.stderr[-2000:]
        listed = [i for i in sim_instances(url) if i[1].startswith(prefix)]

    store = open_store(f"sqlite:///{db}", upgrade=True)
    after = {d.id: d for d in store.decisions.query()}
    assert set(before) <= set(after), "a decision row written before the crash was lost"
    assert len(after) > len(before)
    held: dict[int, list[int]] = {}
    for instance_id, label in listed:
        parsed = parse_label(label)
        assert parsed is not None
        held.setdefault(parsed[1], []).append(instance_id)
    for job in jobs:
        current = store.jobs.get(job.id)
        assert len(held.get(job.id, [])) == 1, f"job {job.id} holds {held.get(job.id)}"
        assert current.instance_id == held[job.id][0]
    for instance_id, _label in listed:
        record = store.instances.by_instance_id(instance_id)
        assert record is not None, f"instance {instance_id} is not accounted for"
        assert record.state is InstanceRecordState.LIVE
    assert store.instances.open_intents() == []
    store.close()


def sim_instances(url: str) -> list[tuple[int, str]]:
    """(id, label) of every instance on the account, read through the API."""
    api = make_market_api("native", httpx.Client(base_url=url), KEY, sleep=lambda _s: None)
    return [(i.id, i.label or "") for i in api.list_instances()]
