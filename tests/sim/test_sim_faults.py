"""Faults and limits: each configured fault produces its reply, and rate limits follow the simulated clock."""

from __future__ import annotations

import httpx
import pytest
from sim_helpers import create, one_gpu_offer

from vastbid.sim import Simulator


def test_rate_limits_answer_plain_text_429_until_the_interval_passed(sim: Simulator, client: httpx.Client) -> None:
    offer = one_gpu_offer(client)
    sim.faults.use_vast_rate_limits()
    assert create(client, offer["id"], 0.001).status_code == 200
    limited = create(client, offer["id"], 0.001)
    assert limited.status_code == 429
    assert limited.text == "API requests too frequent: endpoint threshold=4.5"
    assert limited.headers["content-type"] == "text/plain"
    sim.advance(4.5)
    assert create(client, offer["id"], 0.001).status_code == 200
    assert client.get("/api/v0/users/current").status_code == 200  # unlimited route


def test_rate_limit_json_variant_carries_retry_after(sim: Simulator, client: httpx.Client) -> None:
    sim.faults.rate_limits = {"v1_instances": 1.0}
    sim.faults.rate_limit_json = True
    client.get("/api/v1/instances/")
    limited = client.get("/api/v1/instances/")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    assert "too frequent" in limited.json()["detail"]


def test_daily_search_quota(sim: Simulator, client: httpx.Client) -> None:
    sim.faults.search_quota = 2
    for _ in range(2):
        assert client.post("/api/v0/bundles/", json={}).status_code == 200
    spent = client.post("/api/v0/bundles/", json={})
    assert spent.status_code == 429 and spent.json()["error"] == "search_quota_exceeded"
    reset = int(spent.headers["X-RateLimit-Reset"])
    assert 0 < reset - sim.state.now <= 86400 and reset % 86400 == 0
    sim.advance(reset - sim.state.now)
    assert client.post("/api/v0/bundles/", json={}).status_code == 200


def test_server_errors_hit_the_next_n_matching_requests_only(sim: Simulator, client: httpx.Client) -> None:
    sim.faults.add("server_error", "GET /api/v0/users/*", count=2, status=503)
    assert [client.get("/api/v0/users/current").status_code for _ in range(3)] == [503, 503, 200]
    assert client.get("/api/v1/instances/").status_code == 200


def test_probability_faults_are_seeded(sim: Simulator, client: httpx.Client) -> None:
    sim.faults.add("server_error", "user", probability=0.5)
    codes = [client.get("/api/v0/users/current").status_code for _ in range(40)]
    assert 5 < codes.count(500) < 35


def test_slow_answers_time_out_in_process_after_executing(sim: Simulator, client: httpx.Client) -> None:
    offer = one_gpu_offer(client)
    sim.faults.add("slow", "asks")
    with pytest.raises(httpx.ReadTimeout):
        create(client, offer["id"], None, label="ambiguous")
    listed = client.get("/api/v1/instances/").json()["instances"]
    assert [r["label"] for r in listed] == ["ambiguous"]  # the create happened: settle it by label


def test_slow_answers_over_a_socket_are_late(sim: Simulator) -> None:
    sim.faults.add("slow", "user", delay_seconds=0.3)
    with sim.serve() as url, httpx.Client(base_url=url, headers={"Authorization": "Bearer sim-key"}) as c:
        with pytest.raises(httpx.ReadTimeout):
            c.get("/api/v0/users/current", timeout=0.1)
        assert c.get("/api/v0/users/current", timeout=5).status_code == 200


def test_malformed_bodies(sim: Simulator, client: httpx.Client) -> None:
    sim.faults.add("truncated_json", "v1_instances")
    broken = client.get("/api/v1/instances/")
    assert broken.status_code == 200
    with pytest.raises(ValueError):
        broken.json()
    sim.faults.add("html", "bundles")
    page = client.post("/api/v0/bundles/", json={})
    assert page.status_code == 200 and page.headers["content-type"] == "text/html" and "<html>" in page.text


def test_truncated_listings(sim: Simulator, client: httpx.Client) -> None:
    offer = one_gpu_offer(client)
    for _ in range(30):
        create(client, offer["id"], 0.001)
    sim.faults.add("truncated_listing", "v1_instances")
    short = client.get("/api/v1/instances/").json()
    assert short["total_instances"] == 30 and len(short["instances"]) < 25 and short["next_token"] is None
    sim.faults.add("next_page_error", "v1_instances")
    first = client.get("/api/v1/instances/").json()
    assert len(first["instances"]) == 25
    assert client.get("/api/v1/instances/", params={"after_token": first["next_token"]}).status_code == 500
    assert client.get("/api/v1/instances/", params={"after_token": first["next_token"]}).status_code == 200
