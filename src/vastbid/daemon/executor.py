"""Step 6 of a tick: apply the reconciler's fixes, then a plan's actions in order, with a record before and after
every action.

Every decision row is written (``planned``) before anything is done, so a crash loses none; each then gets its
outcome. A create is preceded by a committed intent row (its label), and its answer is recorded after it:
- refused for a low bid: the stopped instance Vast left behind (``new_contract``) is destroyed at once;
- the offer is gone: the intent is closed and the offer is skipped for a while;
- an ambiguous failure (timeout, 5xx, a malformed reply): the intent stays open and the next tick settles it by
  label; never a blind retry;
- accepted: the instance is read back and must be what was asked (a bid, or on demand): a create that silently
  rented on demand when a bid was asked is destroyed.
When an action for a job fails, the job's later actions this tick are skipped (e.g. a migration does not destroy
the old instance when the new one was not created). ``dry_run`` records the plan and acts on nothing.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from vastbid.core.actions import (
    Action,
    ChangeBid,
    DestroyInstance,
    PlaceBid,
    RentOnDemand,
    StartInstance,
    StopInstance,
    UpdateJob,
)
from vastbid.core.jobs import Job, JobState
from vastbid.core.labels import parse_label
from vastbid.core.offers import Offer, RentalType
from vastbid.daemon.reconcile import Fix, FixKind
from vastbid.errors import (
    BidTooLowError,
    MarketError,
    NotFoundError,
    OfferGoneError,
    RequestRejectedError,
    StaleTransitionError,
    StoreError,
    TransientMarketError,
    VastbidError,
)
from vastbid.store.decisions import DecisionOutcome, DecisionRecord
from vastbid.store.store import Store
from vastbid.vast.port import CreateRequest, MarketApi

log = structlog.get_logger("vastbid.executor")

Checkpoint = Callable[[str], None]
"""Called at named points of a create (``after_intent``, ``after_create``): a seam for crash tests."""


@dataclass(slots=True)
class ExecutionReport:
    """What applying a plan did."""

    applied: int = 0
    failed: int = 0
    skipped: int = 0
    bids_placed: Counter[str] = field(default_factory=Counter)
    bid_changes: int = 0
    unavailable_offers: set[int] = field(default_factory=set)
    created: list[tuple[int, int]] = field(default_factory=list)
    """(job id, instance id) of every create that succeeded."""
    rented_machines: list[int] = field(default_factory=list)
    """The machine of every create that succeeded."""


@dataclass(frozen=True, slots=True)
class PlannedRow:
    """An action and the decision row written for it."""

    action: Action
    decision: DecisionRecord


class Executor:
    """Applies actions against the market and records every step in the store."""

    def __init__(
        self,
        api: MarketApi,
        store: Store,
        *,
        dry_run: bool = False,
        checkpoint: Checkpoint | None = None,
        heartbeat: Callable[[], object] | None = None,
    ) -> None:
        self._api = api
        self._store = store
        self._dry_run = dry_run
        self._checkpoint = checkpoint or (lambda _point: None)
        self._heartbeat = heartbeat or (lambda: None)
        """Called before every action (the systemd watchdog is petted while a long tick acts)."""

    def apply_fixes(self, fixes: Sequence[Fix]) -> None:
        """Write what the reconciler found (settled intents, gone instances, adoptions, job states).

        The database changes whatever ``dry_run`` says: they record what Vast already did, not an action of ours.
        """
        instances, jobs = self._store.instances, self._store.jobs
        for fix in fixes:
            kind = fix.kind
            if kind is FixKind.SETTLE_FOUND and fix.label is not None and fix.instance_id is not None:
                instances.settle_found(fix.label, fix.instance_id)
            elif kind is FixKind.SETTLE_FAILED and fix.label is not None:
                instances.settle_failed(fix.label, "no instance carries the label: the create made nothing")
            elif kind is FixKind.GONE and fix.instance_id is not None:
                instances.record_gone(fix.instance_id, error="no longer listed")
            elif kind is FixKind.ADOPT:
                self._adopt(fix)
            elif kind is FixKind.JOB_RUNNING and fix.job_id is not None:
                jobs.update(fix.job_id, state=JobState.RUNNING, reason=fix.reason)
            elif kind is FixKind.JOB_INTERRUPTED and fix.job_id is not None:
                count = int(fix.facts.get("interruptions", 0))
                jobs.update(fix.job_id, state=JobState.INTERRUPTED, reason=fix.reason, interruptions=count)
            elif kind is FixKind.ON_DEMAND_SINCE and fix.job_id is not None:
                jobs.update(fix.job_id, on_demand_since=fix.at)

    def _adopt(self, fix: Fix) -> None:
        if fix.label is None or fix.instance_id is None or fix.job_id is None or fix.rental is None:
            return
        if fix.has_record:
            self._store.instances.settle_found(fix.label, fix.instance_id)
        else:
            self._store.instances.adopt(
                label=fix.label, instance_id=fix.instance_id, job_id=fix.job_id, attempt=fix.attempt, rental=fix.rental
            )
        job = self._store.jobs.get(fix.job_id)
        self._store.jobs.update(fix.job_id, instance_id=fix.instance_id, attempt=max(job.attempt, fix.attempt))

    def apply(self, rows: Sequence[PlannedRow], jobs: Mapping[int, Job], now: datetime) -> ExecutionReport:
        """Write every row as planned, then act on each in order and record its outcome."""
        report = ExecutionReport()
        ids = self._store.decisions.add_many([row.decision for row in rows])
        failed_jobs: set[int] = set()
        for decision_id, row in zip(ids, rows, strict=True):
            action = row.action
            self._heartbeat()
            if self._dry_run:
                self._store.decisions.set_outcome(decision_id, DecisionOutcome.SKIPPED_DRY_RUN)
                report.skipped += 1
                continue
            if action.job_id is not None and action.job_id in failed_jobs:
                self._store.decisions.set_outcome(
                    decision_id, DecisionOutcome.FAILED, error="skipped: an earlier action for this job failed"
                )
                report.skipped += 1
                continue
            try:
                self._act(action, jobs, now, report)
            except VastbidError as exc:
                report.failed += 1
                if action.job_id is not None:
                    failed_jobs.add(action.job_id)
                self._store.decisions.set_outcome(decision_id, DecisionOutcome.FAILED, error=str(exc))
                log.warning(
                    "action_failed",
                    action=action.kind,
                    job_id=action.job_id,
                    error=str(exc),
                    error_class=type(exc).__name__,
                )
            else:
                report.applied += 1
                self._store.decisions.set_outcome(decision_id, DecisionOutcome.APPLIED)
        return report

    # --- one action ----------------------------------------------------------------------------------------

    def _act(self, action: Action, jobs: Mapping[int, Job], now: datetime, report: ExecutionReport) -> None:
        if isinstance(action, PlaceBid | RentOnDemand):
            self._create(action, jobs[action.job_id], now, report)
        elif isinstance(action, ChangeBid):
            self._api.change_bid(action.instance_id, action.price)
            report.bid_changes += 1
        elif isinstance(action, StartInstance):
            self._api.start_instance(action.instance_id)
        elif isinstance(action, StopInstance):
            self._api.stop_instance(action.instance_id)
        elif isinstance(action, DestroyInstance):
            self._destroy(action.instance_id)
        elif isinstance(action, UpdateJob):
            self._update_job(action)

    def _destroy(self, instance_id: int, *, error: str | None = None) -> None:
        with contextlib.suppress(NotFoundError):
            self._api.destroy_instance(instance_id)
        if self._store.instances.by_instance_id(instance_id) is not None:
            self._store.instances.record_gone(instance_id, error=error)

    def _update_job(self, action: UpdateJob) -> None:
        try:
            if action.detach_instance:
                self._store.jobs.update(action.job_id, state=action.state, reason=action.reason, instance_id=None)
            else:
                self._store.jobs.update(action.job_id, state=action.state, reason=action.reason)
        except StoreError as exc:
            raise StoreError(f"job {action.job_id} could not become {action.state.value}: {exc}") from exc

    def _create(self, action: PlaceBid | RentOnDemand, job: Job, now: datetime, report: ExecutionReport) -> None:
        offer: Offer = action.offer
        rental = action.rental
        parsed = parse_label(action.label)
        attempt = parsed[2] if parsed is not None else job.attempt + 1
        price = action.price if rental is RentalType.INTERRUPTIBLE else None
        self._store.instances.record_intent(
            label=action.label,
            job_id=job.id,
            attempt=attempt,
            rental=rental,
            offer_id=offer.id,
            machine_id=offer.machine_id,
            price=action.price,
        )
        self._checkpoint("after_intent")
        spec = job.spec
        request = CreateRequest(
            image=spec.image,
            disk_gb=spec.disk_gb,
            label=action.label,
            price=price,
            env=dict(spec.env),
            onstart=spec.onstart,
            args=tuple(spec.args) if spec.args else None,
        )
        try:
            created = self._api.create_instance(offer.id, request)
        except BidTooLowError as exc:
            self._store.instances.settle_failed(action.label, f"bid too low: {exc}")
            report.bids_placed["too_low"] += 1
            if exc.new_contract is not None:
                self._api.destroy_instance(exc.new_contract)
            raise
        except OfferGoneError:
            self._store.instances.settle_failed(action.label, "offer gone")
            report.unavailable_offers.add(offer.id)
            report.bids_placed["offer_gone"] += 1
            raise
        except TransientMarketError:
            report.bids_placed["error"] += 1
            raise  # ambiguous: the intent stays open and the next tick settles it by label
        except MarketError as exc:
            self._store.instances.settle_failed(action.label, str(exc))
            report.bids_placed["rejected"] += 1
            raise
        self._checkpoint("after_create")
        try:
            self._store.instances.record_created(action.label, created.instance_id)
        except StaleTransitionError as exc:
            # Another process settled this intent (as failed) while the create was in flight: the row must not come
            # back to life, and the instance it made is not ours to keep.
            why = f"instance {created.instance_id} came back for an intent already settled ({exc}): destroyed"
            with contextlib.suppress(NotFoundError):
                self._api.destroy_instance(created.instance_id)
            report.bids_placed["stale"] += 1
            raise RequestRejectedError(why) from exc
        changes: dict[str, Any] = {"state": JobState.ACQUIRING, "reason": f"instance {created.instance_id} created"}
        if not spec.resumable:
            changes["progress_hours"] = 0.0
        self._store.jobs.update(job.id, on_demand_since=now if rental is RentalType.ON_DEMAND else None, **changes)
        self._check_rental(created.instance_id, rental)
        report.created.append((job.id, created.instance_id))
        report.rented_machines.append(offer.machine_id)
        if rental is RentalType.INTERRUPTIBLE:
            report.bids_placed["ok"] += 1

    def _check_rental(self, instance_id: int, rental: RentalType) -> None:
        """A create must have rented what was asked: a missing bid price silently rents on demand."""
        instance = self._api.get_instance(instance_id)
        if instance is None:
            return  # the next tick's complete listing settles it
        wanted_bid = rental is RentalType.INTERRUPTIBLE
        if instance.is_bid != wanted_bid:
            got = "interruptible" if instance.is_bid else "on demand"
            why = f"instance {instance_id} was rented {got}, not {rental.value} as asked: destroyed"
            self._destroy(instance_id, error=why)
            raise RequestRejectedError(why)
