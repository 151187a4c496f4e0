"""`vastbid backtest` on tiny trace files: JSON figures, the report files, and malformed traces (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from vastbid.cli.main import app

from ._tiny import raw


def tiny_trace(tmp_path: Path, name: str = "zone.json", **overrides: object) -> Path:
    available = [1, 1, 0, 0, 1, 1, 1, 0, 1, 1] * 6
    doc = raw(**{"gap_seconds": 3600, "available": available, "spot_price": [1.0] * len(available), **overrides})
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


ARGS = ["--work-hours", "8", "--deadline-ratio", "0.5", "--restart-overhead", "1", "--starts", "5", "--seed", "1"]


def test_json_reports_every_strategy_with_regret_against_the_oracle(tmp_path: Path) -> None:
    path = tiny_trace(tmp_path)
    outcome = CliRunner().invoke(
        app, ["backtest", "--trace", str(path), "--strategy", "on_demand", "--strategy", "greedy", "--json", *ARGS]
    )
    assert outcome.exit_code == 0, outcome.output
    figures = json.loads(outcome.stdout)["strategies"]
    assert set(figures) == {"on_demand", "greedy"}
    for name in ("on_demand", "greedy"):
        assert figures[name]["runs"] == 5
        assert figures[name]["deadline_misses"] == 0
        assert figures[name]["mean_regret"] >= 0.0
    # 8 h of work plus 1 h of overhead at 3 $/h, against 8 h at 3 $/h
    assert figures["on_demand"]["mean_cost"] == 27.0
    assert figures["greedy"]["mean_cost"] < figures["on_demand"]["mean_cost"]


def test_report_writes_csv_plots_and_a_page(tmp_path: Path) -> None:
    path = tiny_trace(tmp_path)
    out = tmp_path / "report"
    outcome = CliRunner().invoke(
        app, ["backtest", "--trace", str(path), "--strategy", "uniform_progress", "--report", str(out), *ARGS]
    )
    assert outcome.exit_code == 0, outcome.output
    rows = (out / "runs.csv").read_text().splitlines()
    assert len(rows) == 1 + 5
    for png in ("costs.png", "tightness.png", "timeline.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
        assert png in (out / "index.html").read_text()


def test_a_malformed_trace_fails_with_exit_2_naming_the_file(tmp_path: Path) -> None:
    good = tiny_trace(tmp_path, name="good.json")
    bad = tiny_trace(tmp_path, name="bad.json", spot_price=[1.0, -1.0])
    outcome = CliRunner().invoke(app, ["backtest", "--trace", str(good), "--trace", str(bad), *ARGS])
    assert outcome.exit_code == 2
    assert str(bad) in outcome.output
    assert "spot_price has 2" in outcome.output


def test_multi_zone_runs_one_market(tmp_path: Path) -> None:
    a = tiny_trace(tmp_path, name="a.json")
    b = tiny_trace(tmp_path, name="b.json")
    outcome = CliRunner().invoke(
        app,
        [
            "backtest",
            "--trace",
            str(a),
            "--trace",
            str(b),
            "--multi-zone",
            "--strategy",
            "deadline_aware",
            "--json",
            *ARGS,
        ],
    )
    assert outcome.exit_code == 0, outcome.output
    assert json.loads(outcome.stdout)["strategies"]["deadline_aware"]["runs"] == 5
