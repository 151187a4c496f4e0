"""Trace mode: each trace file is a zone (a pool of machines) whose minimum bid and interruptible availability
follow the file tick by tick; when capacity is unavailable an outside bidder holds it at a price above any sane cap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from vastbid.errors import SimError
from vastbid.sim.entities import OTHER, Instance, Machine
from vastbid.sim.market import Market

COUNTRY_BY_PREFIX = {"us": "US", "europe-west3": "DE", "europe": "EU", "asia-south": "IN", "asia-southeast": "SG"}


@dataclass
class Zone:
    name: str
    zone: str
    gpu_name: str
    num_gpus: int
    gap_seconds: float
    on_demand_price: float
    available: list[int]
    spot_price: list[float]
    machine_ids: list[int]

    def tick_values(self, tick: int) -> tuple[int, float]:
        i = min(max(tick, 0), len(self.available) - 1)
        return self.available[i], self.spot_price[i]


def _country(zone: str) -> str:
    for prefix, country in sorted(COUNTRY_BY_PREFIX.items(), key=lambda kv: -len(kv[0])):
        if zone.startswith(prefix):
            return country
    return "US"


def load_zone(path: str | Path) -> dict[str, object]:
    """Read one trace file; a bad file raises SimError naming it."""
    try:
        data = json.loads(Path(path).read_text())
        for key in ("name", "gpu_name", "num_gpus", "gap_seconds", "on_demand_price", "available", "spot_price"):
            if key not in data:
                raise SimError(f"trace file {path}: missing {key!r}")
        if len(data["available"]) != len(data["spot_price"]) or not data["available"]:
            raise SimError(f"trace file {path}: available and spot_price must be non-empty and of equal length")
    except (OSError, ValueError) as exc:
        raise SimError(f"trace file {path}: {exc}") from exc
    return dict(data)


class TraceDriver:
    """Builds the zones' machines and moves their prices and availability at every tick."""

    def __init__(self, market: Market, paths: list[str], start: float) -> None:
        self.market = market
        self.epoch = start
        self.zones: list[Zone] = []
        machine_id = 70_000
        pool = market.config.trace_pool_size
        for zone_index, path in enumerate(paths):
            data = load_zone(path)
            zone_name = str(data.get("zone") or data["name"])
            num_gpus = int(data["num_gpus"])  # type: ignore[call-overload]
            on_demand = float(data["on_demand_price"])  # type: ignore[arg-type]
            spot = [float(x) for x in data["spot_price"]]  # type: ignore[attr-defined]
            zone = Zone(
                name=str(data["name"]),
                zone=zone_name,
                gpu_name=str(data["gpu_name"]),
                num_gpus=num_gpus,
                gap_seconds=float(data["gap_seconds"]),  # type: ignore[arg-type]
                on_demand_price=on_demand,
                available=[int(x) for x in data["available"]],  # type: ignore[attr-defined]
                spot_price=spot,
                machine_ids=[],
            )
            for _ in range(pool):
                machine_id += 1
                machine = Machine(
                    id=machine_id,
                    host_id=200_000 + zone_index,
                    owner=OTHER,
                    gpu_name=zone.gpu_name,
                    num_gpus=num_gpus,
                    gpu_ram=16384 if "V100" in zone.gpu_name else 81559,
                    dlperf_per_gpu=18.0 if "V100" in zone.gpu_name else 110.0,
                    reliability=0.99,
                    geolocation=f"{zone_name}, {_country(zone_name)}",
                    inet_up=1000.0,
                    inet_down=1000.0,
                    disk_space=1000.0,
                    cuda_max_good=12.4,
                    compute_cap=900 if "H100" in zone.gpu_name else 700,
                    cpu_cores=8 * num_gpus,
                    cpu_ram=65536 * num_gpus,
                    verification="verified",
                    hosting_type=1,
                    price_gpu=on_demand / num_gpus,
                    price_min_bid=spot[0] / num_gpus,
                    price_disk=0.1,
                    min_chunk=num_gpus,
                    end_date=start + 10 * 365 * 86400.0,
                    hostname=f"{zone.name}-{machine_id}",
                    zone=zone_name,
                )
                market.add_machine(machine)
                zone.machine_ids.append(machine_id)
            self.zones.append(zone)
        self.outsiders: dict[int, int] = {}
        market.handlers["trace_tick"] = self._on_tick
        self._apply(0)

    def _apply(self, tick: int) -> None:
        market = self.market
        for zone in self.zones:
            available, spot = zone.tick_values(tick)
            for machine_id in zone.machine_ids:
                machine = market.machines[machine_id]
                machine.price_min_bid = spot / zone.num_gpus
                outsider = self.outsiders.get(machine_id)
                if available == 0 and outsider is None:
                    price = max(market.config.trace_outsider_price, 2 * zone.on_demand_price)
                    inst = Instance(
                        market.new_instance_id(),
                        OTHER,
                        machine_id,
                        zone.num_gpus,
                        True,
                        price,
                        0.0,
                        0.0,
                        0.0,
                        market.now,
                    )
                    market.instances[inst.id] = inst
                    market.by_machine[machine_id].append(inst.id)
                    self.outsiders[machine_id] = inst.id
                elif available == 1 and outsider is not None:
                    gone = market.instances.get(outsider)
                    if gone is not None:
                        market.destroy(gone)
                    del self.outsiders[machine_id]
                market.reallocate(machine)
            if tick + 1 < len(zone.available):
                market.schedule(self.epoch + (tick + 1) * zone.gap_seconds, "trace_tick", (zone.name, tick + 1))
        market.version += 1

    def _on_tick(self, market: Market, payload: object) -> None:
        zone_name, tick = payload if isinstance(payload, tuple) else ("", 0)
        for zone in self.zones:
            if zone.name == zone_name:
                self._apply_zone(zone, int(tick))

    def _apply_zone(self, zone: Zone, tick: int) -> None:
        saved = self.zones
        self.zones = [zone]
        try:
            self._apply(tick)
        finally:
            self.zones = saved


def trace_start(paths: list[str]) -> float | None:
    """The earliest ``start`` among the files (epoch seconds), for a clock that follows the trace's calendar."""
    starts = []
    for path in paths:
        raw = load_zone(path).get("start")
        if isinstance(raw, str):
            starts.append(datetime.fromisoformat(raw).timestamp())
    return min(starts) if starts else None
