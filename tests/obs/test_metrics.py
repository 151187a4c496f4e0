"""Metrics: what a Prometheus scrape shows after the daemon reports plain values."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from factories import FakeClock, offer
from vastbid.core.budget import Budget
from vastbid.errors import InvalidInputError, RateLimitedError
from vastbid.obs.metrics import Metrics, metric_names, route_template

UNIT_SUFFIXES = ("_seconds", "_dollars", "_dollars_per_hour", "_dollars_per_gpu_hour", "_timestamp_seconds")
DIMENSIONLESS_GAUGES = {
    "vastbid_instances",
    "vastbid_jobs",
    "vastbid_jobs_waiting",
    "vastbid_offers_seen",
    "vastbid_ready",
}
ID_LIKE_LABEL = re.compile(r"(^|_)(id|ids|uuid)$")


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.fromtimestamp(1_700_000_000, UTC))


@pytest.fixture
def metrics(registry: CollectorRegistry, clock: FakeClock) -> Metrics:
    return Metrics(registry, version="1.2.3", clock=clock.epoch)


def exercise(metrics: Metrics) -> None:
    """Touch every update method once, as a daemon tick would."""
    metrics.observe_tick(1.5, ok=True)
    metrics.observe_tick(0.2, ok=False)
    metrics.record_tick_error(RateLimitedError("slow down"))
    metrics.set_ready(True)
    metrics.add_offers_scanned(120)
    metrics.observe_offers(
        [
            offer(1, gpu_name="RTX 4090", num_gpus=2, dph_total=0.8, min_bid=0.5),
            offer(2, gpu_name="A100 SXM4", num_gpus=1, dph_total=1.2, min_bid=0.7),
        ]
    )
    metrics.record_decision("place_bid", "cheapest_per_gpu")
    metrics.record_bid_placed("ok")
    metrics.record_bid_change("outbid")
    metrics.record_outbid()
    metrics.set_instances({("running", "interruptible"): 2, ("outbid", "interruptible"): 1})
    metrics.observe_time_to_running(240.0, "interruptible")
    metrics.set_jobs({"running": 2, "queued": 3})
    metrics.set_committed_burn(1.25)
    metrics.set_budget(Budget(max_burn_per_hour=2.0, daily_cap=40.0, monthly_cap=900.0, min_balance=25.0))
    metrics.set_budget_remaining(daily=12.5, monthly=600.0)
    metrics.add_spend("gpu", 0.75)
    metrics.add_spend("storage", 0.01)
    metrics.set_balance(140.0)
    metrics.record_api_call("POST /bundles/", 200, 0.4)
    metrics.record_api_call("PUT /asks/{id}/", 429, 0.05)
    metrics.record_api_call("GET /api/v1/instances/", None, 30.0)


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def series(registry: CollectorRegistry, family: str) -> list[dict[str, str]]:
    return [s.labels for f in registry.collect() for s in f.samples if s.name == family]


# --- naming rules ------------------------------------------------------------------------------------------


def test_every_family_has_the_prefix_a_unit_and_total_only_on_counters(metrics: Metrics) -> None:
    names = metric_names(metrics.registry)
    assert len(names) >= 25
    for name, kind in names.items():
        assert name.startswith("vastbid_"), name
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name
        if kind == "counter":
            assert name.endswith("_total"), name
            base = name.removesuffix("_total")
        else:
            assert not name.endswith("_total"), name
            base = name
        if kind == "histogram":
            assert base.endswith("_seconds"), name
        elif name == "vastbid_build_info":
            assert kind == "gauge"
        elif name not in DIMENSIONLESS_GAUGES and not base.endswith(UNIT_SUFFIXES):
            # Counters of events (ticks, decisions, bids) are dimensionless too; money and time are not.
            assert kind == "counter" and not any(w in base for w in ("spend", "cost", "price", "time", "duration"))


def test_the_design_names_are_exported(metrics: Metrics) -> None:
    names = metric_names(metrics.registry)
    for required in (
        "vastbid_ticks_total",
        "vastbid_tick_duration_seconds",
        "vastbid_committed_burn_dollars_per_hour",
        "vastbid_burn_cap_dollars_per_hour",
        "vastbid_spend_dollars_total",
        "vastbid_budget_remaining_dollars",
        "vastbid_balance_dollars",
        "vastbid_api_requests_total",
        "vastbid_api_request_duration_seconds",
        "vastbid_last_successful_tick_timestamp_seconds",
        "vastbid_build_info",
        "vastbid_time_to_running_seconds",
        "vastbid_instances",
        "vastbid_jobs",
    ):
        assert required in names


def test_no_label_is_named_like_an_id(metrics: Metrics) -> None:
    exercise(metrics)
    text = generate_latest(metrics.registry).decode()
    label_names = {key for family in text_string_to_metric_families(text) for s in family.samples for key in s.labels}
    assert label_names  # the exercise produced labelled series
    assert not [n for n in label_names if ID_LIKE_LABEL.search(n)]


def test_the_exposition_has_no_created_companion_series(metrics: Metrics) -> None:
    exercise(metrics)
    assert "_created" not in generate_latest(metrics.registry).decode()


def test_metrics_live_on_the_passed_registry_only(registry: CollectorRegistry, clock: FakeClock) -> None:
    Metrics(registry, clock=clock.epoch)
    Metrics(CollectorRegistry(), clock=clock.epoch)  # a second instance elsewhere does not clash
    assert not [n for n in REGISTRY._names_to_collectors if n.startswith("vastbid_")]


# --- bounded label values ----------------------------------------------------------------------------------


def test_endpoints_become_route_templates_without_ids_or_query_strings(metrics: Metrics) -> None:
    for instance_id in range(500):
        metrics.record_api_call(f"PUT /instances/{instance_id}/?api_token=tok-123", 200, 0.1)
    endpoints = {s["endpoint"] for s in series(metrics.registry, "vastbid_api_requests_total")}
    assert endpoints == {"PUT /instances/{id}/"}
    assert "tok-123" not in generate_latest(metrics.registry).decode()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("DELETE /instances/4242/", "DELETE /instances/{id}/"),
        ("GET /vastai/bids/bid_id?bid_id=42&api_token=x", "GET /vastai/bids/bid_id"),
        ("PUT /instances/bid_price/{id}/", "PUT /instances/bid_price/{id}/"),
        ("https://console.vast.ai/api/v0/bundles/", "other"),
    ],
)
def test_route_template(given: str, expected: str) -> None:
    assert route_template(given) == expected


def test_open_label_values_are_capped(metrics: Metrics) -> None:
    for n in range(1000):
        metrics.record_decision("place_bid", f"strategy_{n}")
        metrics.record_bid_change(f"reason_{n}")
        metrics.record_api_call(f"GET /route_{n}/", 200, 0.01)
    for family, label, limit in (
        ("vastbid_decisions_total", "strategy", 65),
        ("vastbid_bid_changes_total", "reason", 33),
        ("vastbid_api_requests_total", "endpoint", 129),
    ):
        values = {s[label] for s in series(metrics.registry, family)}
        assert len(values) <= limit
        assert "other" in values


def test_closed_label_values_fall_back_to_other(metrics: Metrics) -> None:
    metrics.record_decision("launch_rockets", "cheapest_per_gpu")
    metrics.record_bid_placed("instance 1234 failed")
    metrics.add_spend("taxes", 1.0)
    metrics.record_api_call("GET /users/current", 999, 0.1)
    assert value(metrics.registry, "vastbid_decisions_total", action="other", strategy="cheapest_per_gpu") == 1
    assert value(metrics.registry, "vastbid_bids_placed_total", result="other") == 1
    assert value(metrics.registry, "vastbid_spend_dollars_total", kind="other") == 1
    assert value(metrics.registry, "vastbid_api_requests_total", endpoint="GET /users/current", code="other") == 1


def test_strategy_names_that_are_not_identifiers_become_other(metrics: Metrics) -> None:
    metrics.record_decision("place_bid", "offer 123456 looked cheap")
    assert value(metrics.registry, "vastbid_decisions_total", action="place_bid", strategy="other") == 1


# --- behaviour ---------------------------------------------------------------------------------------------


def test_a_successful_tick_stamps_the_clock_and_a_failed_one_does_not(metrics: Metrics, clock: FakeClock) -> None:
    reg = metrics.registry
    metrics.observe_tick(2.0, ok=True)
    clock.advance(seconds=60)
    metrics.observe_tick(3.0, ok=False)
    assert value(reg, "vastbid_last_successful_tick_timestamp_seconds") == 1_700_000_000.0
    assert value(reg, "vastbid_ticks_total", result="ok") == 1
    assert value(reg, "vastbid_ticks_total", result="error") == 1
    assert value(reg, "vastbid_tick_duration_seconds_count") == 2
    assert value(reg, "vastbid_tick_duration_seconds_sum") == 5.0


def test_tick_errors_are_counted_by_vastbid_class_and_the_rest_as_unknown(metrics: Metrics) -> None:
    metrics.record_tick_error(RateLimitedError("429"))
    metrics.record_tick_error(KeyError("surprise"))
    assert value(metrics.registry, "vastbid_tick_errors_total", error="RateLimitedError") == 1
    assert value(metrics.registry, "vastbid_tick_errors_total", error="unknown") == 1


def test_a_fresh_scrape_shows_zeroes_not_missing_series(metrics: Metrics) -> None:
    reg = metrics.registry
    assert value(reg, "vastbid_ticks_total", result="error") == 0
    assert value(reg, "vastbid_spend_dollars_total", kind="bandwidth") == 0
    assert value(reg, "vastbid_instances", state="running", rental_type="on_demand") == 0
    assert value(reg, "vastbid_jobs", state="queued") == 0
    assert value(reg, "vastbid_ready") == 0
    assert value(reg, "vastbid_build_info", version="1.2.3") == 1


def test_instances_are_replaced_each_tick_with_missing_pairs_at_zero(metrics: Metrics) -> None:
    reg = metrics.registry
    metrics.set_instances({("running", "interruptible"): 3})
    metrics.set_instances({("outbid", "interruptible"): 1, ("running", "on_demand"): 2})
    assert value(reg, "vastbid_instances", state="running", rental_type="interruptible") == 0
    assert value(reg, "vastbid_instances", state="outbid", rental_type="interruptible") == 1
    assert value(reg, "vastbid_instances", state="running", rental_type="on_demand") == 2
    assert len(series(reg, "vastbid_instances")) == 9 * 2


def test_offer_prices_show_cheapest_and_median_per_gpu_and_drop_models_gone(metrics: Metrics) -> None:
    reg = metrics.registry
    metrics.observe_offers(
        [
            offer(1, gpu_name="RTX 4090", num_gpus=2, dph_total=1.0, min_bid=0.6),  # 0.50 / 0.30 per GPU
            offer(2, gpu_name="RTX 4090", num_gpus=1, dph_total=0.4, min_bid=0.2),  # 0.40 / 0.20
            offer(3, gpu_name="RTX 4090", num_gpus=1, dph_total=0.7, min_bid=0.5),  # 0.70 / 0.50
            offer(4, gpu_name="RTX 3090", num_gpus=1, dph_total=0.2, min_bid=0.1, rentable=False),
        ]
    )
    labels = {"gpu_name": "RTX 4090", "rental_type": "on_demand"}
    assert value(reg, "vastbid_offer_min_price_dollars_per_gpu_hour", **labels) == pytest.approx(0.4)
    assert value(reg, "vastbid_offer_median_price_dollars_per_gpu_hour", **labels) == pytest.approx(0.5)
    bid = {"gpu_name": "RTX 4090", "rental_type": "interruptible"}
    assert value(reg, "vastbid_offer_min_price_dollars_per_gpu_hour", **bid) == pytest.approx(0.2)
    assert value(reg, "vastbid_offers_seen", **bid) == 3
    assert (
        value(reg, "vastbid_offer_min_price_dollars_per_gpu_hour", gpu_name="RTX 3090", rental_type="on_demand") is None
    )

    metrics.observe_offers([offer(5, gpu_name="H100 SXM", num_gpus=8, dph_total=16.0, min_bid=8.0)])
    assert value(reg, "vastbid_offer_min_price_dollars_per_gpu_hour", **labels) is None
    assert value(
        reg, "vastbid_offer_min_price_dollars_per_gpu_hour", gpu_name="H100 SXM", rental_type="on_demand"
    ) == pytest.approx(2.0)


def test_budget_caps_and_remaining_follow_the_budget(metrics: Metrics) -> None:
    reg = metrics.registry
    metrics.set_budget(Budget(max_burn_per_hour=3.0, daily_cap=50.0, min_balance=20.0))
    metrics.set_budget_remaining(daily=5.0, monthly=None)
    assert value(reg, "vastbid_burn_cap_dollars_per_hour") == 3.0
    assert value(reg, "vastbid_budget_cap_dollars", period="daily") == 50.0
    assert value(reg, "vastbid_budget_cap_dollars", period="monthly") is None
    assert value(reg, "vastbid_budget_remaining_dollars", period="daily") == 5.0
    assert value(reg, "vastbid_budget_remaining_dollars", period="monthly") is None
    assert value(reg, "vastbid_balance_reserve_dollars") == 20.0

    metrics.set_budget(Budget())
    burn_cap = value(reg, "vastbid_burn_cap_dollars_per_hour")
    assert burn_cap is not None and math.isnan(burn_cap)
    assert value(reg, "vastbid_budget_cap_dollars", period="daily") is None


def test_spend_accumulates_and_refuses_negative_amounts(metrics: Metrics) -> None:
    metrics.add_spend("gpu", 0.5)
    metrics.add_spend("gpu", 0.25)
    assert value(metrics.registry, "vastbid_spend_dollars_total", kind="gpu") == pytest.approx(0.75)
    with pytest.raises(InvalidInputError):
        metrics.add_spend("gpu", -1.0)
    with pytest.raises(InvalidInputError):
        metrics.set_jobs({"queued": -2})


def test_api_calls_count_codes_latency_and_rate_limits(metrics: Metrics) -> None:
    reg = metrics.registry
    metrics.record_api_call("PUT /asks/{id}/", 200, 0.2)
    metrics.record_api_call("PUT /asks/{id}/", 429, 0.1)
    metrics.record_api_call("PUT /asks/{id}/", None, 10.0)
    ep = "PUT /asks/{id}/"
    assert value(reg, "vastbid_api_requests_total", endpoint=ep, code="200") == 1
    assert value(reg, "vastbid_api_requests_total", endpoint=ep, code="429") == 1
    assert value(reg, "vastbid_api_requests_total", endpoint=ep, code="network") == 1
    assert value(reg, "vastbid_api_rate_limited_total", endpoint=ep) == 1
    assert value(reg, "vastbid_api_request_duration_seconds_count", endpoint=ep) == 3


def test_time_to_running_and_jobs(metrics: Metrics) -> None:
    metrics.observe_time_to_running(90.0, "on_demand")
    metrics.set_jobs({"running": 1, "succeeded": 4})
    reg = metrics.registry
    assert value(reg, "vastbid_time_to_running_seconds_bucket", rental_type="on_demand", le="120.0") == 1
    assert value(reg, "vastbid_time_to_running_seconds_bucket", rental_type="on_demand", le="60.0") == 0
    assert value(reg, "vastbid_jobs", state="succeeded") == 4
    assert value(reg, "vastbid_jobs", state="acquiring") == 0
