"""Turning pydantic validation errors into lines an operator can act on.

Every line names the dotted path of the bad value, the value itself and what is allowed, e.g.
``daemon.tick_seconds: must be greater than or equal to 5 (got 2)``. Nothing secret is ever shown: not the value
of a field whose name says it holds a secret (key, token, secret, password) or that is listed as one, not a value
containing a configured secret, not one that looks like a credential (a long run of letters and digits), not a
password in a URL, and not the value of an unknown setting (a mistyped ``api_kye`` may well hold the key).
Used for settings and for job specifications alike.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from pydantic import AliasChoices, BaseModel, ValidationError

from vastbid.config.secrets import is_secret_name

_MAX_VALUE_CHARS = 80
_SHOULD = re.compile(r"^(Input|String|Value|List|Dictionary|Object|Tuple|Set) should ")
_CREDENTIAL = re.compile(r"[A-Za-z0-9_\-+/=.~]{16,}")
_URL_PASSWORD = re.compile(r"(://[^/@:\s]*:)[^@/\s]*@")
_SECRET_QUERY = re.compile(r"((?:key|token|secret|passw(?:or)?d)[^=&\s]*=)[^&\s]*", re.IGNORECASE)


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
    """A short, printable rendering of a rejected value, passwords in URLs and secret query values masked."""
    text = _SECRET_QUERY.sub(r"\1***", _URL_PASSWORD.sub(r"\1***@", repr(value)))
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 3] + "..."
    return text


def looks_like_credential(text: str) -> bool:
    """A run of 16 or more token characters mixing letters and digits: an API key or token, as far as we can tell."""
    return any(
        any(c.isalpha() for c in run) and sum(c.isdigit() for c in run) >= 2 for run in _CREDENTIAL.findall(text)
    )


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _strings(item)
    elif value is not None and not isinstance(value, bool | int | float):
        yield str(value)


def _secret_value(value: Any, secret_values: Collection[str]) -> bool:
    """Whether ``value`` (or anything in it) holds a configured secret or looks like a credential."""
    return any(
        looks_like_credential(text) or any(secret and secret in text for secret in secret_values)
        for text in _strings(value)
    )


def _hidden(value: Any) -> str:
    size = f"{len(value)} characters" if isinstance(value, str) else f"a {type(value).__name__}"
    return f"a value hidden because it may be a secret, {size}"


def _secret_place(path: str, loc: Sequence[str | int], secret_paths: Collection[str]) -> bool:
    return any(path == p or path.startswith((f"{p}.", f"{p}[")) for p in secret_paths) or any(
        isinstance(part, str) and is_secret_name(part) for part in loc
    )


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
        return sorted(
            _shown_name(name, info.validation_alias) for name, info in current.model_fields.items() if not info.exclude
        )
    return None


def _shown_name(name: str, alias: Any) -> str:
    """A field as users write it: its first alias when it has several names (the others are old names)."""
    if isinstance(alias, AliasChoices) and alias.choices and isinstance(alias.choices[0], str):
        return alias.choices[0]
    return alias if isinstance(alias, str) else name


def describe_validation_error(
    exc: ValidationError,
    *,
    prefix: Sequence[str | int] = (),
    model: type[BaseModel] | None = None,
    secret_paths: Collection[str] = (),
    secret_values: Collection[str] = (),
    rename: Callable[[str], str] | None = None,
    unknown: str = "unknown setting",
) -> list[str]:
    """One line per problem: ``path: problem (got VALUE)``.

    ``prefix`` is put before every path (e.g. ``jobs[2]``); ``model`` lets unknown keys list the allowed ones;
    values at or under ``secret_paths`` (dotted) or a secret-looking name are shown as ``(hidden)``, values holding
    one of ``secret_values`` or looking like a credential are hidden too, and neither the value of an unknown key
    nor a whole table is ever shown; ``rename`` may decorate a path (e.g. with the
    environment variable it came from); ``unknown`` is what an unknown key is called (with the closest allowed one).
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
            close = difflib.get_close_matches(str(loc[-1]), allowed or [], n=1, cutoff=0.6) if loc else []
            problem = unknown + (f" (did you mean {close[0]!r}?)" if close else "")
            problem += f"; allowed here: {', '.join(allowed)}" if allowed else ""
        elif error["type"] == "missing":
            problem = "is required"
        else:
            problem = _problem(error)
        given = error.get("input")
        if error["type"] in ("missing", "extra_forbidden") or isinstance(given, Mapping):
            lines.append(f"{shown_path}: {problem}")  # a mistyped name may hold a secret; a table is too much
            continue
        if _secret_place(path, loc, secret_paths):
            value = "(hidden)"
        elif _secret_value(given, secret_values):
            value = _hidden(given)
        else:
            value = show_value(given)
        lines.append(f"{shown_path}: {problem} (got {value})")
    return lines


def join_lines(header: str, lines: Iterable[str]) -> str:
    """A header followed by indented problem lines, for one exception message."""
    return header + "".join(f"\n  {line}" for line in lines)
