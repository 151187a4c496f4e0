"""Logging: the lines an operator reads (JSON or console), tick ids, and secrets that never show up."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from vastbid.errors import ConfigError
from vastbid.obs.logging import bind_tick, configure_logging, get_logger, mask, redact

API_KEY = "b2f1c9e0a7d4secretkey"
TOKEN = "lc/tok+en=42"  # characters that URL encoding changes


class TtyStream(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def out() -> io.StringIO:
    stream = io.StringIO()
    configure_logging(stream=stream, level="info")
    return stream


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_events_are_json_lines_with_utc_timestamps_level_and_logger(out: io.StringIO) -> None:
    get_logger("vastbid.daemon").info("tick_finished", offers=12, ok=True)
    (line,) = lines(out)
    assert line["event"] == "tick_finished"
    assert line["level"] == "info"
    assert line["logger"] == "vastbid.daemon"
    assert line["offers"] == 12
    assert line["timestamp"].endswith("Z")
    stamp = datetime.fromisoformat(line["timestamp"])
    assert stamp.tzinfo is not None and stamp.utcoffset() == UTC.utcoffset(None)


def test_tick_id_is_on_every_line_inside_the_tick_only(out: io.StringIO) -> None:
    log = get_logger("vastbid.daemon")
    with bind_tick(41):
        log.info("tick_started")
        logging.getLogger("apscheduler.executors").info("Running job %s", "tick")
    log.info("idle")
    started, library, idle = lines(out)
    assert started["tick_id"] == 41
    assert library["tick_id"] == 41
    assert library["event"] == "Running job tick"
    assert library["logger"] == "apscheduler.executors"
    assert "tick_id" not in idle


def test_library_records_share_the_renderer(out: io.StringIO) -> None:
    logging.getLogger("alembic.runtime.migration").warning("Will assume %s DDL.", "transactional")
    (line,) = lines(out)
    assert line["level"] == "warning"
    assert line["event"] == "Will assume transactional DDL."
    assert "timestamp" in line


def test_level_filters_and_unknown_levels_are_refused() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream, level="WARNING")
    get_logger("x").info("quiet")
    logging.getLogger("httpx").info("HTTP Request: GET http://127.0.0.1/")
    get_logger("x").warning("loud")
    assert [line["event"] for line in lines(stream)] == ["loud"]
    with pytest.raises(ConfigError, match="verbose"):
        configure_logging(stream=stream, level="verbose")


def test_configuring_twice_does_not_duplicate_lines() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(stream=first)
    configure_logging(stream=second)
    get_logger("x").info("once")
    assert first.getvalue() == ""
    assert [line["event"] for line in lines(second)] == ["once"]


def test_auto_format_uses_the_console_renderer_on_a_tty() -> None:
    tty = TtyStream()
    configure_logging(stream=tty)
    get_logger("x").info("hello_operator", jobs=3)
    text = tty.getvalue()
    assert "hello_operator" in text
    assert "jobs" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])


def test_console_can_be_asked_for_without_a_tty() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream, fmt="console")
    get_logger("x").info("hello_operator")
    assert "hello_operator" in stream.getvalue()
    assert not stream.getvalue().lstrip().startswith("{")


# --- redaction ---------------------------------------------------------------------------------------------


def test_secrets_are_masked_in_values_nested_structures_and_objects(out: io.StringIO) -> None:
    redact(API_KEY, TOKEN, None, "")
    log = get_logger("vastbid.vast")
    log.info(
        "request_sent",
        header=f"Bearer {API_KEY}",
        nested={"params": [f"api_token={TOKEN}"], API_KEY: 1},
        url=httpx.URL("https://api.lowcodeapi.com/vastai/bids", params={"api_token": TOKEN}),
    )
    log.info("positional %s", API_KEY)
    text = out.getvalue()
    assert API_KEY not in text
    assert TOKEN not in text
    assert "lc%2Ftok%2Ben%3D42" not in text  # the URL-encoded token
    assert "[REDACTED]" in text
    assert len(lines(out)) == 2


def test_library_lines_carrying_a_token_in_the_url_are_masked(out: io.StringIO) -> None:
    redact(TOKEN)
    url = httpx.URL("https://api.lowcodeapi.com/vastai/instances", params={"api_token": TOKEN})
    logging.getLogger("httpx").info('HTTP Request: %s %s "%s"', "GET", url, "HTTP/1.1 200 OK")
    (line,) = lines(out)
    assert TOKEN not in out.getvalue()
    assert "lc%2Ftok%2Ben%3D42" not in out.getvalue()
    assert line["event"].startswith("HTTP Request: GET https://api.lowcodeapi.com/vastai/instances?api_token=")


def test_secrets_are_masked_in_rendered_tracebacks(out: io.StringIO) -> None:
    redact(API_KEY)

    def call_with_key(key: str) -> None:
        raise ValueError(f"refused key {key}")

    try:
        call_with_key(API_KEY)
    except ValueError:
        get_logger("vastbid.daemon").exception("tick_failed")
        logging.getLogger("apscheduler.executors.default").exception("Job raised an exception")
    ours, library = lines(out)
    for line in (ours, library):
        assert "Traceback" in line["exception"]
        assert "refused key [REDACTED]" in line["exception"]
    assert API_KEY not in out.getvalue()


def test_secrets_are_masked_by_the_console_renderer_too() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream, fmt="console")
    redact(API_KEY)
    try:
        raise RuntimeError(API_KEY)
    except RuntimeError:
        get_logger("x").exception("boom", key=API_KEY)
    assert API_KEY not in stream.getvalue()
    assert "[REDACTED]" in stream.getvalue()


def test_secrets_registered_before_configuring_still_apply() -> None:
    redact(API_KEY)
    stream = io.StringIO()
    configure_logging(stream=stream)
    get_logger("x").info("key_loaded", key=API_KEY)
    assert API_KEY not in stream.getvalue()


def test_mask_helper_and_no_secrets_means_no_change() -> None:
    assert mask(f"key={API_KEY}") == f"key={API_KEY}"
    redact(API_KEY)
    assert mask(f"key={API_KEY}") == "key=[REDACTED]"


def test_a_secret_is_masked_in_its_escaped_forms_too(out: io.StringIO) -> None:
    """A control or non-ASCII character in a secret: an error quoting its repr (as httpx's do) shows none of it."""
    secret = "a3f9c2e1b4d5f607\n18293a4b5c6d7é8f"
    redact(secret)
    error = ValueError(f"Illegal header value {('Bearer ' + secret).encode('utf-8')!r}")

    get_logger("vastbid.tick").warning("tick_failed", error=str(error), quoted=repr(secret))

    text = out.getvalue()
    assert "a3f9c2e1b4d5f607" not in text and "18293a4b5c6d7" not in text
    assert text.count("[REDACTED]") == 2
