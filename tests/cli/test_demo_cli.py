"""``vastbid demo``: the real daemon against the simulator on a virtual clock, summarized."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from vastbid.cli.main import app
from vastbid.store import open_store

KEYS = {
    "jobs_total",
    "jobs_succeeded",
    "spend_usd",
    "on_demand_equivalent_usd",
    "interruptions",
    "decisions",
    "budget_violations",
}


def test_demo_json_summarizes_a_run_whose_record_is_in_the_database(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = CliRunner().invoke(app, ["demo", "--sim-hours", "3", "--seed", "7", "--db", str(db), "--json"])

    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary.keys() >= KEYS
    assert summary["jobs_total"] == 5
    assert summary["budget_violations"] == 0
    assert summary["spend_usd"] > 0
    assert 0 < summary["spend_usd"] < summary["on_demand_equivalent_usd"]
    with open_store(f"sqlite:///{db}") as store:
        assert len(store.decisions.query(limit=None)) == summary["decisions"]
        jobs = store.jobs.list()
        assert sum(1 for job in jobs if job.state.value == "succeeded") == summary["jobs_succeeded"]


def test_demo_prints_a_table_for_people(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--sim-hours", "1", "--db", str(tmp_path / "d.db")])

    assert result.exit_code == 0, result.output
    for row in ("jobs finished", "spend", "on demand only would have cost", "interruptions survived", "decisions"):
        assert row in result.output
    assert "budget violations" in result.output


def test_the_same_seed_gives_the_same_demo(tmp_path: Path) -> None:
    runs = [
        json.loads(
            CliRunner()
            .invoke(app, ["demo", "--sim-hours", "2", "--seed", "3", "--db", str(tmp_path / f"{n}.db"), "--json"])
            .output
        )
        for n in range(2)
    ]
    assert runs[0] == runs[1]
