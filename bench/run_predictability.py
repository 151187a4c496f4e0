"""How predictable is the length of a run of spot capacity from what an online policy can observe?

``deadline_aware`` fed the exact remaining lifetime of the current run reaches a far lower regret than with its
estimate (``backtest_bounds.py``). This asks whether any observable could close that gap: per trace, the Spearman
rank correlation between a run's length and

- ``previous_run``: the length of the run before it;
- ``previous_gap``: the length of the gap without capacity just before it;
- ``mean_of_last_5_runs``: the mean length of the five runs before it;
- ``price_at_start``: the spot price on its first tick;
- ``hour_of_day``: the UTC hour it started (as a rank, a monotone trend within the day only);

plus the share of runs shorter than two restart overheads (0.4 h), the ones a policy would rather skip. A
correlation near 0 means the observable says next to nothing about how long the run will last; what is left to a
policy is the run's age.

    .venv/bin/python bench/run_predictability.py [--folder ../shared/traces/aws-v100] [--json]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vastbid.backtest.traces import Trace, load_traces

SHORT_RUN_HOURS = 0.4


def spearman(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> float:
    """Rank correlation (ties broken by order; enough for a summary)."""
    if len(x) < 3:
        return float("nan")
    rx = np.argsort(np.argsort(x)).astype(np.float64)
    ry = np.argsort(np.argsort(y)).astype(np.float64)
    return float(np.corrcoef(rx, ry)[0, 1])


def runs_of(available: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Starts and ends (exclusive) of the runs of available ticks."""
    padded = np.concatenate(([0], available.astype(np.int8), [0]))
    edges = np.diff(padded)
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def analyse(trace: Trace) -> dict[str, float | int]:
    """The correlations and shares above for one zone."""
    starts, ends = runs_of(np.asarray(trace.available, dtype=np.bool_))
    gap = trace.gap_seconds / 3600.0
    length = (ends - starts).astype(np.float64) * gap
    gaps = (starts[1:] - ends[:-1]).astype(np.float64) * gap
    prices = np.asarray(trace.spot_price, dtype=np.float64)
    hours = np.array([(trace.start + timedelta(seconds=int(s) * trace.gap_seconds)).hour for s in starts], dtype=float)
    last5 = np.array([length[i - 5 : i].mean() for i in range(5, len(length))])
    return {
        "runs": len(length),
        "mean_run_hours": round(float(length.mean()), 3),
        "median_run_hours": round(float(np.median(length)), 3),
        "share_under_0.4h": round(float((length < SHORT_RUN_HOURS).mean()), 3),
        "previous_run": round(spearman(length[1:], length[:-1]), 3),
        "previous_gap": round(spearman(length[1:], gaps), 3),
        "mean_of_last_5_runs": round(spearman(length[5:], last5), 3),
        "price_at_start": round(spearman(length, prices[starts]), 3),
        "hour_of_day": round(spearman(length, hours), 3),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folder", default=str(Path(__file__).resolve().parents[2] / "shared" / "traces" / "aws-v100"))
    parser.add_argument("--json", action="store_true", help="print JSON (the default prints it too, indented)")
    args = parser.parse_args(argv)
    files = sorted(str(p) for p in Path(args.folder).glob("*.json"))
    out = {trace.name: analyse(trace) for trace in load_traces(files)}
    print(json.dumps(out, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
