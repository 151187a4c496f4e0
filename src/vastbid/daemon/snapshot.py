"""Step 4 of a tick: the ``MarketSnapshot`` ``decide()`` sees, from what was observed, reconciled and remembered.

The instances are ours and the orphans of ours left running by the orphan policy (they bill like any other, so
every budget counts them). Spend so far this day and month comes from the ledger; recently unavailable offers,
machine history and spot-run statistics from the ``MarketMemory``. Spot statistics are given per group of jobs
with a deadline (filter, GPU count), for the machines of that group's offers: the deadline strategies read them
from their context.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from vastbid.core.jobs import Job
from vastbid.core.snapshot import MarketSnapshot
from vastbid.daemon.memory import Group, MarketMemory
from vastbid.daemon.observe import Observation
from vastbid.daemon.reconcile import Reconciliation
from vastbid.store.spend import SpendRepository


def deadline_groups(jobs: Iterable[Job], seen: Observation) -> dict[Group, set[int]]:
    """Per (filter, GPU count) of the jobs with a deadline and a work estimate, the machines of its offers."""
    groups: dict[Group, set[int]] = {}
    for job in jobs:
        spec = job.spec
        if spec.deadline is None or spec.work_hours is None or job.state.is_final:
            continue
        key = (spec.offer_filter, spec.num_gpus)
        if key not in groups:
            groups[key] = {o.machine_id for o in seen.offers.get(spec.offer_filter, ()) if o.num_gpus == spec.num_gpus}
    return groups


def build_snapshot(  # noqa: PLR0917 - the steps' outputs, each named
    seen: Observation,
    recon: Reconciliation,
    jobs: Iterable[Job],
    memory: MarketMemory,
    spend: SpendRepository,
    now: datetime,
) -> MarketSnapshot:
    """The snapshot of this tick."""
    view = memory.view(deadline_groups(jobs, seen), now)
    return MarketSnapshot(
        taken_at=now,
        offers=seen.offers,
        instances=[*recon.ours, *recon.unclaimed],  # an orphan left running still bills: budgets count it
        balance=seen.account.balance,
        spent_today=spend.spent_on_day(now.astimezone(UTC).date()),
        spent_month=spend.spent_in_month(now),
        unavailable_offer_ids=view.unavailable_offer_ids,
        history=view.history,
        spot_stats=view.spot_stats,
        query_errors=dict(seen.query_errors),
    )
