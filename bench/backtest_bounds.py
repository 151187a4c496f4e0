"""What an online policy can reach on the reference backtests: policies with partial future knowledge vs the oracle.

Same setting and windows as ``backtest_figures.py`` (48 h of work, work/deadline 0.8, restart overhead 0.2 h, the
same seeded start ticks), per V100 zone and for the six zones as one market. Per window, the exact DP oracle's cost;
then the mean regret (cost / oracle - 1) and deadline misses of:

- ``uniform_progress`` and ``deadline_aware``: the registered online strategies (no future knowledge);
- ``up_lifetime_oracle``: Uniform Progress plus the paper's next-spot-lifetime oracle (it knows exactly how long
  each zone's current spot capacity will last): from idle take spot only if it lasts > kd/(k-1), leave on demand
  (after UP's hysteresis) only for a spot lasting > 2kd/(k-1);
- ``da_lifetime_oracle``: ``deadline_aware`` with that same exact lifetime instead of its estimate;
- ``lookahead_<H>h``: ``deadline_aware`` that sees every zone's availability for the next H hours: lifetimes
  known up to H, and when it would go on demand from idle it waits instead if a spot (lasting past its overhead)
  returns within H and the wait leaves the slack above 3 restart overheads.

These policies live here only (they read the trace's future, so they are no strategy a daemon could run).

    .venv/bin/python bench/backtest_bounds.py --starts 300 --seed 0 > bounds.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from vastbid.backtest.experiment import make_sample, sample_starts
from vastbid.backtest.model import JobShape
from vastbid.backtest.replay import replay
from vastbid.backtest.traces import TraceSet, load_traces, trace_set
from vastbid.core.offers import Offer, RentalType
from vastbid.strategies import _deadline as dl
from vastbid.strategies.base import Choice, Strategy, StrategyContext, Verb
from vastbid.strategies.deadline_aware import DeadlineAware
from vastbid.strategies.uniform_progress import UniformProgress


def remaining_up_ticks(available: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """Per zone and tick: how many ticks from this one (included) spot capacity stays up (0 where down)."""
    zones, ticks = available.shape
    out = np.zeros((zones, ticks + 1), dtype=np.int64)
    for t in range(ticks - 1, -1, -1):
        out[:, t] = np.where(available[:, t], out[:, t + 1] + 1, 0)
    return out[:, :ticks]


def next_up_ticks(available: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """Per zone and tick: ticks until capacity is next up (0 when up now; a large number when never again)."""
    zones, ticks = available.shape
    never = 10 * ticks
    out = np.full((zones, ticks + 1), never, dtype=np.int64)
    for t in range(ticks - 1, -1, -1):
        out[:, t] = np.where(available[:, t], 0, np.minimum(out[:, t + 1] + 1, never))
    return out[:, :ticks]


class _Future:
    """The trace's future, indexed by the context's clock."""

    def __init__(self, traces: TraceSet) -> None:
        self._start = traces.start
        self._gap = traces.gap_hours
        self.up = remaining_up_ticks(traces.available())
        self.next_up = next_up_ticks(traces.available())

    def tick(self, ctx: StrategyContext) -> int:
        return round((ctx.now - self._start).total_seconds() / 3600.0 / self._gap)

    def lifetime_hours(self, ctx: StrategyContext, offer: Offer, cap_hours: float | None = None) -> float:
        life = float(self.up[offer.machine_id - 1, self.tick(ctx)]) * self._gap
        return life if cap_hours is None else min(life, cap_hours)

    def hours_until_lasting_spot(self, ctx: StrategyContext, horizon_hours: float, min_life_hours: float) -> float:
        """Hours until some zone has spot that then lasts > ``min_life_hours``; inf when none within the horizon."""
        now = self.tick(ctx)
        best = float("inf")
        for zone in range(self.up.shape[0]):
            wait = int(self.next_up[zone, now])
            at = now + wait
            within = at < self.up.shape[1] and wait * self._gap <= horizon_hours
            if within and self.up[zone, at] * self._gap > min_life_hours:
                best = min(best, wait * self._gap)
        return best


@dataclass(frozen=True, kw_only=True)
class LifetimeOracleDA(DeadlineAware):
    """``deadline_aware`` (any params) with the exact remaining lifetime, optionally seen only ``cap_hours`` ahead."""

    name: ClassVar[str] = "da_lifetime_oracle"
    future: _Future
    cap_hours: float | None = None

    def _lifetime(self, ctx: StrategyContext, offer: Offer, *, leaving: bool = False) -> float | None:
        if offer.min_bid >= offer.dph_total:
            return 0.0
        return self.future.lifetime_hours(ctx, offer, self.cap_hours)


@dataclass(frozen=True, kw_only=True)
class UpLifetimeOracle(LifetimeOracleDA):
    """The paper's UP + next-spot-lifetime oracle: UP's hysteresis, gates kd/(k-1) from idle, 2kd/(k-1) from OD
    (built with ``UP_ORACLE_PARAMS``)."""

    name: ClassVar[str] = "up_lifetime_oracle"

    def choose(self, ctx: StrategyContext) -> Choice:
        choice = super().choose(ctx)
        if choice.verb is Verb.KEEP and "no spot expected to last" in choice.why:
            # UP releases on-demand capacity once ahead with no spot to take (deadline_aware keeps it)
            return dl.idle(ctx, "ahead and no lasting spot: release on demand (UP)", dict(choice.facts))
        return choice


UP_ORACLE_PARAMS: dict[str, Any] = {"od_exit_slack": None, "leave_gate": 1.0, "idle_gate": 1.0, "bid_margin": 0.1}
"""``deadline_aware``'s parameters that make it Uniform Progress with the lifetime oracle's gates."""


@dataclass(frozen=True, kw_only=True)
class Lookahead(LifetimeOracleDA):
    """``deadline_aware`` that sees the next ``cap_hours`` of every zone's availability."""

    cap_hours: float | None = 1.0

    def choose(self, ctx: StrategyContext) -> Choice:
        choice = super().choose(ctx)
        schedule = dl.schedule_of(ctx)
        goes_on_demand = choice.verb in (Verb.ACQUIRE, Verb.MIGRATE) and choice.rental is RentalType.ON_DEMAND
        if schedule is None or not goes_on_demand or "safety net" in choice.why:
            return choice
        overhead = schedule.overhead
        horizon = self.cap_hours if self.cap_hours is not None else float("inf")
        wait = self.future.hours_until_lasting_spot(ctx, horizon, 2.0 * overhead)
        if schedule.slack - wait - overhead >= 3.0 * overhead:
            return dl.idle(ctx, f"spot returns in {wait:.2f} h: wait for it", dict(choice.facts))
        return choice


@dataclass(frozen=True, kw_only=True)
class Lookahead1h(Lookahead):
    """Sees 1 h ahead."""

    name: ClassVar[str] = "lookahead_1h"
    cap_hours: float | None = 1.0


@dataclass(frozen=True, kw_only=True)
class Lookahead6h(Lookahead):
    """Sees 6 h ahead."""

    name: ClassVar[str] = "lookahead_6h"
    cap_hours: float | None = 6.0


def policies(traces: TraceSet) -> list[Strategy]:
    """Every policy compared, fresh for one trace set."""
    future = _Future(traces)
    return [
        UniformProgress(),
        DeadlineAware(),
        UpLifetimeOracle(future=future, **UP_ORACLE_PARAMS),
        LifetimeOracleDA(future=future),
        Lookahead1h(future=future),
        Lookahead6h(future=future),
    ]


def evaluate(files: Sequence[str], starts: int, seed: int) -> tuple[str, dict[str, dict[str, float]]]:
    """Mean/p95 regret, misses and on-demand hours per policy on the seeded windows of one trace set."""
    traces = trace_set(load_traces(list(files)))
    shape = JobShape.from_hours(48.0, 0.8, 0.2, traces.gap_hours)
    chosen = policies(traces)
    regrets: dict[str, list[float]] = {p.name: [] for p in chosen}
    misses = dict.fromkeys(regrets, 0)
    od_hours: dict[str, list[float]] = {p.name: [] for p in chosen}
    for start in sample_starts(traces, shape, starts, seed):
        sample = make_sample(traces, shape, start)
        for policy in chosen:
            result = replay(policy, traces, shape, start)
            regrets[policy.name].append(result.cost / sample.oracle_cost - 1.0)
            misses[policy.name] += int(result.missed)
            od_hours[policy.name].append(result.on_demand_hours)
    summary = {
        name: {
            "mean_regret_pct": round(100 * float(np.mean(values)), 2),
            "p95_regret_pct": round(100 * float(np.percentile(values, 95)), 2),
            "deadline_misses": misses[name],
            "mean_on_demand_hours": round(float(np.mean(od_hours[name])), 2),
        }
        for name, values in regrets.items()
    }
    return ",".join(traces.names), summary


def main(argv: Sequence[str] | None = None, emit: Callable[[str], object] = print) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", default="/work/shared/traces/aws-v100")
    parser.add_argument("--starts", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-multi-zone", action="store_true", help="skip the six zones as one market")
    args = parser.parse_args(argv)
    files = sorted(str(p) for p in Path(args.folder).glob("*.json"))
    sets = [[f] for f in files] + ([] if args.no_multi_zone else [files])
    out: dict[str, object] = {}
    with ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(evaluate, s, args.starts, args.seed) for s in sets]
        for index, future in enumerate(futures):
            key, summary = future.result()
            label = "multi_zone" if len(sets[index]) > 1 else Path(sets[index][0]).stem
            out[label] = {"traces": key, "policies": summary}
            table = "  ".join(f"{n}={v['mean_regret_pct']}%/{v['deadline_misses']}" for n, v in summary.items())
            print(f"{label}: {table}", file=sys.stderr)
    emit(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
