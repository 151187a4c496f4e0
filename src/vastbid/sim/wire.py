"""Wire helpers shared by the two HTTP surfaces: the reply value, JSON bodies and query arguments."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request


@dataclass
class Reply:
    """What a handler answers: a JSON-able body (or raw text) with its status and extra headers."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None
    content_type: str = "application/json"


class BadRequestError(Exception):
    """A handler refuses the request; carries the reply to send."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def error(status: int, code: str, msg: str, **extra: Any) -> Reply:
    return Reply({"success": False, "error": code, "msg": msg, **extra}, status)


def fail(status: int, code: str, msg: str, **extra: Any) -> BadRequestError:
    return BadRequestError(error(status, code, msg, **extra))


def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object ({} when empty); anything else is a 400."""
    raw = request.get_data(cache=True)
    if not raw or not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise fail(400, "invalid_args", "The request body is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise fail(400, "invalid_args", "The request body must be a JSON object.")
    return data


def query_value(request: Request, name: str, default: Any = None) -> Any:
    """A query argument, JSON-decoded when it is JSON (the CLI JSON-encodes non-string values)."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def as_int(value: Any, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise fail(400, "invalid_args", f"{name} must be an integer.") from exc


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset, "v": 1}).encode()).decode()


def decode_token(token: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = int(data["offset"])
    except (ValueError, KeyError, TypeError) as exc:
        raise fail(400, "invalid_token", "The pagination token is not valid.") from exc
    if offset < 0:
        raise fail(400, "invalid_token", "The pagination token is not valid.")
    return offset


def price_arg(value: Any, name: str = "price") -> float | None:
    """A price field: None stays None; numbers and numeric strings become floats; anything else is a 400."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise fail(400, "invalid_price", f"{name} must be a number.")
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise fail(400, "invalid_price", f"{name} must be a number.") from exc
