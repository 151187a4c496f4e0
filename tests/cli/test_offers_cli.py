"""`vastbid offers`: what a user sees from the embedded simulated market, and the refusals before any search."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from vastbid.cli.main import app


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, ["offers", *args])


def _offers(*args: str) -> list[dict[str, Any]]:
    result = _run(*args, "--json")
    assert result.exit_code == 0, result.output
    data: list[dict[str, Any]] = json.loads(result.stdout)
    return data


@pytest.fixture(autouse=True)
def _no_account(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No API key anywhere: neither in the environment nor in the official CLI's key files."""
    for name in list(os.environ):
        if name == "VAST_API_KEY" or name.startswith("VASTBID_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))


def test_simulated_offers_table_and_json_show_the_same_cheapest_offers() -> None:
    query = "gpu_name=RTX_4090 num_gpus>=2"
    rows = _offers(query, "--simulate", "--seed", "5", "--limit", "4", "--order", "dph_total")
    assert 1 <= len(rows) <= 4
    assert all(row["gpu_name"] == "RTX 4090" and row["num_gpus"] >= 2 for row in rows)
    prices = [row["dph_total"] for row in rows]
    assert prices == sorted(prices)
    assert all(row["type"] == "on-demand" for row in rows)
    assert rows[0]["price_per_gpu"] == pytest.approx(rows[0]["dph_total"] / rows[0]["num_gpus"])
    assert {"id", "machine_id", "min_bid", "reliability", "geolocation"} <= set(rows[0])

    table = _run(query, "--simulate", "--seed", "5", "--limit", "4", "--order", "dph_total")
    assert table.exit_code == 0, table.output
    out = table.stdout
    assert f"{len(rows)} on-demand offer(s) on the simulated market (seed 5)" in out
    for header in ("id", "machine", "GPUs", "model", "$/h on demand", "min bid", "$/GPU/h", "reliability", "location"):
        assert header in out
    for row in rows:  # same seed, same market: the table lists the offers the JSON did
        assert str(row["id"]) in out and row["geolocation"] in out


def test_bid_offers_are_priced_by_their_minimum_bid() -> None:
    rows = _offers("num_gpus=1", "--simulate", "--type", "bid", "--order", "min_bid", "--limit", "5")
    assert len(rows) == 5
    assert all(row["type"] == "bid" and row["num_gpus"] == 1 for row in rows)
    assert [row["price_per_gpu"] for row in rows] == pytest.approx([row["min_bid"] for row in rows])
    assert [row["min_bid"] for row in rows] == sorted(row["min_bid"] for row in rows)


def test_a_malformed_query_is_a_usage_error_naming_the_unconsumed_text() -> None:
    result = _run("num_gpus>=2 ???", "--simulate")
    assert result.exit_code == 2
    assert "'???'" in result.output and "QUERY" in result.output


def test_a_malformed_order_is_a_usage_error_naming_the_option() -> None:
    result = _run("num_gpus>=2", "--simulate", "--order", "dph total!")
    assert result.exit_code == 2
    assert "--order" in result.output


def test_an_unknown_type_is_a_usage_error() -> None:
    result = _run("num_gpus>=2", "--simulate", "--type", "spot")
    assert result.exit_code == 2
    assert "--type" in result.output


def test_without_a_key_or_simulate_the_config_error_says_how_to_fix_it() -> None:
    result = _run("num_gpus>=2")
    assert result.exit_code == 2
    assert "no Vast.ai API key" in result.output
    assert "--simulate" in result.output
