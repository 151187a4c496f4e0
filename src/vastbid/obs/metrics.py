"""Prometheus metrics: the one place that names, types and labels what vastbid exports.

``Metrics`` registers every family on a **passed-in** ``CollectorRegistry`` (never the global one) and offers
methods that update them from plain values, so the daemon, the adapters and the HTTP server never touch
``prometheus_client`` themselves. Naming rules (checked by the tests and by ``promtool check metrics``):

- prefix ``vastbid_``, base units in the name (``_seconds``, ``_dollars``, ``_dollars_per_hour``), ``_total``
  only on counters, ``_info`` for the build's constant labels, ``_timestamp_seconds`` for epoch times;
- low-cardinality labels only: never an offer, instance or job id. Every label value goes through a guard:
  fixed vocabularies map unknown values to ``other``; open ones (strategy, GPU model, endpoint) must look like
  identifiers and are capped in number, past which they become ``other``. Endpoints are route templates
  (``PUT /asks/{id}/``): numeric path segments are folded to ``{id}`` and query strings (which may carry a token)
  are dropped.
"""

from __future__ import annotations

import contextlib
import math
import re
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

from vastbid import __version__
from vastbid.core.budget import Budget
from vastbid.core.instances import InstanceStatus
from vastbid.core.jobs import JobState
from vastbid.core.offers import Offer, RentalType
from vastbid.core.plan import ErrorCause
from vastbid.core.waiting import WaitKind
from vastbid.errors import InvalidInputError, VastbidError

PREFIX = "vastbid_"
OTHER = "other"

TICK_RESULTS = ("ok", "error")
ACTIONS = (
    "place_bid",
    "rent_on_demand",
    "change_bid",
    "start_instance",
    "stop_instance",
    "destroy_instance",
    "update_job",
)
BID_RESULTS = ("ok", "too_low", "offer_gone", "rejected", "not_interruptible", "error")
SPEND_KINDS = ("gpu", "storage", "bandwidth")
BUDGET_PERIODS = ("daily", "monthly")
RENTAL_TYPES = tuple(r.value for r in RentalType)
INSTANCE_STATES = tuple(s.value for s in InstanceStatus)
JOB_STATES = tuple(s.value for s in JobState)
JOB_ERROR_CAUSES = tuple(c.value for c in ErrorCause)
WAIT_REASONS = tuple(k.value for k in WaitKind)
NETWORK_ERROR_CODE = "network"
"""The ``code`` label of an API call that got no HTTP status (timeout, refused connection)."""

TICK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
API_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TIME_TO_RUNNING_BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0, 86400.0)

_IDENT = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_GPU_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.+\-/]{0,47}$")
_METHOD_PATH = re.compile(r"^(GET|POST|PUT|PATCH|DELETE|HEAD) (/\S*)$")
_ID_SEGMENT = re.compile(r"^\d+$|^[0-9a-fA-F-]{16,}$")
_ENDPOINT_MAX = 80


class LabelGuard:
    """Keeps one open label's values bounded: identifiers pass until ``limit`` distinct values were seen."""

    def __init__(self, pattern: re.Pattern[str], limit: int) -> None:
        self._pattern = pattern
        self._limit = limit
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if not self._pattern.match(value) or len(self._seen) >= self._limit:
            return OTHER
        self._seen.add(value)
        return value


def _closed(value: str, allowed: Sequence[str]) -> str:
    value = str(value)
    return value if value in allowed else OTHER


def route_template(endpoint: str) -> str:
    """``endpoint`` as a bounded route template: ``PUT /asks/123/?api_token=x`` -> ``PUT /asks/{id}/``.

    Numeric (or long hex) path segments become ``{id}``, the query string is dropped; anything that is not
    ``METHOD /path`` becomes ``other``.
    """
    match = _METHOD_PATH.match(endpoint.strip())
    if match is None:
        return OTHER
    method, path = match.groups()
    path = path.split("?", 1)[0].split("#", 1)[0]
    segments = ["{id}" if _ID_SEGMENT.match(s) else s for s in path.split("/")]
    template = f"{method} {'/'.join(segments)}"
    return template if len(template) <= _ENDPOINT_MAX else OTHER


def status_code_label(status_code: int | None) -> str:
    """The ``code`` label: the HTTP status as text, or ``network`` when the call got no reply."""
    if status_code is None:
        return NETWORK_ERROR_CODE
    return str(status_code) if 100 <= status_code <= 599 else OTHER


class Metrics:
    """Every metric vastbid exports, registered on ``registry``; update them through the methods."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        version: str = __version__,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # The *_created companion series add nothing a scrape needs; the switch is process-wide.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = registry
        self._clock = clock
        self._strategy = LabelGuard(_IDENT, 64)
        self._reason = LabelGuard(_IDENT, 32)
        self._error = LabelGuard(re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$"), 64)
        self._gpu = LabelGuard(_GPU_NAME, 256)
        self._endpoint = LabelGuard(re.compile(r"^[A-Z]+ /\S*$"), 128)
        r = registry
        p = PREFIX

        self.ticks = Counter(f"{p}ticks", "Ticks run, by result (ok|error).", ["result"], registry=r)
        self.tick_errors = Counter(
            f"{p}tick_errors", "Failed ticks, by error class (unknown = not a vastbid error).", ["error"], registry=r
        )
        self.tick_duration = Histogram(
            f"{p}tick_duration_seconds", "Wall time of one tick.", buckets=TICK_BUCKETS, registry=r
        )
        self.last_successful_tick = Gauge(
            f"{p}last_successful_tick_timestamp_seconds", "Epoch second the last successful tick ended.", registry=r
        )
        self.ready = Gauge(
            f"{p}ready", "1 when the daemon is ready (recent tick, database answers), else 0.", registry=r
        )
        self.jobs_waiting = Gauge(
            f"{p}jobs_waiting", "Jobs not running this tick, by why they wait.", ["reason"], registry=r
        )
        self.job_errors = Counter(
            f"{p}job_errors",
            "Jobs whose decision failed on a tick (the others were served), by cause.",
            ["cause"],
            registry=r,
        )
        self.build_info = Gauge(f"{p}build_info", "Always 1; the version is a label.", ["version"], registry=r)

        self.offers_scanned = Counter(f"{p}offers_scanned", "Offers returned by market searches.", registry=r)
        self.offer_min_price = Gauge(
            f"{p}offer_min_price_dollars_per_gpu_hour",
            "Cheapest price seen this tick, $/GPU/h (interruptible = minimum bid, on_demand = ask).",
            ["gpu_name", "rental_type"],
            registry=r,
        )
        self.offer_median_price = Gauge(
            f"{p}offer_median_price_dollars_per_gpu_hour",
            "Median price seen this tick, $/GPU/h (interruptible = minimum bid, on_demand = ask).",
            ["gpu_name", "rental_type"],
            registry=r,
        )
        self.offers_seen = Gauge(
            f"{p}offers_seen",
            "Offers seen this tick, by GPU model and rental type.",
            ["gpu_name", "rental_type"],
            registry=r,
        )

        self.decisions = Counter(
            f"{p}decisions", "Actions decided, by action and strategy.", ["action", "strategy"], registry=r
        )
        self.bids_placed = Counter(f"{p}bids_placed", "Interruptible bids placed, by result.", ["result"], registry=r)
        self.bid_changes = Counter(f"{p}bid_changes", "Bid price changes, by reason.", ["reason"], registry=r)
        self.outbid_events = Counter(f"{p}outbid_events", "Our interruptibles found outbid (paused).", registry=r)
        self.instances = Gauge(
            f"{p}instances", "Our instances, by normalized state and rental type.", ["state", "rental_type"], registry=r
        )
        self.time_to_running = Histogram(
            f"{p}time_to_running_seconds",
            "From placing a rental to seeing it running.",
            ["rental_type"],
            buckets=TIME_TO_RUNNING_BUCKETS,
            registry=r,
        )
        self.jobs = Gauge(f"{p}jobs", "Jobs, by state.", ["state"], registry=r)

        self.ledger_difference = Gauge(
            f"{p}ledger_difference_dollars",
            "Vast's own charges for our instances minus our ledger for them, at the last daily check.",
            registry=r,
        )
        self.committed_burn = Gauge(
            f"{p}committed_burn_dollars_per_hour", "What our instances cost together per hour, now.", registry=r
        )
        self.burn_cap = Gauge(
            f"{p}burn_cap_dollars_per_hour", "The budget's cap on committed $/h (NaN = no cap).", registry=r
        )
        self.spend = Counter(f"{p}spend_dollars", "Money spent, by kind (gpu|storage|bandwidth).", ["kind"], registry=r)
        self.budget_remaining = Gauge(
            f"{p}budget_remaining_dollars", "What the budget still allows this period.", ["period"], registry=r
        )
        self.budget_cap = Gauge(f"{p}budget_cap_dollars", "The budget's cap for the period.", ["period"], registry=r)
        self.balance = Gauge(f"{p}balance_dollars", "The account's credit balance.", registry=r)
        self.balance_reserve = Gauge(
            f"{p}balance_reserve_dollars", "The balance the budget never draws under.", registry=r
        )

        self.api_requests = Counter(
            f"{p}api_requests", "Market API calls, by route template and status code.", ["endpoint", "code"], registry=r
        )
        self.api_latency = Histogram(
            f"{p}api_request_duration_seconds",
            "Market API call latency, by route template.",
            ["endpoint"],
            buckets=API_BUCKETS,
            registry=r,
        )
        self.api_rate_limited = Counter(
            f"{p}api_rate_limited", "Market API calls refused with 429, by route template.", ["endpoint"], registry=r
        )

        self.build_info.labels(version=version).set(1)
        self.ready.set(0)
        self.burn_cap.set(math.nan)
        for result in TICK_RESULTS:
            self.ticks.labels(result=result)
        for kind in SPEND_KINDS:
            self.spend.labels(kind=kind)
        self.set_instances({})
        self.set_jobs({})

    # --- the tick ------------------------------------------------------------------------------------------

    def observe_tick(self, duration_s: float, ok: bool) -> None:
        """Count one tick and its duration; a successful one also stamps the last-success time."""
        self.ticks.labels(result="ok" if ok else "error").inc()
        self.tick_duration.observe(max(duration_s, 0.0))
        if ok:
            self.last_successful_tick.set(self._clock())

    def record_tick_error(self, error: BaseException) -> None:
        """Count why a tick failed: the vastbid error class name, or ``unknown`` for anything else."""
        name = type(error).__name__ if isinstance(error, VastbidError) else "unknown"
        self.tick_errors.labels(error=self._error(name)).inc()

    def record_job_error(self, cause: str) -> None:
        """Count one job whose decision failed this tick, by cause (``ErrorCause`` values)."""
        self.job_errors.labels(cause=_closed(cause, JOB_ERROR_CAUSES)).inc()

    def set_ready(self, ready: bool) -> None:
        """Set the readiness gauge (what ``/readyz`` answers)."""
        self.ready.set(1 if ready else 0)

    # --- the market ----------------------------------------------------------------------------------------

    def add_offers_scanned(self, count: int) -> None:
        """Count offers a search returned."""
        self.offers_scanned.inc(_non_negative(count, "offers scanned"))

    def set_offer_prices(self, prices: Mapping[tuple[str, str], Sequence[float]]) -> None:
        """Replace the per-model price gauges with this tick's: ``{(gpu_name, rental_type): [$/GPU/h, ...]}``.

        Models not in ``prices`` disappear, so the gauges show only what the market offers now.
        """
        self.offer_min_price.clear()
        self.offer_median_price.clear()
        self.offers_seen.clear()
        for (gpu_name, rental), values in prices.items():
            clean = [v for v in values if math.isfinite(v) and v >= 0]
            if not clean:
                continue
            labels = {"gpu_name": self._gpu(gpu_name), "rental_type": _closed(rental, RENTAL_TYPES)}
            if OTHER in labels.values():
                continue
            self.offer_min_price.labels(**labels).set(min(clean))
            self.offer_median_price.labels(**labels).set(statistics.median(clean))
            self.offers_seen.labels(**labels).set(len(clean))

    def observe_offers(self, offers: Iterable[Offer]) -> None:
        """``set_offer_prices`` from parsed offers: minimum bids as interruptible, asks as on-demand prices."""
        prices: dict[tuple[str, str], list[float]] = {}
        for offer in offers:
            if not offer.rentable or offer.num_gpus <= 0:
                continue
            prices.setdefault((offer.gpu_name, RentalType.INTERRUPTIBLE.value), []).append(offer.min_bid_per_gpu)
            prices.setdefault((offer.gpu_name, RentalType.ON_DEMAND.value), []).append(offer.dph_per_gpu)
        self.set_offer_prices(prices)

    # --- decisions, bids and instances ---------------------------------------------------------------------

    def record_decision(self, action: str, strategy: str) -> None:
        """Count one decided action (``place_bid``, ``change_bid``...) and the strategy behind it."""
        self.decisions.labels(action=_closed(action, ACTIONS), strategy=self._strategy(strategy)).inc()

    def record_bid_placed(self, result: str) -> None:
        """Count one bid placement: ok, too_low, offer_gone, rejected, not_interruptible or error."""
        self.bids_placed.labels(result=_closed(result, BID_RESULTS)).inc()

    def record_bid_change(self, reason: str) -> None:
        """Count one bid change; ``reason`` is a short code (``outbid``, ``raise``, ``lower``, ``cap``)."""
        self.bid_changes.labels(reason=self._reason(reason)).inc()

    def record_outbid(self, count: int = 1) -> None:
        """Count instances newly found outbid."""
        self.outbid_events.inc(_non_negative(count, "outbid events"))

    def set_instances(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Set the instance gauges from ``{(state, rental_type): count}``; missing pairs read 0."""
        totals = {(s, rt): 0 for s in INSTANCE_STATES for rt in RENTAL_TYPES}
        for (state, rental), count in counts.items():
            key = (_closed(state, INSTANCE_STATES), _closed(rental, RENTAL_TYPES))
            totals[key] = totals.get(key, 0) + _count(count, "instances")
        for (state, rental), count in totals.items():
            self.instances.labels(state=state, rental_type=rental).set(count)

    def observe_time_to_running(self, seconds: float, rental_type: str) -> None:
        """Record how long a rental took from placement to running."""
        self.time_to_running.labels(rental_type=_closed(rental_type, RENTAL_TYPES)).observe(max(seconds, 0.0))

    def set_jobs_waiting(self, counts: Mapping[str, int]) -> None:
        """Set the waiting-job gauges from ``{reason: count}``; missing reasons read 0."""
        totals = dict.fromkeys(WAIT_REASONS, 0)
        for reason, count in counts.items():
            key = _closed(reason, WAIT_REASONS)
            totals[key] = totals.get(key, 0) + _count(count, "jobs")
        for reason, count in totals.items():
            self.jobs_waiting.labels(reason=reason).set(count)

    def set_jobs(self, counts: Mapping[str, int]) -> None:
        """Set the job gauges from ``{state: count}``; missing states read 0."""
        totals = dict.fromkeys(JOB_STATES, 0)
        for state, count in counts.items():
            key = _closed(state, JOB_STATES)
            totals[key] = totals.get(key, 0) + _count(count, "jobs")
        for state, count in totals.items():
            self.jobs.labels(state=state).set(count)

    # --- money ---------------------------------------------------------------------------------------------

    def set_ledger_difference(self, dollars: float) -> None:
        """Vast's charges minus our ledger, for the instances both know (the daily check)."""
        self.ledger_difference.set(dollars)

    def set_committed_burn(self, dollars_per_hour: float) -> None:
        """What all our instances cost together per hour right now."""
        self.committed_burn.set(dollars_per_hour)

    def add_spend(self, kind: str, dollars: float) -> None:
        """Count money spent since the last call, by kind (``gpu``, ``storage``, ``bandwidth``)."""
        self.spend.labels(kind=_closed(kind, SPEND_KINDS)).inc(_non_negative(dollars, "spend"))

    def set_budget(self, budget: Budget) -> None:
        """Export the budget's caps and reserve (a missing cap reads NaN, or has no series for a period)."""
        self.burn_cap.set(math.nan if budget.max_burn_per_hour is None else budget.max_burn_per_hour)
        for period, cap in (("daily", budget.daily_cap), ("monthly", budget.monthly_cap)):
            if cap is None:
                _remove(self.budget_cap, period)
            else:
                self.budget_cap.labels(period=period).set(cap)
        self.balance_reserve.set(budget.min_balance)

    def set_budget_remaining(self, *, daily: float | None, monthly: float | None) -> None:
        """What the daily and monthly caps still allow (``None`` = no cap of that period)."""
        for period, remaining in (("daily", daily), ("monthly", monthly)):
            if remaining is None:
                _remove(self.budget_remaining, period)
            else:
                self.budget_remaining.labels(period=period).set(remaining)

    def set_balance(self, dollars: float) -> None:
        """The account's credit balance as last read."""
        self.balance.set(dollars)

    # --- the market API ------------------------------------------------------------------------------------

    def record_api_call(self, endpoint: str, status_code: int | None, seconds: float) -> None:
        """Count one market API call and its latency; a 429 also counts as rate limited.

        ``endpoint`` is ``"METHOD /route/{id}/"``; ids and query strings are stripped if passed by mistake.
        ``status_code`` is ``None`` when no reply came (labelled ``network``).
        """
        route = self._endpoint(route_template(endpoint))
        self.api_requests.labels(endpoint=route, code=status_code_label(status_code)).inc()
        self.api_latency.labels(endpoint=route).observe(max(seconds, 0.0))
        if status_code == 429:
            self.api_rate_limited.labels(endpoint=route).inc()


def _non_negative(value: float, what: str) -> float:
    if not math.isfinite(value) or value < 0:
        raise InvalidInputError(f"{what} must be a finite number >= 0, got {value!r}", field=what)
    return value


def _count(value: int, what: str) -> int:
    if value < 0:
        raise InvalidInputError(f"{what} must be a count >= 0, got {value!r}", field=what)
    return int(value)


def _remove(gauge: Gauge, period: str) -> None:
    with contextlib.suppress(KeyError):
        gauge.remove(period)


def metric_names(registry: CollectorRegistry) -> dict[str, str]:
    """Every family ``registry`` exports, as its exposed name (``_total`` included) mapped to its type."""
    names: dict[str, str] = {}
    for family in registry.collect():
        if family.type == "counter":
            names[f"{family.name}_total"] = "counter"
        elif family.type == "info":
            names[f"{family.name}_info"] = "gauge"
        else:
            names[family.name] = family.type
    return names
