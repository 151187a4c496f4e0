"""LowCodeAPI bids over the market: their status, their JSON, renting for them, and filling limit orders."""

from __future__ import annotations

from typing import Any

from vastbid.sim import operations as ops
from vastbid.sim.entities import ACCOUNT, Bid
from vastbid.sim.market import Market
from vastbid.sim.wire import Reply


def bid_status(market: Market, bid: Bid) -> str:
    if bid.closed:
        return bid.closed
    if bid.instance_id is None:
        return "pending"
    inst = market.instances.get(bid.instance_id)
    if inst is None:
        return "cancelled"
    return "active" if inst.holding else "outbid"


def bid_json(market: Market, bid: Bid) -> dict[str, Any]:
    return {
        "id": bid.id,
        "instance_id": bid.instance_id,
        "offer_id": bid.offer_id,
        "machine_id": bid.machine_id,
        "num_gpus": bid.num_gpus,
        "price": bid.price,
        "duration": bid.duration_hours,
        "status": bid_status(market, bid),
        "created_at": bid.created_at,
    }


def rent_for_bid(market: Market, bid: Bid, offer_id: int) -> Reply | None:
    """Rent ``offer_id`` for the bid; a refusal comes back as the native reply."""
    result, reply = ops.create_instance(
        market,
        offer_id,
        {
            "price": bid.price,
            "image": bid.image,
            "disk": bid.disk,
            "label": bid.label,
            "env": bid.env,
            "onstart": bid.onstart,
        },
    )
    if result.instance is None or result.error:
        if result.instance is None and isinstance(reply.body, dict):
            reply.body["error"] = "no_such_ask"
        return reply
    inst = result.instance
    inst.bid_id = bid.id
    bid.instance_id = inst.id
    bid.offer_id = offer_id
    bid.machine_id = inst.machine_id
    bid.num_gpus = inst.num_gpus
    return None


def cheapest_match(market: Market, bid: Bid) -> int | None:
    best: tuple[float, int] | None = None
    for machine in market.machines.values():
        if not machine.listed or not machine.online or machine.owner == ACCOUNT:
            continue
        offer_id = machine.offer_ids.get(bid.num_gpus)
        if offer_id is None or market.on_demand_blocked(machine, bid.num_gpus):
            continue
        floor = market.min_bid(machine, bid.num_gpus)
        if floor is not None and floor <= bid.price + 1e-9 and (best is None or (floor, offer_id) < best):
            best = (floor, offer_id)
    return None if best is None else best[1]


def fill_pending(market: Market) -> None:
    for bid in market.bids.values():
        if bid.closed is None and bid.instance_id is None:
            offer_id = cheapest_match(market, bid)
            if offer_id is not None:
                rent_for_bid(market, bid, offer_id)
