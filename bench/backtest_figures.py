"""The reference backtests (Can't Be Late setting): 48 h of work, work/deadline 0.8, restart overhead 0.2 h.

Runs, on 2 processes: each V100 zone alone (all four deadline strategies, ``--starts`` windows each), the V100
folder as one multi-zone market, and Uniform Progress alone in the zone with the cheapest mean spot price (the
"cheapest zone chosen up front" baseline). Prints one JSON document with every summary.

    .venv/bin/python bench/backtest_figures.py --starts 300 --seed 0 > figures.json
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from vastbid.backtest.experiment import run_experiment
from vastbid.backtest.model import JobShape
from vastbid.backtest.traces import load_traces, trace_set
from vastbid.strategies.registry import Registry

STRATEGIES = ("on_demand", "greedy", "uniform_progress", "deadline_aware")


def experiment(files: list[str], names: tuple[str, ...], starts: int, seed: int) -> tuple[str, dict[str, object]]:
    traces = trace_set(load_traces(files))
    shape = JobShape.from_hours(48.0, 0.8, 0.2, traces.gap_hours)
    registry = Registry.from_entry_points()
    result = run_experiment(traces, shape, [registry.build(n) for n in names], starts=starts, seed=seed)
    key = ",".join(traces.names)
    return key, {n: s.as_dict() for n, s in result.summary().items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folder", default="/work/shared/traces/aws-v100")
    parser.add_argument("--starts", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    files = sorted(str(p) for p in Path(args.folder).glob("*.json"))
    zones = load_traces(files)
    cheapest = min(zip(files, zones, strict=True), key=lambda fz: float(fz[1].spot_price.mean()))[0]
    jobs: list[tuple[list[str], tuple[str, ...], int, int]] = [([f], STRATEGIES, args.starts, args.seed) for f in files]
    jobs.append((files, STRATEGIES, args.starts, args.seed))
    jobs.append(([cheapest], ("uniform_progress",), args.starts, args.seed))
    out: dict[str, object] = {}
    with ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(experiment, *job) for job in jobs]
        for index, future in enumerate(futures):
            key, summary = future.result()
            label = "multi_zone" if index == len(files) else ("cheapest_zone_up" if index > len(files) else key)
            out[label] = {"traces": key, "strategies": summary}
            print(f"done: {label}", file=sys.stderr)
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
