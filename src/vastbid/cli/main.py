"""The root of the ``vastbid`` command: global options and the sub-commands' registration."""

from __future__ import annotations

import sys

import typer

from vastbid import __version__
from vastbid.errors import VastbidError

app = typer.Typer(
    name="vastbid",
    help="Buy GPU capacity on the Vast.ai marketplace, unattended and within budget.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vastbid {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", callback=_version, is_eager=True
    ),
) -> None:
    """Buy GPU capacity on the Vast.ai marketplace, unattended and within budget."""


def _register() -> None:
    from vastbid.cli import backtest_cmd, config_cmd, db_cmd, jobs_cmd, offers_cmd, record_cmd, run_cmd, sim_cmd

    for module in (run_cmd, record_cmd, jobs_cmd, offers_cmd, config_cmd, db_cmd, sim_cmd, backtest_cmd):
        module.register(app)


_register()


def main() -> None:
    """Console entry point: known errors become one line on stderr and their exit code."""
    try:
        app()
    except VastbidError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
