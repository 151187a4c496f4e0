"""What the commands share: ``--config`` / ``--db`` options, opening the store, error reporting, the console.

A command that reads or writes the database takes ``--config FILE`` (settings; ``VASTBID_CONFIG`` works too) or
``--db URL`` (a SQLAlchemy URL, bypassing the settings); with neither, the settings come from the environment
and the database is the default SQLite file. Known errors print one ``error: ...`` line and exit with their code.
``front_door_checks`` is what a submitted job is checked against (the offer grammar, the strategy registry, now).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from vastbid.config import Settings, StrategySettings, load_settings
from vastbid.errors import VastbidError
from vastbid.store import Store, open_store
from vastbid.store.jobs import JobChecks, QueryGrammar
from vastbid.strategies.registry import Registry, default_registry
from vastbid.vast.query import ALIASES, KNOWN_FIELDS, compile_query

CONFIG_OPTION: Any = typer.Option(
    None, "--config", "-c", envvar="VASTBID_CONFIG", help="Settings file (TOML).", dir_okay=False
)
DB_OPTION: Any = typer.Option(None, "--db", help="Database URL (SQLAlchemy), instead of the settings' one.")
JSON_OPTION: Any = typer.Option(False, "--json", help="Print JSON for machines instead of a table.")


def console() -> Console:
    """A console on the current stdout (so test runners capture it)."""
    return Console(highlight=False, soft_wrap=False, width=160)


def error_console() -> Console:
    """A console on the current stderr."""
    return Console(stderr=True, highlight=False, soft_wrap=True)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn a ``VastbidError`` into ``error: ...`` on stderr and its exit code."""
    try:
        yield
    except VastbidError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None


def settings_from(config: Path | None) -> Settings:
    """The settings from ``config`` (or the environment alone)."""
    return load_settings(config)


def database_url(config: Path | None, db: str | None) -> str:
    """``--db`` if given, else the settings' database URL."""
    if db:
        return db
    return settings_from(config).database.url


def open_store_from(config: Path | None, db: str | None, *, upgrade: bool = True) -> Store:
    """The store named by the options, its schema migrated to the head when ``upgrade``."""
    return open_store(database_url(config, db), upgrade=upgrade)


def print_json(data: Any) -> None:
    """Machine output: indented JSON on stdout."""
    typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def _refuse_unknown_fields_quietly(record: logging.LogRecord) -> bool:
    """Drops the grammar's "sent to the server as is" warning: the front door refuses unknown fields instead."""
    return "offer_query_unknown_field" not in str(record.msg)


def _parse_offer_query(text: str) -> Mapping[str, Any]:
    """The query's wire filters, its values type-checked against the offer fields (``QueryError`` otherwise)."""
    logger = logging.getLogger("vastbid.vast.query")
    logger.addFilter(_refuse_unknown_fields_quietly)
    try:
        return compile_query(text).filters
    finally:
        logger.removeFilter(_refuse_unknown_fields_quietly)


OFFER_GRAMMAR = QueryGrammar(parse=_parse_offer_query, fields=KNOWN_FIELDS, aliases=ALIASES)
"""The ``vastai search offers`` grammar, for the front door's query check."""


def front_door_checks(
    settings: Settings | None, *, now: datetime | None = None, registry: Registry | None = None
) -> JobChecks:
    """What a submitted job is checked against: the offer grammar, the strategies (default from ``settings``) and
    now (the wall clock unless given)."""
    strategy = settings.strategy if settings is not None else StrategySettings()
    return JobChecks(
        now=now or datetime.now(UTC),
        grammar=OFFER_GRAMMAR,
        registry=registry or default_registry(),
        default_strategy=strategy.default,
        default_params=dict(strategy.params),
    )
