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
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from vastbid.core.actions import Action, PlaceBid, RentOnDemand
from vastbid.core.jobs import Job
from vastbid.core.offers import Offer
from vastbid.core.plan import JobOutcome, Plan
from vastbid.daemon.executor import ExecutionReport, PlannedRow
from vastbid.daemon.reconcile import Fix
from vastbid.store.decisions import DecisionOutcome, DecisionRecord

ERROR_PREFIX = "error: "
"""A job's ``state_reason`` starts with this while deciding for it fails."""


@dataclass(frozen=True, slots=True)
class RowContext:
    """What every row of one tick shares."""

    tick_id: int
    at: datetime
    config_hash: str


def planned_rows(ctx: RowContext, actions: Sequence[Action], plan: Plan) -> list[PlannedRow]:
    """One ``planned`` decision row per action."""
    record = partial(DecisionRecord, at=ctx.at, config_hash=ctx.config_hash, tick_id=ctx.tick_id)
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
                    facts=jsonable(facts),
                    candidates=[candidate(o) for o in decision.ranked] if decision is not None else [],
                ),
            )
        )
    return rows


def logged_rows(
    ctx: RowContext, fixes: Iterable[Fix], plan: Plan, actions: Sequence[Action], jobs: Mapping[int, Job]
) -> list[DecisionRecord]:
    """Rows for the reconciler's fixes and for the jobs' outcomes that no action records."""
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
        if job_id in acted or decision.outcome.is_quiet:
            continue
        if decision.outcome is JobOutcome.ERROR:
            job = jobs.get(job_id)
            if job is not None and job.state_reason == ERROR_PREFIX + decision.why:
                continue  # the same failure as last tick: logged once per change
        rows.append(
            record(
                action=decision.outcome.value,
                reason=decision.why,
                outcome=DecisionOutcome.ERROR if decision.outcome is JobOutcome.ERROR else DecisionOutcome.APPLIED,
                job_id=job_id,
                strategy=decision.strategy or None,
                facts=jsonable({**decision.facts, **({"cause": decision.cause.value} if decision.cause else {})}),
                candidates=[candidate(o) for o in decision.ranked],
            )
        )
    return rows


def reasons(plan: Plan, jobs: Mapping[int, Job]) -> dict[int, str | None]:
    """Per job whose ``state_reason`` must change: the new reason (an error), or ``None`` (the error is over)."""
    out: dict[int, str | None] = {}
    for job_id, decision in plan.decisions.items():
        job = jobs.get(job_id)
        if job is None:
            continue
        if decision.outcome is JobOutcome.ERROR:
            reason = ERROR_PREFIX + decision.why
            if job.state_reason != reason:
                out[job_id] = reason
        elif job.state_reason is not None and job.state_reason.startswith(ERROR_PREFIX):
            out[job_id] = decision.why
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
