"""Step 2 of a tick: reconcile what Vast lists with what the database believes, as a pure function to fixes.

``reconcile(listing, records, jobs, ...)`` reads nothing and writes nothing: from a complete listing, our instance
records and the tick's jobs it returns a ``Reconciliation``: the instances that are ours, the ``Fix`` values the
executor applies (``Executor.apply_fixes``), orphans to destroy (``DestroyInstance`` actions, applied with the plan)
and counts for the metrics. Every fix carries a reason for the decision log.

Only instances whose label carries our prefix (``vastbid:<deployment>:``) are ours; nothing else is ever touched.
- an open intent (a create that may or may not have happened) is settled by its label: found, it goes live and its
  job points at it; not found, the create made nothing and the intent is closed as failed;
- a live record whose instance is no longer listed, and that a direct read confirmed gone, is marked gone
  (``decide()`` then requeues the job); one whose read failed is *unconfirmed*: left as it is, its job held back;
- an instance of ours the database does not know is an orphan: adopted into its job when the orphan policy says so
  and the job can take it, destroyed under the ``destroy`` policy (or ``adopt_or_destroy`` once its grace period
  is over), otherwise reported (and counted against every budget); an instance left by a create
  recorded as failed (a low-bid leftover) is always destroyed, as is a second instance of a job that already holds
  one;
- a live instance whose job has moved on to another instance (a migration killed between its create and its
  destroy), or is over without pointing at it, is a leftover: destroyed;
- job states follow their instances: running when it runs, interrupted when it is outbid or waits for its GPUs,
  and ``on_demand_since`` is set or cleared with the rental.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from vastbid.config.settings import OrphanPolicy
from vastbid.core.actions import DestroyInstance
from vastbid.core.instances import Instance, InstanceStatus
from vastbid.core.jobs import Job, JobState
from vastbid.core.labels import parse_label
from vastbid.core.offers import RentalType
from vastbid.store.instances import InstanceRecord, InstanceRecordState

_WAITING = frozenset({InstanceStatus.OUTBID, InstanceStatus.SCHEDULING})


class FixKind(StrEnum):
    """What the reconciler found and asks to be done (the decision log's ``action``)."""

    SETTLE_FOUND = "settle_intent"
    """An open intent's instance exists: the record goes live, its job points at it."""
    SETTLE_FAILED = "settle_intent_failed"
    """No instance carries an open intent's label: the create made nothing."""
    GONE = "instance_gone"
    """A live record's instance is no longer listed."""
    ADOPT = "orphan_adopt"
    """An instance of ours the database had lost is taken back into its job."""
    ORPHAN_DESTROY = "orphan_destroy"
    """An instance of ours no job may hold is destroyed (the ``DestroyInstance`` goes with the plan)."""
    LEFTOVER_DESTROY = "leftover_destroy"
    """A live instance of ours whose job moved on to another (or is over) is destroyed with the plan."""
    ORPHAN_REPORT = "orphan_report"
    """An instance of ours no job claims, left alone by the orphan policy."""
    JOB_RUNNING = "job_running"
    """The job's instance runs."""
    JOB_INTERRUPTED = "job_interrupted"
    """The job's instance was paused by a higher bid or an on-demand renter."""
    ON_DEMAND_SINCE = "on_demand_since"
    """The job's rental type changed: when it went on demand (or ``None``). Not logged."""


@dataclass(frozen=True, slots=True)
class Fix:
    """One change the reconciler asks for, with why."""

    kind: FixKind
    reason: str
    job_id: int | None = None
    label: str | None = None
    instance_id: int | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)
    attempt: int = 0
    """``ADOPT``: the attempt the label carries."""
    rental: RentalType | None = None
    """``ADOPT``: how the instance is rented."""
    has_record: bool = False
    """``ADOPT``: a record with the label exists (it is settled instead of a new one written)."""
    at: datetime | None = None
    """``ON_DEMAND_SINCE``: the new value."""

    @property
    def logged(self) -> bool:
        """Whether the fix gets a decision row."""
        return self.kind is not FixKind.ON_DEMAND_SINCE


@dataclass(slots=True)
class Reconciliation:
    """What reconciling found: our instances, fixes to apply, orphans to destroy, and counts."""

    ours: list[Instance] = field(default_factory=list)
    fixes: list[Fix] = field(default_factory=list)
    destroy: list[DestroyInstance] = field(default_factory=list)
    outbid_events: int = 0
    became_running: list[tuple[Job, Instance]] = field(default_factory=list)
    jobs: dict[int, Job] = field(default_factory=dict)
    """The tick's jobs as they are once the fixes are applied (by id)."""
    orphans: list[int] = field(default_factory=list)
    """Every instance of ours no record claimed this tick (whatever was done with it)."""
    unclaimed: list[Instance] = field(default_factory=list)
    """Instances of ours no job holds, left running by the orphan policy: we pay for them, so budgets count them."""
    held_back: set[int] = field(default_factory=set)
    """Jobs whose instance is unconfirmed (missing from the listing, not confirmed gone): not decided this tick."""
    interrupted_machines: list[int] = field(default_factory=list)
    """Machines where one of our instances was interrupted this tick (for the market memory)."""


def reconcile(
    listing: Sequence[Instance],
    records: Sequence[InstanceRecord],
    jobs: Sequence[Job],
    *,
    deployment: str,
    orphan_policy: OrphanPolicy,
    now: datetime,
    unconfirmed: frozenset[int] = frozenset(),
    orphans_since: Mapping[int, datetime] | None = None,
    orphan_grace: timedelta = timedelta(0),
) -> Reconciliation:
    """The fixes that bring the database in line with a complete listing (see the module docstring).

    ``records`` are our open intents, our live records, and any record whose label or instance id is listed;
    ``jobs`` are the tick's jobs (the ones not over, and the finished ones still holding an instance);
    ``unconfirmed`` are live instances the listing lacked but no direct read said were gone: they are neither marked
    gone nor replaced, and their jobs are held back from this tick's decision; ``orphans_since`` says since when
    each orphan has been seen (``adopt_or_destroy`` destroys one no job can take once ``orphan_grace`` has passed).
    """
    result = Reconciliation()
    prefix = f"vastbid:{deployment}:"
    ours = [i for i in listing if i.label and i.label.startswith(prefix) and i.status is not InstanceStatus.GONE]
    by_label = {i.label: i for i in ours if i.label}
    listed_ids = {i.id for i in ours}
    job_view = {job.id: job for job in jobs}
    by_record_label: dict[str, InstanceRecord] = {r.label: r for r in records}

    for intent in [r for r in records if r.state is InstanceRecordState.INTENT]:
        found = by_label.get(intent.label)
        if found is not None:
            why = f"create settled by label: instance {found.id} exists"
            facts = {"label": intent.label, "instance_id": found.id}
            result.fixes.append(Fix(FixKind.SETTLE_FOUND, why, intent.job_id, intent.label, found.id, facts))
            by_record_label[intent.label] = dataclasses.replace(
                intent, state=InstanceRecordState.LIVE, instance_id=found.id
            )
            _point(job_view, intent.job_id, found.id)
        else:
            why = "create settled by label: no instance carries it, the job will try again"
            result.fixes.append(
                Fix(FixKind.SETTLE_FAILED, why, intent.job_id, intent.label, facts={"label": intent.label})
            )
            by_record_label[intent.label] = dataclasses.replace(intent, state=InstanceRecordState.FAILED)

    for live in [r for r in records if r.state is InstanceRecordState.LIVE]:
        if live.instance_id in unconfirmed:
            if live.job_id is not None:
                result.held_back.add(live.job_id)
            continue
        if live.instance_id is not None and live.instance_id not in listed_ids:
            why = f"instance {live.instance_id} is no longer listed"
            facts = {"instance_id": live.instance_id}
            result.fixes.append(Fix(FixKind.GONE, why, live.job_id, live.label, live.instance_id, facts))
            by_record_label[live.label] = dataclasses.replace(live, state=InstanceRecordState.GONE)
            job = job_view.get(live.job_id) if live.job_id is not None else None
            if job is not None and job.instance_id == live.instance_id:
                job_view[job.id] = dataclasses.replace(job, instance_id=None)

    by_instance = {r.instance_id: r for r in by_record_label.values() if r.instance_id is not None}
    for inst in sorted(ours, key=lambda i: i.id):
        record = by_instance.get(inst.id) or by_record_label.get(inst.label or "")
        if record is not None and record.state is InstanceRecordState.LIVE and record.instance_id == inst.id:
            result.ours.append(inst)
            _leftover(inst, record, job_view, result)
            continue
        seen_since = (orphans_since or {}).get(inst.id, now)
        overdue = now - seen_since >= orphan_grace
        _orphan(inst, record, job_view, orphan_policy, result, overdue=overdue)

    by_id = {i.id: i for i in result.ours}
    for job in list(job_view.values()):
        if job.state.is_final or job.instance_id is None or job.instance_id not in by_id:
            continue
        job_view[job.id] = _follow(job, by_id[job.instance_id], now, result)
    result.jobs = job_view
    return result


def _leftover(inst: Instance, record: InstanceRecord, jobs: Mapping[int, Job], result: Reconciliation) -> None:
    """Destroy a live instance of ours whose job has moved on (a migration killed between its create and its
    destroy) or is over without pointing at it: nothing would ever stop it otherwise."""
    if record.job_id is None:
        return
    job = jobs.get(record.job_id)
    if job is not None and job.instance_id == inst.id:
        return
    now_on = f"now on instance {job.instance_id}" if job is not None and job.instance_id else "holding none of it"
    why = f"instance {inst.id} is a leftover of job {record.job_id} (attempt {record.attempt}, {now_on}): destroy it"
    facts = {"instance_id": inst.id, "label": inst.label, "attempt": record.attempt}
    result.destroy.append(DestroyInstance(record.job_id, inst.id, why, facts))
    result.fixes.append(Fix(FixKind.LEFTOVER_DESTROY, why, record.job_id, inst.label, inst.id, facts))


def _point(jobs: dict[int, Job], job_id: int | None, instance_id: int) -> None:
    job = jobs.get(job_id) if job_id is not None else None
    if job is not None:
        jobs[job.id] = dataclasses.replace(job, instance_id=instance_id)


def _orphan(
    inst: Instance,
    record: InstanceRecord | None,
    jobs: dict[int, Job],
    policy: OrphanPolicy,
    result: Reconciliation,
    *,
    overdue: bool,
) -> None:
    result.orphans.append(inst.id)
    parsed = parse_label(inst.label)
    job = jobs.get(parsed[1]) if parsed is not None else None
    job_id = job.id if job is not None else None
    facts = {"instance_id": inst.id, "label": inst.label, "policy": policy.value}

    def destroy(why: str) -> None:
        result.destroy.append(DestroyInstance(job_id, inst.id, why, facts))
        result.fixes.append(Fix(FixKind.ORPHAN_DESTROY, why, job_id, inst.label, inst.id, facts))

    if record is not None and record.state is InstanceRecordState.FAILED:
        destroy(f"instance {inst.id} was left by a create recorded as failed ({record.error}): destroy it")
        return
    if job is not None and job.instance_id is not None and job.instance_id != inst.id:
        destroy(f"instance {inst.id} duplicates job {job.id}'s instance {job.instance_id}: destroy it")
        return
    adoptable = job is not None and not job.state.is_final and job.instance_id in (None, inst.id)
    adopting = policy in (OrphanPolicy.ADOPT, OrphanPolicy.ADOPT_OR_DESTROY)
    if adopting and adoptable and job is not None and parsed is not None:
        rental = RentalType.INTERRUPTIBLE if inst.is_bid else RentalType.ON_DEMAND
        why = f"instance {inst.id} adopted into job {job.id}"
        result.fixes.append(
            Fix(
                FixKind.ADOPT,
                why,
                job.id,
                record.label if record is not None else inst.label,
                inst.id,
                facts,
                attempt=parsed[2],
                rental=rental,
                has_record=record is not None,
            )
        )
        jobs[job.id] = dataclasses.replace(job, instance_id=inst.id, attempt=max(job.attempt, parsed[2]))
        result.ours.append(inst)
        return
    if policy is OrphanPolicy.DESTROY or (policy is OrphanPolicy.ADOPT_OR_DESTROY and overdue):
        destroy(f"instance {inst.id} carries our prefix but no job claims it: destroy (orphan policy {policy.value})")
        return
    why = f"instance {inst.id} carries our prefix but no job claims it: left alone (orphan policy {policy.value})"
    result.fixes.append(Fix(FixKind.ORPHAN_REPORT, why, job_id, inst.label, inst.id, facts))
    result.unclaimed.append(inst)


def _follow(job: Job, inst: Instance, now: datetime, result: Reconciliation) -> Job:
    """Move the job's state after its instance's; the job as it then is."""
    if inst.status is InstanceStatus.RUNNING and job.state is not JobState.RUNNING:
        why = f"instance {inst.id} is running"
        result.fixes.append(Fix(FixKind.JOB_RUNNING, why, job.id, instance_id=inst.id, facts={"instance_id": inst.id}))
        result.became_running.append((job, inst))
        job = dataclasses.replace(job, state=JobState.RUNNING, state_reason=why)
    elif inst.status in _WAITING and job.state is JobState.RUNNING:
        why = f"instance {inst.id} is {inst.status.value}: paused by a higher bid or an on-demand renter"
        facts = {"instance_id": inst.id, "machine_id": inst.machine_id, "interruptions": job.interruptions + 1}
        result.fixes.append(Fix(FixKind.JOB_INTERRUPTED, why, job.id, instance_id=inst.id, facts=facts))
        result.interrupted_machines.append(inst.machine_id)
        if inst.status is InstanceStatus.OUTBID:
            result.outbid_events += 1
        job = dataclasses.replace(
            job, state=JobState.INTERRUPTED, state_reason=why, interruptions=job.interruptions + 1
        )
    on_demand = not inst.is_bid
    if on_demand and job.on_demand_since is None:
        result.fixes.append(Fix(FixKind.ON_DEMAND_SINCE, "on demand", job.id, instance_id=inst.id, at=now))
        job = dataclasses.replace(job, on_demand_since=now)
    elif not on_demand and job.on_demand_since is not None:
        result.fixes.append(Fix(FixKind.ON_DEMAND_SINCE, "interruptible", job.id, instance_id=inst.id, at=None))
        job = dataclasses.replace(job, on_demand_since=None)
    return job
