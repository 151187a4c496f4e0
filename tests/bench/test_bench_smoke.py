"""Smoke test of the benchmarks: each runs end to end with tiny sizes and prints one JSON document with its figures.

The real figures (20,000 offers, 200 jobs) are never timed here; this only proves the scripts still work.
"""

from __future__ import annotations

from typing import Any

import pytest

from ._run import run_script


def run_bench(script: str, *args: str) -> dict[str, Any]:
    return run_script(script, *args, "--json")


@pytest.mark.parametrize("offers", [300])
def test_decide_bench_reports_decide_against_parse(offers: int) -> None:
    figures = run_bench("decide.py", "--offers", str(offers), "--jobs", "24", "--repeat", "2")
    assert figures["offers"] >= offers
    assert figures["jobs"] == 24
    assert figures["distinct_filters"] >= 20
    assert figures["decide_seconds"] > 0
    assert figures["json_parse_seconds"] > 0
    assert figures["ratio"] == pytest.approx(figures["decide_seconds"] / figures["json_parse_seconds"], rel=0.01)
    assert figures["actions"] > 0  # the jobs were served from the market, not an empty plan


def test_tick_bench_counts_steady_tick_calls_and_memory() -> None:
    figures = run_bench("tick.py", "--offers", "300", "--jobs", "4", "--ticks", "2")
    assert len(figures["ticks"]) == 2
    assert all(tick["ok"] for tick in figures["ticks"])
    steady = figures["steady_tick_calls_by_endpoint"]
    assert figures["steady_tick_api_calls"] == sum(steady.values())
    assert set(steady) == {"POST /api/v0/bundles/", "GET /api/v1/instances/", "GET /api/v0/users/current"}
    assert steady["POST /api/v0/bundles/"] <= 4  # at most one search per distinct filter (4 jobs)
    assert figures["first_tick_api_calls"] > figures["steady_tick_api_calls"]  # the first tick rented
    assert 0 < figures["rss_before_ticks_mb"] <= figures["peak_rss_mb"]


def test_decision_log_bench_compares_add_many_with_executemany() -> None:
    figures = run_bench("decision_log.py", "--rows", "5", "20", "--repeat", "1")
    assert set(figures["batches"]) == {"5", "20"}
    for row in figures["batches"].values():
        assert row["add_many_rows_per_second"] > 0
        assert row["executemany_rows_per_second"] > 0
