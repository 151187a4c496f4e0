"""Building a daemon from settings: the market client (with metered transport), the store, the tick config."""

from __future__ import annotations

import time
from typing import Any

import httpx

from vastbid.config.loading import config_hash
from vastbid.config.settings import Settings, Surface
from vastbid.core.budget import Budget
from vastbid.daemon.config import DaemonConfig
from vastbid.errors import ConfigError
from vastbid.obs.metrics import Metrics
from vastbid.vast.factory import make_market_api
from vastbid.vast.port import MarketApi


class MeteredTransport(httpx.BaseTransport):
    """Counts every API request by route and status code, and times it (API metrics)."""

    def __init__(self, inner: httpx.BaseTransport, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Forward the request; record its route, status (or network failure) and latency."""
        started = time.perf_counter()
        endpoint = f"{request.method} {request.url.path}"
        try:
            response = self._inner.handle_request(request)
        except httpx.TransportError:
            self._metrics.record_api_call(endpoint, None, time.perf_counter() - started)
            raise
        self._metrics.record_api_call(endpoint, response.status_code, time.perf_counter() - started)
        return response

    def close(self) -> None:
        """Close the wrapped transport."""
        self._inner.close()


def daemon_config(settings: Settings, *, dry_run: bool = False) -> DaemonConfig:
    """The tick's configuration from the settings (``dry_run`` forces a dry run)."""
    return DaemonConfig(
        deployment=settings.deployment,
        tick_seconds=settings.daemon.tick_seconds,
        jitter_seconds=settings.daemon.jitter_seconds,
        budget=Budget.from_settings(settings.budget),
        config_hash=config_hash(settings),
        default_strategy=settings.strategy.default,
        default_params=dict(settings.strategy.params),
        orphan_policy=settings.daemon.orphan_policy,
        orphan_grace_seconds=settings.daemon.orphan_grace_seconds,
        min_migration_gain=settings.daemon.min_migration_gain,
        dry_run=dry_run or settings.daemon.dry_run,
        record_market_samples=settings.database.record_market_samples,
        decision_retention_days=settings.database.decision_retention_days,
        sample_retention_days=settings.database.sample_retention_days,
        job_retention_days=settings.database.job_retention_days,
    )


def market_api(
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    base_url: str | None = None,
    key: str | None = None,
    metrics: Metrics | None = None,
    **adapter_opts: Any,
) -> MarketApi:
    """The ``MarketApi`` the settings name, over ``transport`` (default: the network); ``adapter_opts`` go to the
    adapter (e.g. ``monotonic`` and ``sleep`` for its pacing)."""
    secret = key if key is not None else settings.market.api_key.get_secret_value() if settings.market.api_key else None
    if not secret:
        raise ConfigError(
            "no Vast.ai API key: set VAST_API_KEY, market.api_key_file, or run `vastai set api-key KEY`; "
            "or try it without an account: `vastbid run --simulate` / `vastbid demo`"
        )
    inner = transport or httpx.HTTPTransport(retries=0)
    wrapped: httpx.BaseTransport = MeteredTransport(inner, metrics) if metrics is not None else inner
    url = httpx.URL(base_url or settings.market.base_url)
    origin = str(url.copy_with(path="/", query=None)).rstrip("/")
    client = httpx.Client(transport=wrapped, base_url=origin, timeout=settings.market.timeout_seconds)
    if settings.market.surface is Surface.NATIVE:
        return make_market_api("native", client, secret, **adapter_opts)
    prefix = url.path.rstrip("/") or "/vastai"
    return make_market_api(
        "lowcode",
        client,
        secret,
        url_style=settings.market.lowcode_url_style.value,
        prefix=prefix,
        **adapter_opts,
    )
