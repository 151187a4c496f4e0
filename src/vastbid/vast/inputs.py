"""Checks on what we are about to send: bad input is refused before any request, naming the field.

Both adapters call these first thing; each raises ``InvalidInputError`` with ``field`` set.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from vastbid.errors import InvalidInputError

MIN_PRICE: Final = 0.001
MAX_CREATE_PRICE: Final = 128.0
"""The largest bid a create accepts, $/h for the whole offer."""
MAX_CHANGE_BID_PRICE: Final = 32.0
"""The largest price ``change bid`` accepts, $/h."""
MAX_LABEL: Final = 1024


def check_price(value: Any, *, field: str = "price", maximum: float = MAX_CREATE_PRICE) -> float:
    """A bid price in ``[0.001, maximum]`` $/h."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(f"{field} must be a number of $/h, not {value!r}", field=field)
    if value < 0:
        raise InvalidInputError(f"{field} must not be negative (got {value})", field=field)
    if value < MIN_PRICE:
        raise InvalidInputError(f"{field} must be at least {MIN_PRICE} $/h (got {value})", field=field)
    if value > maximum:
        raise InvalidInputError(f"{field} must be at most {maximum} $/h, the API maximum (got {value})", field=field)
    return float(value)


def check_positive(value: Any, *, field: str, allow_zero: bool = False) -> float:
    """A finite number above zero (or at least zero)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(f"{field} must be a number, not {value!r}", field=field)
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidInputError(f"{field} must be {'>= 0' if allow_zero else '> 0'} (got {value})", field=field)
    return float(value)


def check_id(value: Any, *, field: str) -> int:
    """A positive integer id."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidInputError(f"{field} must be a positive integer id, not {value!r}", field=field)
    return value


def check_label(value: Any, *, field: str = "label") -> str:
    """An instance label: a string of at most 1024 characters."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{field} must be text, not {type(value).__name__}", field=field)
    if len(value) > MAX_LABEL:
        raise InvalidInputError(f"{field} is longer than {MAX_LABEL} characters", field=field)
    return value


def check_text(value: Any, *, field: str) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{field} must be non-empty text", field=field)
    return value


def check_env(value: Any, *, field: str = "env") -> dict[str, str]:
    """Environment variables: text names to text values."""
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"{field} must be a mapping of names to values", field=field)
    for key, val in value.items():
        if not isinstance(key, str) or not key or not isinstance(val, str):
            raise InvalidInputError(f"{field} entry {key!r} must map a name to text", field=field)
    return dict(value)


def check_limit(value: Any, *, field: str = "limit", maximum: int = 10_000) -> int:
    """A page size or result limit in ``[1, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InvalidInputError(f"{field} must be an integer from 1 to {maximum}, not {value!r}", field=field)
    return value
