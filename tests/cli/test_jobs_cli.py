"""`vastbid jobs`: submit from flags or files, list, show, cancel; bad specs write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from vastbid.cli.main import app
from vastbid.core.jobs import JobState
from vastbid.store import open_store


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jobs.db'}"


def _run(db: str, *args: str) -> Result:
    return CliRunner().invoke(app, ["jobs", *args, "--db", db])


def _listed(db: str, *args: str) -> list[dict[str, object]]:
    result = _run(db, "list", "--json", *args)
    assert result.exit_code == 0, result.output
    data: list[dict[str, object]] = json.loads(result.output)
    return data


def test_submit_from_flags_then_list_and_show(db: str) -> None:
    result = _run(
        db,
        "submit",
        "--name",
        "train",
        "--image",
        "img:1",
        "--max-price-per-gpu",
        "0.35",
        "--num-gpus",
        "2",
        "--env",
        "EPOCHS=3",
        "--param",
        "bid_margin=0.05",
        "--priority",
        "5",
    )
    assert result.exit_code == 0, result.output
    assert "submitted job 1 (train): queued" in result.output

    [job] = _listed(db)
    assert job["state"] == "queued"
    spec = job["spec"]
    assert (spec["num_gpus"], spec["env"], spec["strategy_params"]) == (2, {"EPOCHS": "3"}, {"bid_margin": 0.05})

    table = _run(db, "list")
    assert "train" in table.output and "queued" in table.output
    shown = _run(db, "show", "1", "--json")
    assert json.loads(shown.output)["spec"]["image"] == "img:1"
    assert "spec.max_price_per_gpu" in _run(db, "show", "1").output


def test_bad_flags_name_the_field_and_write_nothing(db: str) -> None:
    result = _run(db, "submit", "--name", "x", "--image", "img", "--max-price-per-gpu", "0", "--num-gpus", "0")
    assert result.exit_code == 2
    assert "num_gpus: must be greater than or equal to 1 (got 0)" in result.output
    assert "max_price_per_gpu: must be greater than 0 (got 0.0)" in result.output
    assert _listed(db) == []


def test_missing_required_field_is_named(db: str) -> None:
    result = _run(db, "submit", "--name", "x", "--image", "img")
    assert result.exit_code == 2
    assert "max_price_per_gpu: is required" in result.output


def test_file_with_several_jobs_submits_all(tmp_path: Path, db: str) -> None:
    path = tmp_path / "jobs.toml"
    path.write_text(
        '[[jobs]]\nname = "a"\nimage = "img"\nmax_price_per_gpu = 0.2\n\n'
        '[[jobs]]\nname = "b"\nimage = "img"\nmax_price_per_gpu = 0.3\nwork_hours = 4\n'
        "deadline = 2036-12-01T18:00:00Z\n"
    )
    result = _run(db, "submit", "--file", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert [j["spec"]["name"] for j in json.loads(result.output)] == ["a", "b"]


def test_file_where_one_job_is_bad_writes_none(tmp_path: Path, db: str) -> None:
    path = tmp_path / "jobs.json"
    path.write_text(
        json.dumps(
            {
                "jobs": [
                    {"name": "a", "image": "img", "max_price_per_gpu": 0.2},
                    {"name": "b", "image": "img", "max_price_per_gpu": 0.2, "rental": "cheap"},
                ]
            }
        )
    )
    result = _run(db, "submit", "--file", str(path))
    assert result.exit_code == 2
    assert "jobs[1].rental: must be 'interruptible', 'on_demand' or 'auto' (got 'cheap')" in result.output
    assert _listed(db) == []


def test_single_job_json_file(tmp_path: Path, db: str) -> None:
    path = tmp_path / "job.json"
    path.write_text(json.dumps({"name": "solo", "image": "img", "max_price_per_gpu": 1}))
    assert _run(db, "submit", "-f", str(path)).exit_code == 0
    assert [j["spec"]["name"] for j in _listed(db)] == ["solo"]  # type: ignore[index]


def test_cancel_a_job_holding_an_instance_and_refuse_a_finished_one(db: str) -> None:
    for name in ("running", "done"):
        _run(db, "submit", "--name", name, "--image", "img", "--max-price-per-gpu", "0.5")
    with open_store(db) as store:
        store.jobs.update(1, state=JobState.RUNNING, instance_id=31337)
        store.jobs.update(2, state=JobState.SUCCEEDED)

    cancelled = _run(db, "cancel", "1")
    assert cancelled.exit_code == 0
    assert "destroys instance 31337 on its next tick" in cancelled.output
    refused = _run(db, "cancel", "2")
    assert refused.exit_code == 2
    assert "job 2 is already succeeded" in refused.output
    assert [j["state"] for j in _listed(db)] == ["cancelled", "succeeded"]


def test_list_filters_by_state(db: str) -> None:
    for name in ("a", "b"):
        _run(db, "submit", "--name", name, "--image", "img", "--max-price-per-gpu", "0.5")
    _run(db, "cancel", "1")
    assert [j["id"] for j in _listed(db, "--state", "queued")] == [2]
    assert _run(db, "list", "--state", "nonsense").exit_code == 2


def test_unknown_job_is_refused(db: str) -> None:
    result = _run(db, "show", "42")
    assert result.exit_code == 2
    assert "there is no job 42" in result.output
