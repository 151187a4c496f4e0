"""Seeded market scenarios: the default market (2,000+ offers, 8 GPU models), a small one, own machines, and either
grown to about N offers on demand (``offers``: more machines of the default model mix)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from vastbid.sim.entities import ACCOUNT, OTHER, Machine


@dataclass(frozen=True)
class GpuModel:
    name: str
    ram_mb: int
    dlperf: float
    price_low: float
    price_high: float
    cuda: float
    compute_cap: int
    weight: float


GPU_MODELS: tuple[GpuModel, ...] = (
    GpuModel("RTX 3090", 24576, 21.5, 0.15, 0.30, 12.2, 860, 0.20),
    GpuModel("RTX 4090", 24564, 39.0, 0.30, 0.60, 12.4, 890, 0.22),
    GpuModel("RTX 5090", 32607, 58.0, 0.45, 0.90, 12.8, 1200, 0.10),
    GpuModel("RTX A6000", 49140, 26.0, 0.40, 0.60, 12.2, 860, 0.10),
    GpuModel("L40S", 46068, 45.0, 0.70, 1.10, 12.4, 890, 0.08),
    GpuModel("A100 SXM4", 81920, 55.0, 0.80, 1.60, 12.2, 800, 0.12),
    GpuModel("H100 SXM", 81559, 110.0, 1.60, 2.80, 12.4, 900, 0.10),
    GpuModel("Tesla V100", 16384, 18.0, 0.12, 0.30, 12.0, 700, 0.08),
)

PLACES: tuple[tuple[str, str], ...] = (
    ("Texas", "US"),
    ("California", "US"),
    ("Virginia", "US"),
    ("Oregon", "US"),
    ("Quebec", "CA"),
    ("Ontario", "CA"),
    ("Frankfurt", "DE"),
    ("Berlin", "DE"),
    ("Paris", "FR"),
    ("Amsterdam", "NL"),
    ("London", "GB"),
    ("Stockholm", "SE"),
    ("Helsinki", "FI"),
    ("Warsaw", "PL"),
    ("Prague", "CZ"),
    ("Madrid", "ES"),
    ("Milan", "IT"),
    ("Tokyo", "JP"),
    ("Seoul", "KR"),
    ("Singapore", "SG"),
    ("Taipei", "TW"),
    ("Sydney", "AU"),
    ("Sao Paulo", "BR"),
    ("Mumbai", "IN"),
    ("Kyiv", "UA"),
    ("Bucharest", "RO"),
    ("Oslo", "NO"),
    ("Hong Kong", "HK"),
)

GPU_COUNTS = (1, 2, 4, 8)


def random_machine(
    rng: random.Random, machine_id: int, host_id: int, owner: str, *, start: float, days: tuple[float, float]
) -> Machine:
    """A machine of a random GPU model, size, place and price, listed for ``days`` from ``start``."""
    model = rng.choices(GPU_MODELS, weights=[m.weight for m in GPU_MODELS])[0]
    n = rng.choice(GPU_COUNTS)
    price_gpu = round(rng.uniform(model.price_low, model.price_high), 4)
    city, country = rng.choice(PLACES)
    datacenter = rng.random() < 0.3
    return Machine(
        id=machine_id,
        host_id=host_id,
        owner=owner,
        gpu_name=model.name,
        num_gpus=n,
        gpu_ram=model.ram_mb,
        dlperf_per_gpu=round(model.dlperf * rng.uniform(0.85, 1.1), 3),
        reliability=round(rng.uniform(0.85, 0.9999), 4),
        geolocation=f"{city}, {country}",
        inet_up=round(rng.uniform(50, 5000), 1),
        inet_down=round(rng.uniform(100, 8000), 1),
        disk_space=round(rng.uniform(100, 4000), 1),
        cuda_max_good=model.cuda,
        compute_cap=model.compute_cap,
        cpu_cores=n * rng.choice((4, 8, 16)),
        cpu_ram=n * rng.choice((32768, 65536)),
        verification="verified" if rng.random() < 0.8 else rng.choice(("unverified", "deverified")),
        hosting_type=1 if datacenter else 0,
        price_gpu=price_gpu,
        price_min_bid=round(price_gpu * rng.uniform(0.4, 0.7), 4),
        price_disk=round(rng.uniform(0.05, 0.3), 3),
        min_chunk=n if rng.random() < 0.3 else 1,
        end_date=start + rng.uniform(*days) * 86400.0,
        hostname=f"host{host_id}-m{machine_id}",
        driver_version=rng.choice(("535.183.01", "550.54.14", "560.35.03", "570.124.06")),
        public_ip=f"198.51.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
    )


def build_market_machines(
    scenario: str,
    seed: int,
    *,
    start: float,
    own: int,
    account_host_id: int,
    listing_days: tuple[float, float] = (3.0, 60.0),
    offers: int | None = None,
) -> list[Machine]:
    """The machines of ``default`` (about 1,100 machines, 2,000+ offers) or ``small`` (about 40 offers); with
    ``offers``, machines of the default mix are added (or the list is cut) until they list at least that many."""
    rng = random.Random(f"{seed}:{scenario}")
    count = 1100 if scenario == "default" else 18
    machines: list[Machine] = []
    machine_id = 50_000
    for _ in range(count):
        machine_id += rng.randint(1, 9)
        machines.append(
            random_machine(rng, machine_id, 100_000 + rng.randint(0, count // 2), OTHER, start=start, days=listing_days)
        )
    if scenario == "small":
        _ensure_small_variety(machines)
    if offers is not None:
        machine_id = _fit(machines, offers, rng, machine_id, start=start, days=listing_days)
    for _ in range(own):
        machine_id += rng.randint(1, 9)
        mine = random_machine(rng, machine_id, account_host_id, ACCOUNT, start=start, days=(30.0, 30.0))
        mine.listed = False
        mine.verification = "verified"
        machines.append(mine)
    return machines


def _fit(
    machines: list[Machine],
    offers: int,
    rng: random.Random,
    machine_id: int,
    *,
    start: float,
    days: tuple[float, float],
) -> int:
    """Cut ``machines`` or add machines (the default mix) until they list at least ``offers`` offers (one more
    machine's chunks at most); the last machine id used."""
    listed = 0
    for index, machine in enumerate(machines):
        if listed >= offers:
            del machines[index:]
            return machine_id
        listed += len(machine.chunks())
    hosts = max(offers // 4, 10)
    while listed < offers:
        machine_id += rng.randint(1, 9)
        machine = random_machine(rng, machine_id, 1_000_000 + rng.randrange(hosts), OTHER, start=start, days=days)
        machines.append(machine)
        listed += len(machine.chunks())
    return machine_id


def _ensure_small_variety(machines: list[Machine]) -> None:
    """Small: every count shows up, whole-or-halves, and the first machines are verified and cheap to test."""
    for index, machine in enumerate(machines):
        machine.num_gpus = GPU_COUNTS[index % len(GPU_COUNTS)]
        machine.min_chunk = 1
        machine.cpu_cores = machine.num_gpus * 8
        if index < 12:
            machine.verification = "verified"
