"""The HTTP surface under abuse: every limit answers with its status and the limit, never a 500 or a held thread.

The app is served over a real socket on 127.0.0.1 with short server timeouts (the only real time these tests wait),
over a ``DaemonService`` on a real SQLite store and a quiet simulated market on a manual clock.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from vastbid.core.budget import Budget
from vastbid.daemon.clock import EpochClock
from vastbid.daemon.config import DaemonConfig
from vastbid.daemon.service import DaemonService
from vastbid.daemon.tick import Daemon
from vastbid.obs.api import MAX_JOB_ID, MAX_JOBS_PER_REQUEST, MAX_JSON_DEPTH, Json
from vastbid.obs.http import HttpApp, HttpServer
from vastbid.obs.metrics import Metrics
from vastbid.obs.serving import ServerLimits
from vastbid.sim import ManualClock, SimConfig, Simulator
from vastbid.store import Store, open_store
from vastbid.vast.factory import make_market_api

TOKEN = "limits-Token/0123456789"
SPEC = {"name": "train", "image": "img:1", "max_price_per_gpu": 0.5, "num_gpus": 1}
SHORT = 0.3
"""The server's header and body timeouts in these tests, in seconds."""


class _SlowStatus(DaemonService):
    """``/api/v1/status`` waits for ``release``: a request that holds its worker as long as a test wants."""

    release = threading.Event()

    def status(self) -> Json:
        self.release.wait(timeout=10)
        return super().status()


Serve = Callable[..., tuple[HttpServer, Store]]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    started: list[tuple[HttpServer, Store]] = []

    def build(limits: ServerLimits | None = None) -> tuple[HttpServer, Store]:
        clock = ManualClock(start=1_800_000_000.0)
        sim = Simulator(SimConfig(seed=3, scenario="small", processes=False, api_key="k"), clock=clock)
        client = httpx.Client(transport=sim.transport(), base_url="http://sim.local")
        api = make_market_api("native", client, "k", sleep=lambda _s: None, monotonic=clock.now)
        store = open_store(f"sqlite:///{tmp_path}/db{len(started)}.db", upgrade=True)
        registry = CollectorRegistry()
        config = DaemonConfig(deployment="t", tick_seconds=60.0, budget=Budget(), config_hash="h")
        daemon = Daemon(config, api, store, EpochClock(clock.now), metrics=Metrics(registry))
        _SlowStatus.release = threading.Event()
        app = HttpApp(_SlowStatus(daemon), registry, token=SecretStr(TOKEN))
        limits = limits or ServerLimits(header_timeout=SHORT, body_timeout=SHORT)
        server = HttpServer(app, "127.0.0.1", 0, poll_interval=0.02, limits=limits).start()
        started.append((server, store))
        return server, store

    yield build
    _SlowStatus.release.set()
    for server, store in started:
        server.stop()
        store.close()


def _client(server: HttpServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)


def _raw(server: HttpServer, data: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(data)
    return sock


def _reply(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65_536):
        chunks.append(chunk)
    sock.close()
    return b"".join(chunks)


# --- request limits: 422 with the limit --------------------------------------------------------------------------


def test_deeply_nested_json_is_a_422_naming_the_depth_limit(serve: Serve) -> None:
    server, store = serve()
    with _client(server) as http:
        for depth in (100_000, MAX_JSON_DEPTH + 1):
            body = b"[" * (depth - 1) + b"{}" + b"]" * (depth - 1)
            reply = http.post("/api/v1/jobs", content=body, headers={"Content-Type": "application/json"})
            assert reply.status_code == 422, reply.text
            assert reply.json()["field"] == "body"
            assert f"deeper than {MAX_JSON_DEPTH} levels" in reply.json()["msg"]
        assert http.post("/api/v1/jobs", json={**SPEC, "env": {"A": "1"}}).status_code == 201
    assert len(store.jobs.list()) == 1


def test_a_job_id_past_what_the_database_holds_is_a_422_naming_the_range(serve: Serve) -> None:
    server, _store = serve()
    huge = str(10**20)
    with _client(server) as http:
        replies = [
            http.get(f"/api/v1/jobs/{huge}"),
            http.delete(f"/api/v1/jobs/{huge}"),
            http.post(f"/api/v1/jobs/{huge}/cancel"),
            http.get(f"/api/v1/jobs/{'9' * 5000}"),
            http.get("/api/v1/jobs/0"),
            http.get("/api/v1/decisions", params={"job_id": huge}),
        ]
        for reply in replies:
            assert reply.status_code == 422, reply.text
            assert reply.json()["field"] == "job_id"
            assert f"from 1 to {MAX_JOB_ID}" in reply.json()["msg"]
        assert http.get(f"/api/v1/jobs/{MAX_JOB_ID}").status_code == 404  # the largest id is a fine question
        assert http.get("/api/v1/jobs/abc").status_code == 404


def test_more_jobs_than_a_request_may_submit_are_refused_whole(serve: Serve) -> None:
    server, store = serve()
    with _client(server) as http:
        refused = http.post("/api/v1/jobs", json=[SPEC] * 2_000)
        assert refused.status_code == 422
        assert f"at most {MAX_JOBS_PER_REQUEST} jobs" in refused.json()["msg"]
        assert store.jobs.list() == []
        accepted = http.post("/api/v1/jobs", json=[SPEC] * MAX_JOBS_PER_REQUEST)
        assert accepted.status_code == 201
    assert len(store.jobs.list()) == MAX_JOBS_PER_REQUEST


# --- the server: timeouts, sizes, the pool ----------------------------------------------------------------------


def test_a_client_that_never_finishes_its_headers_gets_408_after_the_header_timeout(serve: Serve) -> None:
    server, _store = serve()
    started = time.monotonic()
    reply = _reply(_raw(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"))
    waited = time.monotonic() - started

    assert reply.startswith(b"HTTP/1.0 408 ")
    assert json.loads(reply.split(b"\r\n\r\n", 1)[1])["msg"] == "the request's head took too long"
    assert SHORT * 0.9 <= waited < SHORT + 2


def test_a_client_that_stalls_its_body_gets_408_after_the_body_timeout(serve: Serve) -> None:
    server, store = serve()
    head = f"POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 100\r\n\r\n"
    reply = _reply(_raw(server, head.encode() + b'{"name":'))

    assert reply.startswith(b"HTTP/1.0 408 ")
    assert b"body took too long" in reply
    assert store.jobs.list() == []


def test_a_body_too_large_or_without_a_length_is_refused_before_it_is_read(serve: Serve) -> None:
    server, _store = serve()
    too_large = _reply(_raw(server, b"POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n"))
    chunked = _reply(_raw(server, b"POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"))
    huge_head = _reply(_raw(server, b"GET /healthz HTTP/1.1\r\nX-Pad: " + b"a" * 70_000))

    assert too_large.startswith(b"HTTP/1.0 413 ") and b"over 1048576 bytes" in too_large
    assert chunked.startswith(b"HTTP/1.0 411 ") and b"Content-Length" in chunked
    assert huge_head.startswith(b"HTTP/1.0 431 ")


def test_the_oldest_stalled_connection_makes_room_for_a_new_one(serve: Serve) -> None:
    server, _store = serve(ServerLimits(max_connections=5))
    stalled = [_raw(server, b"GET /healthz HTTP/1.1\r\n") for _ in range(5)]
    try:
        with _client(server) as http:
            assert http.get("/healthz").status_code == 200
        assert stalled[0].recv(1) == b""  # dropped to admit the health check
    finally:
        for sock in stalled:
            sock.close()


def test_requests_beyond_the_pool_and_its_queue_are_refused_503_not_given_a_thread(serve: Serve) -> None:
    server, _store = serve(ServerLimits(workers=2, max_queued=3))
    request = f"GET /api/v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode()
    held = [_raw(server, request) for _ in range(3)]  # two run (and wait), one waits for a worker
    with _client(server) as http:
        deadline = time.monotonic() + 10
        while (busy := http.get("/healthz")).status_code == 200 and time.monotonic() < deadline:
            pass  # until the three have reached the pool
        assert busy.status_code == 503
        assert busy.json() == {"error": "busy", "msg": "too many requests"}
        worker_threads = [t for t in threading.enumerate() if t.name.startswith("vastbid-http_")]
        assert len(worker_threads) == 2

        _SlowStatus.release.set()
        assert all(_reply(sock).startswith(b"HTTP/1.0 200 ") for sock in held)
        assert http.get("/healthz").status_code == 200
