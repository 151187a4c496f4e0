"""Market semantics seen through the native API: outbidding, on-demand preemption, low bids, billing, relisting,
the workload model and determinism."""

from __future__ import annotations

import httpx
import pytest
from sim_helpers import START, create, delete, offers, one_gpu_offer, show, states

from vastbid.sim import ManualClock, ProcessRates, SimConfig, Simulator

BOOT = 200.0  # longer than the longest boot


def test_a_higher_bid_outbids_a_lower_one_which_resumes_when_it_leaves(sim: Simulator, client: httpx.Client) -> None:
    offer = one_gpu_offer(client)
    low = create(client, offer["id"], offer["min_bid"]).json()["new_contract"]
    sim.advance(BOOT)
    assert states(show(client, low)) == ("running", "running", "running", "running")

    again = next(o for o in offers(client, type="bid") if o["id"] == offer["id"])
    assert again["min_bid"] == pytest.approx(offer["min_bid"] + 0.001)
    high = create(client, offer["id"], again["min_bid"]).json()["new_contract"]

    row = show(client, low)
    assert states(row) == ("stopped", "stopped", "stopped", "stopped")
    assert row is not None and "outbid" in row["status_msg"]
    sim.advance(BOOT)
    assert show(client, high)["actual_status"] == "running"  # type: ignore[index]

    assert delete(client, f"/api/v0/instances/{high}/").json()["success"] is True
    assert show(client, low)["intended_status"] == "running"  # type: ignore[index]
    sim.advance(BOOT)
    assert states(show(client, low)) == ("running", "running", "running", "running")


def test_an_equal_bid_does_not_displace_the_running_one(sim: Simulator, client: httpx.Client) -> None:
    offer = one_gpu_offer(client)
    first = create(client, offer["id"], offer["min_bid"] + 0.05).json()["new_contract"]
    sim.advance(BOOT)
    reply = create(client, offer["id"], offer["min_bid"] + 0.05).json()
    assert reply["success"] is False and reply["error"] == "insufficient_bid"
    assert show(client, first)["actual_status"] == "running"  # type: ignore[index]


def test_an_on_demand_rental_outbids_bids_and_hides_the_offer(sim: Simulator, client: httpx.Client) -> None:
    offer = one_gpu_offer(client)
    bid = create(client, offer["id"], offer["min_bid"] * 1.5).json()["new_contract"]
    sim.advance(BOOT)
    ondemand = create(client, offer["id"], None).json()
    assert ondemand["success"] is True
    assert states(show(client, bid))[1:] == ("stopped", "stopped", "stopped")
    sim.advance(BOOT)
    row = show(client, ondemand["new_contract"])
    assert row is not None and row["is_bid"] is False and row["actual_status"] == "running"
    assert offer["id"] not in {o["id"] for o in offers(client, rentable={"eq": True})}
    assert next(o for o in offers(client) if o["id"] == offer["id"])["rentable"] is False
    taken = create(client, offer["id"], None)
    assert taken.status_code == 404 and "no_such_ask" in taken.json()["msg"]


def test_a_bid_under_the_minimum_leaves_a_stopped_instance(sim: Simulator, client: httpx.Client) -> None:
    offer = one_gpu_offer(client)
    reply = create(client, offer["id"], round(offer["min_bid"] * 0.5, 4))
    body = reply.json()
    assert reply.status_code == 200 and body["success"] is False and body["error"] == "insufficient_bid"
    assert states(show(client, body["new_contract"])) == ("stopped", "stopped", "stopped", "stopped")
    cancelled = create(client, offer["id"], round(offer["min_bid"] * 0.5, 4), cancel_unavail=True)
    assert cancelled.status_code == 410
    listed = client.get("/api/v1/instances/").json()
    assert listed["total_instances"] == 1


def test_prices_out_of_range_and_unknown_offers_are_refused(client: httpx.Client) -> None:
    offer = one_gpu_offer(client)
    assert create(client, offer["id"], 500.0).json()["error"] == "invalid_price"
    gone = create(client, 1, None)
    assert gone.status_code == 404
    assert gone.json() == {
        "success": False,
        "error": "invalid_args",
        "ask_id": 1,
        "msg": "error 404/3603: no_such_ask Instance type by id 1 is not available.",
    }


def _charges(client: httpx.Client, instance_id: int) -> dict[str, float]:
    rows = client.get("/api/v0/charges/").json()["results"]
    row = next(r for r in rows if r["source"] == f"instance-{instance_id}")
    return {item["type"]: item["amount"] for item in row["items"]}


def test_billing_gpu_only_while_running_storage_always(sim: Simulator, client: httpx.Client) -> None:
    offer = one_gpu_offer(client)
    price = round(offer["min_bid"] + 0.1, 4)
    iid = create(client, offer["id"], price).json()["new_contract"]
    assert _charges(client, iid)["gpu"] == 0.0
    sim.advance(BOOT)
    before = _charges(client, iid)
    sim.advance(3600)
    after = _charges(client, iid)
    assert after["gpu"] - before["gpu"] == pytest.approx(price, abs=1e-5)  # one hour at the bid
    row = show(client, iid)
    assert row is not None
    assert after["disk"] - before["disk"] == pytest.approx(row["storage_total_cost"], abs=1e-5)

    client.put(f"/api/v0/instances/{iid}/", json={"state": "stopped"})
    sim.advance(7200)
    stopped = _charges(client, iid)
    assert stopped["gpu"] == pytest.approx(after["gpu"], abs=1e-6)
    assert stopped["disk"] - after["disk"] == pytest.approx(2 * row["storage_total_cost"], abs=1e-5)

    user = client.get("/api/v0/users/current").json()
    total = sum(r["amount"] for r in client.get("/api/v0/charges/").json()["results"])
    assert user["credit"] == pytest.approx(100.0 - total, abs=1e-5)
    assert "api_key" not in user and "sim-key" not in str(user)
    invoices = client.get("/api/v1/invoices/").json()["results"]
    assert {r["type"] for r in invoices} == {"credit", "charge"}


def test_credit_running_out_stops_running_instances(clock: ManualClock) -> None:
    sim = Simulator(SimConfig(seed=3, scenario="small", processes=False, initial_credit=0.05), clock=clock)
    with httpx.Client(
        transport=sim.transport(), base_url="http://sim.local", headers={"Authorization": "Bearer sim-key"}
    ) as client:
        offer = one_gpu_offer(client)
        iid = create(client, offer["id"], None).json()["new_contract"]
        sim.advance(86400)
        row = show(client, iid)
        assert row is not None and row["actual_status"] == "stopped" and "credit" in row["status_msg"]
        assert client.get("/api/v0/users/current").json()["credit"] <= 0.0


def test_relisting_changes_the_offer_id(client: httpx.Client) -> None:
    machine = client.get("/api/v0/machines", params={"owner": "me"}).json()["machines"][0]
    listed = client.put(
        "/api/v0/machines/create_asks/",
        json={"machine": machine["id"], "price_gpu": 0.5, "price_min_bid": 0.2, "min_chunk": 1},
    )
    assert listed.json()["success"] is True
    first = offers(client, machine_id={"eq": machine["id"]}, verified={"eq": True})
    assert first and all(o["dph_base"] == pytest.approx(0.5 * o["num_gpus"]) for o in first)
    assert delete(client, f"/api/v0/machines/{machine['id']}/asks/").json()["success"] is True
    assert offers(client, machine_id={"eq": machine["id"]}) == []
    client.put("/api/v0/machines/create_asks/", json={"machine": machine["id"], "price_gpu": 0.6})
    second = offers(client, machine_id={"eq": machine["id"]})
    assert {o["num_gpus"] for o in second} == {o["num_gpus"] for o in first}
    assert not {o["id"] for o in first} & {o["id"] for o in second}
    assert create(client, first[0]["id"], None).status_code == 404


def test_a_job_with_work_hours_exits_and_checkpointed_progress_survives_a_move(
    sim: Simulator, client: httpx.Client
) -> None:
    offer = one_gpu_offer(client)
    env = {"SIM_WORK_HOURS": "1.0", "SIM_CHECKPOINT": "job-7"}
    first = create(client, offer["id"], None, env=env).json()["new_contract"]
    sim.advance(BOOT + 1800)
    assert show(client, first)["sim_progress_hours"] == pytest.approx(0.5, abs=0.06)  # type: ignore[index]
    delete(client, f"/api/v0/instances/{first}/")
    moved = create(client, offer["id"], None, env=env).json()["new_contract"]
    row = show(client, moved)
    assert row is not None and row["extra_env"] == [["SIM_WORK_HOURS", "1.0"], ["SIM_CHECKPOINT", "job-7"]]
    assert row["sim_progress_hours"] == pytest.approx(0.5, abs=0.06)
    sim.advance(BOOT + 1800)
    row = show(client, moved)
    assert row is not None and row["actual_status"] == "exited" and "code 0" in row["status_msg"]
    assert row["sim_progress_hours"] == pytest.approx(1.0)


def test_progress_without_a_checkpoint_is_lost_on_a_move(sim: Simulator, client: httpx.Client) -> None:
    offer = one_gpu_offer(client)
    first = create(client, offer["id"], None, env={"SIM_WORK_HOURS": "2"}).json()["new_contract"]
    sim.advance(BOOT + 3600)
    delete(client, f"/api/v0/instances/{first}/")
    second = create(client, offer["id"], None, env={"SIM_WORK_HOURS": "2"}).json()["new_contract"]
    assert show(client, second)["sim_progress_hours"] == 0.0  # type: ignore[index]


def _market_fingerprint(seed: int) -> list[tuple[int, float, bool]]:
    sim = Simulator(SimConfig(seed=seed), clock=ManualClock(start=START))
    sim.advance(6 * 3600)
    with httpx.Client(
        transport=sim.transport(), base_url="http://sim.local", headers={"Authorization": "Bearer sim-key"}
    ) as client:
        found = offers(client, limit=5000, type="bid", verified={"eq": True})
    return [(o["id"], o["min_bid"], o["rentable"]) for o in found]


def test_the_same_seed_gives_the_same_market() -> None:
    first = _market_fingerprint(11)
    assert len(first) > 1000
    assert first == _market_fingerprint(11)
    assert first != _market_fingerprint(12)


def test_the_default_market_is_large_and_varied() -> None:
    sim = Simulator(SimConfig(seed=1, processes=False), clock=ManualClock(start=START))
    with httpx.Client(
        transport=sim.transport(), base_url="http://sim.local", headers={"Authorization": "Bearer sim-key"}
    ) as client:
        found = offers(client, limit=100_000)
    assert len(found) >= 2000
    assert len({o["gpu_name"] for o in found}) >= 8
    assert len({o["geolocation"][-2:] for o in found}) >= 10
    h100 = [o["dph_base"] / o["num_gpus"] for o in found if o["gpu_name"].startswith("H100")]
    assert h100 and min(h100) >= 1.6 and max(h100) <= 2.8
    assert all(0.4 <= o["min_bid"] / o["dph_base"] <= 0.7 + 1e-6 for o in found)


def test_other_participants_rent_bid_fail_and_relist() -> None:
    rates = ProcessRates(
        listing_min_days=0.2, listing_max_days=0.5, relist_delay_mean_hours=1.0, machine_failures_per_hour=2.0
    )
    sim = Simulator(SimConfig(seed=4, scenario="small", rates=rates), clock=ManualClock(start=START))
    with httpx.Client(
        transport=sim.transport(), base_url="http://sim.local", headers={"Authorization": "Bearer sim-key"}
    ) as client:
        before = {(o["machine_id"], o["num_gpus"]): o for o in offers(client)}
        seen_unrentable = seen_raised_floor = False
        for _ in range(24):
            sim.advance(3600)
            now = offers(client, type="bid")
            seen_unrentable |= any(not o["rentable"] for o in now)
            floors = {(o["machine_id"], o["num_gpus"]): o["dph_base"] for o in offers(client)}
            seen_raised_floor |= any(o["min_bid"] > 0.7 * floors[(o["machine_id"], o["num_gpus"])] for o in now)
        after = {(o["machine_id"], o["num_gpus"]): o for o in offers(client)}
    relisted = [key for key in before.keys() & after.keys() if before[key]["id"] != after[key]["id"]]
    assert relisted and all(before[k]["dph_base"] != after[k]["dph_base"] for k in relisted)
    assert seen_unrentable and seen_raised_floor
