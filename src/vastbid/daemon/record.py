"""Step 7 of a tick: the decision log's rows, built from the tick's values (never read back from the database).

- ``planned_rows``: one ``planned`` row per action, with the strategy, the facts and the candidates behind it;
  the executor writes them before it acts and gives each its outcome.
- ``logged_rows``: the reconciler's fixes, and each job's outcome when no action speaks for it (``keep`` and
  ``wait`` are not logged each tick). A job whose decision failed (``error``) is logged only when its reason
  changes, so a job that fails every tick writes one row, not one per tick.
- ``reasons``: the jobs whose ``state_reason`` must change (an error, or the error cleared).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from vastbid.core.actions import Action, PlaceBid, RentOnDemand
from vastbid.core.jobs import Job
from vastbid.core.offers import Offer
from vastbid.core.plan import JobOutcome, Plan
from vastbid.core.snapshot import MarketSnapshot
from vastbid.core.waiting import WaitKind, WaitReason, why_waiting
from vastbid.daemon.executor import ExecutionReport, PlannedRow
from vastbid.daemon.reconcile import Fix
from vastbid.store.decisions import DecisionOutcome, DecisionRecord

ERROR_PREFIX = f"{WaitKind.ERROR.value}: "
"""A job's ``state_reason`` starts with this while deciding for it fails."""


@dataclass(frozen=True, slots=True)
class RowContext:
    """What every row of one tick shares."""

    tick_id: int
    at: datetime
    config_hash: str
    cut: Mapping[str, int] = field(default_factory=dict)
    """Per job filter whose view of the market was cut this tick (search limits): how many offers it saw. Every
    row of a job with such a filter says so (``view_cut``)."""

    def view_facts(self, job: Job | None) -> dict[str, Any]:
        """``{"view_cut": offers seen}`` for a job whose filter's view was cut, else nothing."""
        seen = self.cut.get(job.spec.offer_filter) if job is not None else None
        return {} if seen is None else {"view_cut": seen}


def planned_rows(
    ctx: RowContext, actions: Sequence[Action], plan: Plan, jobs: Mapping[int, Job] | None = None
) -> list[PlannedRow]:
    """One ``planned`` decision row per action."""
    record = partial(DecisionRecord, at=ctx.at, config_hash=ctx.config_hash, tick_id=ctx.tick_id)
    rows: list[PlannedRow] = []
    for action in actions:
        decision = plan.decisions.get(action.job_id) if action.job_id is not None else None
        facts = dict(action.facts)
        facts.update(ctx.view_facts((jobs or {}).get(action.job_id) if action.job_id is not None else None))
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
                    facts=jsonable(facts),
                    candidates=[candidate(o) for o in decision.ranked] if decision is not None else [],
                ),
            )
        )
    return rows


def logged_rows(  # noqa: PLR0917 - the tick's values, each named
    ctx: RowContext,
    fixes: Iterable[Fix],
    plan: Plan,
    actions: Sequence[Action],
    jobs: Mapping[int, Job],
    waiting: Mapping[int, WaitReason],
) -> list[DecisionRecord]:
    """Rows for the reconciler's fixes and for the jobs' outcomes that no action records. A waiting job's outcome
    is written when its reason changes, not every tick."""
    record = partial(DecisionRecord, at=ctx.at, config_hash=ctx.config_hash, tick_id=ctx.tick_id)
    rows = [
        record(
            action=fix.kind.value,
            reason=fix.reason,
            outcome=DecisionOutcome.APPLIED,
            job_id=fix.job_id,
            facts=jsonable(fix.facts),
        )
        for fix in fixes
        if fix.logged
    ]
    acted = {a.job_id for a in actions if a.job_id is not None}
    for job_id, decision in sorted(plan.decisions.items()):
        if job_id in acted:
            continue
        wait = waiting.get(job_id)
        job = jobs.get(job_id)
        if wait is not None:
            if job is not None and job.state_reason == wait.state_reason:
                continue  # waiting for the same reason as last tick: logged once per change
        elif decision.outcome.is_quiet:
            continue
        facts = {**decision.facts, **({"cause": decision.cause.value} if decision.cause else {})}
        if wait is not None:
            facts["wait_reason"] = wait.kind.value
        facts.update(ctx.view_facts(job))
        rows.append(
            record(
                action=decision.outcome.value,
                reason=decision.why,
                outcome=DecisionOutcome.ERROR if decision.outcome is JobOutcome.ERROR else DecisionOutcome.APPLIED,
                job_id=job_id,
                strategy=decision.strategy or None,
                facts=jsonable(facts),
                candidates=[candidate(o) for o in decision.ranked],
            )
        )
    return rows


def reasons(plan: Plan, jobs: Mapping[int, Job], waiting: Mapping[int, WaitReason]) -> dict[int, str]:
    """Per job whose ``state_reason`` must change: why it waits now, or, once an error is over, its decision."""
    out: dict[int, str] = {}
    for job_id, decision in plan.decisions.items():
        job = jobs.get(job_id)
        if job is None:
            continue
        wait = waiting.get(job_id)
        if wait is not None:
            if job.state_reason != wait.state_reason:
                out[job_id] = wait.state_reason
        elif job.state_reason is not None and job.state_reason.startswith(ERROR_PREFIX):
            out[job_id] = decision.why
    return out


def why_jobs_wait(plan: Plan, jobs: Iterable[Job], snapshot: MarketSnapshot) -> dict[int, WaitReason]:
    """Why each waiting job waits this tick (see ``core.waiting``)."""
    out: dict[int, WaitReason] = {}
    for job in jobs:
        wait = why_waiting(job, plan.decisions.get(job.id), snapshot)
        if wait is not None:
            out[job.id] = wait
    return out


def tick_counts(offers: int, instances: int, actions: int, report: ExecutionReport, plan: Plan) -> dict[str, Any]:
    """The tick row's counts (and the summary log line's)."""
    return {
        "offers": offers,
        "instances": instances,
        "actions": actions,
        "applied": report.applied,
        "failed": report.failed,
        "skipped": report.skipped,
        "committed_dph": round(plan.committed_dph, 6),
    }


def candidate(offer: Offer) -> dict[str, Any]:
    """An offer as the decision log keeps it."""
    return {
        "offer_id": offer.id,
        "machine_id": offer.machine_id,
        "gpu_name": offer.gpu_name,
        "num_gpus": offer.num_gpus,
        "dph_total": round(offer.dph_total, 6),
        "min_bid": round(offer.min_bid, 6),
        "reliability": offer.reliability,
    }


def jsonable(facts: Mapping[str, Any]) -> dict[str, Any]:
    """``facts`` with every value made JSON-safe (offers as candidates, times as ISO strings)."""
    out: dict[str, Any] = {}
    for key, value in facts.items():
        if isinstance(value, float | int | str | bool) or value is None:
            out[key] = value
        elif isinstance(value, Offer):
            out[key] = candidate(value)
        elif isinstance(value, datetime):
            out[key] = value.isoformat()
        elif isinstance(value, Mapping):
            out[key] = jsonable(value)
        elif isinstance(value, list | tuple):
            out[key] = [v if isinstance(v, float | int | str | bool) or v is None else str(v) for v in value]
        else:
            out[key] = str(value)
    return out
