"""The daemon engine of ``vastbid backtest``: one trace window run through the real decide/execute path.

``run_daemon_backtest`` builds, per window, a fresh simulator in trace mode (each zone one machine whose minimum
bid and capacity follow the trace from the window's first tick; two machines per zone, so holding one on demand
leaves the zone's spot capacity visible, as on AWS) on a ``ManualClock``, a fresh SQLite store in a
temporary folder and a ``Daemon`` wired to both exactly as ``vastbid demo`` does (``scenario.py``). One job is
submitted: the shape's effective work, deadline and restart overhead, the strategy by name and parameters,
``rental="auto"``, a cap just above the dearest on-demand price, and env ``SIM_WORK_HOURS`` (the work) and
``SIM_CHECKPOINT`` (progress survives moves). The daemon ticks once per trace gap, the simulator's clock moving
one gap between ticks, until the job is final or one tick past its deadline.

The result is the replay's ``RunResult`` (so ``experiment``'s summaries and the report work for both), read from
what the daemon recorded: GPU cost and billed hours by rental type from the spend ledger (storage kept apart in
``storage_cost``, outside ``cost``), interruptions from the job row, migrations from the decision log.

Choices that make the two engines comparable (measured differences are in ``DIFFERENCES``):
- the simulator boots an instance in exactly the shape's restart overhead (``boot_min = boot_max``);
- a raised minimum bid evicts a running bid under it (``evict_on_min_bid_raise``), as a spot price rising above
  the bid preempts in the replay; when the trace has no capacity an outsider bid above any cap holds the machine;
- no other market participants (``processes=False``); the disk is tiny (storage is billed by the simulator at a
  fixed $0.1/GB/month and cannot be set to zero);
- each tick the daemon's ``MarketMemory`` gives, through its ``spot_source``, what a market recorder would have
  seen of each zone before now (the same figures the replay gives ``deadline_aware``).
"""

from __future__ import annotations

import json
import math
import secrets
import tempfile
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import select

from vastbid.backtest.experiment import ExperimentResult, run_experiment
from vastbid.backtest.model import JobShape
from vastbid.backtest.replay import (
    IDLE,
    ON_DEMAND,
    PREEMPTED,
    SPOT,
    RunResult,
    spot_stats_at,
    up_runs,
)
from vastbid.backtest.traces import TraceSet
from vastbid.config.settings import OrphanPolicy
from vastbid.core.budget import Budget
from vastbid.core.jobs import JobState
from vastbid.core.offers import RentalType
from vastbid.core.spot_runs import SpotStats
from vastbid.daemon.clock import EpochClock
from vastbid.daemon.config import DaemonConfig
from vastbid.daemon.memory import MarketMemory
from vastbid.daemon.tick import Daemon
from vastbid.errors import BacktestError
from vastbid.sim import ManualClock, SimConfig, Simulator
from vastbid.store.schema import SpendRow
from vastbid.store.spend import SpendKind
from vastbid.store.store import Store, open_store
from vastbid.strategies.base import Strategy
from vastbid.strategies.registry import strategy_params
from vastbid.vast.factory import make_market_api

DEPLOYMENT = "backtest"
CAP_OVER_ON_DEMAND = 1.01
"""The job's cap, as a multiple of the dearest on-demand price (offers' ``dph_total`` include a little storage)."""
DISK_GB = 0.1
"""The job's disk: the simulator bills storage at $0.1/GB/month, ~$0.000014/h here (reported, not in ``cost``)."""
DAEMON_MAX_STARTS = 20
"""The CLI caps ``--starts`` at this with ``--engine daemon`` (a 60 h window of 195 s ticks takes ~40 s)."""
INITIAL_CREDIT = 1_000_000.0

DIFFERENCES = """\
Where the daemon engine differs from the replay by construction:
- the simulator bills no GPU while an instance boots (the restart overhead), the replay bills those ticks: the
  ledger comes out cheaper by the overhead hours the replay billed (on 48 h V100 windows, ~1-3 %);
- an instance preempted while it boots is never seen running: the daemon bills nothing and may not count it;
- an interruptible pays its bid in the simulator (Vast's rule), the tick's spot price in the replay (AWS's);
  strategies that bid a margin over the minimum (greedy, deadline_aware: 10 %) pay up to that much more on spot;
- the daemon counts progress from the second observation that sees the instance running, so between ticks it
  believes itself one tick behind the work actually done: deadline strategies lean a little more on on-demand;
- spot-to-spot migrations pass decide()'s hysteresis (20 % gain, the restart paid back), which the replay lacks;
- a job whose work ends mid-tick is seen done (and its instance destroyed) at the next tick, as in the replay.
"""


@dataclass(slots=True)
class DaemonRunResult(RunResult):
    """A ``RunResult`` with what only the daemon engine knows."""

    storage_cost: float = 0.0
    """Storage billed by the ledger ($), outside ``cost``."""
    ticks: int = 0
    """Daemon ticks run."""
    failed_ticks: int = 0
    wall_seconds: float = 0.0


def run_daemon_backtest(
    strategy: Strategy,
    traces: TraceSet,
    shape: JobShape,
    start_tick: int,
    *,
    workdir: Path | None = None,
    seed: int = 0,
) -> DaemonRunResult:
    """Run one job from ``start_tick`` through the daemon against the simulator; see the module docstring.

    ``workdir`` holds the window's trace files and database (a temporary folder, removed after, when None)."""
    if not shape.feasible:
        raise BacktestError("the deadline is infeasible: on demand from the start cannot meet it")
    if start_tick < 0 or start_tick + shape.deadline_ticks > traces.ticks:
        raise BacktestError(
            f"a window of {shape.deadline_ticks} ticks from tick {start_tick} does not fit the trace "
            f"({traces.ticks} ticks)"
        )
    if workdir is not None:
        return _run(strategy, traces, shape, start_tick, workdir, seed)
    with tempfile.TemporaryDirectory(prefix="vastbid-backtest-") as tmp:
        return _run(strategy, traces, shape, start_tick, Path(tmp), seed)


def run_daemon_experiment(
    traces: TraceSet,
    shape: JobShape,
    strategies: Sequence[Strategy],
    *,
    starts: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> ExperimentResult:
    """``experiment.run_experiment`` with the daemon engine: same seeded windows, same oracle samples."""
    return run_experiment(
        traces,
        shape,
        strategies,
        starts=starts,
        seed=seed,
        progress=progress,
        engine=partial(run_daemon_backtest, seed=seed),
    )


# --- one window ----------------------------------------------------------------------------------------------


def _run(  # noqa: PLR0917 - the public function's arguments, passed on
    strategy: Strategy, traces: TraceSet, shape: JobShape, start_tick: int, workdir: Path, seed: int
) -> DaemonRunResult:
    began = time.perf_counter()
    workdir.mkdir(parents=True, exist_ok=True)
    gap = traces.gap_seconds
    start_epoch = (traces.start + timedelta(seconds=start_tick * gap)).timestamp()
    clock = ManualClock(start=start_epoch)
    key = secrets.token_hex(16)
    sim = Simulator(
        SimConfig(
            seed=seed,
            scenario="trace",
            api_key=key,
            processes=False,
            evict_on_min_bid_raise=True,
            initial_credit=INITIAL_CREDIT,
            boot_min_seconds=shape.overhead_hours * 3600.0,
            boot_max_seconds=shape.overhead_hours * 3600.0,
            provisioning_seconds=0.0,
            trace_files=_window_files(traces, start_tick, shape.deadline_ticks + 1, workdir),
            trace_pool_size=2,
        ),
        clock=clock,
    )
    machine_zone = {mid: z for z, zone in enumerate(_sim_zones(sim)) for mid in zone}
    client = httpx.Client(transport=sim.transport(), base_url="http://sim.local")
    store = open_store(f"sqlite:///{workdir / 'backtest.db'}", upgrade=True, clock=EpochClock(clock.now).now)
    try:
        api = make_market_api("native", client, key, sleep=lambda _s: None, monotonic=clock.now)
        created = datetime.fromtimestamp(start_epoch, UTC)
        job = store.jobs.submit(_job_spec(strategy, traces, shape, created))
        config = DaemonConfig(
            deployment=DEPLOYMENT,
            tick_seconds=gap,
            budget=Budget(),
            config_hash="backtest",
            orphan_policy=OrphanPolicy.DESTROY,
        )
        stats = _StatsFeed(traces, start_tick, machine_zone)
        memory = MarketMemory(timedelta(seconds=gap), spot_source=stats.source)
        daemon = Daemon(config, api, store, EpochClock(clock.now), memory=memory)
        result = DaemonRunResult(strategy=strategy.name, start_tick=start_tick)
        timeline = np.zeros(shape.deadline_ticks, dtype=np.int8)
        where = np.full(shape.deadline_ticks, -1, dtype=np.int16)
        for t in range(shape.deadline_ticks + 1):
            stats.tick = start_tick + t
            outcome = daemon.tick()
            result.ticks += 1
            result.failed_ticks += 0 if outcome.ok else 1
            current = store.jobs.get(job.id)
            if current.state is JobState.SUCCEEDED and result.finish_hours is None:
                result.finished = True
                result.finish_hours = t * shape.gap_hours
            if current.state.is_final and current.instance_id is None:
                break
            if t < shape.deadline_ticks:
                timeline[t], where[t] = _held(sim, machine_zone)
            if t == shape.deadline_ticks:
                break
            sim.advance(gap)
        final = store.jobs.get(job.id)
        result.interruptions = final.interruptions
        result.progress_hours = shape.work_hours if result.finished else min(final.progress_hours, shape.work_hours)
        _account(result, store, job.id, shape)
        result.timeline = timeline
        result.zones = where
    finally:
        store.close()
        client.close()
    result.wall_seconds = time.perf_counter() - began
    return result


def _job_spec(strategy: Strategy, traces: TraceSet, shape: JobShape, created: datetime) -> dict[str, Any]:
    zone = traces.zones[0]
    gpu_name = (zone.gpu_name or "GPU").replace(" ", "_")
    cap = float(traces.on_demand_prices().max()) * CAP_OVER_ON_DEMAND
    return {
        "name": "backtest",
        "image": "backtest",
        "env": {"SIM_WORK_HOURS": f"{shape.work_hours:.9f}", "SIM_CHECKPOINT": "backtest"},
        "disk_gb": DISK_GB,
        "num_gpus": zone.num_gpus,
        "offer_filter": f"gpu_name={gpu_name} num_gpus={zone.num_gpus} verified=any",
        "max_price_per_gpu": cap / zone.num_gpus,
        "rental": "auto",
        "work_hours": shape.work_hours,
        "deadline": (created + timedelta(hours=shape.deadline_hours)).isoformat(),
        "restart_overhead_hours": shape.overhead_hours,
        "resumable": True,
        "strategy": strategy.name,
        "strategy_params": strategy_params(strategy),
    }


def _window_files(traces: TraceSet, start_tick: int, ticks: int, folder: Path) -> list[str]:
    """The window's slice of every zone, written in the shared trace format; the file paths."""
    end = min(start_tick + ticks, traces.ticks)
    paths: list[str] = []
    for index, zone in enumerate(traces.zones):
        doc = {
            "name": zone.name,
            "zone": zone.name,
            "gpu_name": zone.gpu_name or "GPU",
            "num_gpus": zone.num_gpus,
            "start": (zone.start + timedelta(seconds=start_tick * zone.gap_seconds)).isoformat(),
            "gap_seconds": zone.gap_seconds,
            "on_demand_price": zone.on_demand_price,
            "available": [int(x) for x in zone.available[start_tick:end]],
            "spot_price": [float(x) for x in zone.spot_price[start_tick:end]],
        }
        path = folder / f"zone-{index}.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        paths.append(str(path))
    return paths


def _sim_zones(sim: Simulator) -> list[list[int]]:
    if sim.trace is None:  # pragma: no cover - the config asks for trace mode
        raise BacktestError("the simulator is not in trace mode")
    return [list(zone.machine_ids) for zone in sim.trace.zones]


class _StatsFeed:
    """Per machine id, what a market recorder saw of its zone's spot capacity before each tick."""

    def __init__(self, traces: TraceSet, start_tick: int, machine_zone: dict[int, int]) -> None:
        self._avail = traces.available()
        self._runs = [up_runs(self._avail[z]) for z in range(len(traces.zones))]
        self._gap = traces.gap_hours
        self._last = traces.ticks - 1
        self._machine_zone = machine_zone
        self.tick = start_tick
        """The trace tick the daemon's next tick stands at."""

    def source(self, _machines: Collection[int], _now: datetime) -> dict[int, SpotStats]:
        """A ``SpotSource``: every zone machine's statistics at ``tick`` (whatever the group's offers show)."""
        tick = min(self.tick, self._last)
        return {
            machine: spot_stats_at(self._runs[z], self._avail[z], tick, self._gap)
            for machine, z in self._machine_zone.items()
        }


def _held(sim: Simulator, machine_zone: dict[int, int]) -> tuple[int, int]:
    """What the account holds on the simulator after a tick: (timeline code, zone or -1)."""
    for inst in sim.state.account_instances():
        zone = machine_zone.get(inst.machine_id, -1)
        if inst.holding:
            return (SPOT if inst.is_bid else ON_DEMAND), zone
        if inst.wants_run:
            return PREEMPTED, zone
    return IDLE, -1


def _account(result: DaemonRunResult, store: Store, job_id: int, shape: JobShape) -> None:
    """Cost and billed hours by rental type from the spend ledger; instances and migrations from the log."""
    rental_of: dict[int, RentalType] = {}
    for record in store.instances.for_job(job_id):
        if record.instance_id is not None:
            rental_of[record.instance_id] = record.rental
    query = select(SpendRow.instance_id, SpendRow.kind, SpendRow.amount, SpendRow.period_start, SpendRow.period_end)
    with store.engine.connect() as connection:
        rows = list(connection.execute(query.where(SpendRow.job_id == job_id)))
    for instance_id, kind, amount, period_start, period_end in rows:
        if kind == SpendKind.STORAGE.value:
            result.storage_cost += float(amount)
            continue
        if kind != SpendKind.GPU.value:
            continue
        hours = _hours(period_start, period_end)
        if instance_id is not None and rental_of.get(int(instance_id)) is RentalType.ON_DEMAND:
            result.on_demand_cost += float(amount)
            result.on_demand_hours += hours
        else:
            result.spot_cost += float(amount)
            result.spot_hours += hours
    result.cost = result.spot_cost + result.on_demand_cost
    result.instances = sum(1 for r in store.instances.for_job(job_id) if r.instance_id is not None)
    decisions = store.decisions.query(job_id=job_id)
    result.migrations = sum(
        1 for d in decisions if d.action == "destroy_instance" and d.reason.startswith("migrated to offer")
    )
    billed = result.spot_hours + result.on_demand_hours
    result.overhead_hours = max(0.0, billed - result.progress_hours)


def _hours(start: Any, end: Any) -> float:
    if isinstance(start, str):
        start, end = datetime.fromisoformat(start), datetime.fromisoformat(end)
    seconds = (end - start).total_seconds()
    return seconds / 3600.0 if math.isfinite(seconds) else 0.0
