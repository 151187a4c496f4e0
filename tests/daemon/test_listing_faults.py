"""A tick that cannot see the whole market (errors, an incomplete instance listing) acts on nothing, the daemon
keeps running, and once the market is visible again nothing is created twice."""

from __future__ import annotations

import pytest

from vastbid.core.jobs import JobState
from vastbid.core.labels import parse_label

from ._world import TICK_SECONDS, World

SEARCH_ROUTES = ("bundles", "bundles_get", "search_asks")


def mutations(requests: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Requests that create, change or destroy something on the market."""
    return [
        (method, path)
        for method, path in requests
        if (method in ("POST", "DELETE") and "bundles" not in path)
        or (method == "PUT" and ("/asks/" in path or "/instances/" in path))
    ]


@pytest.mark.parametrize(
    "faults",
    [
        [("truncated_listing", "v1_instances")],
        [("truncated_json", "v1_instances")],
        [("server_error", "v1_instances")],
        [("server_error", route) for route in SEARCH_ROUTES],
        [("html", "v1_instances")],
    ],
    ids=["truncated-listing", "listing-cut-json", "listing-500", "search-500", "listing-html"],
)
def test_a_blind_tick_only_stops_what_must_stop_and_nothing_is_doubled_after(
    world: World, faults: list[tuple[str, str]]
) -> None:
    running = world.store.jobs.submit(
        {"name": "running", "image": "img", "offer_filter": "gpu_name=RTX_3090", "max_price_per_gpu": 0.6}
    )
    daemon = world.daemon()
    world.run(daemon, 3)
    assert world.store.jobs.get(running.id).state is JobState.RUNNING
    for n in range(3):  # more instances than one listing page shows when truncated
        world.store.jobs.submit(
            {"name": f"q{n}", "image": "img", "offer_filter": "gpu_name=RTX_3090", "max_price_per_gpu": 0.6}
        )
    world.run(daemon, 3)
    before = sorted((i.id, i.label) for i in world.api.list_instances())
    assert len(before) == 4

    for kind, route in faults:
        world.sim.faults.add(kind, route, count=None)
    cancelled = world.store.jobs.get(running.id).instance_id
    world.store.jobs.cancel(running.id)  # the one thing the daemon must do even blind: stop paying for it
    world.requests.clear()
    results = world.run(daemon, 4)

    assert [r.ok for r in results] == [False] * 4
    # Blind, it destroys the cancelled job's instance by the id it holds, once, and commits nothing new.
    assert mutations(world.requests) == [("DELETE", f"/api/v0/instances/{cancelled}/")]
    world.sim.faults.clear()
    assert sorted((i.id, i.label) for i in world.api.list_instances()) == [b for b in before if b[0] != cancelled]

    world.run(daemon, 4)
    held: dict[int, int] = {}
    for inst in world.ours():
        parsed = parse_label(inst.label)
        assert parsed is not None
        held[parsed[1]] = held.get(parsed[1], 0) + 1
    assert running.id not in held, "the cancelled job's instance outlived the faults"
    assert all(count == 1 for count in held.values()), held
    assert world.store.jobs.get(running.id).state is JobState.CANCELLED
    assert len(held) == 3


def test_a_blind_tick_is_recorded_as_failed_and_the_next_one_recovers(world: World) -> None:
    world.store.jobs.submit(
        {"name": "j", "image": "img", "offer_filter": "gpu_name=RTX_3090", "max_price_per_gpu": 0.6}
    )
    daemon = world.daemon()
    world.sim.faults.add("server_error", "v1_instances", count=None)
    failed = daemon.tick()
    assert not failed.ok
    assert failed.error
    world.sim.faults.clear()
    assert world.api.list_instances() == []
    world.sim.advance(TICK_SECONDS)
    assert daemon.tick().ok
    assert len(world.ours()) == 1
