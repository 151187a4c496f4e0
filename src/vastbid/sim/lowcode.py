"""The LowCodeAPI surface under ``/vastai/`` (docs/lowcode-api.md): placeholder until its routes land."""

from __future__ import annotations

from werkzeug.routing import Map
from werkzeug.wrappers import Request

from vastbid.sim.config import SimConfig
from vastbid.sim.market import Market
from vastbid.sim.wire import Reply, error

PREFIX = "/vastai/"
URL_MAP = Map([], strict_slashes=False)
UNAUTHENTICATED: set[str] = set()
HANDLERS: dict[str, object] = {}


class LowCodeBook:
    def __init__(self, market: Market) -> None:
        self.market = market


def rewrite_query_style(path: str, request: Request) -> str:
    return path


def authenticate(request: Request, config: SimConfig) -> str | Reply:
    return error(401, "auth_error", "Invalid api_token")
