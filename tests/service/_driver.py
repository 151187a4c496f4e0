"""The daemon's real loop over an embedded simulator, for the service tests: ``python _driver.py --db FILE ...``.

What ``vastbid run --simulate`` wires, minus the client-side pacing of creates (Vast's real rate limits, which
make the first simulated tick take about 20 s) and with a tick shorter than the settings allow. Options:
``--tick S`` seconds between ticks; ``--http HOST:PORT`` serve /metrics, /healthz, /readyz; ``--outage-flag
PATH`` while that file exists, the simulator answers every request with 503 (a market that stopped answering).
Prints ``tick <id> ok|failed`` after each tick. Loads standalone: no test imports.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import threading
import time
from datetime import UTC, timedelta
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry

from vastbid.backtest.scenario import demo_jobs
from vastbid.core.budget import Budget
from vastbid.daemon.clock import EpochClock
from vastbid.daemon.config import DaemonConfig
from vastbid.daemon.loop import run_forever
from vastbid.daemon.service import READY_INTERVALS, DaemonService
from vastbid.daemon.tick import Daemon
from vastbid.daemon.wiring import MeteredTransport
from vastbid.obs.http import HttpApp, HttpServer
from vastbid.obs.logging import configure_logging
from vastbid.obs.metrics import Metrics
from vastbid.sim import ScaledClock, SimConfig, Simulator
from vastbid.store.store import open_store
from vastbid.vast.factory import make_market_api

SPEED = 60.0


def watch_outage(flag: Path, sim: Simulator) -> None:
    """Keep the simulator's faults in step with the flag file (checked every 50 ms)."""
    rule = None
    while True:
        down = flag.exists()
        if down and rule is None:
            rule = sim.faults.add("server_error", "*", count=None, status=503)
            print("outage on", flush=True)
        elif not down and rule is not None:
            sim.faults.rules.remove(rule)
            rule = None
            print("outage off", flush=True)
        time.sleep(0.05)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--tick", type=float, default=0.5)
    parser.add_argument("--http")
    parser.add_argument("--outage-flag", type=Path)
    opts = parser.parse_args(argv)

    configure_logging(level="warning", fmt="json")
    key = secrets.token_hex(16)
    sim_clock = ScaledClock(speed=SPEED)
    sim = Simulator(SimConfig(seed=7, scenario="default", api_key=key), clock=sim_clock)
    metrics = Metrics(CollectorRegistry())
    client = httpx.Client(transport=MeteredTransport(sim.transport(), metrics), base_url="http://sim.local")
    api = make_market_api("native", client, key, sleep=lambda _seconds: None)
    store = open_store(f"sqlite:///{opts.db}", upgrade=True)
    clock = EpochClock(sim_clock.now)
    store.jobs.submit_many(demo_jobs(clock.now().astimezone(UTC)))
    config = DaemonConfig(deployment="service-test", tick_seconds=opts.tick, budget=Budget(), config_hash="service")
    daemon = Daemon(config, api, store, clock, metrics=metrics)
    if opts.outage_flag is not None:
        threading.Thread(target=watch_outage, args=(opts.outage_flag, sim), daemon=True).start()
    # As `vastbid run --simulate` does: the readiness window is on the simulator's clock, `speed` times faster.
    service = DaemonService(daemon, window=timedelta(seconds=READY_INTERVALS * opts.tick * SPEED))
    server = None
    if opts.http is not None:
        host, _, port = opts.http.rpartition(":")
        server = HttpServer(HttpApp(service, metrics.registry), host, int(port)).start()

    def after_tick() -> None:
        service.refresh_readiness()
        print("tick", flush=True)

    try:
        return run_forever(daemon, tick_seconds=opts.tick, on_tick=after_tick)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
