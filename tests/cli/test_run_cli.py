"""``vastbid run --simulate --once``: one real tick against the embedded market, on either API surface."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from vastbid.cli.main import app
from vastbid.store import open_store
from vastbid.store.decisions import DecisionOutcome


@pytest.mark.parametrize("surface", ["native", "lowcode"])
def test_one_simulated_tick_rents_for_the_demo_jobs_and_records_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, surface: str
) -> None:
    monkeypatch.setenv("VASTBID_MARKET__SURFACE", surface)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("VAST_API_KEY", raising=False)
    db = f"sqlite:///{tmp_path / 'run.db'}"

    result = CliRunner().invoke(app, ["run", "--simulate", "--once", "--db", db, "--log-format", "json"])

    assert result.exit_code == 0, result.output
    with open_store(db) as store:
        jobs = store.jobs.list()
        assert len(jobs) == 5
        rentals = [
            d
            for d in store.decisions.query()
            if d.action in ("place_bid", "rent_on_demand") and d.outcome is DecisionOutcome.APPLIED
        ]
        assert len(rentals) == len(jobs)
        assert all(d.reason for d in rentals)
        assert len(store.instances.live()) == len(jobs)
        assert store.ticks.last(ok=True) is not None


def test_dry_run_decides_and_records_but_rents_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    db = f"sqlite:///{tmp_path / 'dry.db'}"

    result = CliRunner().invoke(app, ["run", "--simulate", "--once", "--dry-run", "--db", db, "--log-format", "json"])

    assert result.exit_code == 0, result.output
    with open_store(db) as store:
        planned = [d for d in store.decisions.query() if d.action in ("place_bid", "rent_on_demand")]
        assert planned
        assert {d.outcome for d in planned} == {DecisionOutcome.SKIPPED_DRY_RUN}
        assert store.instances.live() == []


def test_run_without_a_key_says_how_to_get_one_and_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.delenv("VAST_API_KEY", raising=False)

    result = CliRunner().invoke(app, ["run", "--once", "--db", f"sqlite:///{tmp_path / 'k.db'}"])

    assert result.exit_code == 2
    assert "VAST_API_KEY" in result.output
    assert "--simulate" in result.output
