"""Helpers for the simulator tests: search, create and show through the native API."""

from __future__ import annotations

from typing import Any

import httpx

START = 1_800_000_000.0


def offers(client: httpx.Client, **query: Any) -> list[dict[str, Any]]:
    body = {"limit": 1000, **query}
    reply = client.post("/api/v0/bundles/", json=body)
    assert reply.status_code == 200, reply.text
    return list(reply.json()["offers"])


def one_gpu_offer(client: httpx.Client) -> dict[str, Any]:
    """A rentable offer on a 1-GPU machine (its only chunk), priced as a bid."""
    found = offers(client, type="bid", rentable={"eq": True}, num_gpus={"eq": 1}, gpu_frac={"eq": 1})
    assert found
    return found[0]


def create(client: httpx.Client, offer_id: int, price: float | None, **fields: Any) -> httpx.Response:
    body = {"client_id": "me", "image": "pytorch/pytorch", "disk": 20.0, "price": price, **fields}
    return client.put(f"/api/v0/asks/{offer_id}/", json=body)


def show(client: httpx.Client, instance_id: int) -> dict[str, Any] | None:
    reply = client.get(f"/api/v0/instances/{instance_id}/", params={"owner": "me"})
    assert reply.status_code == 200
    row: dict[str, Any] | None = reply.json()["instances"]
    return row


def states(row: dict[str, Any] | None) -> tuple[Any, ...]:
    assert row is not None
    return (row["actual_status"], row["intended_status"], row["cur_state"], row["next_state"])


def delete(client: httpx.Client, path: str) -> httpx.Response:
    """DELETE with the ``{}`` body the CLI sends."""
    return client.request("DELETE", path, json={})
