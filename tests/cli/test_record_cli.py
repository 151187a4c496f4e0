"""`vastbid decisions` and `vastbid status` over a SQLite file filled through the store's repositories."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from vastbid.cli import record_cmd
from vastbid.cli.main import app
from vastbid.core.jobs import JobState
from vastbid.core.offers import RentalType
from vastbid.store import Store, open_store
from vastbid.store.decisions import DecisionOutcome, DecisionRecord
from vastbid.store.spend import SpendKind

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(record_cmd, "clock", lambda: NOW)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'record.db'}"


def _store(db: str) -> Store:
    return open_store(db, upgrade=True, clock=lambda: NOW)


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def _decision(at: datetime, action: str, *, job_id: int | None = 1, reason: str = "cheapest", **extra: Any) -> Any:
    return DecisionRecord(
        at=at,
        action=action,
        reason=reason,
        outcome=extra.pop("outcome", DecisionOutcome.APPLIED),
        config_hash="abc123",
        tick_id=extra.pop("tick_id", 1),
        job_id=job_id,
        strategy="cheapest_per_gpu",
        facts=extra.pop("facts", {"price": 0.25}),
        candidates=extra.pop("candidates", [{"offer_id": 7, "price": 0.25}]),
        error=extra.pop("error", None),
    )


@pytest.fixture
def logged(db: str) -> str:
    with _store(db) as store:
        store.decisions.add_many(
            [
                _decision(NOW - timedelta(hours=5), "PlaceBid", reason="offer 7 is the cheapest per GPU " * 8),
                _decision(NOW - timedelta(hours=1), "ChangeBid", job_id=2, tick_id=2),
                _decision(
                    NOW - timedelta(minutes=10),
                    "DestroyInstance",
                    tick_id=3,
                    outcome=DecisionOutcome.FAILED,
                    error="server said 500",
                ),
            ]
        )
    return db


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_decisions_table_lists_every_decision_newest_last_with_long_reasons_wrapped(logged: str) -> None:
    result = _run("decisions", "--db", logged)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "3 decision(s)" in out
    assert out.index("PlaceBid") < out.index("ChangeBid") < out.index("DestroyInstance")
    assert "2026-11-27 07:00:00Z" in out
    assert "server said 500" in out and "failed" in out
    assert max(len(line) for line in out.splitlines()) <= 160
    assert out.count("offer 7 is the cheapest") >= 2  # the long reason wraps over several lines, nothing cut


def test_decisions_json_has_every_column_and_filters_by_job_and_time(logged: str) -> None:
    rows = _json(_run("decisions", "--db", logged, "--json"))
    assert [row["action"] for row in rows] == ["PlaceBid", "ChangeBid", "DestroyInstance"]
    assert set(rows[0]) >= {"id", "at", "tick_id", "job_id", "action", "strategy", "outcome", "reason", "error"}
    assert rows[0]["facts"] == {"price": 0.25}
    assert rows[0]["candidates"] == [{"offer_id": 7, "price": 0.25}]
    assert rows[2]["outcome"] == "failed" and rows[2]["error"] == "server said 500"

    only_job_2 = _json(_run("decisions", "--db", logged, "--json", "--job", "2"))
    assert [row["action"] for row in only_job_2] == ["ChangeBid"]
    recent = _json(_run("decisions", "--db", logged, "--json", "--since", "2h"))
    assert [row["action"] for row in recent] == ["ChangeBid", "DestroyInstance"]
    window = _json(
        _run("decisions", "--db", logged, "--json", "--since", "2026-11-27T06:00Z", "--until", "2026-11-27T11:30")
    )
    assert [row["action"] for row in window] == ["PlaceBid", "ChangeBid"]
    newest = _json(_run("decisions", "--db", logged, "--json", "--limit", "1"))
    assert [row["action"] for row in newest] == ["DestroyInstance"]


def test_decisions_csv_has_one_row_per_decision_with_facts_as_json(logged: str) -> None:
    result = _run("decisions", "--db", logged, "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["action"] for row in rows] == ["PlaceBid", "ChangeBid", "DestroyInstance"]
    assert json.loads(rows[0]["facts"]) == {"price": 0.25}
    assert rows[1]["job_id"] == "2" and rows[0]["error"] == ""


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--since", "yesterday"), "--since"),
        (("--until", "5 parsecs"), "--until"),
        (("--json", "--csv"), "--csv"),
    ],
)
def test_decisions_bad_options_are_usage_errors_naming_the_option(
    logged: str, args: tuple[str, ...], named: str
) -> None:
    result = _run("decisions", "--db", logged, *args)
    assert result.exit_code == 2
    assert named in result.output


def test_decisions_on_an_empty_log_says_so(db: str) -> None:
    result = _run("decisions", "--db", db)
    assert result.exit_code == 0, result.output
    assert "0 decision(s)" in result.stdout
    assert _json(_run("decisions", "--db", db, "--json")) == []


@pytest.fixture
def busy(db: str) -> str:
    """Two jobs (one running on a live interruptible), one done; a finished tick; spend today and last week."""
    with _store(db) as store:
        running, queued, done = store.jobs.submit_many(
            [
                {"name": "train", "image": "img:1", "max_price_per_gpu": 0.5, "work_hours": 10},
                {"name": "eval", "image": "img:2", "max_price_per_gpu": 0.5},
                {"name": "old", "image": "img:3", "max_price_per_gpu": 0.5},
            ]
        )
        label = "vastbid:default:1:1"
        store.instances.record_intent(
            label=label,
            job_id=running.id,
            attempt=1,
            rental=RentalType.INTERRUPTIBLE,
            offer_id=70,
            machine_id=700,
            price=0.42,
        )
        store.instances.record_created(label, 4242)
        store.jobs.update(running.id, state=JobState.RUNNING, progress_hours=2.5, spent=1.25)
        store.jobs.update(done.id, state=JobState.SUCCEEDED)
        tick = store.ticks.start(at=NOW - timedelta(minutes=3))
        store.ticks.finish(tick, ok=True, counts={"committed_dph": 0.42}, at=NOW - timedelta(minutes=2))
        store.spend.accrue(
            kind=SpendKind.GPU,
            amount=3.0,
            period_start=NOW - timedelta(hours=2),
            period_end=NOW - timedelta(hours=1),
            instance_id=4242,
            job_id=running.id,
        )
        store.spend.accrue(
            kind=SpendKind.GPU, amount=5.0, period_start=NOW - timedelta(days=7), period_end=NOW - timedelta(days=6)
        )
        assert queued.id == 2
    return db


def test_status_json_reports_jobs_instances_burn_and_spend(busy: str, tmp_path: Path) -> None:
    config = tmp_path / "vastbid.toml"
    config.write_text(
        f'[database]\nurl = "{busy}"\n[budget]\nmax_burn_per_hour = 2.0\ndaily_cap = 10\nmonthly_cap = 100\n'
    )
    data = _json(_run("status", "--config", str(config), "--json"))
    assert data["jobs"]["by_state"] == {"queued": 1, "running": 1, "succeeded": 1}
    active = {job["id"]: job for job in data["jobs"]["active"]}
    assert set(active) == {1, 2}
    assert (active[1]["state"], active[1]["instance_id"], active[1]["progress_hours"]) == ("running", 4242, 2.5)
    [instance] = data["instances"]
    assert (instance["instance_id"], instance["job_id"], instance["rental"], instance["price"]) == (
        4242,
        1,
        "interruptible",
        0.42,
    )
    budget = data["budget"]
    assert budget["caps_known"] is True
    assert budget["committed_dph"] == pytest.approx(0.42)
    assert budget["spent_today"] == pytest.approx(3.0)
    assert budget["spent_this_month"] == pytest.approx(8.0)
    assert (budget["max_burn_per_hour"], budget["daily_cap"], budget["monthly_cap"]) == (2.0, 10.0, 100.0)
    assert data["last_successful_tick_at"] == (NOW - timedelta(minutes=2)).isoformat()


def test_status_table_shows_what_an_operator_checks(busy: str, tmp_path: Path) -> None:
    config = tmp_path / "vastbid.toml"
    config.write_text(f'[database]\nurl = "{busy}"\n[budget]\ndaily_cap = 10\n')
    result = _run("status", "--config", str(config))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "jobs: queued 1, running 1, succeeded 1" in out
    assert "train" in out and "2.50/10" in out and "$1.25" in out
    assert "4242" in out and "interruptible" in out and "vastbid:default:1:1" in out
    assert "burn rate: $0.42/h (no cap)" in out
    assert "spent today: $3.00 of $10.00, 30%" in out
    assert "spent this month: $8.00 (no cap)" in out
    assert "last successful tick: 2026-11-27 11:58:00Z (2m ago)" in out


def test_status_with_db_alone_says_the_caps_are_unknown(busy: str) -> None:
    result = _run("status", "--db", busy)
    assert result.exit_code == 0, result.output
    assert "cap unknown" in result.stdout
    assert _json(_run("status", "--db", busy, "--json"))["budget"]["caps_known"] is False


def test_status_of_a_fresh_database_reports_nothing_yet(db: str) -> None:
    result = _run("status", "--db", db)
    assert result.exit_code == 0, result.output
    assert "jobs: none" in result.stdout
    assert "burn rate: unknown (no successful tick yet)" in result.stdout
    assert "last successful tick: never" in result.stdout


def test_status_reports_a_failed_last_tick(busy: str) -> None:
    with _store(busy) as store:
        tick = store.ticks.start(at=NOW - timedelta(minutes=1))
        store.ticks.finish(tick, ok=False, error="market unreachable", at=NOW)
    result = _run("status", "--db", busy)
    assert result.exit_code == 0, result.output
    assert "failed: market unreachable" in result.stdout
    assert "last successful tick: 2026-11-27 11:58:00Z" in result.stdout
