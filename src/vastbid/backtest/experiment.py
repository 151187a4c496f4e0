"""Experiments: many seeded random start times, several strategies side by side on identical windows.

For each start: the oracle's cost on that window (computed once, shared), then each strategy's replay. Per
strategy: runs, deadline misses, mean cost, mean cost relative to on demand only (the cheapest zone's on-demand
price for the whole work), mean and p95 regret against the oracle (cost / oracle - 1), interruptions, migrations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from vastbid.backtest.model import JobShape
from vastbid.backtest.oracle import oracle_cost
from vastbid.backtest.replay import RunResult, replay
from vastbid.backtest.traces import TraceSet
from vastbid.errors import BacktestError
from vastbid.strategies.base import Strategy

Engine = Callable[[Strategy, TraceSet, JobShape, int], RunResult]
"""Runs one strategy over the window at a start tick: ``replay``, or the daemon engine."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One start time and the oracle's cost on its window."""

    start_tick: int
    oracle_cost: float
    on_demand_cost: float
    """Work x the cheapest on-demand price (the OD-only reference, restart overhead excluded)."""


@dataclass(frozen=True, slots=True)
class Run:
    """One strategy's replay of one sample."""

    sample: Sample
    result: RunResult

    @property
    def regret(self) -> float:
        """cost / oracle cost - 1."""
        return self.result.cost / self.sample.oracle_cost - 1.0


@dataclass(frozen=True, slots=True)
class StrategySummary:
    """Aggregates over every run of one strategy."""

    runs: int
    deadline_misses: int
    mean_cost: float
    mean_cost_vs_on_demand: float
    mean_regret: float
    p95_regret: float
    interruptions: int
    migrations: int
    mean_spot_hours: float
    mean_on_demand_hours: float

    def as_dict(self) -> dict[str, float | int]:
        """JSON-ready figures."""
        return {
            "runs": self.runs,
            "deadline_misses": self.deadline_misses,
            "mean_cost": round(self.mean_cost, 4),
            "mean_cost_vs_on_demand": round(self.mean_cost_vs_on_demand, 4),
            "mean_regret": round(self.mean_regret, 4),
            "p95_regret": round(self.p95_regret, 4),
            "interruptions": self.interruptions,
            "migrations": self.migrations,
            "mean_spot_hours": round(self.mean_spot_hours, 3),
            "mean_on_demand_hours": round(self.mean_on_demand_hours, 3),
        }


@dataclass(slots=True)
class ExperimentResult:
    """Every run, by strategy name, on the same samples."""

    traces: TraceSet
    shape: JobShape
    samples: list[Sample]
    runs: dict[str, list[Run]] = field(default_factory=dict)

    def summary(self) -> dict[str, StrategySummary]:
        """Per strategy aggregates."""
        return {name: summarize(runs) for name, runs in self.runs.items()}


def summarize(runs: Sequence[Run]) -> StrategySummary:
    """Aggregate one strategy's runs."""
    if not runs:
        raise BacktestError("no runs to summarize")
    costs = np.array([r.result.cost for r in runs])
    regrets = np.array([r.regret for r in runs])
    vs_od = np.array([r.result.cost / r.sample.on_demand_cost for r in runs])
    return StrategySummary(
        runs=len(runs),
        deadline_misses=sum(1 for r in runs if r.result.missed),
        mean_cost=float(costs.mean()),
        mean_cost_vs_on_demand=float(vs_od.mean()),
        mean_regret=float(regrets.mean()),
        p95_regret=float(np.percentile(regrets, 95)),
        interruptions=sum(r.result.interruptions for r in runs),
        migrations=sum(r.result.migrations for r in runs),
        mean_spot_hours=float(np.mean([r.result.spot_hours for r in runs])),
        mean_on_demand_hours=float(np.mean([r.result.on_demand_hours for r in runs])),
    )


def sample_starts(traces: TraceSet, shape: JobShape, count: int, seed: int) -> list[int]:
    """``count`` start ticks drawn uniformly (seeded) among those whose window fits the trace."""
    last = traces.ticks - shape.deadline_ticks
    if last < 0:
        raise BacktestError(
            f"the traces hold {traces.ticks} ticks but the deadline needs {shape.deadline_ticks}: "
            "shorten the job or loosen nothing"
        )
    if count < 1:
        raise BacktestError(f"the number of starts must be at least 1, got {count}")
    rng = np.random.default_rng(seed)
    return sorted(int(s) for s in rng.integers(0, last + 1, size=count))


def make_sample(traces: TraceSet, shape: JobShape, start_tick: int) -> Sample:
    """The oracle's cost and the on-demand reference for the window at ``start_tick``."""
    end = start_tick + shape.deadline_ticks
    od = traces.on_demand_prices()
    result = oracle_cost(
        traces.available()[:, start_tick:end], traces.spot_prices()[:, start_tick:end], float(od.min()), shape
    )
    if not result.feasible:
        raise BacktestError(
            f"the deadline is infeasible: {shape.work_ticks} + {shape.overhead_ticks} ticks > {shape.deadline_ticks}"
        )
    return Sample(start_tick=start_tick, oracle_cost=result.cost, on_demand_cost=shape.work_hours * float(od.min()))


def run_experiment(
    traces: TraceSet,
    shape: JobShape,
    strategies: Sequence[Strategy],
    *,
    starts: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
    engine: Engine = replay,
) -> ExperimentResult:
    """Run every strategy on ``starts`` seeded windows with ``engine`` (the fast replay unless told otherwise);
    ``progress(n)`` is called after each window."""
    if not shape.feasible:
        raise BacktestError(
            f"the deadline is infeasible: {shape.work_hours:.3f} h of work plus {shape.overhead_hours:.3f} h of "
            f"restart overhead exceed {shape.deadline_hours:.3f} h"
        )
    names = [s.name for s in strategies]
    if len(set(names)) != len(names):
        raise BacktestError(f"a strategy is named twice: {', '.join(names)}")
    result = ExperimentResult(traces=traces, shape=shape, samples=[], runs={n: [] for n in names})
    for start in sample_starts(traces, shape, starts, seed):
        sample = make_sample(traces, shape, start)
        result.samples.append(sample)
        for strategy in strategies:
            result.runs[strategy.name].append(Run(sample=sample, result=engine(strategy, traces, shape, start)))
        if progress is not None:
            progress(1)
    return result
