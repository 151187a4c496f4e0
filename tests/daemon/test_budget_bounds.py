"""Budgets are hard bounds, checked against the simulator's own bill (issue 10).

The daemon runs against the in-process simulator on a manual clock whose time moves while the client paces its
calls as Vast asks (4.5 s between creates, 3 s between destroys...): a plan of twelve creates takes a minute of
market time, as it does for real. The money is the simulator's: the account's credit, and each instance's GPU and
storage charges. ``Meter`` reads them around every request the daemon sends and after every tick.

Each setup runs twice: with the daemon's default of a few creates per tick, and with every create a plan holds
started in the same tick (``create_interval_seconds=0``: no per-tick limit), where the pacing of a dozen creates
takes about a minute and the budget must have priced that minute in.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vastbid.core.budget import Budget
from vastbid.core.labels import parse_label
from vastbid.daemon.tick import Daemon
from vastbid.sim import ProcessRates, Simulator
from vastbid.vast.factory import make_market_api

from ._world import KEY, World, job_spec

TICK = 5.0
CREDIT = 100.0
ROUNDING = 1e-5
"""The simulator's JSON rounds prices to 6 decimals: what the daemon reads may be that much under the bill."""
CREATES_PER_TICK = pytest.mark.parametrize(
    "creates", [{}, {"create_interval_seconds": 0.0}], ids=["creates-limited", "every-create-at-once"]
)


@dataclass
class Meter(httpx.BaseTransport):
    """The simulator's transport, reading the account's bill before and after every request."""

    sim: Simulator
    initial_credit: float
    samples: list[tuple[float, float, float]] = field(default_factory=list)
    """(time, money spent so far, $/h the account pays at that moment), in time order."""

    def __post_init__(self) -> None:
        self.inner = self.sim.transport()

    def read(self) -> None:
        self.sim.sync()
        market = self.sim.state
        self.samples.append((market.now, self.initial_credit - market.credit, market.burn_rate()))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.read()
        response = self.inner.handle_request(request)
        self.read()
        return response

    @property
    def spent(self) -> float:
        """What the account has been charged so far, $."""
        return self.samples[-1][1] if self.samples else 0.0

    @property
    def peak_burn(self) -> float:
        """The most $/h the account ever paid at once."""
        return max((rate for _, _, rate in self.samples), default=0.0)

    def worst_window(self, seconds: float) -> float:
        """The most money charged within any ``seconds`` between two readings."""
        worst = 0.0
        start = 0
        for t, spent, _ in self.samples:
            while self.samples[start][0] < t - seconds - 1e-9:
                start += 1
            worst = max(worst, spent - self.samples[start][1])
        return worst

    def by_job(self) -> dict[int, float]:
        """What each of our jobs' instances were charged (GPU and storage), $ per job id."""
        market = self.sim.state
        out: dict[int, float] = {}
        for inst in [*market.account.values(), *market.destroyed.values()]:
            parsed = parse_label(inst.label)
            if parsed is not None:
                out[parsed[1]] = out.get(parsed[1], 0.0) + inst.gpu_cost + inst.disk_cost
        return out


def paced(world: World, credit: float = CREDIT) -> Meter:
    """Give ``world`` a client that paces on the market's clock (pacing costs market time, as for real) through a
    ``Meter``."""
    meter = Meter(world.sim, credit)
    client = httpx.Client(transport=meter, base_url="http://sim.local")
    world.api = make_market_api("native", client, KEY, sleep=world.clock.advance, monotonic=world.clock.now)
    return meter


def run_ticks(world: World, daemon: Daemon, meter: Meter, ticks: int, tick: float = TICK) -> list[tuple[float, float]]:
    """Tick ``ticks`` times; each tick takes its own (paced) time, then ``tick`` seconds pass. For each tick that
    planned: the $/h it believed committed, and the $/h the account really paid once it had acted."""
    believed = []
    for _ in range(ticks):
        result = daemon.tick()
        meter.read()
        if result.plan is not None:
            believed.append((result.plan.committed_dph, meter.samples[-1][2]))
        world.sim.advance(tick)
        meter.read()
    return believed


@CREATES_PER_TICK
def test_twelve_big_on_demand_jobs_stay_under_a_five_cent_daily_cap(
    make_world: Callable[..., World], creates: dict[str, Any]
) -> None:
    # The first setup: it spent $0.111 (2.2x) when $0.05 left allowed $36/h over one 5 s tick.
    world = make_world(scenario="default", initial_credit=CREDIT)
    meter = paced(world)
    for n in range(12):
        gpus = 4 if n % 2 else 8
        spec = job_spec(f"big-{n}", 20, num_gpus=gpus, offer_filter=f"num_gpus={gpus}", rental="on_demand")
        world.store.jobs.submit({**spec, "max_price_per_gpu": 4.0})
    daemon = world.daemon(tick_seconds=TICK, budget=Budget(daily_cap=0.05), **creates)

    believed = run_ticks(world, daemon, meter, 60)

    assert len(meter.by_job()) >= 2  # it did rent within the cap
    assert meter.spent <= 0.05, f"real spend ${meter.spent:.4f} over the $0.05 daily cap"
    assert all(real <= committed + ROUNDING for committed, real in believed)


@CREATES_PER_TICK
def test_ten_on_demand_jobs_with_4000_gb_disks_stay_under_a_three_dollar_burn_cap(
    make_world: Callable[..., World], creates: dict[str, Any]
) -> None:
    # The second setup: $11.60/h real for ~50 s while the daemon believed $2.94/h (5 GB of storage each).
    world = make_world(scenario="default", initial_credit=CREDIT)
    meter = paced(world)
    for n in range(10):
        spec = job_spec(f"disk-{n}", 20, offer_filter="num_gpus=1", rental="on_demand", disk_gb=4000)
        world.store.jobs.submit({**spec, "max_price_per_gpu": 2.0})
    daemon = world.daemon(tick_seconds=TICK, budget=Budget(max_burn_per_hour=3.0), **creates)

    believed = run_ticks(world, daemon, meter, 30)

    assert len(meter.by_job()) >= 2  # it did rent
    assert meter.peak_burn <= 3.0 + 1e-9, f"real burn ${meter.peak_burn:.4f}/h over the $3/h cap"
    assert meter.worst_window(TICK) <= 3.0 * TICK / 3600 + 1e-9
    assert all(real <= committed + ROUNDING for committed, real in believed)  # what it believes is what it pays


# --- any market --------------------------------------------------------------------------------------------------

FAST_MARKET = ProcessRates(
    on_demand_arrivals_per_hour=120.0,
    on_demand_mean_hours=0.05,
    bidder_arrivals_per_hour=240.0,
    bidder_mean_hours=0.05,
    bid_moves_per_hour=720.0,
    machine_failures_per_hour=6.0,
    offline_mean_hours=0.02,
    relist_delay_mean_hours=0.01,
    listing_min_days=0.001,
    listing_max_days=0.005,
)
"""Prices that move within minutes: renters and bidders come and go, bids move, listings expire and return at new
prices, machines fail."""


@dataclass(frozen=True)
class Setup:
    seed: int
    tick: float
    credit: float
    budget: Budget
    jobs: list[dict[str, Any]]
    failing: float
    """The probability that a search fails (the tick then fails)."""
    creates: dict[str, Any]


@st.composite
def setups(draw: st.DrawFn) -> Setup:
    cents = st.floats(0.005, 0.3)
    budget = Budget(
        max_burn_per_hour=draw(st.none() | st.floats(0.2, 6.0)),
        daily_cap=draw(st.none() | cents),
        monthly_cap=draw(st.none() | cents),
        min_balance=draw(st.floats(0.0, 0.5)),
        per_job_max_cost=draw(st.none() | st.floats(0.002, 0.1)),
    )
    jobs = []
    for n in range(draw(st.integers(1, 10))):
        gpus = draw(st.sampled_from([1, 2, 4]))
        spec = job_spec(
            f"any-{n}",
            draw(st.sampled_from([0.01, 5.0])),
            num_gpus=gpus,
            offer_filter=f"num_gpus={gpus}",
            rental=draw(st.sampled_from(["on_demand", "interruptible", "auto"])),
            disk_gb=draw(st.sampled_from([10.0, 200.0, 4000.0])),
            priority=draw(st.integers(0, 2)),
        )
        jobs.append({**spec, "max_price_per_gpu": draw(st.floats(0.3, 3.0))})
    return Setup(
        seed=draw(st.integers(0, 10_000)),
        tick=draw(st.sampled_from([5.0, 15.0, 60.0])),
        credit=draw(st.floats(0.3, 2.0)),
        budget=budget,
        jobs=jobs,
        failing=draw(st.sampled_from([0.0, 0.3])),
        creates=draw(st.sampled_from([{}, {"create_interval_seconds": 0.0}])),
    )


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(setup=setups())
def test_no_cap_is_passed_by_more_than_one_tick_of_committed_burn(
    make_world: Callable[..., World], setup: Setup
) -> None:
    world = make_world(
        scenario="small", seed=setup.seed, processes=True, rates=FAST_MARKET, initial_credit=setup.credit
    )
    meter = paced(world, setup.credit)
    if setup.failing:
        world.sim.faults.add("server_error", "bundles", count=None, probability=setup.failing)
    for spec in setup.jobs:
        world.store.jobs.submit(spec)
    daemon = world.daemon(tick_seconds=setup.tick, budget=setup.budget, **setup.creates)
    rng = random.Random(setup.seed)

    believed = []
    for _ in range(12):
        result = daemon.tick()
        meter.read()
        if result.plan is not None:
            believed.append((result.plan.committed_dph, meter.samples[-1][2]))
        world.sim.advance(setup.tick * rng.uniform(1.0, 1.5))  # the scheduler's jitter
        meter.read()

    assert all(real <= committed + ROUNDING for committed, real in believed)  # it pays no more than it believes

    # "One tick of the already-committed burn": what the account really paid at most, over one tick interval.
    slack = meter.peak_burn * setup.tick / 3600 + 1e-9
    budget = setup.budget
    for cap in (budget.daily_cap, budget.monthly_cap):
        if cap is not None:
            assert meter.spent <= cap + slack
    assert meter.spent <= max(setup.credit - budget.min_balance, 0.0) + slack  # the reserve stays
    if budget.max_burn_per_hour is not None:
        assert meter.worst_window(setup.tick) <= budget.max_burn_per_hour * setup.tick / 3600 + slack
    if budget.per_job_max_cost is not None:
        for job_id, cost in meter.by_job().items():
            assert cost <= budget.per_job_max_cost + slack, f"job {job_id} cost ${cost:.4f}"
