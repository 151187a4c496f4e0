"""The ledger of a tick: what our instances cost and how far our jobs progressed since the last tick.

Between two observations an instance is taken to have stayed as it is now (the daemon cannot see in between):
- spend: GPU cost (its bid, or the ask on demand) for the hours it is running, storage for every hour it exists,
  written to the spend ledger per instance and kind, and added to its job's ``spent``;
- progress: a job gains the hours its instance ran, counted from the second observation that sees it running
  (the boot moment is not known, so the first one counts nothing: progress is never overstated).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from vastbid.core.instances import Instance, InstanceStatus
from vastbid.core.jobs import Job
from vastbid.store.spend import SpendEntry, SpendKind
from vastbid.store.store import Store

_RUN_MARK = "running_seen_at"
"""Key in ``job.extra``: when the job's instance was last seen running (ISO time), cleared otherwise."""


def accrue(
    store: Store,
    ours: Sequence[Instance],
    jobs: Mapping[int, Job],
    *,
    since: datetime | None,
    now: datetime,
) -> dict[str, float]:
    """Write spend since ``since`` for each of ``ours`` and progress for their jobs; the $ added per kind."""
    added = {SpendKind.GPU.value: 0.0, SpendKind.STORAGE.value: 0.0}
    hours = max((now - since).total_seconds() / 3600.0, 0.0) if since is not None else 0.0
    owner = {job.instance_id: job for job in jobs.values() if job.instance_id is not None}
    entries: list[SpendEntry] = []
    for inst in ours:
        job = owner.get(inst.id)
        job_id = job.id if job is not None else None
        amounts = {
            SpendKind.GPU: inst.gpu_dph * hours if inst.status is InstanceStatus.RUNNING else 0.0,
            SpendKind.STORAGE: inst.storage_dph * hours,
        }
        for kind, amount in amounts.items():
            if amount > 0 and since is not None:
                entries.append(SpendEntry(kind, amount, since, now, inst.id, job_id))
                added[kind.value] += amount
    store.spend.accrue_many(entries)  # the tick's ledger in one transaction
    cost: dict[int | None, float] = {}
    for entry in entries:
        cost[entry.instance_id] = cost.get(entry.instance_id, 0.0) + entry.amount
    for inst in ours:
        job = owner.get(inst.id)
        if job is not None:
            _progress(store, job, inst, cost=cost.get(inst.id, 0.0), hours=hours, now=now)
    return added


def _progress(store: Store, job: Job, inst: Instance, *, cost: float, hours: float, now: datetime) -> None:
    extra = dict(job.extra)
    running = inst.status is InstanceStatus.RUNNING
    gained = hours if running and extra.get(_RUN_MARK) else 0.0
    if running:
        extra[_RUN_MARK] = now.isoformat()
    else:
        extra.pop(_RUN_MARK, None)
    store.jobs.update(job.id, progress_hours=job.progress_hours + gained, spent=job.spent + cost, extra=extra)
