"""Instance listings page by key (v1) or offset (LowCodeAPI, or v1 in offset mode), and the listing faults change the
market or the pages exactly where they are aimed: between two pages, on one page number."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from sim_helpers import create, delete, one_gpu_offer

from vastbid.sim import Simulator

V1 = "/api/v1/instances/"
LOWCODE = {"api_token": "sim-token"}


def make_instances(client: httpx.Client, n: int, **fields: Any) -> list[int]:
    offer = one_gpu_offer(client)
    return [int(create(client, offer["id"], 0.001, **fields).json()["new_contract"]) for _ in range(n)]


def page(client: httpx.Client, token: str | None = None, **params: Any) -> dict[str, Any]:
    query: dict[str, Any] = {"limit": 5, **params}
    if token is not None:
        query["after_token"] = token
    reply = client.get(V1, params=query)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def ids(body: dict[str, Any]) -> list[int]:
    return [int(r["id"]) for r in body["instances"]]


def live(sim: Simulator) -> set[int]:
    return {i.id for i in sim.state.account_instances()}


def test_a_row_destroyed_between_pages_shifts_nothing(client: httpx.Client) -> None:
    made = make_instances(client, 12)
    first = page(client)
    assert ids(first) == made[:5] and first["total_instances"] == 12
    assert delete(client, f"/api/v0/instances/{made[0]}/").status_code == 200
    second = page(client, first["next_token"])
    assert ids(second) == made[5:10], "the next page starts after the last row served, not at an offset"
    assert second["total_instances"] == 11
    third = page(client, second["next_token"])
    assert ids(third) == made[10:] and third["next_token"] is None


def test_offset_paging_reproduces_the_old_race(sim: Simulator, client: httpx.Client) -> None:
    made = make_instances(client, 12)
    sim.faults.offset_paging = True
    first = page(client)
    delete(client, f"/api/v0/instances/{made[0]}/")
    second = page(client, first["next_token"])
    assert ids(second) == made[6:11], f"instance {made[5]} slipped between the pages"
    sim.faults.clear()
    assert not sim.faults.offset_paging


def test_key_paging_follows_a_descending_order_and_filters(client: httpx.Client) -> None:
    made = make_instances(client, 9, label="a")
    make_instances(client, 3, label="b")
    params = {"order_by": '[{"col": "id", "dir": "desc"}]', "select_filters": '{"label": {"eq": "a"}}', "limit": 4}
    seen: list[int] = []
    token: str | None = None
    while True:
        body = page(client, token, **params)
        seen += ids(body)
        token = body["next_token"]
        if token is None:
            break
    assert seen == sorted(made, reverse=True)


def test_tokens_are_checked_and_old_offset_tokens_still_work(client: httpx.Client) -> None:
    made = make_instances(client, 7)
    old = base64.urlsafe_b64encode(json.dumps({"offset": 5, "v": 1}).encode()).decode()
    assert ids(page(client, old)) == made[5:]
    for data in ({"after": [1], "order": [], "page": 2}, {"after": [1, 2], "order": [["id", False]], "page": 2}, [1]):
        bad = base64.urlsafe_b64encode(json.dumps(data).encode()).decode()
        reply = client.get(V1, params={"after_token": bad})
        assert reply.status_code == 400 and reply.json()["error"] == "invalid_token"


def test_listing_race_destroys_the_first_served_row_after_the_aimed_page(sim: Simulator, client: httpx.Client) -> None:
    made = make_instances(client, 12)
    sim.faults.add("listing_race", "v1_instances", page=2)
    first = page(client)
    assert live(sim) == set(made), "not after page 1"
    second = page(client, first["next_token"])
    assert live(sim) == set(made) - {made[5]}
    third = page(client, second["next_token"])
    assert third["total_instances"] == 11 and ids(third) == made[10:]
    assert page(client)["total_instances"] == 11, "the rule fired once"


def test_listing_race_can_destroy_a_named_instance_or_create_one(sim: Simulator, client: httpx.Client) -> None:
    made = make_instances(client, 7)
    sim.faults.add("listing_race", "v1_instances", instance_id=made[6])
    page(client)
    assert live(sim) == set(made[:6])
    sim.faults.add("listing_race", "v1_instances", action="create", label="other:job")
    page(client)
    extra = live(sim) - set(made)
    assert len(extra) == 1 and sim.state.instances[extra.pop()].label == "other:job"


def test_listing_race_waits_for_a_page_with_more_after_it(sim: Simulator, client: httpx.Client) -> None:
    made = make_instances(client, 3)
    sim.faults.add("listing_race", "v1_instances")
    page(client)
    assert live(sim) == set(made), "a listing of one page has no 'between pages'"


def test_page_faults_duplicate_miscount_or_drop_the_total(sim: Simulator, client: httpx.Client) -> None:
    made = make_instances(client, 7)
    sim.faults.add("duplicate_row", "v1_instances", page=2)
    sim.faults.add("wrong_total", "v1_instances", page=2)
    sim.faults.add("no_total", "v1_instances", page=1)
    first = page(client)
    assert ids(first) == made[:5] and "total_instances" not in first and "instances_found" not in first
    second = page(client, first["next_token"])
    assert ids(second) == [made[5], *made[5:]] and second["total_instances"] == 8
    assert page(client)["total_instances"] == 7


def test_a_fault_aimed_at_a_page_does_not_fire_elsewhere(sim: Simulator, client: httpx.Client) -> None:
    make_instances(client, 3)
    rule = sim.faults.add("server_error", "v1_instances", page=2)
    assert client.get(V1).status_code == 200 and rule.fired == 0
    with pytest.raises(ValueError, match="action"):
        sim.faults.add("listing_race", action="explode")


def test_the_lowcode_listing_races_and_misreports_the_same_way(sim: Simulator) -> None:
    native = httpx.Client(
        transport=sim.transport(), base_url="http://sim.local", headers={"Authorization": "Bearer sim-key"}
    )
    with native, httpx.Client(transport=sim.transport(), base_url="http://sim.local") as lc:
        made = make_instances(native, 7)
        sim.faults.add("listing_race", "lc_instances")
        sim.faults.add("no_total", "lc_instances", page=2)
        first = lc.get("/vastai/instances", params={**LOWCODE, "limit": 3, "offset": 0}).json()
        assert [r["id"] for r in first["instances"]] == made[:3] and first["total"] == 7
        assert live(sim) == set(made[1:])
        second = lc.get("/vastai/instances", params={**LOWCODE, "limit": 3, "offset": 2}).json()
        assert [r["id"] for r in second["instances"]] == made[3:6], "offset paging: the rows moved up by one"
        assert "total" not in second
