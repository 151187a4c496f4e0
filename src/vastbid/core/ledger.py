"""The budget ledger of one plan: committed $/h, the caps it must keep over the horizon, and what each instance and
each new rental commits.

Committed $/h is what every live instance costs per hour once the plan is applied: its running price (bid or ask)
plus storage, for any instance that may bill GPU time (running, starting, scheduling, outbid: it may resume on its
own, offline: it may come back), storage only for a stopped or exited one, nothing for a gone or destroyed one.
A new rental commits its full cost (``rental_commit``): its GPU price (the bid, or the ask without the storage the
search priced) plus storage at the job's own disk, plus bandwidth, counted as 0: no job states how much data it
moves, so there is nothing to estimate it from.

Two kinds of caps (``Cap``):
- ``max_burn_per_hour`` bounds committed $/h itself;
- the money caps bound money: what is left of the daily cap (``daily_cap - spent_today``), of the monthly cap, and
  of the balance above the reserve (``balance - min_balance``). Committed $/h runs until the daemon can next stop
  it: the *horizon* (``Ledger.horizon_hours``) is the tick interval, plus observing at this tick and at the next,
  plus every paced action of this plan (Vast paces creates, bid changes and destroys: the plan's last action is sent
  the sum of their paces after it starts, and what it commits runs from then), plus the next tick's destroying of
  every instance then live, one per destroy pace. A plan keeps ``committed $/h x horizon`` within the money left
  under every money cap.
The ledger refuses an increase past any cap and names the cap. Every create, bid change and destroy a plan adds
lengthens the horizon for everything already committed; each check counts the horizon with the change in it.
"""

from __future__ import annotations

from dataclasses import dataclass

from vastbid.core.budget import Budget
from vastbid.core.instances import Instance, InstanceStatus
from vastbid.core.jobs import Job
from vastbid.core.offers import Offer, RentalType
from vastbid.core.policy import DecidePolicy

EPS_DPH = 1e-9
"""Tolerance on $/h and $ comparisons."""

BANDWIDTH_DPH = 0.0
"""The bandwidth a new rental is expected to use, $/h: no job states its data volume, so none is estimated."""

_STORAGE_ONLY = frozenset({InstanceStatus.STOPPED, InstanceStatus.EXITED})


def instance_gpu_commit(instance: Instance) -> float:
    """The GPU part of what ``instance`` commits ($/h): zero while stopped, exited or gone."""
    if instance.status is InstanceStatus.GONE or instance.status in _STORAGE_ONLY:
        return 0.0
    return instance.gpu_dph


def instance_commit(instance: Instance) -> float:
    """What ``instance`` commits per hour: GPU (when it may bill) plus storage (until destroyed)."""
    if instance.status is InstanceStatus.GONE:
        return 0.0
    return instance_gpu_commit(instance) + instance.storage_dph


def rental_commit(offer: Offer, rental: RentalType, price: float, disk_gb: float) -> float:
    """What renting ``offer`` commits per hour: the bid ``price`` (interruptible) or the GPU ask (on demand), plus
    storage at ``disk_gb``, plus the bandwidth estimate."""
    gpu = price if rental is RentalType.INTERRUPTIBLE else offer.gpu_ask
    return gpu + offer.storage_dph(disk_gb) + BANDWIDTH_DPH


def job_max_cost(job: Job, budget: Budget) -> float | None:
    """The most ``job`` may cost in all: the lower of its own ``max_cost`` and the budget's per-job cap."""
    caps = [c for c in (job.spec.max_cost, budget.per_job_max_cost) if c is not None]
    return min(caps) if caps else None


@dataclass(frozen=True, slots=True)
class Cap:
    """One cap, with words for the decision log: on committed $/h (``burn_dph``) or on money (``money_left``)."""

    name: str
    detail: str
    burn_dph: float | None = None
    """The most committed $/h allowed (the burn cap)."""
    money_left: float | None = None
    """What is left to spend under this cap, $ (may be negative: already past it)."""

    def limit_dph(self, hours: float) -> float:
        """The most committed $/h this cap allows when it runs for ``hours``."""
        if self.burn_dph is not None:
            return self.burn_dph
        return (self.money_left or 0.0) / max(hours, 1e-9)


def caps_of(budget: Budget, balance: float, spent_today: float, spent_month: float) -> list[Cap]:
    """Every cap of ``budget``: the burn cap, and the money left under the daily, monthly and reserve caps."""
    caps: list[Cap] = []
    if budget.max_burn_per_hour is not None:
        burn = budget.max_burn_per_hour
        caps.append(Cap("max_burn_per_hour", f"burn cap ${burn:.4f}/h", burn_dph=burn))
    if budget.daily_cap is not None:
        detail = f"daily cap ${budget.daily_cap:.2f} (spent ${spent_today:.2f} today)"
        caps.append(Cap("daily_cap", detail, money_left=budget.daily_cap - spent_today))
    if budget.monthly_cap is not None:
        detail = f"monthly cap ${budget.monthly_cap:.2f} (spent ${spent_month:.2f} this month)"
        caps.append(Cap("monthly_cap", detail, money_left=budget.monthly_cap - spent_month))
    detail = f"balance reserve ${budget.min_balance:.2f} (balance ${balance:.2f})"
    caps.append(Cap("min_balance", detail, money_left=balance - budget.min_balance))
    return caps


class Ledger:
    """Committed $/h and the horizon as the plan is built, against the caps (private to one ``decide()`` call)."""

    __slots__ = ("_base_seconds", "_destroy_seconds", "act_seconds", "caps", "committed", "live")

    def __init__(self, caps: list[Cap], policy: DecidePolicy) -> None:
        self.caps = caps
        self.committed = 0.0
        self.act_seconds = 0.0
        """The paces of the actions planned so far: when the last of them is sent, after the plan starts."""
        self.live = 0
        """Instances billing once the plan is applied: each takes a destroy pace to give up at the next tick."""
        self._base_seconds = policy.hours_to_next_tick * 3600.0 + 2.0 * policy.observe_seconds
        self._destroy_seconds = policy.destroy_seconds

    def horizon_hours(self, *, act_seconds: float = 0.0, live: int = 0) -> float:
        """Hours until everything committed can be stopped, with ``act_seconds`` more actions and ``live`` more
        instances than planned so far (see the module docstring)."""
        seconds = self._base_seconds + self.act_seconds + act_seconds + self._destroy_seconds * (self.live + live)
        return seconds / 3600.0

    @property
    def binding(self) -> Cap | None:
        """The cap that allows the least committed $/h over the horizon."""
        if not self.caps:
            return None
        hours = self.horizon_hours()
        return min(self.caps, key=lambda c: (c.limit_dph(hours), c.name))

    @property
    def limit(self) -> float | None:
        """The most committed $/h allowed over the horizon (``None``: uncapped)."""
        cap = self.binding
        return None if cap is None else cap.limit_dph(self.horizon_hours())

    @property
    def over(self) -> float:
        """How far committed $/h is above the limit (0 when within)."""
        limit = self.limit
        return 0.0 if limit is None else max(self.committed - limit, 0.0)

    def refusal(self, delta: float, *, act_seconds: float = 0.0, live: int = 0) -> str | None:
        """Why adding ``delta`` $/h (with ``act_seconds`` of paced actions and ``live`` new instances) is not
        allowed, or ``None`` when it fits (a decrease always fits)."""
        if delta <= 0:
            return None
        after = self.committed + delta
        hours = self.horizon_hours(act_seconds=act_seconds, live=live)
        for cap in sorted(self.caps, key=lambda c: (c.limit_dph(hours), c.name)):
            if cap.burn_dph is not None:
                if after > cap.burn_dph + EPS_DPH:
                    return f"{cap.detail}: committing ${after:.4f}/h would pass it"
            elif after * hours > (cap.money_left or 0.0) + EPS_DPH:
                return (
                    f"{cap.detail}: committing ${after:.4f}/h would spend ${after * hours:.4f} before it can be "
                    f"stopped ({hours * 3600.0:.0f} s from now), over the ${max(cap.money_left or 0.0, 0.0):.4f} left"
                )
        return None

    def add(self, delta: float, *, act_seconds: float = 0.0, live: int = 0) -> None:
        """Record a change of committed $/h, with the paced actions and new instances it takes."""
        self.committed += delta
        self.act_seconds += act_seconds
        self.live += live
