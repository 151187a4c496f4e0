"""Step 8 of a tick: its figures to the Prometheus metrics (the summary log line is the tick's own).

``TickFacts`` gathers what the earlier steps produced; ``export`` only writes gauges and counters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from vastbid.core.actions import Action
from vastbid.core.budget import Budget
from vastbid.core.offers import Offer, RentalType
from vastbid.core.plan import JobOutcome, Plan
from vastbid.core.snapshot import MarketSnapshot
from vastbid.daemon.executor import ExecutionReport
from vastbid.daemon.reconcile import Reconciliation
from vastbid.obs.metrics import Metrics


@dataclass(frozen=True, slots=True)
class TickFacts:
    """Everything one successful tick exports."""

    scanned: Sequence[Offer]
    recon: Reconciliation
    plan: Plan
    actions: Sequence[Action]
    report: ExecutionReport
    added: Mapping[str, float]
    snapshot: MarketSnapshot
    budget: Budget
    job_counts: Mapping[str, int]
    waiting: Mapping[str, int]
    """Jobs waiting, by ``WaitKind``."""


def export(metrics: Metrics, facts: TickFacts) -> None:
    """Write the tick's figures to ``metrics``."""
    plan, snapshot, recon = facts.plan, facts.snapshot, facts.recon
    metrics.add_offers_scanned(len(facts.scanned))
    metrics.observe_offers(facts.scanned)
    for action in facts.actions:
        decision = plan.decisions.get(action.job_id) if action.job_id is not None else None
        metrics.record_decision(action.kind, (decision.strategy if decision else "") or "none")
    for decision in plan.decisions.values():
        if decision.outcome is JobOutcome.ERROR and decision.cause is not None:
            metrics.record_job_error(decision.cause.value)
    for result, count in facts.report.bids_placed.items():
        for _ in range(count):
            metrics.record_bid_placed(result)
    for _ in range(facts.report.bid_changes):
        metrics.record_bid_change("outbid")
    if recon.outbid_events:
        metrics.record_outbid(recon.outbid_events)
    counts: Counter[tuple[str, str]] = Counter(
        (i.status.value, (RentalType.INTERRUPTIBLE if i.is_bid else RentalType.ON_DEMAND).value) for i in recon.ours
    )
    metrics.set_instances(counts)
    metrics.set_jobs(facts.job_counts)
    metrics.set_jobs_waiting(facts.waiting)
    metrics.set_committed_burn(plan.committed_dph)
    for kind, dollars in facts.added.items():
        if dollars > 0:
            metrics.add_spend(kind, dollars)
    budget = facts.budget
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
