"""`vastbid db upgrade`: migrate the database to the schema this vastbid ships."""

from __future__ import annotations

from pathlib import Path

import typer

from vastbid.cli.common import CONFIG_OPTION, DB_OPTION, database_url, reported_errors
from vastbid.config.loading import mask_url_password
from vastbid.store import upgrade as upgrade_database


def upgrade(config: Path | None = CONFIG_OPTION, db: str | None = DB_OPTION) -> None:
    """Create or migrate the database to the newest schema (safe to run again)."""
    with reported_errors():
        url = database_url(config, db)
        before, after = upgrade_database(url)
    where = mask_url_password(url)
    if before == after:
        typer.echo(f"{where}: already at {after}")
    else:
        typer.echo(f"{where}: upgraded from {before or 'empty'} to {after}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root ``app``."""
    group = typer.Typer(name="db", help="Manage the database.", no_args_is_help=True)
    group.command("upgrade")(upgrade)
    app.add_typer(group)
