"""Actions: what a ``Plan`` asks the executor to do, as frozen values with a reason and facts.

Each action carries ``reason`` (a sentence a human understands) and ``facts`` (prices compared, cap hit, rank),
both written to the decision log. Semantics the executor keeps:

- ``PlaceBid`` / ``RentOnDemand``: rent ``offer`` under ``label`` (interruptible at ``price``, or on demand at
  its ask); on success the new instance is attached to the job, which becomes ``acquiring`` with the label's
  attempt. When the job held an instance (a migration), a ``DestroyInstance`` of the old one follows.
- ``ChangeBid``: set the bid of an interruptible instance to ``price`` ($/h, whole instance).
- ``StartInstance`` / ``StopInstance`` / ``DestroyInstance``: as named; ``job_id`` is ``None`` for an instance
  no job owns.
- ``UpdateJob``: move the job to ``state``; ``detach_instance`` clears its instance (destroyed or vanished).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from vastbid.core.jobs import JobState
from vastbid.core.offers import Offer, RentalType


@dataclass(frozen=True, slots=True)
class PlaceBid:
    """Rent ``offer`` as an interruptible, bidding ``price`` $/h for the whole offer."""

    job_id: int
    offer: Offer
    price: float
    label: str
    reason: str
    facts: Mapping[str, Any] = field(default_factory=dict)
    kind: ClassVar[str] = "place_bid"

    @property
    def rental(self) -> RentalType:
        """Always interruptible."""
        return RentalType.INTERRUPTIBLE


@dataclass(frozen=True, slots=True)
class RentOnDemand:
    """Rent ``offer`` on demand; ``price`` is its ask (``dph_total``) when planned."""

    job_id: int
    offer: Offer
    price: float
    label: str
    reason: str
    facts: Mapping[str, Any] = field(default_factory=dict)
    kind: ClassVar[str] = "rent_on_demand"

    @property
    def rental(self) -> RentalType:
        """Always on demand."""
        return RentalType.ON_DEMAND


@dataclass(frozen=True, slots=True)
class ChangeBid:
    """Change the bid of interruptible ``instance_id`` to ``price`` $/h."""

    job_id: int
    instance_id: int
    price: float
    reason: str
    facts: Mapping[str, Any] = field(default_factory=dict)
    kind: ClassVar[str] = "change_bid"


@dataclass(frozen=True, slots=True)
class StartInstance:
    """Start a stopped instance of ours."""

    job_id: int
    instance_id: int
    reason: str
    facts: Mapping[str, Any] = field(default_factory=dict)
    kind: ClassVar[str] = "start_instance"


@dataclass(frozen=True, slots=True)
class StopInstance:
    """Stop an instance (GPU billing ends, storage goes on, the data stays)."""

    job_id: int | None
    instance_id: int
    reason: str
    facts: Mapping[str, Any] = field(default_factory=dict)
    kind: ClassVar[str] = "stop_instance"


@dataclass(frozen=True, slots=True)
class DestroyInstance:
    """Destroy an instance (all billing ends, the data is lost)."""

    job_id: int | None
    instance_id: int
    reason: str
    facts: Mapping[str, Any] = field(default_factory=dict)
    kind: ClassVar[str] = "destroy_instance"


@dataclass(frozen=True, slots=True)
class UpdateJob:
    """Move job ``job_id`` to ``state``; ``detach_instance`` forgets its instance."""

    job_id: int
    state: JobState
    reason: str
    facts: Mapping[str, Any] = field(default_factory=dict)
    detach_instance: bool = False
    kind: ClassVar[str] = "update_job"


Action = PlaceBid | RentOnDemand | ChangeBid | StartInstance | StopInstance | DestroyInstance | UpdateJob
"""Any action a plan may hold."""
