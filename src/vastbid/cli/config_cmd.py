"""`vastbid config check FILE`: validate a settings file as the daemon will, and show the effective settings.

The checks are those the daemon makes before it starts (``settings_findings``): every setting's type and range
(``load_settings``, which also refuses key and token files others can read), the default strategy and its
parameters (the strategy registry), the database URL's dialect and driver, and with ``--connect`` whether the
database answers; the API key when not simulating, and the HTTP token. Every error and warning is listed; any
error exits 2. Secrets are never printed.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from vastbid.cli.common import console, reported_errors
from vastbid.config import Settings, config_hash, effective_rows, load_settings
from vastbid.config.checks import Finding, Severity, database_url_findings, secret_findings
from vastbid.config.loading import mask_url_password
from vastbid.errors import StrategyError
from vastbid.strategies.registry import Registry, default_registry

_FILE_ARGUMENT: Any = typer.Argument(..., help="The settings file to check.", dir_okay=False)
CONNECT_TIMEOUT_SECONDS = 5


def strategy_findings(settings: Settings, registry: Registry) -> list[Finding]:
    """The default strategy is installed and takes its parameters."""
    name, params = settings.strategy.default, dict(settings.strategy.params)
    if name not in registry:
        return [
            Finding(
                Severity.ERROR,
                "strategy.default",
                f"unknown strategy {name!r}: use one of {', '.join(registry.names())}",
            )
        ]
    try:
        registry.validate(name, params)
    except StrategyError as exc:
        return [Finding(Severity.ERROR, "strategy.params", f"{exc}; fix or drop the parameters named")]
    return []


def _dialect(url: str) -> tuple[str | None, str | None]:
    """The URL's backend name (``None`` if it does not parse) and why its driver cannot load (``None`` if it can)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None, None
    try:
        parsed.get_dialect().import_dbapi()
    except (NoSuchModuleError, ImportError) as exc:
        return parsed.get_backend_name(), f"{type(exc).__name__}: {exc}"
    return parsed.get_backend_name(), None


def _sqlite_reachable(url: str) -> str | None:
    """Why a SQLite database cannot be used (without creating it), or ``None``."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database)
    if path.exists():
        try:
            conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=CONNECT_TIMEOUT_SECONDS)
        except sqlite3.Error as exc:
            return f"{path} cannot be opened for writing: {exc}"
        try:
            conn.execute("SELECT 1")
        except sqlite3.Error as exc:
            return f"{path} is not a usable SQLite database: {exc}"
        finally:
            conn.close()
        return None
    parent = next((p for p in path.absolute().parents if p.exists()), None)
    if parent is None or not parent.is_dir():
        return f"no existing directory above {path}"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{path} does not exist and {parent} is not writable: the daemon could not create it"
    return None


def connect_findings(url: str) -> list[Finding]:
    """Whether the database answers (SQLite: the file opens read-write, or can be created; nothing is created)."""
    shown = mask_url_password(url)
    if make_url(url).get_backend_name() == "sqlite":
        problem = _sqlite_reachable(url)
    else:
        engine = create_engine(url, connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS})
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            problem = None
        except SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None)
            first = str(cause if cause is not None else exc).strip().splitlines()
            problem = (first[0] if first else type(exc).__name__).replace(url, shown)
        finally:
            engine.dispose()
    if problem is None:
        return []
    return [Finding(Severity.ERROR, "database.url", f"{shown} does not answer: {problem}")]


def settings_findings(settings: Settings, *, registry: Registry, connect: bool = False) -> list[Finding]:
    """Everything the daemon checks of loaded settings before it starts (``connect``: the database too)."""
    found = strategy_findings(settings, registry)
    dialect, driver_error = _dialect(settings.database.url)
    db_findings = database_url_findings(settings.database.url, dialect=dialect, driver_error=driver_error)
    found += db_findings
    if connect and not db_findings:
        found += connect_findings(settings.database.url)
    found += secret_findings(settings)
    return found


def check(
    file: Path = _FILE_ARGUMENT,
    connect: Annotated[bool, typer.Option("--connect", help="Also check that the database answers.")] = False,
) -> None:
    """Check a settings file as the daemon will; print the effective settings (secrets hidden) and every problem."""
    with reported_errors():
        settings = load_settings(file)
    findings = settings_findings(settings, registry=default_registry(), connect=connect)
    table = Table(title=f"effective settings ({file})", show_lines=False)
    table.add_column("setting", style="bold")
    table.add_column("value", overflow="fold")
    for path, value in effective_rows(settings):
        table.add_row(path, value)
    out = console()
    out.print(table)
    out.print(f"config hash: {config_hash(settings)}")
    errors = [f for f in findings if f.severity is Severity.ERROR]
    for finding in findings:
        if finding.severity is Severity.WARNING:
            typer.echo(f"warning: {finding}", err=True)
    if errors:
        typer.echo(f"error: invalid settings in {file}:" + "".join(f"\n  {f}" for f in errors), err=True)
        raise typer.Exit(2)
    out.print("ok")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root ``app``."""
    group = typer.Typer(name="config", help="Check settings.", no_args_is_help=True)
    group.command("check")(check)
    app.add_typer(group)
