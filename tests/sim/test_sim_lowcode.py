"""The LowCodeAPI surface: auth, both URL styles, bids (direct, limit orders, outbid, expiry, cancel) and one
state shared with the native surface."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sim_helpers import create, one_gpu_offer, show

from vastbid.sim import Simulator

TOKEN = {"api_token": "sim-token"}


@pytest.fixture
def lc(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(transport=sim.transport(), base_url="http://sim.local/vastai", params=TOKEN) as c:
        yield c


def test_a_wrong_or_missing_token_is_refused(sim: Simulator) -> None:
    with httpx.Client(transport=sim.transport(), base_url="http://sim.local/vastai") as c:
        for params in ({}, {"api_token": "nope"}):
            reply = c.get("/balance", params=params)
            assert reply.status_code == 401
            assert reply.json() == {"success": False, "error": "auth_error", "msg": "Invalid api_token"}


def test_balance_and_users(lc: httpx.Client) -> None:
    balance = lc.get("/balance").json()
    assert balance["success"] is True and balance["credit"] == 100.0
    me = lc.get("/users/me").json()["user"]
    public = lc.get(f"/users/{me['id']}").json()["user"]
    assert "email" not in public and public["username"] == me["username"]
    assert lc.put("/users/me", json={"username": "renamed"}).json()["user"]["username"] == "renamed"


def test_both_url_styles_reach_the_same_object(lc: httpx.Client, client: httpx.Client) -> None:
    offer = one_gpu_offer(client)
    iid = create(client, offer["id"], None).json()["new_contract"]
    by_path = lc.get(f"/instances/{iid}").json()["instance"]
    by_query = lc.get("/instances/instance_id", params={**TOKEN, "instance_id": iid}).json()["instance"]
    assert by_path["id"] == by_query["id"] == iid
    assert lc.put("/instances/instance_id/stop", params={**TOKEN, "instance_id": iid}).json()["success"] is True
    assert show(client, iid)["actual_status"] == "stopped"  # type: ignore[index]
    assert lc.get("/offers/offer_id", params={**TOKEN, "offer_id": offer["id"]}).json()["offer"]["id"] == offer["id"]
    assert lc.get("/instances/999").status_code == 404


def test_an_instance_rented_on_lowcode_is_seen_natively(sim: Simulator, lc: httpx.Client, client: httpx.Client) -> None:
    offer = lc.get("/offers", params={**TOKEN, "type": "bid", "sort_option": "dph_total", "order": "asc"}).json()
    assert offer["total"] >= 30
    first = offer["offers"][0]
    reply = lc.post("/instances", json={"offer_id": first["id"], "image": "img", "disk": 10})
    iid = reply.json()["new_contract"]
    assert show(client, iid)["is_bid"] is False  # type: ignore[index]
    listed = lc.get("/instances").json()
    assert listed["total"] == 1 and listed["instances"][0]["id"] == iid
    assert lc.delete(f"/instances/{iid}").json()["success"] is True
    assert show(client, iid) is None


def _bid(lc: httpx.Client, **body: Any) -> httpx.Response:
    return lc.post("/bids", json={"image": "img", "disk": 10, **body})


def test_a_bid_on_an_offer_runs_gets_outbid_and_is_cancelled(
    sim: Simulator, lc: httpx.Client, client: httpx.Client
) -> None:
    offer = one_gpu_offer(client)
    reply = _bid(lc, offer_id=offer["id"], price=offer["min_bid"], num_gpus=1, duration=10)
    assert reply.status_code == 201
    bid = reply.json()["bid"]
    assert bid["status"] == "active" and bid["offer_id"] == offer["id"]
    create(client, offer["id"], None)  # an on-demand renter takes the GPU
    assert lc.get(f"/bids/{bid['id']}").json()["bid"]["status"] == "outbid"
    assert lc.get("/bids", params={**TOKEN, "state": "outbid"}).json()["total"] == 1
    cancelled = lc.delete("/bids/bid_id", params={**TOKEN, "bid_id": bid["id"]}).json()["bid"]
    assert cancelled["status"] == "cancelled"
    assert show(client, bid["instance_id"]) is None


def test_a_bid_under_the_minimum_is_refused_with_the_stopped_instance(lc: httpx.Client, client: httpx.Client) -> None:
    offer = one_gpu_offer(client)
    body = _bid(lc, offer_id=offer["id"], price=round(offer["min_bid"] / 2, 4), num_gpus=1).json()
    assert body["success"] is False and body["error"] == "insufficient_bid"
    assert show(client, body["new_contract"])["actual_status"] == "stopped"  # type: ignore[index]
    assert _bid(lc, offer_id=1, price=1.0, num_gpus=1).status_code == 404


def test_a_limit_order_waits_then_fills_then_expires(sim: Simulator, lc: httpx.Client, client: httpx.Client) -> None:
    cheapest = min(
        o["min_bid"] for o in lc.get("/offers", params={**TOKEN, "type": "bid"}).json()["offers"] if o["num_gpus"] == 2
    )
    pending = _bid(lc, price=round(cheapest * 0.5, 4), num_gpus=2, duration=2).json()["bid"]
    assert pending["status"] == "pending" and pending["instance_id"] is None
    raised = lc.put(f"/bids/{pending['id']}", json={"price": round(cheapest + 0.01, 4)}).json()["bid"]
    assert raised["status"] == "active" and raised["num_gpus"] == 2
    assert show(client, raised["instance_id"])["is_bid"] is True  # type: ignore[index]
    sim.advance(2 * 3600 + 1)
    expired = lc.get(f"/bids/{pending['id']}").json()["bid"]
    assert expired["status"] == "expired"
    assert show(client, raised["instance_id"]) is None


def test_hosts_list_and_unlist_and_own_machines_never_fill_limit_orders(sim: Simulator, lc: httpx.Client) -> None:
    machine = lc.get("/machines").json()["machines"][0]
    pending = _bid(lc, price=0.011 * machine["num_gpus"], num_gpus=machine["num_gpus"]).json()["bid"]
    assert pending["status"] == "pending"
    listed = lc.post(f"/machines/{machine['id']}/offers", json={"price_gpu": 0.02, "price_min_bid": 0.01})
    assert listed.json()["machine"]["listed"] is True
    sim.advance(1)
    assert lc.get(f"/bids/{pending['id']}").json()["bid"]["status"] == "pending"  # own machines are not matched
    assert lc.delete(f"/machines/{machine['id']}/offers").json()["machine"]["listed"] is False


def test_ssh_keys_templates_and_invoices(lc: httpx.Client) -> None:
    key = lc.post("/ssh-keys", json={"ssh_key": "ssh-ed25519 AAAA test"}).json()["ssh_key"]
    assert [k["id"] for k in lc.get("/ssh-keys").json()["ssh_keys"]] == [key["id"]]
    assert lc.delete(f"/ssh-keys/{key['id']}").json()["success"] is True
    assert lc.post("/ssh-keys", json={}).status_code == 400
    template = lc.post("/templates", json={"name": "trainer", "image": "pytorch/pytorch"}).json()["template"]
    updated = lc.put(f"/templates/{template['id']}", json={"image": "pytorch/pytorch:2"}).json()["template"]
    assert updated["hash_id"] != template["hash_id"]
    assert lc.get("/templates", params={**TOKEN, "q": "TRAIN"}).json()["total"] == 1
    assert lc.get("/templates/template_id", params={**TOKEN, "template_id": template["id"]}).status_code == 200
    assert lc.delete(f"/templates/{template['id']}").json()["success"] is True
    invoices = lc.get("/invoices", params={**TOKEN, "type": "credit"}).json()
    assert invoices["total"] == 1
    assert lc.get(f"/invoices/{invoices['invoices'][0]['id']}").json()["invoice"]["amount"] == 100.0
