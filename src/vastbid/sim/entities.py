"""The market's records: machines (with their host listing) and instances (ours and other participants')."""

from __future__ import annotations

from dataclasses import dataclass, field

ACCOUNT = "account"
OTHER = "other"


@dataclass
class Machine:
    """A physical machine and its host listing; offers are chunks of its GPUs."""

    id: int
    host_id: int
    owner: str
    gpu_name: str
    num_gpus: int
    gpu_ram: int
    dlperf_per_gpu: float
    reliability: float
    geolocation: str
    inet_up: float
    inet_down: float
    disk_space: float
    cuda_max_good: float
    compute_cap: int
    cpu_cores: int
    cpu_ram: int
    verification: str
    hosting_type: int
    price_gpu: float
    price_min_bid: float
    price_disk: float
    min_chunk: int
    end_date: float
    listed: bool = True
    online: bool = True
    hostname: str = ""
    driver_version: str = "550.54.14"
    public_ip: str = "203.0.113.1"
    zone: str | None = None
    listing_generation: int = 0
    rev: int = 0
    offer_ids: dict[int, int] = field(default_factory=dict)

    def chunks(self) -> list[int]:
        """GPU counts offered: the whole machine, then halves while at least ``min_chunk``."""
        out = [self.num_gpus]
        k = self.num_gpus
        while k % 2 == 0 and k // 2 >= max(1, self.min_chunk):
            k //= 2
            out.append(k)
        return out


@dataclass
class Instance:
    """A rental of ``num_gpus`` GPUs of one machine.

    ``wants_run``: it competes for GPUs; ``holding``: it has them (loading or running); ``display`` says how a
    stopped one shows (``outbid``, ``scheduling``, ``stopped``, ``exited``, ``low_bid``, ``no_credit``).
    """

    id: int
    owner: str
    machine_id: int
    num_gpus: int
    is_bid: bool
    price: float | None
    on_demand_rate: float
    disk: float
    price_disk: float
    created_at: float
    image: str = ""
    env: dict[str, str] = field(default_factory=dict)
    onstart: str | None = None
    label: str | None = None
    args: list[str] | None = None
    runtype: str = "ssh"
    template_hash_id: str | None = None
    wants_run: bool = True
    holding: bool = False
    display: str = "scheduling"
    status_msg: str | None = None
    boot_until: float | None = None
    started_once: bool = False
    progress_hours: float = 0.0
    ssh_port: int = 20000
    gpu_seconds: float = 0.0
    gpu_cost: float = 0.0
    disk_seconds: float = 0.0
    disk_cost: float = 0.0
    bid_id: int | None = None

    @property
    def per_gpu_bid(self) -> float:
        return (self.price or 0.0) / self.num_gpus

    @property
    def gpu_rate(self) -> float:
        """$/h while running: the bid for an interruptible, the ask at rent time for on demand."""
        return float(self.price) if self.is_bid and self.price is not None else self.on_demand_rate

    @property
    def storage_rate(self) -> float:
        return self.disk * self.price_disk / 720.0

    @property
    def work_hours(self) -> float | None:
        raw = self.env.get("SIM_WORK_HOURS")
        try:
            return float(raw) if raw is not None else None
        except ValueError:
            return None

    @property
    def checkpoint_key(self) -> str | None:
        key = self.env.get("SIM_CHECKPOINT")
        return key or None

    def booted(self, now: float) -> bool:
        return self.holding and (self.boot_until is None or now >= self.boot_until)


@dataclass
class Bid:
    """A LowCodeAPI bid: an interruptible rental, possibly a pending limit order."""

    id: int
    price: float
    duration_hours: float | None
    num_gpus: int
    created_at: float
    offer_id: int | None = None
    instance_id: int | None = None
    machine_id: int | None = None
    closed: str | None = None  # expired | cancelled
    image: str = "vastai/base-image"
    disk: float = 10.0
    label: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    onstart: str | None = None

    @property
    def expires_at(self) -> float | None:
        return None if self.duration_hours is None else self.created_at + self.duration_hours * 3600.0
