"""``run_forever`` in a real process: SIGTERM lets the tick in flight finish, saves what the daemon learned of the
market and the process exits 0."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from vastbid.sim import ManualClock, SimConfig, Simulator
from vastbid.store.store import open_store

from ._world import KEY, START

DRIVER = Path(__file__).with_name("_driver.py")


def test_sigterm_stops_the_loop_with_exit_code_zero(tmp_path: Path) -> None:
    sim = Simulator(SimConfig(seed=3, scenario="small", processes=False, api_key=KEY), clock=ManualClock(start=START))
    db = tmp_path / "loop.db"
    store = open_store(f"sqlite:///{db}", upgrade=True)
    store.jobs.submit({"name": "j", "image": "img", "offer_filter": "gpu_name=RTX_3090", "max_price_per_gpu": 0.6})
    store.close()
    with sim.serve(host="127.0.0.1", port=0) as url:
        proc = subprocess.Popen(
            [sys.executable, str(DRIVER), url, str(db), "forever", "0.2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            ticks = 0
            deadline = time.monotonic() + 20
            while ticks < 2 and time.monotonic() < deadline:  # wait on the process, not on time
                if proc.stdout.readline().startswith("tick"):
                    ticks += 1
            assert ticks == 2
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert code == 0, proc.stderr.read() if proc.stderr else ""

    store = open_store(f"sqlite:///{db}", upgrade=True)
    last = store.ticks.last()
    assert last is not None
    assert last.finished_at is not None, "the tick in flight was cut off"
    # seconds of ticking, well under the 15-minute periodic save: only the stop saved the spot runs
    assert store.spot_runs.load(), "the spot-run statistics were not saved on stop"
    store.close()
