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


@dataclass(frozen=True)
class PageToken:
    """Where the next page of a listing starts: after the row whose sort key is ``after`` (key paging, as a real
    ``after_token``), or at row ``offset`` (offset paging). ``order`` is the listing's sort (column, descending), id
    last; ``page`` is the number of the page the token asks for (1 = the first)."""

    page: int
    after: tuple[Any, ...] | None = None
    order: tuple[tuple[str, bool], ...] = ()
    offset: int | None = None


def encode_token(token: PageToken | int) -> str:
    """An opaque token (base64 JSON); an int is an offset token (the old format, still understood)."""
    if isinstance(token, int):
        data: dict[str, Any] = {"offset": token, "v": 1}
    elif token.offset is not None:
        data = {"offset": token.offset, "page": token.page, "v": 1}
    else:
        data = {"after": list(token.after or ()), "order": [list(o) for o in token.order], "page": token.page, "v": 2}
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def decode_token(token: str, limit: int = 25) -> PageToken:
    """The token's position; anything malformed is a 400 ``invalid_token``."""
    invalid = fail(400, "invalid_token", "The pagination token is not valid.")
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if not isinstance(data, dict):
            raise invalid
        if "offset" in data:
            offset = int(data["offset"])
            if offset < 0:
                raise invalid
            page = int(data.get("page", offset // max(limit, 1) + 1))
            return PageToken(page=page, offset=offset)
        after, order = data["after"], data["order"]
        if not isinstance(after, list) or not isinstance(order, list) or len(after) != len(order) or not order:
            raise invalid
        keys = tuple((str(col), bool(desc)) for col, desc in order)
        return PageToken(page=int(data["page"]), after=tuple(after), order=keys)
    except (ValueError, KeyError, TypeError) as exc:
        raise invalid from exc


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
