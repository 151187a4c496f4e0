"""`vastbid run --http`: the daemon process serves health, readiness, metrics and the job API while it ticks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
from typer.testing import CliRunner

from vastbid.backtest.scenario import demo_jobs
from vastbid.cli.main import app
from vastbid.store import open_store

TOKEN = "run-Token/5-longer-than-16"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _until(stream: IO[str], event: str) -> dict[str, Any]:
    """Read the daemon's JSON log lines until ``event`` (blocking reads, no sleeping)."""
    for line in stream:
        try:
            record: dict[str, Any] = json.loads(line)
        except ValueError:
            continue
        if record.get("event") == event:
            return record
    raise AssertionError(f"the daemon exited before logging {event}")


def test_run_serves_the_http_surface_until_sigterm(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'run.db'}"
    with open_store(db, upgrade=True) as store:  # the demo jobs, already over: the ticks have nothing to rent
        for job in store.jobs.submit_many(demo_jobs(datetime.now(UTC))):
            store.jobs.cancel(job.id)
    port = _free_port()
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "VASTBID_HTTP__TOKEN": TOKEN,
        "VASTBID_DAEMON__TICK_SECONDS": "3600",
    }
    env.pop("VASTBID_CONFIG", None)
    command = [
        sys.executable,
        "-c",
        "from vastbid.cli.main import main; main()",
        "run",
        "--simulate",
        "--log-format",
        "json",
    ]
    command += ["--db", db, "--http", f"127.0.0.1:{port}"]
    daemon = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert daemon.stdout is not None
        serving = _until(daemon.stdout, "http_serving")
        assert serving["url"] == f"http://127.0.0.1:{port}"
        _until(daemon.stdout, "tick_done")
        with httpx.Client(base_url=serving["url"], timeout=10) as http:
            assert http.get("/healthz").json() == {"status": "ok"}
            ready = http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert "vastbid_ready 1.0" in http.get("/metrics").text
            assert (
                http.post("/api/v1/jobs", json={"name": "x", "image": "i", "max_price_per_gpu": 1}).status_code == 401
            )
            headers = {"Authorization": f"Bearer {TOKEN}"}
            created = http.post(
                "/api/v1/jobs", json={"name": "x", "image": "i", "max_price_per_gpu": 1}, headers=headers
            )
            assert created.status_code == 201, created.text
        daemon.send_signal(signal.SIGTERM)
        rest = daemon.communicate(timeout=30)[0]
        assert daemon.returncode == 0, rest
        assert TOKEN not in rest
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()


def test_a_bad_http_address_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "--simulate", "--db", f"sqlite:///{tmp_path}/x.db", "--http", "nowhere"])
    assert result.exit_code == 2
    assert "HOST:PORT" in result.output
