"""A first tick with a thousand bids: the tick starts only the creates that fit its interval, pets the watchdog
while it acts, and says "acquiring" while the rest follow on later ticks."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta

import httpx

from vastbid.core.labels import parse_label
from vastbid.daemon.pacing import creates_per_tick
from vastbid.daemon.service import DaemonService
from vastbid.vast.factory import make_market_api

from ._world import KEY, World

WATCHDOG_SECONDS = 300.0
TICK = 60.0


def test_a_thousand_bid_first_tick_never_lets_a_300_s_watchdog_expire(make_world: Callable[..., World]) -> None:
    world = make_world(scenario="default")
    client = httpx.Client(transport=world.sim.transport(), base_url="http://sim.local")
    # Vast's 4.5 s between creates, spent on the simulator's clock: pacing costs virtual time, as it would real time.
    world.api = make_market_api("native", client, KEY, sleep=world.clock.advance, monotonic=world.clock.now)
    world.store.jobs.submit_many(
        [{"name": f"j{n}", "image": "img", "max_price_per_gpu": 5.0, "rental": "interruptible"} for n in range(1000)]
    )
    pets: list[float] = []
    daemon = world.daemon(tick_seconds=TICK)
    daemon.executor._heartbeat = lambda: pets.append(world.clock.now())  # the fake systemd watchdog
    service = DaemonService(daemon, window=timedelta(seconds=3 * TICK))
    limit = creates_per_tick(TICK, 4.5)

    for _ in range(3):
        started = world.clock.now()
        pets.append(started)
        result = daemon.tick()
        ended = world.clock.now()
        pets.append(ended)
        assert result.ok
        assert ended - started < TICK  # the tick ends inside its interval
        ready, reason = service.ready()
        assert ready and reason.startswith("acquiring: "), reason
        world.clock.advance(max(TICK - (ended - started), 0.0))
        world.sim.advance(0)

    gaps = [later - earlier for earlier, later in itertools.pairwise(pets)]
    assert max(gaps) < WATCHDOG_SECONDS
    labels = [parse_label(i.label) for i in world.ours()]
    assert len(labels) == 3 * limit  # ten creates a tick, the 990 others deferred, highest priority first
    assert {label[1] for label in labels if label is not None} == set(range(1, 3 * limit + 1))
