"""Restarts on the same database just work: a second `run --simulate --once` makes no failed action."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from vastbid.cli.main import app
from vastbid.store.decisions import DecisionOutcome
from vastbid.store.store import open_store


def test_two_simulated_runs_in_a_row_on_one_database_fail_no_action(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'twice.db'}"
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(app, ["run", "--simulate", "--once", "--db", url, "--http", "off"])
        assert result.exit_code == 0, result.output
    with open_store(url) as store:
        ticks = [d.tick_id for d in store.decisions.query()]
        last = max(t for t in ticks if t is not None)
        second = [d for d in store.decisions.query(tick_id=last)]
        assert second and not [d for d in second if d.outcome is DecisionOutcome.FAILED]
        assert any(d.action == "place_bid" and d.outcome is DecisionOutcome.APPLIED for d in second)
