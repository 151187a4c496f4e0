"""Step 2 of a tick: reconcile what Vast lists with what the database believes.

Only instances whose label carries our prefix (``vastbid:<deployment>:``) are ours; nothing else is ever touched.
With a complete listing in hand:
- an open intent (a create that may or may not have happened) is settled by its label: found, it goes live and
  its job points at it; not found, the create made nothing and the intent is closed as failed;
- a live record whose instance is no longer listed is marked gone (``decide()`` then requeues the job);
- an instance of ours the database does not know is an orphan: adopted into its job when the orphan policy says
  so and the job can take it, destroyed under the ``destroy`` policy, otherwise reported; an instance left by a
  create we recorded as failed (a low-bid leftover) is always destroyed, as is a second instance of a job that
  already holds one;
- job states follow their instances: running when it runs, interrupted when it is outbid or waits for its GPUs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vastbid.config.settings import OrphanPolicy
from vastbid.core.actions import DestroyInstance
from vastbid.core.instances import Instance, InstanceStatus
from vastbid.core.jobs import Job, JobState
from vastbid.core.labels import parse_label
from vastbid.core.offers import RentalType
from vastbid.store.instances import InstanceRecord, InstanceRecordState
from vastbid.store.store import Store

_WAITING = frozenset({InstanceStatus.OUTBID, InstanceStatus.SCHEDULING})


@dataclass(frozen=True, slots=True)
class Event:
    """Something the reconciler did or saw, for the decision log."""

    action: str
    reason: str
    job_id: int | None = None
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Reconciliation:
    """What reconciling found: our instances, actions for orphans, and events to log."""

    ours: list[Instance] = field(default_factory=list)
    destroy: list[DestroyInstance] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    outbid_events: int = 0
    became_running: list[tuple[Job, Instance]] = field(default_factory=list)


def reconcile(
    store: Store,
    instances: Sequence[Instance],
    *,
    deployment: str,
    orphan_policy: OrphanPolicy,
    now: datetime,
) -> Reconciliation:
    """Bring the database in line with a complete listing (see the module docstring)."""
    result = Reconciliation()
    prefix = f"vastbid:{deployment}:"
    ours = [i for i in instances if i.label and i.label.startswith(prefix) and i.status is not InstanceStatus.GONE]
    by_label = {i.label: i for i in ours if i.label}
    listed_ids = {i.id for i in ours}

    for intent in store.instances.open_intents():
        found = by_label.get(intent.label)
        if found is not None:
            store.instances.settle_found(intent.label, found.id)
            result.events.append(
                Event(
                    "settle_intent",
                    f"create settled by label: instance {found.id} exists",
                    intent.job_id,
                    {"label": intent.label, "instance_id": found.id},
                )
            )
        else:
            store.instances.settle_failed(intent.label, "no instance carries the label: the create made nothing")
            result.events.append(
                Event(
                    "settle_intent",
                    "create settled by label: no instance carries it, the job will try again",
                    intent.job_id,
                    {"label": intent.label},
                )
            )

    for live in store.instances.live():
        if live.instance_id is not None and live.instance_id not in listed_ids:
            store.instances.record_gone(live.instance_id, error="no longer listed")
            result.events.append(
                Event(
                    "instance_gone",
                    f"instance {live.instance_id} is no longer listed",
                    live.job_id,
                    {"instance_id": live.instance_id},
                )
            )

    jobs = {job.id: job for job in store.jobs.list()}
    for inst in sorted(ours, key=lambda i: i.id):
        record = store.instances.by_instance_id(inst.id) or store.instances.by_label(inst.label or "")
        if record is not None and record.state is InstanceRecordState.LIVE and record.instance_id == inst.id:
            result.ours.append(inst)
            continue
        _orphan(store, inst, record, jobs, orphan_policy, result)

    jobs = {job.id: job for job in store.jobs.list()}
    by_id = {i.id: i for i in result.ours}
    for job in jobs.values():
        if job.state.is_final or job.instance_id is None or job.instance_id not in by_id:
            continue
        _follow(store, job, by_id[job.instance_id], now, result)
    return result


def _orphan(  # noqa: PLR0917 - one call site, the reconciler's parts
    store: Store,
    inst: Instance,
    record: InstanceRecord | None,
    jobs: dict[int, Job],
    policy: OrphanPolicy,
    result: Reconciliation,
) -> None:
    parsed = parse_label(inst.label)
    job = jobs.get(parsed[1]) if parsed is not None else None
    facts = {"instance_id": inst.id, "label": inst.label, "policy": policy.value}
    if record is not None and record.state is InstanceRecordState.FAILED:
        why = f"instance {inst.id} was left by a create recorded as failed ({record.error}): destroy it"
        result.destroy.append(DestroyInstance(job.id if job else None, inst.id, why, facts))
        result.events.append(Event("orphan_destroy", why, job.id if job else None, facts))
        return
    if job is not None and job.instance_id is not None and job.instance_id != inst.id:
        why = f"instance {inst.id} duplicates job {job.id}'s instance {job.instance_id}: destroy it"
        result.destroy.append(DestroyInstance(job.id, inst.id, why, facts))
        result.events.append(Event("orphan_destroy", why, job.id, facts))
        return
    adoptable = job is not None and not job.state.is_final and job.instance_id in (None, inst.id)
    if policy is OrphanPolicy.ADOPT and adoptable and job is not None and parsed is not None:
        rental = RentalType.INTERRUPTIBLE if inst.is_bid else RentalType.ON_DEMAND
        if record is None:
            store.instances.adopt(
                label=inst.label or "", instance_id=inst.id, job_id=job.id, attempt=parsed[2], rental=rental
            )
        else:
            store.instances.settle_found(record.label, inst.id)
        store.jobs.update(job.id, instance_id=inst.id, attempt=max(job.attempt, parsed[2]))
        result.ours.append(inst)
        result.events.append(Event("orphan_adopt", f"instance {inst.id} adopted into job {job.id}", job.id, facts))
        return
    if policy is OrphanPolicy.DESTROY:
        why = f"instance {inst.id} carries our prefix but no job claims it: destroy (orphan policy)"
        result.destroy.append(DestroyInstance(job.id if job else None, inst.id, why, facts))
        result.events.append(Event("orphan_destroy", why, job.id if job else None, facts))
        return
    result.events.append(
        Event(
            "orphan_report",
            f"instance {inst.id} carries our prefix but no job claims it: left alone (orphan policy {policy.value})",
            job.id if job else None,
            facts,
        )
    )


def _follow(store: Store, job: Job, inst: Instance, now: datetime, result: Reconciliation) -> None:
    """Move the job's state after its instance's."""
    if inst.status is InstanceStatus.RUNNING and job.state is not JobState.RUNNING:
        store.jobs.update(job.id, state=JobState.RUNNING, reason=f"instance {inst.id} is running")
        result.became_running.append((job, inst))
        result.events.append(Event("job_running", f"instance {inst.id} is running", job.id, {"instance_id": inst.id}))
    elif inst.status in _WAITING and job.state is JobState.RUNNING:
        why = f"instance {inst.id} is {inst.status.value}: paused by a higher bid or an on-demand renter"
        store.jobs.update(job.id, state=JobState.INTERRUPTED, reason=why, interruptions=job.interruptions + 1)
        if inst.status is InstanceStatus.OUTBID:
            result.outbid_events += 1
        result.events.append(
            Event("job_interrupted", why, job.id, {"instance_id": inst.id, "machine_id": inst.machine_id})
        )
    on_demand = not inst.is_bid
    if on_demand and job.on_demand_since is None:
        store.jobs.update(job.id, on_demand_since=now)
    elif not on_demand and job.on_demand_since is not None:
        store.jobs.update(job.id, on_demand_since=None)
