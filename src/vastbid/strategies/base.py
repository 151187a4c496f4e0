"""The ``Strategy`` protocol: what a strategy sees (``StrategyContext``) and what it answers (``Choice``).

The definitions live in ``vastbid.core.choice`` (``decide()`` in core builds the contexts and applies the
choices, and core may not import strategies); this module re-exports them, and strategies import from here.
Read ``vastbid.core.choice`` for the contract every strategy keeps.
"""

from __future__ import annotations

from vastbid.core.choice import (
    Choice,
    MachineRecord,
    PreRanking,
    Strategy,
    StrategyContext,
    StrategyParams,
    Verb,
)

__all__ = ["Choice", "MachineRecord", "PreRanking", "Strategy", "StrategyContext", "StrategyParams", "Verb"]
