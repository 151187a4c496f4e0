"""`vastbid backtest`: replay deadline strategies over spot traces against the offline oracle.

Single zone: each ``--trace`` file is its own experiment. ``--multi-zone``: all files (a folder stands for its
``*.json``) form one market of several zones. Prints a table per experiment, or ``--json``; ``--report DIR``
writes a CSV of every run, PNG plots and an HTML page.

``--engine replay`` (the default) replays strategies' ``choose()`` over the traces: fast, for the large
experiments. ``--engine daemon`` runs every window through the real daemon against the simulator in trace mode
(``backtest.daemon_engine``): seconds per window, so ``--starts`` is capped at ``DAEMON_MAX_STARTS``; its
report's tightness sweep still uses the replay.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from vastbid.backtest.daemon_engine import DAEMON_MAX_STARTS, run_daemon_experiment
from vastbid.backtest.experiment import ExperimentResult, StrategySummary, run_experiment
from vastbid.backtest.model import JobShape
from vastbid.backtest.report import write_report
from vastbid.backtest.traces import TraceSet, load_traces, trace_set
from vastbid.errors import BacktestError, VastbidError
from vastbid.obs.logging import configure_logging
from vastbid.strategies.base import Strategy
from vastbid.strategies.registry import Registry

DEFAULT_STRATEGIES = ("on_demand", "greedy", "uniform_progress", "deadline_aware")
TIGHTNESS_RATIOS = (0.6, 0.7, 0.8, 0.9)
TIGHTNESS_STARTS = 30


class Engine(StrEnum):
    """How a backtest runs a window."""

    REPLAY = "replay"
    DAEMON = "daemon"


def _experiment(
    traces: TraceSet,
    shape: JobShape,
    strategies: list[Strategy],
    *,
    starts: int,
    seed: int,
    console: Console,
    engine: Engine = Engine.REPLAY,
) -> ExperimentResult:
    label = traces.names[0] if len(traces.zones) == 1 else f"{len(traces.zones)} zones"
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=starts)
        run = run_daemon_experiment if engine is Engine.DAEMON else run_experiment
        return run(traces, shape, strategies, starts=starts, seed=seed, progress=lambda n: bar.advance(task, n))


def _table(title: str, summary: Mapping[str, StrategySummary]) -> Table:
    table = Table(title=title)
    for column in (
        "strategy",
        "runs",
        "misses",
        "mean $",
        "vs on demand",
        "mean regret",
        "p95 regret",
        "preempt.",
        "migr.",
        "spot h",
        "OD h",
    ):
        table.add_column(column, justify="right" if column != "strategy" else "left")
    for name, s in summary.items():
        table.add_row(
            name,
            str(s.runs),
            str(s.deadline_misses),
            f"{s.mean_cost:.2f}",
            f"{s.mean_cost_vs_on_demand:.3f}",
            f"{s.mean_regret * 100:.1f} %",
            f"{s.p95_regret * 100:.1f} %",
            str(s.interruptions),
            str(s.migrations),
            f"{s.mean_spot_hours:.1f}",
            f"{s.mean_on_demand_hours:.1f}",
        )
    return table


def backtest(
    *,
    trace: Annotated[list[Path], typer.Option("--trace", help="A trace file or folder (repeatable).")],
    multi_zone: Annotated[
        bool, typer.Option("--multi-zone", help="All traces form one market of several zones.")
    ] = False,
    strategy: Annotated[list[str] | None, typer.Option("--strategy", help="A strategy (repeatable).")] = None,
    work_hours: Annotated[float, typer.Option("--work-hours", help="Work the job needs, hours.")] = 48.0,
    deadline_ratio: Annotated[float, typer.Option("--deadline-ratio", help="Work / deadline, in (0, 1].")] = 0.8,
    restart_overhead: Annotated[float, typer.Option("--restart-overhead", help="Restart overhead, hours.")] = 0.2,
    starts: Annotated[int, typer.Option("--starts", help="Random start times per experiment.")] = 300,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the start times.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    report: Annotated[Path | None, typer.Option("--report", help="Write CSV, plots and an HTML page here.")] = None,
    engine: Annotated[
        Engine,
        typer.Option(
            "--engine",
            help="replay: strategies over the traces (fast); daemon: the real daemon against the simulator "
            f"(slow, at most {DAEMON_MAX_STARTS} starts).",
        ),
    ] = Engine.REPLAY,
) -> None:
    """Replay strategies over spot traces and compare them with the offline optimum."""
    console = Console(stderr=as_json, width=max(Console().width, 140))
    if engine is Engine.DAEMON:
        configure_logging(level="error", fmt="json", stream=sys.stderr)
        if starts > DAEMON_MAX_STARTS:
            Console(stderr=True).print(
                f"--engine daemon runs each window through the daemon (seconds each): --starts {starts} capped "
                f"at {DAEMON_MAX_STARTS}"
            )
            starts = DAEMON_MAX_STARTS
    try:
        zones = load_traces(trace)
        market = [trace_set(zones)] if multi_zone else [trace_set([z]) for z in zones]
        registry = Registry.from_entry_points()
        strategies = [registry.build(name) for name in (strategy or list(DEFAULT_STRATEGIES))]
        outputs: dict[str, dict[str, dict[str, float | int]]] = {}
        for traces in market:
            shape = JobShape.from_hours(work_hours, deadline_ratio, restart_overhead, traces.gap_hours)
            result = _experiment(traces, shape, strategies, starts=starts, seed=seed, console=console, engine=engine)
            summary = result.summary()
            key = ",".join(traces.names)
            outputs[key] = {name: s.as_dict() for name, s in summary.items()}
            title = (
                f"{key}: {shape.work_hours:.2f} h work, deadline {shape.deadline_hours:.2f} h, "
                f"overhead {shape.overhead_hours:.3f} h, {starts} starts, seed {seed}, engine {engine.value}"
            )
            if not as_json:
                console.print(_table(title, summary))
            if report is not None:
                folder = report if len(market) == 1 else report / key.replace(",", "+")
                page = write_report(
                    result,
                    strategies,
                    folder,
                    sweep=partial(_sweep, traces, strategies, work_hours, restart_overhead, seed),
                    notes=[title],
                )
                if not as_json:
                    console.print(f"report: {page}")
    except VastbidError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    if as_json:
        if len(outputs) == 1:
            typer.echo(json.dumps({"strategies": next(iter(outputs.values()))}, indent=2))
        else:
            typer.echo(json.dumps({"experiments": {k: {"strategies": v} for k, v in outputs.items()}}, indent=2))


def _sweep(
    traces: TraceSet, strategies: list[Strategy], work_hours: float, overhead: float, seed: int
) -> dict[float, dict[str, StrategySummary]]:
    out: dict[float, dict[str, StrategySummary]] = {}
    for ratio in TIGHTNESS_RATIOS:
        shape = JobShape.from_hours(work_hours, ratio, overhead, traces.gap_hours)
        if not shape.feasible or shape.deadline_ticks > traces.ticks:
            continue
        try:
            out[ratio] = run_experiment(traces, shape, strategies, starts=TIGHTNESS_STARTS, seed=seed).summary()
        except BacktestError:
            continue
    return out


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root ``app``."""
    app.command("backtest")(backtest)
