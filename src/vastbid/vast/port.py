"""The ``MarketApi`` port: the only face of Vast.ai the daemon sees.

Both adapters (``NativeVastApi`` for console.vast.ai, ``LowCodeApi`` for the LowCodeAPI proxy) implement it over
one injected ``httpx.Client``. Every method either returns a complete, parsed answer or raises a
``vastbid.errors.MarketError`` subclass; an instance listing that could not be read whole raises
``IncompleteListingError`` and is never an empty list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from vastbid.core.instances import Instance
from vastbid.core.offers import Offer, RentalType
from vastbid.vast.models import Charge

MAX_BID_PRICE = 128.0
"""The API's largest accepted bid, $/h (``PUT /asks/{id}/`` range 0.001-128)."""
MIN_BID_PRICE = 0.001


@dataclass(frozen=True, slots=True)
class CreateRequest:
    """What to run on an offer. ``price`` set = interruptible bid ($/h, whole offer); ``None`` = on demand."""

    image: str
    disk_gb: float
    label: str
    price: float | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    onstart: str | None = None
    args: Sequence[str] | None = None

    @property
    def rental(self) -> RentalType:
        """The rental type this request asks for."""
        return RentalType.ON_DEMAND if self.price is None else RentalType.INTERRUPTIBLE


@dataclass(frozen=True, slots=True)
class CreateResult:
    """A create the marketplace accepted: ``instance_id`` is the new contract."""

    instance_id: int


@dataclass(frozen=True, slots=True)
class Account:
    """The account's money, as ``users/current`` reports it."""

    user_id: int
    balance: float
    """Spendable credit, $ (Vast's ``credit``; falls by exactly the charges)."""
    email: str | None = None


@runtime_checkable
class MarketApi(Protocol):
    """What the daemon may ask of the marketplace."""

    def search_offers(
        self,
        query: str,
        *,
        rental: RentalType = RentalType.ON_DEMAND,
        limit: int | None = None,
        order: str | None = None,
    ) -> list[Offer]:
        """Offers matching ``query`` (the ``vastai search offers`` grammar), priced for ``rental``, in ``order``
        (the CLI's ``-o`` syntax, e.g. ``"dph_total"`` or ``"dlperf-"``)."""
        ...

    def list_instances(self) -> list[Instance]:
        """Every instance on the account, all pages read; raises ``IncompleteListingError`` otherwise."""
        ...

    def get_instance(self, instance_id: int) -> Instance | None:
        """One instance, or ``None`` when it no longer exists."""
        ...

    def create_instance(self, offer_id: int, request: CreateRequest) -> CreateResult:
        """Rent ``offer_id``; raises ``BidTooLowError`` (with ``new_contract``) or ``OfferGoneError``."""
        ...

    def change_bid(self, instance_id: int, price: float) -> None:
        """Set an interruptible's bid, $/h for the whole instance."""
        ...

    def start_instance(self, instance_id: int) -> None:
        """Ask a stopped instance to run."""
        ...

    def stop_instance(self, instance_id: int) -> None:
        """Stop an instance (storage keeps billing)."""
        ...

    def label_instance(self, instance_id: int, label: str) -> None:
        """Set an instance's label."""
        ...

    def destroy_instance(self, instance_id: int) -> None:
        """Destroy an instance; all billing stops. Destroying one already gone is not an error."""
        ...

    def account(self) -> Account:
        """The current user and balance."""
        ...

    def charges(self) -> list[Charge]:
        """What Vast charged per instance (its own bill), all pages."""
        ...
