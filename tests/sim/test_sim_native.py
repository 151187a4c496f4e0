"""The native surface: auth, content type, search filters and order, v1 pagination, errors and the small routes."""

from __future__ import annotations

import httpx
import pytest
from sim_helpers import create, delete, offers, one_gpu_offer

from vastbid.sim import Simulator


def test_auth_bad_key_401_no_key_403_and_query_key_accepted(sim: Simulator) -> None:
    with httpx.Client(transport=sim.transport(), base_url="http://sim.local") as c:
        bad = c.get("/api/v0/users/current", headers={"Authorization": "Bearer wrong"})
        assert bad.status_code == 401
        assert bad.json() == {"success": False, "error": "auth_error", "msg": "Invalid user key"}
        assert c.get("/api/v0/users/current").status_code == 403
        assert c.get("/api/v0/users/current", params={"api_key": "sim-key"}).status_code == 200
        names = c.get("/api/v0/gpu_names/unique/")  # the CLI asks this without a key
        assert names.status_code == 200 and "RTX 4090" in names.json()["gpu_names"]


def test_replies_are_exactly_application_json_and_slashes_are_optional(client: httpx.Client) -> None:
    for path in ("/api/v0/users/current", "/api/v0/users/current/", "/api/v1/instances", "/api/v0/machines/"):
        reply = client.get(path)
        assert reply.status_code == 200 and reply.headers["content-type"] == "application/json"
    missing = client.get("/api/v0/nothing/here/")
    assert missing.status_code == 404 and missing.json()["success"] is False


def test_search_filters_coerce_strings_and_order(client: httpx.Client) -> None:
    found = offers(
        client,
        num_gpus={"gte": "2"},
        reliability={"gt": "0.9"},
        verified={"eq": True},
        order=[["dph_total", "asc"]],
    )
    assert found
    assert all(o["num_gpus"] >= 2 and o["reliability"] > 0.9 and o["verification"] == "verified" for o in found)
    prices = [o["dph_total"] for o in found]
    assert prices == sorted(prices)
    desc = offers(client, order=[["dlperf", "desc"]], limit=5)
    assert len(desc) == 5 and [o["dlperf"] for o in desc] == sorted((o["dlperf"] for o in desc), reverse=True)


def test_search_by_name_country_and_all_operators(client: httpx.Client) -> None:
    everything = offers(client)
    name = next(o["gpu_name"] for o in everything if " " in o["gpu_name"])
    assert {o["gpu_name"] for o in offers(client, gpu_name={"eq": name})} == {name}
    assert name not in {o["gpu_name"] for o in offers(client, gpu_name={"neq": name})}
    country = everything[0]["geolocation"][-2:]
    assert all(o["geolocation"].endswith(country) for o in offers(client, geolocation={"eq": country}))
    pair = sorted({o["geolocation"][-2:] for o in everything})[:2]
    assert {o["geolocation"][-2:] for o in offers(client, geolocation={"in": pair})} <= set(pair)
    assert not {o["geolocation"][-2:] for o in offers(client, geolocation={"notin": pair})} & set(pair)
    assert all(o["num_gpus"] in (1, 4) for o in offers(client, num_gpus={"in": ["1", "4"]}))
    assert all(o["num_gpus"] not in (1, 4) for o in offers(client, num_gpus={"notin": [1, 4]}))
    assert all(o["dph_total"] < 0.5 for o in offers(client, dph_total={"lt": "0.5"}))
    assert all(o["dph_total"] <= 0.5 for o in offers(client, dph_total={"lte": 0.5}))
    assert all(o["gpu_ram"] >= 24000 for o in offers(client, gpu_ram={"gte": 24000.0}))
    assert len(offers(client, limit=3)) == 3
    assert offers(client, unknown_field={"eq": "x"}) == everything


def test_bid_search_prices_offers_from_their_minimum_bid(client: httpx.Client) -> None:
    on_demand = {o["id"]: o for o in offers(client)}
    for o in offers(client, type="bid"):
        assert o["dph_base"] == pytest.approx(o["min_bid"])
        assert o["min_bid"] < on_demand[o["id"]]["dph_base"]
    wide = offers(client, allocated_storage=100)
    narrow = {o["id"]: o for o in offers(client, allocated_storage=10)}
    for o in wide:
        assert o["dph_total"] - narrow[o["id"]]["dph_total"] == pytest.approx(90 * o["storage_cost"] / 720, abs=1e-6)


def test_legacy_get_search(client: httpx.Client) -> None:
    reply = client.get("/api/v0/bundles/", params={"q": '{"num_gpus": {"eq": "1"}, "limit": 2}'})
    assert reply.status_code == 200 and [o["num_gpus"] for o in reply.json()["offers"]] == [1, 1]


def test_v1_pagination_with_tokens_and_filters(client: httpx.Client) -> None:
    offer = one_gpu_offer(client)
    made = [create(client, offer["id"], 0.001, label=f"job-{n % 3}").json()["new_contract"] for n in range(30)]
    first = client.get("/api/v1/instances/", params={"limit": 100}).json()
    assert first["total_instances"] == 30 and len(first["instances"]) == 25 and first["next_token"]
    second = client.get("/api/v1/instances/", params={"after_token": first["next_token"]}).json()
    assert len(second["instances"]) == 5 and second["next_token"] is None
    assert [r["id"] for r in first["instances"] + second["instances"]] == sorted(made)
    labelled = client.get(
        "/api/v1/instances/",
        params={"select_filters": '{"label": {"eq": "job-1"}}', "order_by": '[{"col": "id", "dir": "desc"}]'},
    ).json()
    ids = [r["id"] for r in labelled["instances"]]
    assert len(ids) == 10 and ids == sorted(ids, reverse=True)
    bad = client.get("/api/v1/instances/", params={"select_filters": '{"dph_total": {"lt": 1}}'})
    assert bad.status_code == 400 and "not a valid search key" in bad.json()["msg"]
    assert client.get("/api/v1/instances/", params={"after_token": "garbage"}).json()["error"] == "invalid_token"
    small = client.get("/api/v1/instances/", params={"limit": 0}).json()
    assert len(small["instances"]) == 5
    row = first["instances"][0]
    assert isinstance(row["start_date"], float) and isinstance(row["extra_env"], list)
    assert row["public_ipaddr"] != row["public_ipaddr"].strip()


def test_the_v0_list_is_deprecated(client: httpx.Client) -> None:
    reply = client.get("/api/v0/instances/", params={"owner": "me"}).json()
    assert reply["error"] == "deprecated_endpoint" and "instances" not in reply


def test_instance_actions_and_their_errors(client: httpx.Client) -> None:
    offer = one_gpu_offer(client)
    iid = create(client, offer["id"], offer["min_bid"] + 0.01).json()["new_contract"]
    assert client.put(f"/api/v0/instances/{iid}/", json={"label": "x" * 10}).json() == {"success": True}
    assert client.put(f"/api/v0/instances/{iid}/", json={"label": "x" * 2000}).status_code == 400
    for price in (0.0, 33.0):
        refused = client.put(f"/api/v0/instances/bid_price/{iid}/", json={"client_id": "me", "price": price})
        assert refused.status_code == 400 and refused.json()["msg"] == "Please set a bid price >= 0.001."
    assert client.put(f"/api/v0/instances/bid_price/{iid}/", json={"client_id": "me", "price": 0.5}).status_code == 200
    assert client.get(f"/api/v0/instances/{iid}/").json()["instances"]["dph_base"] == 0.5
    assert delete(client, f"/api/v0/instances/{iid}/").json()["success"] is True
    gone = delete(client, f"/api/v0/instances/{iid}/")
    assert gone.status_code == 404 and gone.json()["error"] == "no_such_instance"
    assert client.get(f"/api/v0/instances/{iid}/").json() == {"instances": None}


def test_ssh_keys_and_templates(client: httpx.Client) -> None:
    added = client.post("/api/v0/ssh/", json={"ssh_key": "ssh-ed25519 AAAA me"}).json()["key"]
    assert [k["public_key"] for k in client.get("/api/v0/ssh/").json()] == ["ssh-ed25519 AAAA me"]
    client.put(f"/api/v0/ssh/{added['id']}/", json={"ssh_key": "ssh-ed25519 BBBB me"})
    assert client.get("/api/v0/ssh/").json()[0]["key"] == "ssh-ed25519 BBBB me"
    assert delete(client, f"/api/v0/ssh/{added['id']}/").json()["success"] is True
    assert client.post("/api/v0/ssh/", json={"ssh_key": ""}).json()["error"] == "no_ssh_key"

    made = client.post("/api/v0/template/", json={"name": "t1", "image": "img", "env": "-e A=1"}).json()["template"]
    updated = client.put("/api/v1/template/", json={"id": made["id"], "hash_id": made["hash_id"], "image": "img2"})
    assert updated.json()["template"]["hash_id"] != made["hash_id"]
    found = client.get("/api/v0/template/", params={"select_filters": '{"name": {"eq": "t1"}}'}).json()
    assert found["templates_found"] == 1 and found["templates"][0]["image"] == "img2"
    assert delete(client, "/api/v0/template/").status_code == 404
    assert client.request("DELETE", "/api/v0/template/", json={"template_id": made["id"]}).json()["success"]


def test_host_minimum_bid_moves_the_offer_floor(client: httpx.Client) -> None:
    machine = client.get("/api/v0/machines", params={"owner": "me"}).json()["machines"][0]
    client.put("/api/v0/machines/create_asks/", json={"machine": machine["id"], "price_gpu": 1.0, "price_min_bid": 0.3})
    reply = client.put(f"/api/v0/machines/{machine['id']}/minbid/", json={"client_id": "me", "price": 0.4})
    assert reply.json()["success"] is True
    found = offers(client, type="bid", machine_id={"eq": machine["id"]})
    assert found and all(o["min_bid"] == pytest.approx(0.4 * o["num_gpus"]) for o in found)
    assert client.put("/api/v0/machines/1/minbid/", json={"price": 0.4}).status_code == 404
