"""Turning pydantic validation errors into lines an operator can act on.

Every line names the dotted path of the bad value, the value itself and what is allowed, e.g.
``daemon.tick_seconds: must be greater than or equal to 5 (got 2)``. Secret fields never show their value.
Used for settings and for job specifications alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

_MAX_VALUE_CHARS = 80
_SHOULD = re.compile(r"^(Input|String|Value|List|Dictionary|Object|Tuple|Set) should ")


def dotted(loc: Sequence[str | int]) -> str:
    """``("market", "surface")`` -> ``market.surface``; list indexes become ``[0]``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def show_value(value: Any) -> str:
    """A short, printable rendering of a rejected value."""
    text = repr(value)
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 3] + "..."
    return text


def _problem(error: Any) -> str:
    message = str(error.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    return _SHOULD.sub("must ", message, count=1)


def _allowed_keys(model: type[BaseModel] | None, loc: Sequence[str | int]) -> list[str] | None:
    """The field names allowed where ``loc`` points, following nested models."""
    current: Any = model
    for part in loc[:-1]:
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or not isinstance(part, str):
            return None
        field = current.model_fields.get(part)
        if field is None:
            return None
        current = field.annotation
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(name for name, info in current.model_fields.items() if not info.exclude)
    return None


def describe_validation_error(
    exc: ValidationError,
    *,
    prefix: Sequence[str | int] = (),
    model: type[BaseModel] | None = None,
    secret_paths: Collection[str] = (),
    rename: Callable[[str], str] | None = None,
) -> list[str]:
    """One line per problem: ``path: problem (got VALUE)``.

    ``prefix`` is put before every path (e.g. ``jobs[2]``); ``model`` lets unknown keys list the allowed ones;
    values at ``secret_paths`` (dotted) are shown as ``(hidden)``; ``rename`` may decorate a path (e.g. with the
    environment variable it came from).
    """
    lines: list[str] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        path = dotted(loc)
        shown_path = dotted((*prefix, *loc))
        if rename is not None:
            shown_path = rename(shown_path)
        if error["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc)
            problem = "unknown setting" + (f"; allowed here: {', '.join(allowed)}" if allowed else "")
        elif error["type"] == "missing":
            problem = "is required"
        else:
            problem = _problem(error)
        if error["type"] == "missing":
            lines.append(f"{shown_path}: {problem}")
            continue
        value = "(hidden)" if path in secret_paths else show_value(error.get("input"))
        lines.append(f"{shown_path}: {problem} (got {value})")
    return lines


def join_lines(header: str, lines: Iterable[str]) -> str:
    """A header followed by indented problem lines, for one exception message."""
    return header + "".join(f"\n  {line}" for line in lines)
