"""One tick of the daemon: observe, reconcile, decide, act, record, export.

A tick never overlaps another (the scheduler guarantees it) and never takes the daemon down: any failure is
recorded on the tick row, logged with its class, counted, and the next tick starts afresh. A tick that cannot see
the market (a failed search, an incomplete listing) acts on nothing.

Each tick that saw the market also feeds ``SpotRuns`` (how long each machine's interruptible capacity lasts); jobs
with a deadline are handed to ``decide()`` as copies whose ``extra["spot_stats"]`` carries those statistics for
the machines of their candidate offers. The copies go to the strategies only: the executor and the store work on
the jobs as read from the database, so the statistics are never stored with a job. The tracker itself is saved
in the database (``store.spot_runs``) every ``SPOT_RUNS_SAVE_EVERY`` at the end of a successful tick and restored
on the first tick after a start, so a restart keeps what was learned. A failed load is retried on the next tick
and nothing is saved until one has succeeded (an empty tracker never overwrites the stored one); a failed save is
logged and the tick carries on (the previous snapshot stays whole).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import structlog

from vastbid.config.settings import OrphanPolicy
from vastbid.core.actions import Action, PlaceBid, RentOnDemand
from vastbid.core.budget import Budget
from vastbid.core.choice import MachineRecord, Strategy
from vastbid.core.decide import decide
from vastbid.core.jobs import Job
from vastbid.core.offers import Offer, RentalType
from vastbid.core.plan import Plan
from vastbid.core.policy import DecidePolicy, strategy_key
from vastbid.core.snapshot import MarketSnapshot
from vastbid.core.spot_runs import SPOT_STATS_KEY, SpotRuns, SpotStats
from vastbid.daemon.accrue import accrue
from vastbid.daemon.clock import Clock
from vastbid.daemon.executor import Checkpoint, ExecutionReport, Executor, PlannedRow
from vastbid.daemon.observe import observe
from vastbid.daemon.reconcile import Event, Reconciliation, reconcile
from vastbid.errors import StrategyError, VastbidError
from vastbid.obs.logging import bind_tick
from vastbid.obs.metrics import Metrics
from vastbid.store.decisions import DecisionOutcome, DecisionRecord
from vastbid.store.store import Store
from vastbid.strategies.registry import build_strategy
from vastbid.vast.port import MarketApi

log = structlog.get_logger("vastbid.tick")

UNAVAILABLE_TICKS = 5
"""How many ticks an offer that failed to rent (taken, gone) is skipped."""
HISTORY_DAYS = 30
"""How far back the decision log is read for what we learned of each machine."""
RETENTION_EVERY = timedelta(days=1)
"""How often old decisions and samples are purged."""
SPOT_GAP_TICKS = 3
"""A machine unseen for more than this many tick lengths has its run of spot capacity ended at its last sighting."""
SPOT_RUNS_SAVE_EVERY = timedelta(minutes=15)
"""How often (on the daemon's clock) the spot runs are saved in the database."""
_RENTALS = frozenset({"place_bid", "rent_on_demand"})


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    """What the tick needs of the settings."""

    deployment: str
    tick_seconds: float
    budget: Budget
    config_hash: str
    default_strategy: str = "cheapest_per_gpu"
    default_params: Mapping[str, Any] = field(default_factory=dict)
    orphan_policy: OrphanPolicy = OrphanPolicy.REPORT
    min_migration_gain: float = 0.2
    dry_run: bool = False
    record_market_samples: bool = False
    decision_retention_days: int = 90
    sample_retention_days: int = 30


@dataclass(frozen=True, slots=True)
class TickResult:
    """The outcome of one tick."""

    tick_id: int
    ok: bool
    actions: int = 0
    error: str | None = None
    plan: Plan | None = None


class Daemon:
    """The bidding daemon's tick, with everything it talks to injected."""

    def __init__(
        self,
        config: DaemonConfig,
        api: MarketApi,
        store: Store,
        clock: Clock,
        *,
        metrics: Metrics | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        self.config = config
        self.api = api
        self.store = store
        self.clock = clock
        self.metrics = metrics
        self.executor = Executor(api, store, dry_run=config.dry_run, checkpoint=checkpoint)
        self._strategies: dict[str, Strategy] = {}
        self._unavailable: dict[int, int] = {}
        self._tick_count = 0
        self._machines: dict[int, MachineRecord] | None = None
        self._retained_at: datetime | None = None
        tick = timedelta(seconds=config.tick_seconds)
        self.spot_runs = SpotRuns(tolerance=SPOT_GAP_TICKS * tick, resolution=tick)
        self._spot_runs_loaded = False
        self._spot_runs_saved_at: datetime | None = None
        self.last_success: datetime | None = None

    # --- the tick ------------------------------------------------------------------------------------------

    def tick(self) -> TickResult:
        """Run one tick; never raises for a market, store or strategy failure."""
        started = time.perf_counter()
        now = self.clock.now()
        tick_id = self.store.ticks.start(now)
        self._tick_count += 1
        with bind_tick(tick_id):
            try:
                result = self._tick(tick_id, now)
            except VastbidError as exc:
                result = self._failed(tick_id, exc)
            except Exception as exc:  # the daemon survives any single failed tick
                log.exception("tick_crashed", error_class=type(exc).__name__)
                result = self._failed(tick_id, exc)
        if self.metrics is not None:
            self.metrics.observe_tick(time.perf_counter() - started, result.ok)
        return result

    def _failed(self, tick_id: int, exc: BaseException) -> TickResult:
        message = f"{type(exc).__name__}: {exc}"
        self.store.ticks.finish(tick_id, ok=False, error=message)
        log.warning("tick_failed", error=message, error_class=type(exc).__name__)
        if self.metrics is not None:
            self.metrics.record_tick_error(exc)
        return TickResult(tick_id=tick_id, ok=False, error=message)

    def _tick(self, tick_id: int, now: datetime) -> TickResult:
        previous = self.store.ticks.last(ok=True)
        jobs_before = self.store.jobs.active()
        filters = {job.spec.offer_filter for job in jobs_before}
        seen = observe(self.api, filters, now)
        self._load_spot_runs(now)
        self.spot_runs.observe_offers(now, seen.scanned)
        recon = reconcile(
            self.store,
            seen.instances,
            deployment=self.config.deployment,
            orphan_policy=self.config.orphan_policy,
            now=now,
        )
        all_jobs = {job.id: job for job in self.store.jobs.list()}
        added = accrue(self.store, recon.ours, all_jobs, since=previous.started_at if previous else None, now=now)
        all_jobs = {job.id: job for job in self.store.jobs.list()}
        # Final jobs still holding an instance are given to decide() so it destroys the instance.
        jobs = [j for j in all_jobs.values() if not j.state.is_final or j.instance_id is not None]
        snapshot = self._snapshot(seen.offers, recon, seen.account.balance, now)
        views = self._with_spot_stats(jobs, seen.offers, now)
        plan = decide(snapshot, views, self.config.budget, self._strategies_for(jobs), now, self._policy())
        actions: list[Action] = [*recon.destroy, *plan.actions]
        rows = self._rows(tick_id, now, actions, plan, recon.events)
        report = self.executor.apply(rows, all_jobs, now)
        self._remember_unavailable(report)
        if self._machines is not None:
            self._learn(self.store.decisions.query(tick_id=tick_id))
        if self.config.record_market_samples and seen.scanned:
            self.store.samples.add_many(now, seen.scanned, tick_id=tick_id)
        counts = {
            "offers": len(seen.scanned),
            "instances": len(recon.ours),
            "actions": len(actions),
            "applied": report.applied,
            "failed": report.failed,
            "skipped": report.skipped,
            "committed_dph": round(plan.committed_dph, 6),
        }
        self.store.ticks.finish(tick_id, ok=True, counts=counts)
        if self._spot_runs_saved_at is not None and now - self._spot_runs_saved_at >= SPOT_RUNS_SAVE_EVERY:
            self.save_spot_runs(now)
        self._retain(now)
        self._export(seen.scanned, recon, plan, report, added, snapshot, actions)
        log.info("tick_done", **counts, binding_cap=plan.binding_cap)
        # Dated when the tick ends, as the last-success gauge and the status are: a slow tick does not make the
        # daemon look unready sooner than its readiness window says.
        self.last_success = self.clock.now()
        return TickResult(tick_id=tick_id, ok=True, actions=len(actions), plan=plan)

    # --- spot runs across restarts ------------------------------------------------------------------------

    def _load_spot_runs(self, now: datetime) -> None:
        """Once, restore the saved spot runs; a failure is logged and retried on the next tick."""
        if self._spot_runs_loaded:
            return
        try:
            states = self.store.spot_runs.load()
        except Exception as exc:  # never fails the tick: the next one tries again
            log.warning("spot_runs_load_failed", error=str(exc), error_class=type(exc).__name__)
            return
        self.spot_runs.restore(states)
        self._spot_runs_loaded = True
        self._spot_runs_saved_at = now
        log.info("spot_runs_restored", machines=len(self.spot_runs))

    def save_spot_runs(self, now: datetime | None = None) -> bool:
        """Save the spot runs in the database now; whether it worked (a failure is logged, never raised).

        Nothing is saved before the stored snapshot has been loaded, so it is never replaced by a blank one.
        """
        if not self._spot_runs_loaded:
            return False
        at = now if now is not None else self.clock.now()
        try:
            saved = self.store.spot_runs.replace_all(self.spot_runs.snapshot())
        except Exception as exc:  # a failed save must not fail the tick; the previous snapshot stays whole
            log.warning("spot_runs_save_failed", error=str(exc), error_class=type(exc).__name__)
            return False
        self._spot_runs_saved_at = at
        log.info("spot_runs_saved", machines=saved)
        return True

    # --- helpers -------------------------------------------------------------------------------------------

    def _policy(self) -> DecidePolicy:
        return DecidePolicy(
            deployment=self.config.deployment,
            default_strategy=self.config.default_strategy,
            min_migration_gain=self.config.min_migration_gain,
            hours_to_next_tick=self.config.tick_seconds / 3600.0,
        )

    def _strategies_for(self, jobs: list[Job]) -> dict[str, Strategy]:
        """Build (once) the strategy of every job; a job whose strategy cannot be built is left blocked."""
        for job in jobs:
            name = job.spec.strategy or self.config.default_strategy
            params = job.spec.strategy_params
            if not job.spec.strategy and not params:
                params = dict(self.config.default_params)
            key = strategy_key(job, self.config.default_strategy)
            if key in self._strategies:
                continue
            try:
                self._strategies[key] = build_strategy(name, params)
            except StrategyError as exc:
                log.warning("strategy_unavailable", job_id=job.id, strategy=name, error=str(exc))
        return self._strategies

    def _with_spot_stats(self, jobs: Sequence[Job], offers: Mapping[str, Sequence[Offer]], now: datetime) -> list[Job]:
        """The jobs, deadline ones as copies whose ``extra`` carries the spot statistics of their candidates' machines.

        Only for ``decide()``: never stored. Statistics a job already carries (a backtest's recorder feed) win. Jobs
        with the same filter and GPU count share one lookup.
        """
        shared: dict[tuple[str, int], dict[int, SpotStats]] = {}
        views: list[Job] = []
        for job in jobs:
            spec = job.spec
            if spec.deadline is None or spec.work_hours is None or job.state.is_final or SPOT_STATS_KEY in job.extra:
                views.append(job)
                continue
            key = (spec.offer_filter, spec.num_gpus)
            if key not in shared:
                machines = {o.machine_id for o in offers.get(spec.offer_filter, ()) if o.num_gpus == spec.num_gpus}
                shared[key] = self.spot_runs.stats_for(machines, now)
            views.append(replace(job, extra={**job.extra, SPOT_STATS_KEY: shared[key]}))
        return views

    def _snapshot(
        self, offers: dict[str, list[Offer]], recon: Reconciliation, balance: float, now: datetime
    ) -> MarketSnapshot:
        day = now.astimezone(UTC).date()
        return MarketSnapshot(
            taken_at=now,
            offers=offers,
            instances=recon.ours,
            balance=balance,
            spent_today=self.store.spend.spent_on_day(day),
            spent_month=self.store.spend.spent_in_month(now),
            unavailable_offer_ids=frozenset(self._unavailable),
            history=self._history(),
        )

    def _history(self) -> dict[int, MachineRecord]:
        """What our own record says of each machine: rentals we made there and interruptions we saw.

        Read once from the decision log (``HISTORY_DAYS`` back), then kept up to date from each tick's rows.
        """
        if self._machines is None:
            since = self.clock.now() - timedelta(days=HISTORY_DAYS)
            self._machines = {}
            self._learn(self.store.decisions.query(since=since))
        return dict(self._machines)

    def _learn(self, decisions: Sequence[DecisionRecord]) -> None:
        """Count rentals (applied creates) and interruptions per machine from decision rows."""
        machines = self._machines if self._machines is not None else {}
        for decision in decisions:
            machine = decision.facts.get("machine_id")
            if not isinstance(machine, int):
                continue
            seen = machines.get(machine, MachineRecord())
            if decision.action in _RENTALS and decision.outcome is DecisionOutcome.APPLIED:
                machines[machine] = replace(seen, rentals=seen.rentals + 1)
            elif decision.action == "job_interrupted":
                machines[machine] = replace(seen, interruptions=seen.interruptions + 1)
        self._machines = machines

    def _retain(self, now: datetime) -> None:
        """Once a day, drop decisions, ticks and market samples older than the retention periods."""
        if self._retained_at is not None and now - self._retained_at < RETENTION_EVERY:
            return
        purged = self.store.purge_older_than(
            decisions_before=now - timedelta(days=self.config.decision_retention_days),
            samples_before=now - timedelta(days=self.config.sample_retention_days),
        )
        self._retained_at = now
        if purged.decisions or purged.ticks or purged.samples:
            log.info("retention_applied", decisions=purged.decisions, ticks=purged.ticks, samples=purged.samples)

    def _remember_unavailable(self, report: ExecutionReport) -> None:
        self._unavailable = {oid: left - 1 for oid, left in self._unavailable.items() if left > 1}
        for offer_id in report.unavailable_offers:
            self._unavailable[offer_id] = UNAVAILABLE_TICKS

    def _rows(
        self, tick_id: int, now: datetime, actions: list[Action], plan: Plan, events: list[Event]
    ) -> list[PlannedRow]:
        """One decision row per action (plus the reconciler's events and each job's outcome)."""
        record = partial(DecisionRecord, at=now, config_hash=self.config.config_hash, tick_id=tick_id)
        rows: list[PlannedRow] = []
        for action in actions:
            decision = plan.decisions.get(action.job_id) if action.job_id is not None else None
            facts = dict(action.facts)
            if isinstance(action, PlaceBid | RentOnDemand):
                offer = action.offer
                facts.update(offer_id=offer.id, machine_id=offer.machine_id, gpu_name=offer.gpu_name)
            rows.append(
                PlannedRow(
                    action,
                    record(
                        action=action.kind,
                        reason=action.reason,
                        outcome=DecisionOutcome.PLANNED,
                        job_id=action.job_id,
                        strategy=decision.strategy if decision is not None else None,
                        facts=_jsonable(facts),
                        candidates=[_candidate(o) for o in decision.ranked] if decision is not None else [],
                    ),
                )
            )
        logged = [
            record(
                action=event.action,
                reason=event.reason,
                outcome=DecisionOutcome.APPLIED,
                job_id=event.job_id,
                facts=_jsonable(event.facts),
            )
            for event in events
        ]
        acted = {a.job_id for a in actions if a.job_id is not None}
        logged += [
            record(
                action=decision.outcome,
                reason=decision.why,
                outcome=DecisionOutcome.APPLIED,
                job_id=job_id,
                strategy=decision.strategy or None,
                facts=_jsonable(dict(decision.facts)),
                candidates=[_candidate(o) for o in decision.ranked],
            )
            for job_id, decision in sorted(plan.decisions.items())
            if job_id not in acted and decision.outcome not in ("keep", "wait")
        ]
        if logged:
            self.store.decisions.add_many(logged)
        return rows

    def _export(  # noqa: PLR0917 - one call site, the tick's parts
        self,
        scanned: list[Offer],
        recon: Reconciliation,
        plan: Plan,
        report: ExecutionReport,
        added: dict[str, float],
        snapshot: MarketSnapshot,
        actions: list[Action],
    ) -> None:
        metrics = self.metrics
        if metrics is None:
            return
        metrics.add_offers_scanned(len(scanned))
        metrics.observe_offers(scanned)
        for action in actions:
            decision = plan.decisions.get(action.job_id) if action.job_id is not None else None
            metrics.record_decision(action.kind, (decision.strategy if decision else "") or "none")
        for result, count in report.bids_placed.items():
            for _ in range(count):
                metrics.record_bid_placed(result)
        for _ in range(report.bid_changes):
            metrics.record_bid_change("outbid")
        if recon.outbid_events:
            metrics.record_outbid(recon.outbid_events)
        counts: Counter[tuple[str, str]] = Counter(
            (i.status.value, (RentalType.INTERRUPTIBLE if i.is_bid else RentalType.ON_DEMAND).value) for i in recon.ours
        )
        metrics.set_instances(counts)
        jobs = self.store.jobs.list()
        metrics.set_jobs(Counter(j.state.value for j in jobs))
        metrics.set_committed_burn(plan.committed_dph)
        for kind, dollars in added.items():
            if dollars > 0:
                metrics.add_spend(kind, dollars)
        budget = self.config.budget
        metrics.set_budget(budget)
        metrics.set_balance(snapshot.balance)
        metrics.set_budget_remaining(
            daily=None if budget.daily_cap is None else budget.daily_cap - snapshot.spent_today,
            monthly=None if budget.monthly_cap is None else budget.monthly_cap - snapshot.spent_month,
        )
        for _job, inst in recon.became_running:
            if inst.started_at is not None:
                seconds = (snapshot.taken_at - inst.started_at).total_seconds()
                if seconds >= 0:
                    rental = RentalType.INTERRUPTIBLE if inst.is_bid else RentalType.ON_DEMAND
                    metrics.observe_time_to_running(seconds, rental.value)


def _candidate(offer: Offer) -> dict[str, Any]:
    return {
        "offer_id": offer.id,
        "machine_id": offer.machine_id,
        "gpu_name": offer.gpu_name,
        "num_gpus": offer.num_gpus,
        "dph_total": round(offer.dph_total, 6),
        "min_bid": round(offer.min_bid, 6),
        "reliability": offer.reliability,
    }


def _jsonable(facts: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in facts.items():
        if isinstance(value, float | int | str | bool) or value is None:
            out[key] = value
        elif isinstance(value, Offer):
            out[key] = _candidate(value)
        elif isinstance(value, datetime):
            out[key] = value.isoformat()
        elif isinstance(value, Mapping):
            out[key] = _jsonable(value)
        elif isinstance(value, list | tuple):
            out[key] = [v if isinstance(v, float | int | str | bool) or v is None else str(v) for v in value]
        else:
            out[key] = str(value)
    return out
