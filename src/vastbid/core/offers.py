"""Offers: what the market rents out right now, as frozen values.

An offer is a chunk of a machine's GPUs. Offer ids change when a machine is relisted, so
``(machine_id, num_gpus)`` (``Offer.stable_key``) is the key to remember a machine by.
All prices are $/h for the whole offer; ``per_gpu`` helpers divide by ``num_gpus``.

Storage is priced per GB per month (``storage_cost``, Vast's month being 720 hours) and billed in every state until
the instance is destroyed; the search's ``dph_total`` includes the storage of the size searched (``allocated_storage``,
5 GB by default: ``storage_total_cost``), not the disk a job will ask for. ``gpu_ask`` is the on-demand price without
it, ``storage_dph(disk_gb)`` the storage of a given disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

HOURS_PER_STORAGE_MONTH = 720.0
"""Vast prices storage per GB per 30-day month: $/GB/month / 720 = $/GB/h."""


class RentalType(StrEnum):
    """How an instance is rented."""

    INTERRUPTIBLE = "interruptible"
    ON_DEMAND = "on_demand"


@dataclass(frozen=True, slots=True)
class Offer:
    """One rentable chunk of a machine, as the search returned it."""

    id: int
    machine_id: int
    host_id: int
    gpu_name: str
    num_gpus: int
    gpu_ram_gb: float
    dph_total: float
    """On-demand price, $/h for the whole offer, storage for the searched disk included."""
    min_bid: float
    """Current minimum interruptible bid, $/h for the whole offer."""
    dlperf: float = 0.0
    reliability: float = 0.0
    verified: bool = False
    geolocation: str = ""
    inet_down: float = 0.0
    disk_space: float = 0.0
    cuda_max_good: float = 0.0
    rentable: bool = True
    end_date: float | None = None
    """Epoch seconds when the listing expires, if known."""
    storage_cost: float = 0.0
    """Storage price, $/GB/month (0 when the search did not say)."""
    storage_total_cost: float = 0.0
    """The storage $/h ``dph_total`` includes: the searched size at ``storage_cost`` (0 when the search did not say)."""

    @property
    def stable_key(self) -> tuple[int, int]:
        """``(machine_id, num_gpus)``: survives relisting, unlike ``id``."""
        return (self.machine_id, self.num_gpus)

    @property
    def dph_per_gpu(self) -> float:
        """On-demand $/h per GPU."""
        return self.dph_total / self.num_gpus if self.num_gpus else self.dph_total

    @property
    def min_bid_per_gpu(self) -> float:
        """Minimum interruptible bid, $/h per GPU."""
        return self.min_bid / self.num_gpus if self.num_gpus else self.min_bid

    @property
    def country(self) -> str:
        """The two-letter country code that ends ``geolocation`` ("Texas, US" -> "US"), or ""."""
        tail = self.geolocation.rsplit(",", 1)[-1].strip()
        return tail if len(tail) == 2 else ""

    @property
    def gpu_ask(self) -> float:
        """The on-demand price without the searched storage, $/h for the whole offer."""
        return max(self.dph_total - self.storage_total_cost, 0.0)

    def storage_dph(self, disk_gb: float) -> float:
        """What ``disk_gb`` of storage costs per hour here; the searched storage when the price per GB is unknown."""
        if self.storage_cost > 0:
            return self.storage_cost * disk_gb / HOURS_PER_STORAGE_MONTH
        return self.storage_total_cost

    def price_for(self, rental: RentalType) -> float:
        """What renting this offer costs per hour, the cheapest way ``rental`` allows."""
        return self.min_bid if rental is RentalType.INTERRUPTIBLE else self.dph_total
