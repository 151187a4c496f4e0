"""`vastbid config check FILE`: validate a settings file and show the effective settings, secrets masked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from vastbid.cli.common import console, reported_errors
from vastbid.config import config_hash, effective_rows, load_settings

_FILE_ARGUMENT: Any = typer.Argument(..., help="The settings file to check.", dir_okay=False)


def check(file: Path = _FILE_ARGUMENT) -> None:
    """Check a settings file; print the effective settings (environment overrides applied, secrets hidden)."""
    with reported_errors():
        settings = load_settings(file)
    table = Table(title=f"effective settings ({file})", show_lines=False)
    table.add_column("setting", style="bold")
    table.add_column("value", overflow="fold")
    for path, value in effective_rows(settings):
        table.add_row(path, value)
    out = console()
    out.print(table)
    out.print(f"config hash: {config_hash(settings)}")
    out.print("ok")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root ``app``."""
    group = typer.Typer(name="config", help="Check settings.", no_args_is_help=True)
    group.command("check")(check)
    app.add_typer(group)
