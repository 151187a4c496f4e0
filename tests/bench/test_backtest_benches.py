"""Smoke test of the backtest benchmarks: each runs end to end on the V100 traces with one start per trace set.

The figures themselves (300 starts) are printed by the scripts, never asserted here; this proves the scripts still
run against the strategies as they are (a strategy's private hook changing shape broke one once).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ._run import run_script


def run_backtest_bench(script: str, folder: Path) -> dict[str, Any]:
    return run_script(script, "--folder", str(folder), "--starts", "1", "--workers", "1", timeout=300)


@pytest.mark.slow
def test_backtest_figures_reports_every_zone_the_market_and_the_cheapest_zone_baseline(traces_dir: Path) -> None:
    figures = run_backtest_bench("backtest_figures.py", traces_dir / "aws-v100")
    text = json.dumps(figures)
    for zone in ("us-east-1a", "us-east-2b"):
        assert zone in text
    assert "deadline_aware" in text and "uniform_progress" in text
    assert '"deadline_misses": 0' in text


@pytest.mark.slow
def test_backtest_bounds_compares_the_online_policies_with_their_future_knowing_bounds(traces_dir: Path) -> None:
    figures = run_backtest_bench("backtest_bounds.py", traces_dir / "aws-v100")
    text = json.dumps(figures)
    for policy in ("deadline_aware", "da_lifetime_oracle", "up_lifetime_oracle", "lookahead_1h"):
        assert policy in text


def test_run_predictability_reports_each_zone_s_correlations(traces_dir: Path) -> None:
    figures = run_script("run_predictability.py", "--folder", str(traces_dir / "aws-v100"), "--json")
    assert len(figures) == 6
    for zone in figures.values():
        assert zone["runs"] > 100
        assert 0 < zone["median_run_hours"] <= zone["mean_run_hours"]
        assert -1 <= zone["previous_run"] <= 1
