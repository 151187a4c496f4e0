"""Replay one deadline job over a trace window, tick by tick, through a strategy's ``choose()``.

Each tick, in order:
1. the market moves: a working interruptible is preempted (status ``OUTBID``) when its zone has no capacity or
   the spot price rose above its bid; a held preempted one resumes (restart overhead again) when capacity
   returns at a price within its bid;
2. the strategy sees the context a daemon would give it: one ``Offer`` per zone (``min_bid`` = the spot price,
   or ``UNAVAILABLE_MIN_BID`` when the zone has no capacity; ``dph_total`` = the on-demand price), the job
   (progress, interruptions, ``on_demand_since``), its instance, ``history`` per zone (our rentals and the
   preemptions we suffered there) and ``spot_stats`` per machine id, what a market recorder saw up to now: the
   age of the current run of spot capacity and the lengths of past runs;
3. its choice is applied: ``ACQUIRE``/``MIGRATE`` start a new instance (restart overhead first), ``REBID`` moves
   the bid, ``RELEASE`` drops the instance, ``KEEP``/``WAIT`` change nothing;
4. the tick is accounted: a working instance costs the tick's price (on demand: the ask; interruptible: the
   tick's spot price, as on AWS) and progresses one tick once its overhead is served.
The run ends when the work is done or at the deadline (a miss). See ``model`` for the tick grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import numpy.typing as npt

from vastbid.backtest.model import JobShape
from vastbid.backtest.traces import TraceSet
from vastbid.core.instances import Instance, InstanceStatus
from vastbid.core.jobs import Job, JobSpec, JobState
from vastbid.core.offers import Offer, RentalType
from vastbid.core.spot_runs import SpotStats
from vastbid.errors import BacktestError
from vastbid.strategies.base import MachineRecord, Strategy, StrategyContext, Verb

UNAVAILABLE_MIN_BID = 100.0
"""The minimum bid a zone shows when it has no interruptible capacity ($/h; 10x on demand when that is more)."""

PAST_RUNS_KEPT = 200

IDLE, ON_DEMAND, SPOT, PREEMPTED = 0, 1, 2, 3
"""Timeline codes: what the job held during a tick."""


@dataclass(slots=True)
class _Held:
    zone: int
    rental: RentalType
    bid: float | None
    overhead_left: int
    preempted: bool
    instance_id: int
    started_tick: int


@dataclass(slots=True)
class RunResult:
    """What one replayed run cost and did."""

    strategy: str
    start_tick: int
    cost: float = 0.0
    spot_cost: float = 0.0
    on_demand_cost: float = 0.0
    spot_hours: float = 0.0
    on_demand_hours: float = 0.0
    overhead_hours: float = 0.0
    progress_hours: float = 0.0
    finished: bool = False
    finish_hours: float | None = None
    """Hours from the start until the work was done."""
    interruptions: int = 0
    migrations: int = 0
    instances: int = 0
    timeline: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    """Per tick: IDLE, ON_DEMAND, SPOT (working, overhead included) or PREEMPTED (holding an outbid instance)."""
    zones: npt.NDArray[np.int16] = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    """Per tick: the zone of the instance held, -1 when none."""

    @property
    def missed(self) -> bool:
        """The deadline passed with work left."""
        return not self.finished


def job_spec_for(shape: JobShape, traces: TraceSet, start_tick: int) -> JobSpec:
    """The spec the strategies see: effective work, deadline and overhead; cap = the dearest on-demand price.

    A ``dict`` of strategy params is not set here: strategies are built by the caller."""
    start = traces.start + timedelta(seconds=start_tick * traces.gap_seconds)
    num_gpus = traces.zones[0].num_gpus
    cap = float(traces.on_demand_prices().max())
    return JobSpec(
        name="backtest",
        image="backtest",
        num_gpus=num_gpus,
        max_price_per_gpu=cap / num_gpus * (1 + 1e-9),
        rental="auto",
        work_hours=shape.work_hours,
        deadline=start + timedelta(hours=shape.deadline_hours),
        restart_overhead_hours=shape.overhead_hours,
    )


def replay(strategy: Strategy, traces: TraceSet, shape: JobShape, start_tick: int) -> RunResult:
    """Run one job from ``start_tick`` until done or its deadline; see the module docstring."""
    if start_tick < 0 or start_tick + shape.deadline_ticks > traces.ticks:
        raise BacktestError(
            f"a window of {shape.deadline_ticks} ticks from tick {start_tick} does not fit the trace "
            f"({traces.ticks} ticks)"
        )
    avail = traces.available()
    spot = traces.spot_prices()
    on_demand = traces.on_demand_prices()
    zones = len(traces.zones)
    gap = shape.gap_hours
    gap_delta = timedelta(seconds=traces.gap_seconds)
    unavailable = np.maximum(UNAVAILABLE_MIN_BID, on_demand * 10.0)
    spec = job_spec_for(shape, traces, start_tick)
    created = traces.start + gap_delta * start_tick
    gpu_name = traces.zones[0].gpu_name or "GPU"
    num_gpus = traces.zones[0].num_gpus

    runs = [up_runs(avail[z]) for z in range(zones)]
    result = RunResult(strategy=strategy.name, start_tick=start_tick)
    timeline = np.zeros(shape.deadline_ticks, dtype=np.int8)
    where = np.full(shape.deadline_ticks, -1, dtype=np.int16)
    held: _Held | None = None
    progress = 0
    spent = 0.0
    on_demand_since = None
    rentals = [0] * zones
    preempted_at = [0] * zones
    hours_on = [0.0] * zones

    for t in range(shape.deadline_ticks):
        a = start_tick + t
        now = created + gap_delta * t
        # 1. the market moves
        if held is not None and held.rental is RentalType.INTERRUPTIBLE:
            open_now = bool(avail[held.zone, a]) and held.bid is not None and spot[held.zone, a] <= held.bid
            if not held.preempted and not open_now:
                held.preempted = True
                result.interruptions += 1
                preempted_at[held.zone] += 1
            elif held.preempted and open_now:
                held.preempted = False
                held.overhead_left = shape.overhead_ticks
        # 2. what the strategy sees
        offers = [
            Offer(
                id=z + 1,
                machine_id=z + 1,
                host_id=z + 1,
                gpu_name=gpu_name,
                num_gpus=num_gpus,
                gpu_ram_gb=0.0,
                dph_total=float(on_demand[z]),
                min_bid=float(spot[z, a]) if avail[z, a] else float(unavailable[z]),
                reliability=1.0,
                geolocation=traces.zones[z].name,
            )
            for z in range(zones)
        ]
        instance = _instance_view(held, offers, gpu_name, num_gpus)
        job = Job(
            id=1,
            spec=spec,
            state=_job_state(held, result.interruptions, result.instances),
            created_at=created,
            attempt=result.instances,
            progress_hours=progress * gap,
            spent=spent,
            instance_id=held.instance_id if held is not None else None,
            interruptions=result.interruptions,
            on_demand_since=on_demand_since,
        )
        spot_stats = {z + 1: spot_stats_at(runs[z], avail[z], a, gap) for z in range(zones)}
        history = {
            z + 1: MachineRecord(interruptions=preempted_at[z], rentals=rentals[z], hours_observed=hours_on[z])
            for z in range(zones)
            if rentals[z]
        }
        ctx = StrategyContext(
            job=job, offers=offers, now=now, instance=instance, history=history, spot_stats=spot_stats
        )
        choice = strategy.choose(ctx)
        # 3. apply it
        if choice.verb in (Verb.ACQUIRE, Verb.MIGRATE):
            if choice.offer is None or choice.offer not in offers or choice.rental is None:
                raise BacktestError(f"strategy {strategy.name} chose {choice.verb} without one of the offers")
            if choice.price is not None and choice.price > job.max_price + 1e-9:
                raise BacktestError(f"strategy {strategy.name} bid {choice.price} over the cap {job.max_price}")
            zone = choice.offer.machine_id - 1
            if held is not None:
                result.migrations += 1
            result.instances += 1
            rentals[zone] += 1
            bid = choice.price if choice.rental is RentalType.INTERRUPTIBLE else None
            if bid is None and choice.rental is RentalType.INTERRUPTIBLE:
                bid = choice.offer.min_bid
            open_now = choice.rental is RentalType.ON_DEMAND or (
                bool(avail[zone, a]) and bid is not None and spot[zone, a] <= bid
            )
            held = _Held(
                zone=zone,
                rental=choice.rental,
                bid=bid,
                overhead_left=shape.overhead_ticks,
                preempted=not open_now,
                instance_id=result.instances,
                started_tick=t,
            )
            if choice.rental is RentalType.ON_DEMAND:
                on_demand_since = now
        elif choice.verb is Verb.REBID and held is not None and held.rental is RentalType.INTERRUPTIBLE:
            held.bid = choice.price
            if choice.price is not None and choice.price > job.max_price + 1e-9:
                raise BacktestError(f"strategy {strategy.name} bid {choice.price} over the cap {job.max_price}")
        elif choice.verb is Verb.RELEASE:
            held = None
        # 4. account the tick
        if held is None:
            continue
        where[t] = held.zone
        if held.preempted:
            timeline[t] = PREEMPTED
            continue
        if held.rental is RentalType.ON_DEMAND:
            price = float(on_demand[held.zone])
            timeline[t] = ON_DEMAND
            result.on_demand_cost += price * gap
            result.on_demand_hours += gap
        else:
            price = float(spot[held.zone, a])
            timeline[t] = SPOT
            result.spot_cost += price * gap
            result.spot_hours += gap
        hours_on[held.zone] += gap
        spent += price * gap
        if held.overhead_left > 0:
            held.overhead_left -= 1
            result.overhead_hours += gap
        else:
            progress += 1
            if progress >= shape.work_ticks:
                result.finished = True
                result.finish_hours = (t + 1) * gap
                break
    result.cost = result.spot_cost + result.on_demand_cost
    result.progress_hours = progress * gap
    result.timeline = timeline
    result.zones = where
    return result


def up_runs(available: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Starts and ends (exclusive) of the runs of consecutive available ticks."""
    padded = np.concatenate(([False], available, [False])).astype(np.int8)
    edges = np.diff(padded)
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def spot_stats_at(
    runs: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]], available: npt.NDArray[np.bool_], tick: int, gap: float
) -> SpotStats:
    """Past-only facts: the current run's age (hours, 0 when no capacity) and the last completed runs' lengths."""
    starts, ends = runs
    completed = int(np.searchsorted(ends, tick, side="right"))
    first = max(0, completed - PAST_RUNS_KEPT)
    lengths = tuple(float(x) * gap for x in (ends[first:completed] - starts[first:completed]))
    age = 0.0
    if available[tick]:
        current = int(np.searchsorted(starts, tick, side="right")) - 1
        age = float(tick - starts[current] + 1) * gap
    return SpotStats(up_hours=age, past_up_hours=lengths)


def _instance_view(held: _Held | None, offers: list[Offer], gpu_name: str, num_gpus: int) -> Instance | None:
    if held is None:
        return None
    offer = offers[held.zone]
    if held.preempted:
        status = InstanceStatus.OUTBID
    elif held.overhead_left > 0:
        status = InstanceStatus.LOADING
    else:
        status = InstanceStatus.RUNNING
    is_bid = held.rental is RentalType.INTERRUPTIBLE
    return Instance(
        id=held.instance_id,
        machine_id=offer.machine_id,
        label=f"vastbid:backtest:1:{held.instance_id}",
        is_bid=is_bid,
        bid_price=held.bid if is_bid else None,
        dph_total=(held.bid or offer.min_bid) if is_bid else offer.dph_total,
        num_gpus=num_gpus,
        gpu_name=gpu_name,
        started_at=None,
        status=status,
        min_bid=offer.min_bid,
        offer_id=offer.id,
    )


def _job_state(held: _Held | None, interruptions: int, instances: int) -> JobState:
    if held is not None and not held.preempted:
        return JobState.RUNNING
    if interruptions:
        return JobState.INTERRUPTED
    return JobState.ACQUIRING if instances else JobState.QUEUED
