"""`vastbid offers QUERY`: a table of what the market offers now."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root ``app``."""
