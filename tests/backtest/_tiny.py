"""Hand-made tiny traces for the backtest tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from vastbid.backtest.traces import Trace, TraceSet, trace_set

START = datetime(2026, 1, 1, tzinfo=UTC)


def zone(available: list[int], spot: list[float] | float, on_demand: float = 3.0, name: str = "z") -> Trace:
    """One zone with a one-hour tick."""
    prices = [float(spot)] * len(available) if isinstance(spot, int | float) else [float(p) for p in spot]
    return Trace(
        name=name,
        source=f"{name}.json",
        start=START,
        gap_seconds=3600.0,
        on_demand_price=on_demand,
        available=np.asarray(available, dtype=np.bool_),
        spot_price=np.asarray(prices, dtype=np.float64),
    )


def zones(*traces: Trace) -> TraceSet:
    """Zones on one clock."""
    return trace_set(list(traces))


def raw(**overrides: Any) -> dict[str, Any]:
    """A valid trace document, with ``overrides`` applied (``None`` removes a key)."""
    doc: dict[str, Any] = {
        "name": "tiny",
        "start": "2026-01-01T00:00:00+00:00",
        "gap_seconds": 600,
        "on_demand_price": 3.0,
        "available": [1, 0, 1],
        "spot_price": [1.0, 1.0, 1.0],
    }
    for key, value in overrides.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc
