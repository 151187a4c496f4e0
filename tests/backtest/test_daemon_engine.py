"""The daemon engine: one trace window through the real daemon against the simulator, compared with the replay.

Tiny hand-made traces (10-minute ticks, a restart overhead of one tick so the simulator's boot and the replay's
overhead are the same length) written to ``tmp_path`` in the shared format. The strategies bid at the minimum
(``bid_margin=0``): the simulator bills an interruptible its bid, the replay the tick's spot price. The simulator
bills no GPU while an instance boots, the replay bills the restart overhead: the daemon's ledger comes out cheaper
by at most the overhead hours the replay billed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vastbid.backtest.daemon_engine import run_daemon_backtest
from vastbid.backtest.model import JobShape
from vastbid.backtest.replay import ON_DEMAND, SPOT, replay
from vastbid.backtest.traces import TraceSet, load_trace, trace_set
from vastbid.cli import backtest_cmd
from vastbid.cli.main import app
from vastbid.strategies.registry import Registry

from ._tiny import raw

REGISTRY = Registry.from_entry_points()
GAP = 600
ON_DEMAND_PRICE = 3.0
# Spot for 1.5 h, gone for 30 min, back for 2 h, gone 20 min...: intermittent capacity, with a price step.
AVAILABLE = ([1] * 9 + [0] * 3 + [1] * 12 + [0] * 2 + [1] * 4) * 2
SPOT_PRICES = [1.0] * 10 + [1.2] * 10 + [1.0] * 40
COST_TOLERANCE = 0.2
"""Cost by rental type agrees with the replay within 20 %: the unbilled boots (see ``daemon_engine.DIFFERENCES``)."""


def write_trace(folder: Path, name: str = "zone.json", **overrides: object) -> Path:
    doc = raw(
        **{
            "name": "tiny-v100",
            "gpu_name": "Tesla V100",
            "gap_seconds": GAP,
            "on_demand_price": ON_DEMAND_PRICE,
            "available": AVAILABLE,
            "spot_price": SPOT_PRICES,
            **overrides,
        }
    )
    path = folder / name
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def traces(tmp_path: Path) -> TraceSet:
    return trace_set([load_trace(write_trace(tmp_path))])


def shape_of(traces: TraceSet, work_hours: float = 2.0, ratio: float = 0.5) -> JobShape:
    return JobShape.from_hours(work_hours, ratio, GAP / 3600.0, traces.gap_hours)


def test_the_daemon_finishes_the_job_on_intermittent_capacity_before_the_deadline(
    traces: TraceSet, tmp_path: Path
) -> None:
    shape = shape_of(traces)
    run = run_daemon_backtest(REGISTRY.build("greedy", {"bid_margin": 0.0}), traces, shape, 0, workdir=tmp_path / "w")
    assert run.finished and not run.missed
    assert run.finish_hours is not None and run.finish_hours <= shape.deadline_hours
    assert run.failed_ticks == 0
    # it rode spot, was interrupted when the capacity went, and paid for spot
    assert run.spot_hours > 0 and run.spot_cost > 0
    assert run.interruptions >= 1
    assert SPOT in run.timeline
    assert run.cost == pytest.approx(run.spot_cost + run.on_demand_cost)
    assert run.storage_cost < 0.01


@pytest.mark.parametrize("name", ["greedy", "uniform_progress", "deadline_aware"])
def test_cost_by_rental_type_agrees_with_the_replay(traces: TraceSet, tmp_path: Path, name: str) -> None:
    shape = shape_of(traces)
    strategy = REGISTRY.build(name, {"bid_margin": 0.0})
    fast = replay(strategy, traces, shape, 3)
    real = run_daemon_backtest(strategy, traces, shape, 3, workdir=tmp_path / "w")
    assert real.finished and fast.finished
    assert real.finish_hours == pytest.approx(fast.finish_hours)
    for got, want in ((real.spot_cost, fast.spot_cost), (real.on_demand_cost, fast.on_demand_cost)):
        assert got == pytest.approx(want, rel=COST_TOLERANCE, abs=0.01)
    # the whole difference is the restart overhead the replay bills and the simulator does not
    assert 0.0 <= fast.cost - real.cost <= fast.overhead_hours * ON_DEMAND_PRICE + 0.01
    billed = real.spot_hours + real.on_demand_hours
    assert billed == pytest.approx(fast.spot_hours + fast.on_demand_hours - fast.overhead_hours, abs=shape.gap_hours)


def test_a_window_without_spot_runs_on_demand_at_the_ask(tmp_path: Path) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    traces = trace_set([load_trace(write_trace(folder, available=[0] * len(AVAILABLE)))])
    shape = shape_of(traces, work_hours=1.0)
    run = run_daemon_backtest(REGISTRY.build("deadline_aware"), traces, shape, 0, workdir=tmp_path / "w")
    assert run.finished
    assert run.spot_cost == 0.0
    # an hour of work at the on-demand ask; the boot is not billed (the replay would add the overhead)
    assert run.on_demand_cost == pytest.approx(ON_DEMAND_PRICE * shape.work_hours, rel=0.01)
    assert run.finish_hours == pytest.approx(shape.work_hours + 2 * shape.overhead_hours)
    assert ON_DEMAND in run.timeline


def test_cli_daemon_engine_prints_the_summary_and_caps_the_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backtest_cmd, "DAEMON_MAX_STARTS", 2)
    path = write_trace(tmp_path)
    args = ["--work-hours", "1", "--deadline-ratio", "0.5", "--restart-overhead", str(GAP / 3600), "--seed", "3"]
    outcome = CliRunner().invoke(
        app,
        [
            "backtest",
            "--trace",
            str(path),
            "--strategy",
            "greedy",
            "--engine",
            "daemon",
            "--starts",
            "5",
            "--json",
            *args,
        ],
    )
    assert outcome.exit_code == 0, outcome.output
    figures = json.loads(outcome.stdout)["strategies"]["greedy"]
    assert set(figures) >= {"runs", "deadline_misses", "mean_cost", "mean_regret", "interruptions", "migrations"}
    assert figures["runs"] == 2
    assert figures["deadline_misses"] == 0
    assert "capped at 2" in outcome.stderr
