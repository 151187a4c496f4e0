"""Trace files: the shipped format loads; malformed files are refused with the file and the problem named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vastbid.backtest.traces import load_trace, load_traces, trace_set
from vastbid.errors import TraceError

from ._tiny import raw


def write(tmp_path: Path, doc: Any, name: str = "zone.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return path


def test_a_valid_trace_loads(tmp_path: Path) -> None:
    trace = load_trace(write(tmp_path, raw()))
    assert trace.ticks == 3
    assert trace.available.tolist() == [True, False, True]
    assert trace.gap_hours == pytest.approx(1 / 6)


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"spot_price": [1.0, 1.0]}, "available has 3 values but spot_price has 2"),
        ({"spot_price": [1.0, -0.5, 1.0]}, "spot_price[1] is negative"),
        ({"spot_price": [1.0, None, 1.0]}, "spot_price[1] is missing"),
        ({"spot_price": [1.0, "NaN", 1.0]}, "spot_price[1]"),
        ({"available": [1, 2, 0]}, "available[1] must be 0 or 1"),
        ({"available": [1, None, 0]}, "available[1] must be 0 or 1"),
        ({"gap_seconds": 0}, "gap_seconds must be a positive number"),
        ({"gap_seconds": -195}, "gap_seconds must be a positive number"),
        ({"on_demand_price": -3}, "on_demand_price"),
        ({"spot_price": None}, "missing key(s): spot_price"),
        ({"start": "yesterday"}, "start is not an ISO 8601 time"),
    ],
)
def test_malformed_traces_are_refused_naming_file_and_problem(
    tmp_path: Path, overrides: dict[str, Any], problem: str
) -> None:
    path = write(tmp_path, raw(**overrides), name="broken-zone.json")
    with pytest.raises(TraceError) as caught:
        load_trace(path)
    assert str(path) in str(caught.value)
    assert problem in str(caught.value)


def test_non_finite_prices_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "inf.json"
    path.write_text(json.dumps(raw()).replace("[1.0, 1.0, 1.0]", "[1.0, Infinity, 1.0]"))
    with pytest.raises(TraceError, match=r"inf\.json.*spot_price\[1\]"):
        load_trace(path)


def test_not_json_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "{not json", name="garbage.json")
    with pytest.raises(TraceError, match=r"garbage\.json.*not valid JSON"):
        load_trace(path)


def test_a_folder_loads_every_zone_and_zones_must_share_a_clock(tmp_path: Path) -> None:
    write(tmp_path, raw(name="a"), name="a.json")
    write(tmp_path, raw(name="b", gap_seconds=300), name="b.json")
    zones = load_traces([tmp_path])
    assert [z.name for z in zones] == ["a", "b"]
    with pytest.raises(TraceError, match=r"b\.json.*gap_seconds"):
        trace_set(zones)


def test_the_shipped_v100_trace_loads(traces_dir: Path) -> None:
    shipped = traces_dir / "aws-v100" / "us-east-1f.json"
    trace = load_trace(shipped)
    assert trace.ticks == 20158
    assert trace.on_demand_price == pytest.approx(3.06)
