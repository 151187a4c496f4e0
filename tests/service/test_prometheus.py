"""A real Prometheus scrapes a real `vastbid run --simulate --http` and answers every dashboard panel and alert rule.

One daemon and one Prometheus serve the whole module: the daemon runs its first ticks against the embedded
simulator (the first one places the demo jobs' rentals, paced like Vast's rate limits: about 20 s), Prometheus
scrapes it every second and evaluates the repository's ``alerts.yml`` every second. Then every expression of
every panel of ``config/grafana/dashboards/vastbid.json`` and every alert rule's ``expr`` is evaluated through
``/api/v1/query``: each parses, and each panel that a working daemon fills returns data.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from ._prometheus import ALERTS, Prometheus
from ._support import BIN, CONFIG, Service, daemon_env, free_port, require_tool, wait_for

DASHBOARD = CONFIG / "grafana" / "dashboards" / "vastbid.json"
pytestmark = pytest.mark.timeout(300)  # the first test also starts the daemon and Prometheus (about 30 s)

# Grafana's variables, as Grafana would fill them for this dashboard ($gpu: its "All" value).
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
    "$gpu": ".*",
}

# Panels that a healthy short run legitimately leaves empty: nothing of the kind happened yet.
MAY_BE_EMPTY = {
    "sum by (reason) (increase(vastbid_bid_changes_total[1m]))": "no bid changed in a minute-old market",
    "sum by (error) (increase(vastbid_tick_errors_total[1m]))": "no tick failed",
    'sum(rate(vastbid_api_requests_total{code=~"5..|network"}[1m])) / sum(rate(vastbid_api_requests_total[1m]))': (
        "no 5xx answer"
    ),
    'sum(rate(vastbid_api_requests_total{code=~"4.."}[1m])) / sum(rate(vastbid_api_requests_total[1m]))': (
        "no 4xx answer"
    ),
    "sum by (endpoint) (rate(vastbid_api_rate_limited_total[1m])) * 60": "no 429",
    "histogram_quantile(0.5, sum by (le, rental_type) (rate(vastbid_time_to_running_seconds_bucket[6h])))": (
        "no rental has reached running yet"
    ),
    "histogram_quantile(0.9, sum by (le, rental_type) (rate(vastbid_time_to_running_seconds_bucket[6h])))": (
        "no rental has reached running yet"
    ),
}

SETTINGS = """\
deployment = "prom-test"

[daemon]
tick_seconds = 5
jitter_seconds = 0

[budget]
max_burn_per_hour = 40.0
daily_cap = 500.0
monthly_cap = 5000.0
min_balance = 5.0
"""


@dataclass(frozen=True)
class Panel:
    title: str
    expr: str


def dashboard_panels() -> list[Panel]:
    """Every target expression of every panel (rows included), with Grafana's variables filled in."""

    def walk(panels: list[dict[str, Any]]) -> Iterator[Panel]:
        for panel in panels:
            yield from walk(panel.get("panels", []))
            for target in panel.get("targets", []):
                expr = target.get("expr")
                if expr:
                    yield Panel(panel.get("title", "?"), fill_variables(expr))

    return list(walk(json.loads(DASHBOARD.read_text())["panels"]))


def fill_variables(expr: str) -> str:
    for name in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, GRAFANA_VARIABLES[name])
    return expr


def alert_names() -> list[str]:
    """The alert names alerts.yml defines, in file order."""
    return re.findall(r"^\s*-\s*alert:\s*(\S+)\s*$", ALERTS.read_text(), re.MULTILINE)


@dataclass
class Stack:
    daemon: Service
    daemon_url: str
    prometheus: Prometheus


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("prometheus-stack")
    settings = workdir / "vastbid.toml"
    settings.write_text(SETTINGS)
    port = free_port()
    daemon = Service(
        "vastbid run",
        [
            BIN / "vastbid",
            "run",
            "--simulate",
            "--config",
            settings,
            "--db",
            f"sqlite:///{workdir / 'vastbid.db'}",
            "--http",
            f"127.0.0.1:{port}",
            "--log-format",
            "json",
            "--log-level",
            "warning",
        ],
        workdir / "daemon.log",
        env=daemon_env(),
    )
    prometheus = None
    try:
        prometheus = Prometheus(workdir / "prometheus", f"127.0.0.1:{port}")
        prometheus.wait_ready()
        prom = prometheus
        # Two ticks done (the first places the rentals, the next sees them), as Prometheus saw it...
        wait_for(
            "two successful ticks scraped",
            lambda: any(v >= 2 for v in prom.values('vastbid_ticks_total{result="ok"}')),
            timeout=120,
            service=daemon,
        )
        # ...then a few more scrapes, so that rates over a minute have points on both sides of the ticks.
        scraped = prom.values('count_over_time(up{job="vastbid"}[10m])')[0]
        wait_for(
            "three more scrapes",
            lambda: prom.values('count_over_time(up{job="vastbid"}[10m])')[0] >= scraped + 3,
            timeout=30,
            service=prometheus.service,
        )
        yield Stack(daemon, f"http://127.0.0.1:{port}", prometheus)
    finally:
        if prometheus is not None:
            prometheus.stop()
        if daemon.process.poll() is None:
            daemon.terminate(timeout=60)
        daemon.stop()


PANELS = dashboard_panels()


def test_prometheus_scrapes_the_daemon(stack: Stack) -> None:
    (target,) = stack.prometheus.api("targets")["activeTargets"]
    assert target["labels"]["job"] == "vastbid"
    assert target["health"] == "up", target.get("lastError")


def test_promtool_accepts_the_daemons_metrics(stack: Stack) -> None:
    promtool = require_tool("promtool")
    exposition = httpx.get(f"{stack.daemon_url}/metrics", timeout=10).text
    assert "vastbid_ticks_total" in exposition
    result = subprocess.run(
        [promtool, "check", "metrics"], input=exposition, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "", result.stdout  # lint findings (names, units, help) are printed here


def test_the_dashboard_has_panels_and_only_known_variables() -> None:
    assert len(PANELS) >= 20
    for panel in PANELS:
        assert "$" not in panel.expr, f"{panel.title}: a Grafana variable this test does not fill: {panel.expr}"


@pytest.mark.parametrize("panel", PANELS, ids=[f"{i:02d}-{p.title}" for i, p in enumerate(PANELS)])
def test_dashboard_panel_expression_parses_and_has_data(stack: Stack, panel: Panel) -> None:
    data = stack.prometheus.query(panel.expr)  # fails the test with Prometheus's parse error, if any
    if data["resultType"] != "vector" or panel.expr in MAY_BE_EMPTY:
        return
    assert data["result"], f"panel {panel.title!r} shows nothing for a working daemon: {panel.expr}"


def test_may_be_empty_names_only_real_panels() -> None:
    assert set(MAY_BE_EMPTY) <= {panel.expr for panel in PANELS}


def test_gpu_variable_lists_the_models_the_daemon_saw(stack: Stack) -> None:
    """The dashboard's $gpu variable (label_values of the cheapest-price gauge) has choices."""
    reply = stack.prometheus.http.get(
        "/api/v1/label/gpu_name/values", params={"match[]": "vastbid_offer_min_price_dollars_per_gpu_hour"}
    )
    assert reply.json()["status"] == "success"
    assert "RTX 4090" in reply.json()["data"]


def test_every_alert_rule_loads_evaluates_and_queries(stack: Stack) -> None:
    prom = stack.prometheus

    def evaluated() -> list[dict[str, Any]] | None:
        rules = [rule for group in prom.api("rules")["groups"] for rule in group["rules"]]
        return rules if rules and all(rule.get("lastEvaluation", "").startswith("2") for rule in rules) else None

    rules = wait_for("every rule evaluated once", evaluated, timeout=30)
    assert sorted(rule["name"] for rule in rules) == sorted(alert_names())
    for rule in rules:
        assert rule["health"] == "ok", (rule["name"], rule.get("lastError"))
        prom.query(rule["query"])  # each expression also answers through the query API


def test_health_alerts_are_quiet_for_a_working_daemon(stack: Stack) -> None:
    prom = stack.prometheus
    rules = {rule["name"]: rule for group in prom.api("rules")["groups"] for rule in group["rules"]}
    for name in (
        "VastbidDown",
        "VastbidNotReady",
        "VastbidNoSuccessfulTick",
        "VastbidTickErrors",
        "VastbidBurnRateOverCap",
    ):
        assert prom.query(rules[name]["query"])["result"] == [], name


def test_bids_placed_panel_counts_successful_placements_as_ok(stack: Stack) -> None:
    prom = stack.prometheus
    assert prom.values('vastbid_bids_placed_total{result="ok"}'), "the first tick placed the demo jobs' rentals"
    assert prom.values('vastbid_bids_placed_total{result="other"}') == []
