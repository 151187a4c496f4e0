"""Logging: structlog set up once, one renderer for our events and the libraries', and secret redaction.

``configure_logging`` installs one handler on the root stdlib logger whose ``ProcessorFormatter`` renders both
structlog events and foreign stdlib records (httpx, apscheduler, alembic) the same way: JSON lines by default,
the console renderer when the stream is a TTY or when asked. Every line carries a UTC ISO ``timestamp``, the
``level``, the ``logger`` name and whatever is bound in context (``tick_id`` through ``bind_tick``).

``redact(*secrets)`` registers values (the API key, the HTTP token) that must never be written: the last
processor before rendering masks every occurrence, in any string value, nested structure or formatted
exception traceback, including the URL-encoded form (LowCodeAPI puts its token in query strings) and the escaped
forms a ``repr`` or a JSON dump would give a secret holding a control or non-ASCII character.
Event names are snake_case by convention (``tick_finished``, ``bid_placed``).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, Literal, TextIO
from urllib.parse import quote, quote_plus

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from vastbid.errors import ConfigError

LogFormat = Literal["auto", "json", "console"]
MASK = "[REDACTED]"

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
_HANDLER_NAME = "vastbid"


class _SecretRegistry:
    """The secrets registered so far, and one compiled pattern matching any of them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self.pattern: re.Pattern[str] | None = None

    def add(self, secrets: tuple[str | None, ...]) -> None:
        with self._lock:
            for secret in secrets:
                if secret:
                    self._secrets.update(_forms(secret))
            if self._secrets:
                alternatives = sorted(self._secrets, key=len, reverse=True)
                self.pattern = re.compile("|".join(re.escape(s) for s in alternatives))

    def clear(self) -> None:
        with self._lock:
            self._secrets.clear()
            self.pattern = None


_registry = _SecretRegistry()


def _forms(secret: str) -> set[str]:
    """``secret`` as it may appear in a line: as is, URL-encoded, or escaped (``repr`` of text or bytes, JSON)."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret)}
    forms |= {repr(secret)[1:-1], json.dumps(secret)[1:-1], secret.encode("unicode_escape").decode("ascii")}
    forms |= {json.dumps(secret, ensure_ascii=False)[1:-1], repr(secret.encode("utf-8"))[2:-1]}
    return {form for form in forms if form}


# --- redaction -----------------------------------------------------------------------------------------------


def redact(*secrets: str | None) -> None:
    """Never write any of ``secrets`` (nor their URL-encoded forms) in a log line from now on.

    Empty and ``None`` values are ignored, so ``redact(settings.api_key, settings.http_token)`` is safe when
    either is unset.
    """
    _registry.add(secrets)


def forget_secrets() -> None:
    """Drop every registered secret (for tests, and for a re-configuration with new keys)."""
    _registry.clear()


def mask(text: str) -> str:
    """``text`` with every registered secret replaced by ``[REDACTED]``."""
    pattern = _registry.pattern
    return text if pattern is None else pattern.sub(MASK, text)


def _scrub(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(MASK, value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {_scrub(k, pattern): _scrub(v, pattern) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(v, pattern) for v in value]
    text = str(value)  # URLs, exceptions, paths: judged by how they would be rendered
    return pattern.sub(MASK, text) if pattern.search(text) else value


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask every registered secret anywhere in the event."""
    pattern = _registry.pattern
    if pattern is None:
        return event_dict
    return {key: _scrub(value, pattern) for key, value in event_dict.items()}


# --- setup ---------------------------------------------------------------------------------------------------


def _level_number(level: str | int) -> int:
    if isinstance(level, int):
        return level
    number = _LEVELS.get(level.strip().lower())
    if number is None:
        raise ConfigError(f"unknown log level {level!r}: use one of {', '.join(_LEVELS)}")
    return number


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def _drop_record(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    event_dict.pop("_record", None)
    event_dict.pop("_from_structlog", None)
    return event_dict


def configure_logging(
    *,
    level: str | int = "info",
    fmt: LogFormat = "auto",
    stream: TextIO | None = None,
) -> None:
    """Set up structlog and stdlib logging once; calling it again replaces the previous setup.

    ``fmt="auto"`` renders for humans when ``stream`` (default stdout) is a TTY, JSON lines otherwise.
    """
    out = sys.stdout if stream is None else stream
    use_console = fmt == "console" or (fmt == "auto" and _isatty(out))
    renderer: Processor = (
        structlog.dev.ConsoleRenderer(colors=_isatty(out)) if use_console else structlog.processors.JSONRenderer()
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            _drop_record,
            structlog.processors.format_exc_info,
            structlog.processors.UnicodeDecoder(),
            redact_secrets,
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(_level_number(level))
    # httpcore narrates every socket operation at DEBUG; its INFO and up still come through.
    logging.getLogger("httpcore").setLevel(max(_level_number(level), logging.INFO))

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A structlog logger named ``name`` (the module's ``__name__``, by convention)."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


@contextmanager
def bind_tick(tick_id: int | str) -> Iterator[None]:
    """Within the block, every log line (ours and the libraries') carries ``tick_id``."""
    with structlog.contextvars.bound_contextvars(tick_id=tick_id):
        yield


def bound_context() -> MutableMapping[str, Any]:
    """What is bound in the current context (for tests and diagnostics)."""
    return structlog.contextvars.get_contextvars()
