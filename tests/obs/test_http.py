"""The daemon's HTTP surface over a real socket: job API, bearer token, 422s naming the field, readiness, metrics.

Each test serves ``HttpApp`` with werkzeug on port 0 over a ``DaemonService`` whose daemon ticks against a quiet
simulated market on a manual clock, with a real SQLite store.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from pydantic import SecretStr

from vastbid.core.budget import Budget
from vastbid.daemon.clock import EpochClock
from vastbid.daemon.config import DaemonConfig
from vastbid.daemon.service import DaemonService
from vastbid.daemon.tick import Daemon
from vastbid.obs.http import HttpApp, HttpServer
from vastbid.obs.logging import configure_logging
from vastbid.obs.metrics import Metrics
from vastbid.sim import ManualClock, SimConfig, Simulator
from vastbid.store import Store, open_store
from vastbid.vast.factory import make_market_api

TOKEN = "s3cret-Write+Token/42"
TICK_SECONDS = 60.0
SPEC = {"name": "train", "image": "img:1", "max_price_per_gpu": 0.5, "num_gpus": 1}


@dataclass
class Served:
    url: str
    store: Store
    daemon: Daemon
    sim: Simulator
    clock: ManualClock
    registry: CollectorRegistry
    db_dir: Path

    def client(self, token: str | None = TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)

    def tick(self) -> None:
        assert self.daemon.tick().ok

    def ready_gauge(self) -> float | None:
        return self.registry.get_sample_value("vastbid_ready")


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    servers: list[HttpServer] = []
    stores: list[Store] = []

    def build(*, token: str | None = TOKEN, open_reads: bool = False) -> Served:
        clock = ManualClock(start=1_800_000_000.0)
        sim = Simulator(SimConfig(seed=3, scenario="small", processes=False, api_key="k"), clock=clock)
        client = httpx.Client(transport=sim.transport(), base_url="http://sim.local")
        api = make_market_api("native", client, "k", sleep=lambda _s: None, monotonic=clock.now)
        db_dir = tmp_path / f"db{len(stores)}"
        store = open_store(f"sqlite:///{db_dir}/vastbid.db", upgrade=True)
        stores.append(store)
        registry = CollectorRegistry()
        config = DaemonConfig(deployment="t", tick_seconds=TICK_SECONDS, budget=Budget(), config_hash="h")
        daemon = Daemon(config, api, store, EpochClock(clock.now), metrics=Metrics(registry))
        app = HttpApp(
            DaemonService(daemon),
            registry,
            token=SecretStr(token) if token else None,
            open_reads=open_reads,
        )
        server = HttpServer(app, "127.0.0.1", 0, poll_interval=0.02).start()
        servers.append(server)
        return Served(server.url, store, daemon, sim, clock, registry, db_dir)

    yield build
    for server in servers:
        server.stop()
    for store in stores:
        store.close()


@pytest.fixture
def served(serve: Callable[..., Served]) -> Served:
    return serve()


def _job_count(store: Store) -> int:
    return len(store.jobs.list())


# --- the job API ---------------------------------------------------------------------------------------------


def test_submit_list_show_cancel_through_http(served: Served) -> None:
    with served.client() as http:
        created = http.post("/api/v1/jobs", json=SPEC)
        assert created.status_code == 201, created.text
        job = created.json()
        assert (job["state"], job["spec"]["name"], job["spec"]["max_price_per_gpu"]) == ("queued", "train", 0.5)

        listed = http.get("/api/v1/jobs").json()
        assert [j["id"] for j in listed] == [job["id"]]
        assert http.get("/api/v1/jobs", params={"state": "running"}).json() == []

        shown = http.get(f"/api/v1/jobs/{job['id']}").json()
        assert (shown["id"], shown["state_reason"], shown["instances"]) == (job["id"], None, [])

        cancelled = http.post(f"/api/v1/jobs/{job['id']}/cancel")
        assert cancelled.status_code == 200
        assert cancelled.json()["state"] == "cancelled"
    assert served.store.jobs.get(job["id"]).state.value == "cancelled"


def test_a_list_of_specs_is_queued_all_or_none(served: Served) -> None:
    with served.client() as http:
        both = http.post("/api/v1/jobs", json=[SPEC, {**SPEC, "name": "eval"}])
        assert both.status_code == 201
        assert [j["spec"]["name"] for j in both.json()] == ["train", "eval"]
        refused = http.post("/api/v1/jobs", json=[SPEC, {**SPEC, "num_gpus": 0}])
    assert refused.status_code == 422
    assert refused.json()["field"] == "num_gpus"
    assert _job_count(served.store) == 2


def test_unknown_job_is_404_and_cancelling_a_finished_job_is_409(served: Served) -> None:
    job = served.store.jobs.submit(SPEC)
    served.store.jobs.cancel(job.id)
    with served.client() as http:
        missing = http.get("/api/v1/jobs/999")
        assert missing.status_code == 404
        assert "no job 999" in missing.json()["msg"]
        assert http.delete("/api/v1/jobs/999").status_code == 404
        again = http.delete(f"/api/v1/jobs/{job.id}")
    assert again.status_code == 409
    assert "already cancelled" in again.json()["msg"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": "Bearer"}],
    ids=["none", "wrong", "not-bearer", "empty"],
)
def test_a_write_without_the_token_is_401_and_changes_nothing(served: Served, headers: dict[str, str]) -> None:
    job = served.store.jobs.submit(SPEC)
    with httpx.Client(base_url=served.url, headers=headers) as http:
        submitted = http.post("/api/v1/jobs", json=SPEC)
        cancelled = http.post(f"/api/v1/jobs/{job.id}/cancel")
        deleted = http.delete(f"/api/v1/jobs/{job.id}")
        bad_body = http.post("/api/v1/jobs", content=b"not json")
    for response in (submitted, cancelled, deleted, bad_body):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert [(j.id, j.state.value) for j in served.store.jobs.list()] == [(job.id, "queued")]


def test_reads_need_the_token_unless_open_reads(serve: Callable[..., Served]) -> None:
    closed, opened = serve(), serve(open_reads=True)
    with closed.client(token=None) as http:
        assert http.get("/api/v1/jobs").status_code == 401
        assert http.get("/api/v1/status").status_code == 401
    with closed.client() as http:
        assert http.get("/api/v1/jobs").status_code == 200
    with opened.client(token=None) as http:
        assert http.get("/api/v1/jobs").status_code == 200
        assert http.post("/api/v1/jobs", json=SPEC).status_code == 401
    assert _job_count(opened.store) == 0


def test_without_a_configured_token_writes_are_refused_with_the_fix(serve: Callable[..., Served]) -> None:
    served = serve(token=None, open_reads=True)
    with served.client(token="anything") as http:
        refused = http.post("/api/v1/jobs", json=SPEC)
        assert http.get("/api/v1/jobs").status_code == 200
    assert refused.status_code == 403
    assert "http.token_file" in refused.json()["msg"]
    assert _job_count(served.store) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**SPEC, "max_price_per_gpu": "cheap"}, "max_price_per_gpu"),
        ({**SPEC, "num_gpus": -1}, "num_gpus"),
        ({key: value for key, value in SPEC.items() if key != "image"}, "image"),
        ({**SPEC, "colour": "red"}, "colour"),
        ([], "body"),
        ("a string", "body"),
    ],
)
def test_a_malformed_body_is_422_naming_the_field(served: Served, body: Any, field: str) -> None:
    with served.client() as http:
        response = http.post("/api/v1/jobs", json=body)
    assert response.status_code == 422, response.text
    data = response.json()
    assert (data["error"], data["field"]) == ("invalid", field)
    assert data["msg"]
    assert _job_count(served.store) == 0


def test_a_body_that_is_not_json_is_422(served: Served) -> None:
    with served.client() as http:
        response = http.post("/api/v1/jobs", content=b"{name: train", headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()["field"]) == (422, "body")


def test_bad_query_parameters_are_422_naming_them(served: Served) -> None:
    with served.client() as http:
        assert http.get("/api/v1/jobs", params={"state": "sleeping"}).json()["field"] == "state"
        assert http.get("/api/v1/decisions", params={"since": "yesterday"}).json()["field"] == "since"
        assert http.get("/api/v1/decisions", params={"limit": "0"}).json()["field"] == "limit"
        assert http.get("/api/v1/decisions", params={"job_id": "x"}).status_code == 422
        assert http.put("/api/v1/jobs").status_code == 405
        assert http.get("/api/v2/jobs").status_code == 404


def test_decisions_and_status_reflect_the_ticks(served: Served) -> None:
    job = served.store.jobs.submit(SPEC)
    served.tick()
    with served.client() as http:
        mine = http.get("/api/v1/decisions", params={"job_id": job.id}).json()
        assert mine and all(d["job_id"] == job.id for d in mine)
        assert {"action", "reason", "outcome", "facts", "candidates", "tick_id"} <= set(mine[0])
        assert len(http.get("/api/v1/decisions", params={"limit": 1}).json()) == 1
        future = datetime(2100, 1, 1, tzinfo=UTC).isoformat()
        assert http.get("/api/v1/decisions", params={"since": future}).json() == []
        status = http.get("/api/v1/status").json()
    assert status["ready"] is True
    assert status["last_tick"]["ok"] is True
    assert sum(status["jobs"]["by_state"].values()) == 1


# --- health, readiness, metrics --------------------------------------------------------------------------------


def test_healthz_and_metrics_are_open(served: Served) -> None:
    served.tick()
    with served.client(token=None) as http:
        health = http.get("/healthz")
        metrics = http.get("/metrics")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert metrics.status_code == 200
    assert metrics.headers["Content-Type"] == CONTENT_TYPE_LATEST
    assert 'vastbid_ticks_total{result="ok"} 1.0' in metrics.text


def test_readyz_follows_the_last_successful_tick_and_the_database(served: Served) -> None:
    def readyz() -> tuple[int, str]:
        with served.client(token=None) as http:
            response = http.get("/readyz")
        return response.status_code, response.json()["reason"]

    status, reason = readyz()
    assert (status, served.ready_gauge()) == (503, 0.0)
    assert "no tick" in reason

    served.tick()
    assert readyz()[0] == 200
    assert served.ready_gauge() == 1.0

    served.clock.advance(3 * TICK_SECONDS)  # exactly three intervals: still ready
    assert readyz()[0] == 200
    served.clock.advance(1)
    status, reason = readyz()
    assert (status, served.ready_gauge()) == (503, 0.0)
    assert "more than 3 tick intervals" in reason

    served.tick()
    assert readyz()[0] == 200

    served.store.engine.dispose()  # the database goes away: no new connection can open it
    away = served.db_dir.with_name("moved")
    served.db_dir.rename(away)
    try:
        status, reason = readyz()
        assert (status, served.ready_gauge()) == (503, 0.0)
        assert "database" in reason
    finally:
        away.rename(served.db_dir)
    assert readyz()[0] == 200


def test_a_slow_tick_counts_as_a_success_from_when_it_ended(served: Served) -> None:
    """A tick that takes two intervals (a slow market) leaves the daemon ready for three intervals after it ends,
    as the last-success gauge says, not three after it began."""
    api = served.daemon.api
    listing = api.list_instances

    def slow_listing() -> object:
        served.clock.advance(2 * TICK_SECONDS)
        return listing()

    api.list_instances = slow_listing  # type: ignore[method-assign]
    served.tick()

    def readyz() -> int:
        with served.client(token=None) as http:
            return http.get("/readyz").status_code

    served.clock.advance(3 * TICK_SECONDS)
    assert readyz() == 200  # five intervals after the tick began, three after it ended
    served.clock.advance(1)
    assert readyz() == 503


# --- secrets -----------------------------------------------------------------------------------------------------


@pytest.fixture
def captured_logs() -> io.StringIO:
    """Everything logged during the test, as JSON lines (the conftest restores logging afterwards)."""
    stream = io.StringIO()
    configure_logging(stream=stream, level="debug", fmt="json")
    return stream


def test_the_token_never_reaches_a_log_line(served: Served, captured_logs: io.StringIO) -> None:
    # No redact(TOKEN) here: nothing may log the token in the first place.
    with served.client() as http:
        job = http.post("/api/v1/jobs", json=SPEC).json()
        http.get("/api/v1/jobs")
        http.post(f"/api/v1/jobs/{job['id']}/cancel")
    with served.client(token=TOKEN + "x") as http:
        assert http.post("/api/v1/jobs", json=SPEC).status_code == 401
    with served.client(token="wrong-guess-123") as http:
        assert http.post(f"/api/v1/jobs/{job['id']}/cancel").status_code == 401
    served.tick()

    text = captured_logs.getvalue()
    events = [json.loads(line) for line in text.splitlines()]
    requests = [(e["method"], e["path"], e["status"]) for e in events if e.get("event") == "http_request"]
    assert ("POST", "/api/v1/jobs", 201) in requests  # the server's access log
    assert ("POST", "/api/v1/jobs", 401) in requests
    assert any(e.get("event") == "http_unauthorized" for e in events)
    assert any(e.get("event") == "jobs_submitted_via_api" for e in events)
    assert TOKEN not in text
    assert "wrong-guess-123" not in text


def test_a_taken_port_is_a_config_error_naming_the_fix(served: Served) -> None:
    from vastbid.errors import ConfigError

    port = int(served.url.rsplit(":", 1)[1])
    with pytest.raises(ConfigError, match="--http"):
        HttpServer(lambda _e, _s: [], "127.0.0.1", port)
