"""Prometheus: the exposition passes promtool, the scrape config and alert rules are valid and fire when they should."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from factories import offer
from vastbid.core.budget import Budget
from vastbid.errors import ServerError
from vastbid.obs.metrics import Metrics

from ._support import CONFIG, exported_names, load_yaml, referenced_metrics, require_tool, run, yaml_module

PROMETHEUS = CONFIG / "prometheus"


def busy_metrics() -> Metrics:
    metrics = Metrics(CollectorRegistry(), version="9.9.9")
    metrics.observe_tick(2.5, ok=True)
    metrics.observe_tick(0.5, ok=False)
    metrics.record_tick_error(ServerError("502"))
    metrics.set_ready(True)
    metrics.add_offers_scanned(300)
    metrics.observe_offers(
        [
            offer(1, machine_id=1, gpu_name="RTX 4090", dph_total=0.4, min_bid=0.2),
            offer(2, machine_id=2, gpu_name="H100 SXM", num_gpus=8, gpu_ram_gb=80, dph_total=20, min_bid=12),
        ]
    )
    metrics.record_decision("place_bid", "deadline_aware")
    metrics.record_bid_placed("too_low")
    metrics.record_bid_change("outbid")
    metrics.record_outbid(2)
    metrics.set_instances({("running", "interruptible"): 1})
    metrics.observe_time_to_running(400, "interruptible")
    metrics.set_jobs({"running": 1})
    metrics.set_committed_burn(0.9)
    metrics.set_budget(Budget(max_burn_per_hour=1.0, daily_cap=20, monthly_cap=400, min_balance=10))
    metrics.set_budget_remaining(daily=3.0, monthly=250.0)
    metrics.add_spend("bandwidth", 0.02)
    metrics.set_balance(55.5)
    metrics.record_api_call("POST /bundles/", 200, 0.8)
    metrics.record_api_call("DELETE /instances/{id}/", 503, 1.1)
    return metrics


# --- the exposition ----------------------------------------------------------------------------------------


def test_promtool_accepts_the_exposition() -> None:
    promtool = require_tool("promtool")
    exposition = generate_latest(busy_metrics().registry).decode()
    result = run(promtool, "check", "metrics", stdin=exposition)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "", result.stdout  # promtool prints lint problems here


def test_promtool_check_metrics_does_catch_bad_names() -> None:
    promtool = require_tool("promtool")
    bad = "# HELP requests Requests.\n# TYPE requests counter\nrequests 1\n"
    result = run(promtool, "check", "metrics", stdin=bad)
    assert "_total" in result.stdout + result.stderr


# --- scrape config and rules -------------------------------------------------------------------------------


def test_scrape_config_is_valid_and_scrapes_vastbid_every_15_seconds() -> None:
    promtool = require_tool("promtool")
    result = run(promtool, "check", "config", "prometheus.yml", cwd=PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr
    config = load_yaml(PROMETHEUS / "prometheus.yml")
    assert config["rule_files"] == ["alerts.yml"]
    (job,) = config["scrape_configs"]
    assert job["static_configs"][0]["targets"] == ["127.0.0.1:9464"]
    assert config["global"]["scrape_interval"] == "15s"


def test_alert_rules_pass_promtool() -> None:
    promtool = require_tool("promtool")
    result = run(promtool, "check", "rules", "alerts.yml", cwd=PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr


def alert_rules() -> dict[str, dict[str, Any]]:
    groups = load_yaml(PROMETHEUS / "alerts.yml")["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def test_alerts_cover_the_operator_worries_and_name_only_exported_metrics() -> None:
    rules = alert_rules()
    assert {
        "VastbidDown",
        "VastbidNotReady",
        "VastbidNoSuccessfulTick",
        "VastbidBurnRateNearCap",
        "VastbidBurnRateOverCap",
        "VastbidDailyBudgetNearlySpent",
        "VastbidBalanceUnderReserve",
        "VastbidOutbidStorm",
        "VastbidApiServerErrors",
        "VastbidApiClientErrors",
        "VastbidRateLimited",
    } <= set(rules)
    names = exported_names()
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        assert rule["annotations"]["summary"], name
        used = referenced_metrics(rule["expr"])
        assert used <= set(names), (name, used - set(names))
        assert used or "up{" in rule["expr"], name


def _series(name: str, values: str) -> dict[str, str]:
    return {"series": name, "values": values}


def test_alerts_fire_when_they_should(tmp_path: Path) -> None:
    """promtool's rule unit tests: each alert fires on a bad trace and stays quiet on a good one."""
    promtool = require_tool("promtool")
    yaml = yaml_module()
    rules = load_yaml(PROMETHEUS / "alerts.yml")
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)  # promtool compares annotations verbatim; the firing logic is what counts
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(rules))
    tests = {
        "rule_files": ["alerts.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    _series('up{job="vastbid", instance="a"}', "0x10"),
                    _series('vastbid_ready{instance="a"}', "0x10"),
                    _series('vastbid_last_successful_tick_timestamp_seconds{instance="a"}', "60x20"),
                    _series('vastbid_committed_burn_dollars_per_hour{instance="a"}', "5x20"),
                    _series('vastbid_burn_cap_dollars_per_hour{instance="a"}', "4x20"),
                    _series('vastbid_balance_dollars{instance="a"}', "8x20"),
                    _series('vastbid_balance_reserve_dollars{instance="a"}', "10x20"),
                    _series('vastbid_budget_remaining_dollars{instance="a", period="daily"}', "1x20"),
                    _series('vastbid_budget_cap_dollars{instance="a", period="daily"}', "50x20"),
                    _series('vastbid_budget_remaining_dollars{instance="a", period="monthly"}', "300x20"),
                    _series('vastbid_budget_cap_dollars{instance="a", period="monthly"}', "500x20"),
                    _series('vastbid_outbid_events_total{instance="a"}', "0+1x40"),
                    _series(
                        'vastbid_api_requests_total{instance="a", endpoint="POST /bundles/", code="200"}', "0+2x40"
                    ),
                    _series(
                        'vastbid_api_requests_total{instance="a", endpoint="POST /bundles/", code="502"}', "0+2x40"
                    ),
                    _series(
                        'vastbid_api_requests_total{instance="a", endpoint="POST /bundles/", code="429"}', "0+2x40"
                    ),
                    _series('vastbid_api_rate_limited_total{instance="a", endpoint="POST /bundles/"}', "0+2x40"),
                ],
                "alert_rule_test": [
                    {"eval_time": "10m", "alertname": "VastbidDown", "exp_alerts": [_alert("critical", job="vastbid")]},
                    {"eval_time": "10m", "alertname": "VastbidNotReady", "exp_alerts": [_alert("warning")]},
                    {"eval_time": "3m", "alertname": "VastbidNoSuccessfulTick", "exp_alerts": []},
                    {"eval_time": "10m", "alertname": "VastbidNoSuccessfulTick", "exp_alerts": [_alert("critical")]},
                    {"eval_time": "10m", "alertname": "VastbidBurnRateOverCap", "exp_alerts": [_alert("critical")]},
                    {"eval_time": "15m", "alertname": "VastbidBurnRateNearCap", "exp_alerts": [_alert("warning")]},
                    {"eval_time": "10m", "alertname": "VastbidBalanceUnderReserve", "exp_alerts": [_alert("critical")]},
                    {
                        "eval_time": "10m",
                        "alertname": "VastbidDailyBudgetNearlySpent",
                        "exp_alerts": [_alert("warning", period="daily")],
                    },
                    {"eval_time": "20m", "alertname": "VastbidMonthlyBudgetNearlySpent", "exp_alerts": []},
                    {"eval_time": "35m", "alertname": "VastbidOutbidStorm", "exp_alerts": [_alert("warning")]},
                    {"eval_time": "35m", "alertname": "VastbidApiServerErrors", "exp_alerts": [_alert("warning")]},
                    {"eval_time": "35m", "alertname": "VastbidApiClientErrors", "exp_alerts": []},
                    {"eval_time": "35m", "alertname": "VastbidRateLimited", "exp_alerts": [_alert("warning")]},
                ],
            },
            {
                "interval": "1m",
                "input_series": [
                    _series('up{job="vastbid", instance="a"}', "1x20"),
                    _series('vastbid_ready{instance="a"}', "1x20"),
                    _series('vastbid_last_successful_tick_timestamp_seconds{instance="a"}', "0+60x20"),
                    _series('vastbid_committed_burn_dollars_per_hour{instance="a"}', "5x20"),
                    _series('vastbid_burn_cap_dollars_per_hour{instance="a"}', " ".join(["NaN"] * 21)),
                    _series('vastbid_balance_dollars{instance="a"}', "100x20"),
                    _series('vastbid_balance_reserve_dollars{instance="a"}', "10x20"),
                ],
                "alert_rule_test": [
                    {"eval_time": "15m", "alertname": name, "exp_alerts": []}
                    for name in (
                        "VastbidDown",
                        "VastbidNotReady",
                        "VastbidNoSuccessfulTick",
                        "VastbidBurnRateOverCap",
                        "VastbidBurnRateNearCap",
                        "VastbidBalanceUnderReserve",
                    )
                ],
            },
        ],
    }
    test_file = tmp_path / "alerts_test.yml"
    test_file.write_text(yaml.safe_dump(tests, sort_keys=False))
    result = run(promtool, "test", "rules", test_file.name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def _alert(severity: str, **labels: str) -> dict[str, Any]:
    return {"exp_labels": {"severity": severity, "instance": "a", **labels}}
