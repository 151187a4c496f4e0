"""Step 3 of a tick: the ledger: what our instances cost and how far our jobs progressed since the last tick.

Between two observations an instance is taken to have stayed as it is now (the daemon cannot see in between):
- spend: GPU cost (its bid, or the ask on demand) for the hours it is running, storage for every hour it exists;
- progress: a job gains the hours its instance ran, counted from the second observation that sees it running
  (the boot moment is not known, so the first one counts nothing: progress is never overstated).
Both are written by ``SpendRepository.accrue_tick`` in one transaction, clipped to each instance's high-water mark,
so a second is billed once whatever crashes: a restart that accrues again from the same last tick adds nothing.
An instance is never billed from before it was created (Vast's ``start_date``): one made by a tick that died
before finishing has no mark yet, and the last successful tick may be long before it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from vastbid.core.instances import Instance, InstanceStatus
from vastbid.core.jobs import Job
from vastbid.store.spend import InstanceUsage
from vastbid.store.store import Store

_RUN_MARK = "running_seen_at"
"""Key in ``job.extra``: when the job's instance was last seen running (ISO time), cleared otherwise."""


@dataclass(frozen=True, slots=True)
class Accrual:
    """What one tick's accrual added."""

    added: dict[str, float]
    """$ per spend kind."""
    jobs: dict[int, Job]
    """The jobs with their new progress and spend (by id)."""


def accrue(
    store: Store,
    ours: Sequence[Instance],
    jobs: Mapping[int, Job],
    *,
    since: datetime | None,
    now: datetime,
) -> Accrual:
    """Accrue spend over ``[since, now)`` for each of ``ours``, and progress for their jobs (none without ``since``)."""
    owner = {job.instance_id: job for job in jobs.values() if job.instance_id is not None}
    usages: list[InstanceUsage] = []
    if since is not None and now > since:
        for inst in ours:
            job = owner.get(inst.id)
            # Never before the instance existed: one created by a tick that died has no mark yet.
            start = min(max(since, inst.started_at), now) if inst.started_at is not None else since
            usages.append(
                InstanceUsage(
                    instance_id=inst.id,
                    since=start,
                    until=now,
                    running=inst.status is InstanceStatus.RUNNING,
                    gpu_dph=max(inst.gpu_dph, 0.0),
                    storage_dph=max(inst.storage_dph, 0.0),
                    counts_progress=job is not None and bool(job.extra.get(_RUN_MARK)),
                    job_id=job.id if job is not None else None,
                )
            )
    ledger = store.spend.accrue_tick(usages)
    updated = dict(jobs)
    for inst in ours:
        job = owner.get(inst.id)
        if job is None:
            continue
        gained = ledger.by_job.get(job.id)
        extra = dict(job.extra)
        if inst.status is InstanceStatus.RUNNING:
            extra.setdefault(_RUN_MARK, now.isoformat())  # since when it is seen running: written once
        else:
            extra.pop(_RUN_MARK, None)
        if extra != job.extra:
            store.jobs.update(job.id, extra=extra)
        updated[job.id] = dataclasses.replace(
            job,
            extra=extra,
            spent=gained.spent_total if gained is not None else job.spent,
            progress_hours=gained.progress_hours_total if gained is not None else job.progress_hours,
        )
    return Accrual(added={kind.value: amount for kind, amount in ledger.by_kind.items()}, jobs=updated)
