"""Why a job waits: one reason from a closed set, with the figures behind it, for every job the plan does not serve.

A job waits when it is not over, holds no live instance and this tick's plan rents nothing for it. The reason is
read from the plan's decision for the job and the snapshot's offers, in this order:
- ``error``: deciding for it failed (its filter, its strategy);
- ``pacing``: its create is deferred to a later tick;
- ``no_match``: no offer matches its filter and GPU count;
- ``over_cap``: offers match, but the cheapest costs more per GPU than its cap (the figures say how much);
- ``deadline_over_cap``: its deadline forces on demand and on demand is over its cap;
- ``budget``: a budget cap refused the rental (the reason names the cap);
- ``strategy``: its strategy chose to wait (the strategy's own reason).
Pure: values in, a value out.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from vastbid.core.instances import InstanceStatus
from vastbid.core.jobs import Job, Rental
from vastbid.core.offers import Offer
from vastbid.core.plan import JobDecision, JobOutcome
from vastbid.core.snapshot import MarketSnapshot

_SERVED = frozenset({JobOutcome.ACQUIRE, JobOutcome.MIGRATE, JobOutcome.REBID, JobOutcome.RESUME, JobOutcome.KEEP})
_BUDGET_WORDS = ("burn cap", "daily cap", "monthly cap", "balance reserve", "max cost")


class WaitKind(StrEnum):
    """Why a job waits (the ``reason`` label of ``vastbid_jobs_waiting``)."""

    ERROR = "error"
    PACING = "pacing"
    NO_MATCH = "no_match"
    OVER_CAP = "over_cap"
    DEADLINE_OVER_CAP = "deadline_over_cap"
    BUDGET = "budget"
    STRATEGY = "strategy"


@dataclass(frozen=True, slots=True)
class WaitReason:
    """Why one job waits, in words with figures."""

    kind: WaitKind
    text: str

    @property
    def state_reason(self) -> str:
        """The job's ``state_reason``: ``"<kind>: <text>"``."""
        return f"{self.kind.value}: {self.text}"


def _price(offer: Offer, rental: Rental) -> float:
    if rental is Rental.INTERRUPTIBLE:
        return offer.min_bid
    if rental is Rental.ON_DEMAND:
        return offer.dph_total
    return min(offer.min_bid, offer.dph_total)


def why_waiting(job: Job, decision: JobDecision | None, snapshot: MarketSnapshot) -> WaitReason | None:
    """Why ``job`` waits this tick, or ``None`` when it does not (it is over, served, or holds a live instance)."""
    if job.state.is_final or decision is None or decision.outcome in _SERVED:
        return None
    held = next((i for i in snapshot.instances if i.id == job.instance_id), None)
    if held is not None and held.status not in (InstanceStatus.GONE, InstanceStatus.EXITED):
        return None
    if decision.outcome is JobOutcome.ERROR:
        return WaitReason(WaitKind.ERROR, decision.why)
    if decision.outcome is JobOutcome.DEFERRED:
        return WaitReason(WaitKind.PACING, decision.why)
    spec = job.spec
    matching = [o for o in snapshot.offers.get(spec.offer_filter, ()) if o.num_gpus == spec.num_gpus and o.rentable]
    if not matching:
        return WaitReason(
            WaitKind.NO_MATCH, f"no rentable offer matches the filter {spec.offer_filter!r} with {spec.num_gpus} GPU(s)"
        )
    cheapest = min(_price(o, spec.rental) / max(o.num_gpus, 1) for o in matching)
    if cheapest > spec.max_price_per_gpu + 1e-9:
        return WaitReason(
            WaitKind.OVER_CAP,
            f"{len(matching)} offer(s) match, the cheapest at ${cheapest:.4f}/GPU/h ({spec.rental.value}), "
            f"${cheapest - spec.max_price_per_gpu:.4f} over the cap ${spec.max_price_per_gpu:.4f}/GPU/h",
        )
    why = decision.why
    if decision.outcome is JobOutcome.BLOCKED and "over the job's cap" in why and spec.deadline is not None:
        return WaitReason(WaitKind.DEADLINE_OVER_CAP, why)
    if decision.outcome is JobOutcome.BLOCKED and any(word in why for word in _BUDGET_WORDS):
        return WaitReason(WaitKind.BUDGET, why)
    return WaitReason(WaitKind.STRATEGY, why)
