"""Spot traces: loading and validating the ``traces/`` format (one JSON object per zone), and zone sets.

A ``Trace`` is one zone: per tick, whether interruptible capacity exists and its price, plus the on-demand
price. ``TraceSet`` is several zones on the same clock (the multi-zone experiment), cut to their common length.
Every defect is a ``TraceError`` naming the file and the problem.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vastbid.errors import TraceError

_REQUIRED = ("name", "start", "gap_seconds", "on_demand_price", "available", "spot_price")


@dataclass(frozen=True, slots=True)
class Trace:
    """One zone's spot availability and prices, tick by tick."""

    name: str
    source: str
    """The file it came from (for messages)."""
    start: datetime
    gap_seconds: float
    on_demand_price: float
    available: npt.NDArray[np.bool_]
    spot_price: npt.NDArray[np.float64]
    gpu_name: str = ""
    num_gpus: int = 1

    @property
    def ticks(self) -> int:
        """How many ticks the trace holds."""
        return int(self.available.shape[0])

    @property
    def gap_hours(self) -> float:
        """The tick length in hours."""
        return self.gap_seconds / 3600.0


def _fail(source: str, problem: str) -> TraceError:
    return TraceError(f"trace {source}: {problem}")


def _finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def parse_trace(data: Any, source: str) -> Trace:
    """Validate one decoded trace object; ``source`` names it in errors."""
    if not isinstance(data, dict):
        raise _fail(source, "the top level is not a JSON object")
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise _fail(source, f"missing key(s): {', '.join(missing)}")
    gap = data["gap_seconds"]
    if not _finite_number(gap) or gap <= 0:
        raise _fail(source, f"gap_seconds must be a positive number, got {gap!r}")
    on_demand = data["on_demand_price"]
    if not _finite_number(on_demand) or on_demand <= 0:
        raise _fail(source, f"on_demand_price must be a positive finite number, got {on_demand!r}")
    try:
        start = datetime.fromisoformat(str(data["start"]))
    except ValueError:
        raise _fail(source, f"start is not an ISO 8601 time: {data['start']!r}") from None
    if start.tzinfo is None:
        raise _fail(source, "start needs a time zone")
    available, prices = data["available"], data["spot_price"]
    if not isinstance(available, list) or not isinstance(prices, list):
        raise _fail(source, "available and spot_price must be lists")
    if len(available) != len(prices):
        raise _fail(source, f"available has {len(available)} values but spot_price has {len(prices)}")
    if not available:
        raise _fail(source, "the trace has no ticks")
    for i, flag in enumerate(available):
        if isinstance(flag, bool) or flag not in (0, 1):
            raise _fail(source, f"available[{i}] must be 0 or 1, got {flag!r}")
    for i, price in enumerate(prices):
        if not _finite_number(price):
            raise _fail(source, f"spot_price[{i}] is missing or not a finite number: {price!r}")
        if price < 0:
            raise _fail(source, f"spot_price[{i}] is negative: {price!r}")
    num_gpus = data.get("num_gpus", 1)
    if not isinstance(num_gpus, int) or isinstance(num_gpus, bool) or num_gpus < 1:
        raise _fail(source, f"num_gpus must be a positive integer, got {num_gpus!r}")
    return Trace(
        name=str(data["name"]),
        source=source,
        start=start,
        gap_seconds=float(gap),
        on_demand_price=float(on_demand),
        available=np.asarray(available, dtype=np.bool_),
        spot_price=np.asarray(prices, dtype=np.float64),
        gpu_name=str(data.get("gpu_name", "")),
        num_gpus=num_gpus,
    )


def load_trace(path: Path | str) -> Trace:
    """Read and validate one trace file."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise _fail(source, f"cannot be read ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(source, f"is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return parse_trace(data, source)


@dataclass(frozen=True, slots=True)
class TraceSet:
    """Zones on one clock: same start and gap, cut to the shortest."""

    zones: tuple[Trace, ...]

    @property
    def ticks(self) -> int:
        """Ticks common to every zone."""
        return min(z.ticks for z in self.zones)

    @property
    def gap_seconds(self) -> float:
        """The common tick length."""
        return self.zones[0].gap_seconds

    @property
    def gap_hours(self) -> float:
        """The common tick length in hours."""
        return self.gap_seconds / 3600.0

    @property
    def start(self) -> datetime:
        """The common start."""
        return self.zones[0].start

    @property
    def names(self) -> list[str]:
        """Zone names in order."""
        return [z.name for z in self.zones]

    def available(self) -> npt.NDArray[np.bool_]:
        """Availability, shape (zones, ticks)."""
        return np.stack([z.available[: self.ticks] for z in self.zones])

    def spot_prices(self) -> npt.NDArray[np.float64]:
        """Spot prices, shape (zones, ticks)."""
        return np.stack([z.spot_price[: self.ticks] for z in self.zones])

    def on_demand_prices(self) -> npt.NDArray[np.float64]:
        """On-demand prices, shape (zones,)."""
        return np.array([z.on_demand_price for z in self.zones], dtype=np.float64)


def trace_set(zones: Sequence[Trace]) -> TraceSet:
    """Group zones; they must share a gap and (within one gap) a start."""
    if not zones:
        raise TraceError("no trace given")
    first = zones[0]
    for zone in zones[1:]:
        if zone.gap_seconds != first.gap_seconds:
            raise TraceError(
                f"trace {zone.source}: gap_seconds {zone.gap_seconds:g} differs from {first.source} "
                f"({first.gap_seconds:g}): zones must share a clock"
            )
        if abs((zone.start - first.start).total_seconds()) >= first.gap_seconds:
            raise TraceError(f"trace {zone.source}: starts at {zone.start.isoformat()}, not with {first.source}")
    return TraceSet(zones=tuple(zones))


def load_traces(paths: Sequence[Path | str]) -> list[Trace]:
    """Load trace files; a folder stands for every ``*.json`` in it (sorted)."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(path.glob("*.json"))
            if not found:
                raise TraceError(f"trace folder {path}: holds no *.json file")
            files.extend(found)
        else:
            files.append(path)
    return [load_trace(f) for f in files]
