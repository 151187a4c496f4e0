"""Benchmark: the daemon's tick end to end against the simulator: API calls per steady tick, peak memory, wall time.

The simulator (``_market``: ``--offers`` offers, no other participants) runs in this process and serves over a
loopback socket; the daemon runs alone in a spawned child process, so the child's peak resident memory
(``ru_maxrss``) is the daemon's own: its imports, the search JSON, the parsed offers, the store, the plan. The child
queues ``--jobs`` jobs (the same varied set as ``bench/decide.py``) in a SQLite file store and ticks ``--ticks``
times; between ticks this process advances the simulator's manual clock by one tick interval (instances boot, the
market stays as it was). Every request is counted with an httpx event hook. The last tick is the **steady tick**:
nothing changed since the one before it. Targets: at most 3 API calls per steady tick; peak memory under 200 MB.

    .venv/bin/python bench/tick.py [--offers 20000] [--jobs 200] [--ticks 3] [--json]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import sys
import tempfile
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

TICK_SECONDS = 300.0
MAX_STEADY_CALLS = 3
MAX_PEAK_MB = 200.0


def daemon_child(conn: Connection, *, base_url: str, key: str, db_path: str, jobs: int, ticks: int) -> None:
    """The measured process: a daemon over ``base_url``; ticks when told, answers with each tick's figures."""
    import httpx  # only what the daemon itself needs is imported here

    from _market import job_specs, peak_rss_mb
    from vastbid.core.budget import Budget
    from vastbid.daemon.clock import EpochClock
    from vastbid.daemon.config import DaemonConfig
    from vastbid.daemon.tick import Daemon
    from vastbid.obs.logging import configure_logging
    from vastbid.store.store import open_store
    from vastbid.vast.factory import make_market_api

    with open(os.devnull, "w") as sink:
        configure_logging(level="info", fmt="json", stream=sink)
        calls: Counter[str] = Counter()

        def count(request: httpx.Request) -> None:
            calls[f"{request.method} {request.url.path}"] += 1

        epoch = [float(conn.recv())]
        client = httpx.Client(base_url=base_url, event_hooks={"request": [count]}, timeout=120.0)
        api = make_market_api("native", client, key, sleep=lambda _s: None)
        store = open_store(f"sqlite:///{db_path}", upgrade=True)
        store.jobs.submit_many(job_specs(jobs))
        config = DaemonConfig(deployment="bench", tick_seconds=TICK_SECONDS, budget=Budget(), config_hash="bench")
        daemon = Daemon(config, api, store, EpochClock(lambda: epoch[0]))
        conn.send({"rss_before_ticks_mb": peak_rss_mb()})
        for _ in range(ticks):
            epoch[0] = float(conn.recv())
            calls.clear()
            started = time.perf_counter()
            result = daemon.tick()
            seconds = time.perf_counter() - started
            conn.send(
                {
                    "ok": result.ok,
                    "error": result.error,
                    "actions": result.actions,
                    "seconds": round(seconds, 4),
                    "api_calls": sum(calls.values()),
                    "calls_by_endpoint": dict(sorted(calls.items())),
                    "peak_rss_mb": round(peak_rss_mb(), 1),
                }
            )
        store.close()
        client.close()


def run(offers: int, jobs: int, ticks: int) -> dict[str, Any]:
    """Serve the market, run the daemon child through ``ticks`` ticks; the figures."""
    from _market import SIM_KEY, build_simulator

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the simulator's per-request access log
    sim, clock = build_simulator(offers)
    listed = len(sim.state.offers)
    ctx = multiprocessing.get_context("spawn")
    parent_end, child_end = ctx.Pipe()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, sim.serve(host="127.0.0.1", port=0) as url:
        db_path = str(Path(tmp) / "bench.db")
        child = ctx.Process(
            target=daemon_child,
            args=(child_end,),
            kwargs={"base_url": url, "key": SIM_KEY, "db_path": db_path, "jobs": jobs, "ticks": ticks},
        )
        child.start()
        try:
            parent_end.send(clock.now())
            before: dict[str, Any] = parent_end.recv()
            for index in range(ticks):
                if index:
                    sim.advance(TICK_SECONDS)
                parent_end.send(clock.now())
                results.append(parent_end.recv())
        finally:
            child.join(timeout=600)
            if child.is_alive():
                child.kill()
        ours = len(sim.state.account_instances())
    steady = results[-1]
    peak = max(r["peak_rss_mb"] for r in results)
    return {
        "offers_listed": listed,
        "jobs": jobs,
        "ticks": results,
        "instances_held": ours,
        "steady_tick_api_calls": steady["api_calls"],
        "steady_tick_calls_by_endpoint": steady["calls_by_endpoint"],
        "steady_tick_seconds": steady["seconds"],
        "first_tick_seconds": results[0]["seconds"],
        "first_tick_api_calls": results[0]["api_calls"],
        "rss_before_ticks_mb": round(before["rss_before_ticks_mb"], 1),
        "peak_rss_mb": peak,
        "target_steady_calls": MAX_STEADY_CALLS,
        "target_peak_mb": MAX_PEAK_MB,
    }


def main(argv: list[str] | None = None) -> None:
    from _market import emit

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--offers", type=int, default=20_000)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--ticks", type=int, default=3, help="at least 2: the last one is the steady tick")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    figures = run(args.offers, args.jobs, max(args.ticks, 2))
    calls, peak = figures["steady_tick_api_calls"], figures["peak_rss_mb"]
    table = [
        ("offers listed / jobs", f"{figures['offers_listed']:,} / {figures['jobs']}"),
        ("instances held", str(figures["instances_held"])),
    ]
    for index, tick in enumerate(figures["ticks"], 1):
        status = "ok" if tick["ok"] else f"FAILED {tick['error']}"
        what = f"{tick['seconds']:.2f} s, {tick['api_calls']} calls, {tick['actions']} actions, {status}"
        table.append((f"tick {index}", what))
    table += [
        ("steady tick API calls", f"{calls}  (target <= {MAX_STEADY_CALLS}: {'met' if calls <= 3 else 'MISSED'})"),
        ("  by endpoint", ", ".join(f"{k} x{v}" for k, v in figures["steady_tick_calls_by_endpoint"].items())),
        ("daemon RSS before ticks", f"{figures['rss_before_ticks_mb']:.1f} MB"),
        ("daemon peak RSS", f"{peak:.1f} MB  (target < {MAX_PEAK_MB:.0f}: {'met' if peak < 200 else 'MISSED'})"),
    ]
    emit(figures, table, as_json=args.json)


if __name__ == "__main__":
    main()
