"""``make_market_api``: the one place that picks an adapter for a surface name."""

from __future__ import annotations

from typing import Any, Literal

import httpx

from vastbid.errors import InvalidInputError
from vastbid.vast.lowcode import LowCodeApi
from vastbid.vast.native import NativeVastApi
from vastbid.vast.port import MarketApi

Surface = Literal["native", "lowcode"]
SURFACES: tuple[Surface, ...] = ("native", "lowcode")


def make_market_api(surface: Surface, client: httpx.Client, key: str, **opts: Any) -> MarketApi:
    """The ``MarketApi`` for ``surface`` over ``client``; ``key`` is the API key (native) or token (lowcode).

    ``opts`` go to the adapter: ``settings``, ``monotonic``, ``sleep`` for both; ``storage_gb`` (native);
    ``url_style``, ``prefix``, ``bid_duration_hours`` (lowcode).
    """
    if surface == "native":
        return NativeVastApi(client, key, **opts)
    if surface == "lowcode":
        return LowCodeApi(client, key, **opts)
    raise InvalidInputError(f"unknown market surface {surface!r}: choose native or lowcode", field="surface")
