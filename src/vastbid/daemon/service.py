"""What the HTTP surface and ``vastbid jobs`` need of the daemon and its store, as JSON-ready data.

``StoreJobQueue`` is the job queue over a ``Store`` (the ``JobQueue`` protocol of ``vastbid.obs.api``), used by
``vastbid jobs`` on the database path; ``DaemonService`` adds the decision log, the status summary and readiness
for the daemon's HTTP server. Readiness: a tick succeeded within ``READY_INTERVALS`` tick intervals (on the
injected clock, the daemon's by default) and the database answers; every check sets the readiness gauge.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from vastbid.config.settings import BudgetSettings
from vastbid.core.jobs import JobState
from vastbid.daemon.clock import Clock
from vastbid.daemon.tick import Daemon
from vastbid.errors import InvalidInputError, StateConflictError, StoreError, UnknownObjectError
from vastbid.obs.api import Json, check_job_id, job_to_dict
from vastbid.store import InstanceRecord, Store, parse_job_specs
from vastbid.store.decisions import DecisionRecord, TickRecord
from vastbid.store.jobs import JobChecks

READY_INTERVALS = 3
"""A daemon whose last successful tick is older than this many tick intervals is not ready."""


# --- shapes ----------------------------------------------------------------------------------------------------


def instance_to_dict(record: InstanceRecord) -> Json:
    """One of a job's instances, as ``vastbid jobs show --json`` prints it."""
    return {
        "label": record.label,
        "instance_id": record.instance_id,
        "attempt": record.attempt,
        "rental": record.rental.value,
        "price": record.price,
        "state": record.state.value,
        "machine_id": record.machine_id,
        "intent_at": record.intent_at.isoformat(),
        "gone_at": record.gone_at.isoformat() if record.gone_at else None,
    }


def decision_to_dict(decision: DecisionRecord) -> Json:
    """A decision with every column, as ``vastbid decisions --json`` prints it."""
    return {
        "id": decision.id,
        "at": decision.at.isoformat(),
        "tick_id": decision.tick_id,
        "job_id": decision.job_id,
        "action": decision.action,
        "strategy": decision.strategy,
        "outcome": decision.outcome.value,
        "reason": decision.reason,
        "error": decision.error,
        "config_hash": decision.config_hash,
        "facts": dict(decision.facts),
        "candidates": list(decision.candidates),
    }


def _live_instance(record: InstanceRecord) -> Json:
    return {
        "instance_id": record.instance_id,
        "job_id": record.job_id,
        "label": record.label,
        "rental": record.rental.value,
        "price": record.price,
        "machine_id": record.machine_id,
        "created_at": record.created_at.isoformat() if record.created_at else None,
    }


def _tick(tick: TickRecord | None) -> Json | None:
    if tick is None:
        return None
    return {
        "id": tick.id,
        "started_at": tick.started_at.isoformat(),
        "finished_at": tick.finished_at.isoformat() if tick.finished_at else None,
        "ok": tick.ok,
        "error": tick.error,
        "counts": dict(tick.counts),
    }


def status_snapshot(store: Store, caps: BudgetSettings | None, now: datetime) -> Json:
    """The ``vastbid status --json`` summary: jobs, live instances, spend against the caps, the last ticks."""
    jobs = store.jobs.list()
    by_state = Counter(job.state.value for job in jobs)
    last_ok = store.ticks.last(ok=True)
    committed = last_ok.counts.get("committed_dph") if last_ok is not None else None
    return {
        "jobs": {
            "by_state": {state.value: by_state[state.value] for state in JobState if by_state[state.value]},
            "active": [job_to_dict(job) for job in jobs if not job.state.is_final],
        },
        "instances": [_live_instance(record) for record in store.instances.live()],
        "budget": {
            "caps_known": caps is not None,
            "committed_dph": None if committed is None else float(committed),
            "max_burn_per_hour": caps.max_burn_per_hour if caps else None,
            "spent_today": store.spend.spent_on_day(now.astimezone(UTC).date()),
            "daily_cap": caps.daily_cap if caps else None,
            "spent_this_month": store.spend.spent_in_month(now),
            "monthly_cap": caps.monthly_cap if caps else None,
        },
        "last_successful_tick_at": last_ok.finished_at.isoformat() if last_ok and last_ok.finished_at else None,
        "last_tick": _tick(store.ticks.last()),
        "now": now.isoformat(),
    }


# --- the job queue over the store ------------------------------------------------------------------------------


class StoreJobQueue:
    """The job queue (and decision log) read and written straight in the database."""

    def __init__(self, store: Store, checks: Callable[[], JobChecks] | None = None) -> None:
        self.store = store
        self.checks = checks
        """What a submitted job is checked against (query grammar, strategies, now): the same checks as the CLI."""

    def list_jobs(self, states: Sequence[str] | None = None) -> list[Json]:
        """Jobs, highest priority first; only those in ``states`` when given."""
        chosen = [JobState(state) for state in states] if states else None
        return [job_to_dict(job) for job in self.store.jobs.list(chosen)]

    def submit(self, specs: Sequence[Mapping[str, Any]]) -> list[Json]:
        """Validate every spec (``JobSpecError`` naming the field), then queue them all or none."""
        checks = self.checks() if self.checks is not None else None
        return [job_to_dict(job) for job in self.store.jobs.submit_many(parse_job_specs(specs, checks=checks))]

    def get(self, job_id: int) -> Json:
        """One job, why it is in its state, and its instances."""
        job = self.store.jobs.find(check_job_id(job_id))
        if job is None:
            raise UnknownObjectError(f"there is no job {job_id}", field="job_id")
        instances = self.store.instances.for_job(job_id)
        return {
            **job_to_dict(job),
            "state_reason": self.store.jobs.reason(job_id),
            "instances": [instance_to_dict(record) for record in instances],
        }

    def cancel(self, job_id: int) -> Json:
        """Cancel a job; one already over is a ``StateConflictError``."""
        if self.store.jobs.find(check_job_id(job_id)) is None:
            raise UnknownObjectError(f"there is no job {job_id}", field="job_id")
        try:
            return job_to_dict(self.store.jobs.cancel(job_id))
        except InvalidInputError as exc:
            raise StateConflictError(str(exc), field="job_id") from None

    def decisions(
        self, job_id: int | None = None, since: datetime | None = None, limit: int | None = None
    ) -> list[Json]:
        """The decision log, oldest first (the newest ``limit`` when given)."""
        checked = None if job_id is None else check_job_id(job_id)
        found = self.store.decisions.query(job_id=checked, since=since, limit=limit)
        return [decision_to_dict(decision) for decision in found]


# --- the running daemon ------------------------------------------------------------------------------------------


class DaemonService(StoreJobQueue):
    """Everything the HTTP surface serves (``ApiService``), over the running daemon and its store."""

    def __init__(
        self,
        daemon: Daemon,
        *,
        caps: BudgetSettings | None = None,
        window: timedelta | None = None,
        clock: Clock | None = None,
        checks: Callable[[], JobChecks] | None = None,
    ) -> None:
        super().__init__(daemon.store, checks)
        self.daemon = daemon
        self.caps = caps
        self.window = window or timedelta(seconds=READY_INTERVALS * daemon.config.tick_seconds)
        self.clock = clock or daemon.clock

    def status(self) -> Json:
        """The status summary, plus the daemon's readiness."""
        ready, reason = self.ready()
        return {**status_snapshot(self.store, self.caps, self.clock.now()), "ready": ready, "ready_reason": reason}

    def ready(self) -> tuple[bool, str]:
        """Whether a tick succeeded within the window and the database answers; sets the readiness gauge."""
        ready, reason = self._readiness()
        if self.daemon.metrics is not None:
            self.daemon.metrics.set_ready(ready)
        return ready, reason

    def refresh_readiness(self) -> None:
        """Bring the readiness gauge up to date (called after every tick)."""
        self.ready()

    def _readiness(self) -> tuple[bool, str]:
        try:
            self.store.check_identity()
        except StoreError as exc:
            return False, f"the database cannot be trusted, the daemon acts on nothing: {exc}"
        last = self.daemon.last_success
        if last is None:
            return False, "no tick has succeeded yet"
        age = (self.clock.now() - last).total_seconds()
        window = self.window.total_seconds()
        if age > window:
            return False, (
                f"the last successful tick was {age:.0f}s ago, more than {READY_INTERVALS} tick intervals "
                f"({window:.0f}s)"
            )
        if self.daemon.deferred:
            return True, (
                f"acquiring: {self.daemon.deferred} job(s) wait for their create on a later tick (pacing); the last "
                f"successful tick was {max(age, 0):.0f}s ago"
            )
        return True, f"the last successful tick was {max(age, 0):.0f}s ago"
