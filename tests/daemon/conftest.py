"""Shared fixtures of the daemon tests (defined in ``_world.py``)."""

from ._world import make_world, world

__all__ = ["make_world", "world"]
