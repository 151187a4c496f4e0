"""One tick of the daemon, a short pipeline of named steps over typed values:

observe -> reconcile -> accrue -> snapshot -> decide -> act -> record -> export.

Each step lives in its own module with its contract (``observe``, ``reconcile``, ``accrue``, ``snapshot``,
``core.decide``, ``executor``, ``record``, ``export``); this module only sequences them. What the daemon remembers
of the market between ticks is the injected ``MarketMemory``; the strategies come from the injected ``Registry``.

A tick never overlaps another and never takes the daemon down: a failure is recorded on the tick row, logged,
counted, and the next tick starts afresh. A tick that cannot see the market commits nothing new but still stops
what must stop (``blind``). A failure concerning one job (its filter, its strategy) fails that job's decision only.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from vastbid.core.decide import decide
from vastbid.core.plan import Plan
from vastbid.daemon import record
from vastbid.daemon.accrue import accrue
from vastbid.daemon.blind import BlindEnforcer, LastView
from vastbid.daemon.charges import ChargesCheck
from vastbid.daemon.clock import Clock
from vastbid.daemon.config import DaemonConfig
from vastbid.daemon.executor import Checkpoint, Executor
from vastbid.daemon.export import TickFacts, export
from vastbid.daemon.memory import MarketMemory
from vastbid.daemon.observe import confirm_missing, needs_of, observe
from vastbid.daemon.pacing import creates_per_tick, defer_creates
from vastbid.daemon.reconcile import reconcile
from vastbid.daemon.retention import Retention
from vastbid.daemon.snapshot import build_snapshot
from vastbid.daemon.strategy_book import StrategyBook
from vastbid.errors import MarketError, VastbidError
from vastbid.obs.logging import bind_tick
from vastbid.obs.metrics import Metrics
from vastbid.store.store import Store
from vastbid.strategies.registry import Registry, default_registry
from vastbid.vast.port import MarketApi

log = structlog.get_logger("vastbid.tick")


@dataclass(frozen=True, slots=True)
class TickResult:
    """The outcome of one tick."""

    tick_id: int
    ok: bool
    actions: int = 0
    error: str | None = None
    plan: Plan | None = None
    failed: int = 0  # actions tried that failed


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
        registry: Registry | None = None,
        memory: MarketMemory | None = None,
        heartbeat: Callable[[], object] | None = None,
    ) -> None:
        self.config = config
        self.api = api
        self.store = store
        self.clock = clock
        self.metrics = metrics
        self.executor = Executor(api, store, dry_run=config.dry_run, checkpoint=checkpoint, heartbeat=heartbeat)
        self.memory = memory or MarketMemory(timedelta(seconds=config.tick_seconds))
        self.strategies = StrategyBook(registry or default_registry(), config.default_strategy, config.default_params)
        self.retention = Retention(
            config.decision_retention_days, config.sample_retention_days, config.job_retention_days
        )
        self.policy = config.decide_policy()
        self.blind = BlindEnforcer(store, self.executor, config.config_hash)
        self.charges = ChargesCheck()
        self.create_limit = creates_per_tick(config.tick_seconds, config.create_interval_seconds)
        self.deferred = 0
        """Jobs whose create the last tick left for later ones (the daemon is still acquiring)."""
        self.last_success: datetime | None = None

    def tick(self) -> TickResult:
        """Run one tick; never raises for a market, store or strategy failure."""
        started = time.perf_counter()
        now = self.clock.now()
        try:
            self.store.check_identity()  # never act on a database that vanished or was swapped under us
            tick_id = self.store.ticks.start(now)
        except VastbidError as exc:
            log.error("tick_refused", error=str(exc), error_class=type(exc).__name__)
            if self.metrics is not None:
                self.metrics.record_tick_error(exc)
            return TickResult(tick_id=0, ok=False, error=f"{type(exc).__name__}: {exc}")
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

    def save_spot_runs(self, now: datetime | None = None) -> bool:
        """Save what the market memory learned now (a graceful stop); whether it worked. Never raises."""
        return self.memory.save(self.store, now if now is not None else self.clock.now())

    def _failed(self, tick_id: int, exc: BaseException) -> TickResult:
        message = f"{type(exc).__name__}: {exc}"
        self.store.ticks.finish(tick_id, ok=False, error=message)
        log.warning("tick_failed", error=message, error_class=type(exc).__name__)
        if self.metrics is not None:
            self.metrics.record_tick_error(exc)
        return TickResult(tick_id=tick_id, ok=False, error=message)

    def _tick(self, tick_id: int, now: datetime) -> TickResult:
        store, config = self.store, self.config
        previous = store.ticks.last(ok=True)
        jobs = store.jobs.for_tick()
        try:
            seen = observe(self.api, (needs := needs_of(jobs)).keys(), now, needs=needs)
        except MarketError:  # unseen market: still stop what must stop, commit nothing new; the tick fails
            self.blind.enforce(tick_id, now, jobs, config.budget, self.strategies.for_jobs(jobs), self.policy)
            raise
        self.memory.load(store, now)
        self.memory.observe(now, seen.scanned)
        records = store.instances.records_for(seen.instances)
        confirmed = confirm_missing(self.api, seen.instances, records)
        recon = reconcile(
            confirmed.instances,
            records,
            jobs,
            deployment=config.deployment,
            orphan_policy=config.orphan_policy,
            now=now,
            unconfirmed=confirmed.unconfirmed,
            orphans_since=self.memory.orphans_since(),
            orphan_grace=timedelta(seconds=config.orphan_grace_seconds),
        )
        self.memory.saw_orphans(recon.orphans, now)
        self.executor.apply_fixes(recon.fixes)
        accrual = accrue(store, recon.ours, recon.jobs, since=previous.started_at if previous else None, now=now)
        current = [job for job in accrual.jobs.values() if job.id not in recon.held_back]
        snapshot = build_snapshot(seen, recon, current, self.memory, store.spend, now)
        plan = decide(
            snapshot, current, budget=config.budget, strategies=self.strategies.for_jobs(current), policy=self.policy
        )
        paced = defer_creates([*recon.destroy, *plan.actions], plan, self.create_limit)
        actions, plan, self.deferred = paced.actions, paced.plan, len(paced.deferred)
        rows = record.RowContext(tick_id, now, config.config_hash, seen.cut)
        waiting = record.why_jobs_wait(plan, current, snapshot)
        store.decisions.add_many(record.logged_rows(rows, recon.fixes, plan, actions, accrual.jobs, waiting))
        for job_id, reason in record.reasons(plan, accrual.jobs, waiting).items():
            store.jobs.set_reason(job_id, reason)
            if reason.startswith(record.ERROR_PREFIX):
                log.warning("job_decision_failed", job_id=job_id, reason=reason)
        report = self.executor.apply(record.planned_rows(rows, actions, plan, accrual.jobs), accrual.jobs, now)
        self.memory.learn(
            rented_machines=report.rented_machines,
            interrupted_machines=recon.interrupted_machines,
            unavailable_offers=report.unavailable_offers,
        )
        if config.record_market_samples and seen.scanned:
            store.samples.add_many(now, seen.scanned, tick_id=tick_id)
        counts = record.tick_counts(len(seen.scanned), len(recon.ours), len(actions), report, plan)
        store.ticks.finish(tick_id, ok=True, counts=counts)
        self.blind.remember(LastView(now, [*recon.ours, *recon.unclaimed], plan.committed_dph, snapshot.balance))
        self.memory.save_if_due(store, now)
        self.retention.apply_if_due(store, now)
        self.charges.check_if_due(self.api, store, rows, self.metrics)
        if self.metrics is not None:
            facts = TickFacts(
                seen.scanned, recon, plan, actions, report, accrual.added, snapshot, config.budget,
                store.jobs.count_by_state(), Counter(wait.kind.value for wait in waiting.values()),
            )  # fmt: skip
            export(self.metrics, facts)
        log.info("tick_done", **counts, binding_cap=plan.binding_cap)
        # Dated when the tick ends, as the last-success gauge and the status are: a slow tick does not make the
        # daemon look unready sooner than its readiness window says.
        self.last_success = self.clock.now()
        return TickResult(tick_id=tick_id, ok=True, actions=len(actions), plan=plan, failed=report.failed)
