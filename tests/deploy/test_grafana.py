"""Grafana: the dashboard draws only what vastbid exports, in valid PromQL, from the provisioned datasource."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ._support import CONFIG, exported_names, load_yaml, referenced_metrics, require_tool, run, yaml_module

GRAFANA = CONFIG / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "vastbid.json"
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "$gpu": ".*"}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def drawn_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def expressions(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in drawn_panels(dashboard) for t in p["targets"]]


def test_every_panel_names_only_exported_metrics(dashboard: dict[str, Any]) -> None:
    names = set(exported_names())
    for panel in drawn_panels(dashboard):
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used = referenced_metrics(target["expr"])
            assert used, (panel["title"], target["expr"])
            assert used <= names, (panel["title"], used - names)
    for variable in dashboard["templating"]["list"]:
        assert referenced_metrics(variable["definition"]) <= names


def test_the_dashboard_covers_what_an_operator_watches(dashboard: dict[str, Any]) -> None:
    used = set().union(*(referenced_metrics(e) for e in expressions(dashboard)))
    assert {
        "vastbid_spend_dollars_total",
        "vastbid_committed_burn_dollars_per_hour",
        "vastbid_burn_cap_dollars_per_hour",
        "vastbid_budget_remaining_dollars",
        "vastbid_budget_cap_dollars",
        "vastbid_balance_dollars",
        "vastbid_balance_reserve_dollars",
        "vastbid_jobs",
        "vastbid_instances",
        "vastbid_bids_placed_total",
        "vastbid_outbid_events_total",
        "vastbid_offer_min_price_dollars_per_gpu_hour",
        "vastbid_decisions_total",
        "vastbid_api_requests_total",
        "vastbid_api_request_duration_seconds",
        "vastbid_tick_duration_seconds",
        "vastbid_ready",
    } <= used


def test_panels_have_unique_ids_and_fit_the_grid(dashboard: dict[str, Any]) -> None:
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
    assert dashboard["uid"] == "vastbid"


def test_every_expression_is_valid_promql(dashboard: dict[str, Any], tmp_path: Path) -> None:
    """promtool parses each panel expression as a recording rule (Grafana's variables filled in)."""
    promtool = require_tool("promtool")
    rules = []
    for n, template in enumerate(expressions(dashboard)):
        expr = template
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, expr
        rules.append({"record": f"dashboard:expr_{n}:value", "expr": expr})
    rule_file = tmp_path / "dashboard_rules.yml"
    rule_file.write_text(yaml_module().safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run(promtool, "check", "rules", rule_file)
    assert result.returncode == 0, result.stdout + result.stderr


def test_panels_use_the_provisioned_datasource(dashboard: dict[str, Any]) -> None:
    (source,) = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    assert source["type"] == "prometheus"
    assert re.fullmatch(r"http://prometheus:9090/?", source["url"])
    for panel in drawn_panels(dashboard):
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == source["uid"], panel["title"]


def test_the_dashboard_provider_reads_where_compose_mounts_the_dashboards() -> None:
    (provider,) = load_yaml(GRAFANA / "provisioning" / "dashboards" / "vastbid.yml")["providers"]
    compose = load_yaml(CONFIG / "docker-compose.yml")
    mounts = dict(volume.split(":")[:2] for volume in compose["services"]["grafana"]["volumes"])
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
