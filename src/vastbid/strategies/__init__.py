"""Strategies: the ``Strategy`` protocol, the entry-point registry and one module per built-in strategy."""
