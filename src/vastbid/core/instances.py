"""Instances: what we rent, as frozen values, with the normalized status.

Vast reports four raw fields (``actual_status``, ``intended_status``, ``cur_state``, ``next_state``);
``normalize_status`` folds them into one ``InstanceStatus`` the daemon can act on:

- outbid: an interruptible whose cur, next and intended states are all ``stopped`` (Vast paused it for a
  higher bid or an on-demand renter; the daemon did not ask for it, which the reconciler checks);
- scheduling: intended running, current stopped (waiting for its GPUs);
- exited: the container ended (the job is done, or failed);
- gone: destroyed, or no longer listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class InstanceStatus(StrEnum):
    """The normalized life state of a rented instance."""

    PROVISIONING = "provisioning"
    LOADING = "loading"
    RUNNING = "running"
    SCHEDULING = "scheduling"
    OUTBID = "outbid"
    STOPPED = "stopped"
    EXITED = "exited"
    OFFLINE = "offline"
    GONE = "gone"


_GONE = {"destroyed", "terminated", "deleted"}
_OFFLINE = {"offline", "unknown"}
_LOADING = {"loading", "created", "rebooting", "restarting"}


def normalize_status(
    actual_status: str | None,
    intended_status: str | None,
    cur_state: str | None,
    next_state: str | None,
    *,
    is_bid: bool,
) -> InstanceStatus:
    """Fold Vast's raw status fields into one ``InstanceStatus``.

    The order matters: a destroyed or exited container wins over everything; an interruptible paused on
    all three state fields is outbid (the reconciler treats it as a plain stop if we asked for it).
    """
    actual = (actual_status or "").strip().lower() or None
    intended = (intended_status or "").strip().lower()
    cur = (cur_state or "").strip().lower()
    nxt = (next_state or "").strip().lower()
    if actual in _GONE or intended == "destroyed" or cur == "destroyed":
        return InstanceStatus.GONE
    if actual == "exited":
        return InstanceStatus.EXITED
    if actual in _OFFLINE:
        return InstanceStatus.OFFLINE
    if is_bid and cur == "stopped" and nxt == "stopped" and intended == "stopped":
        return InstanceStatus.OUTBID
    if intended == "running" and cur == "stopped":
        return InstanceStatus.SCHEDULING
    if actual == "running":
        return InstanceStatus.RUNNING
    if actual in _LOADING:
        return InstanceStatus.LOADING
    if actual in {"stopped", "frozen"} or intended == "stopped":
        return InstanceStatus.STOPPED
    return InstanceStatus.PROVISIONING


@dataclass(frozen=True, slots=True)
class Instance:
    """One rental on our account, as the listing returned it."""

    id: int
    machine_id: int
    label: str | None
    is_bid: bool
    bid_price: float | None
    """Our bid, $/h for the whole instance (interruptibles only)."""
    dph_total: float
    """What the instance costs per hour when running: GPU (bid or ask) plus storage."""
    num_gpus: int
    gpu_name: str
    started_at: datetime | None
    status: InstanceStatus
    status_msg: str | None = None
    storage_dph: float = 0.0
    """Storage cost, $/h, billed in every state until destroyed."""
    min_bid: float | None = None
    """The machine's current minimum bid for this chunk, when the listing says."""
    offer_id: int | None = None
    intended_status: str | None = None

    @property
    def gpu_dph(self) -> float:
        """What the GPUs cost per hour while running."""
        if self.is_bid and self.bid_price is not None:
            return self.bid_price
        return max(self.dph_total - self.storage_dph, 0.0)

    @property
    def is_billing_gpu(self) -> bool:
        """Whether GPU time is being billed (only while running)."""
        return self.status is InstanceStatus.RUNNING
