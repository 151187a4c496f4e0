"""The ``Strategy`` protocol: what a strategy sees (``StrategyContext``) and what it answers (``Choice``).

The definitions live in ``vastbid.core.choice`` (``decide()`` in core builds the contexts and applies the
choices, and core may not import strategies); this module re-exports them, and strategies import from here.
Read ``vastbid.core.choice`` for the contract every strategy keeps.

A strategy is written as a frozen keyword-only dataclass whose fields are its parameters, with their defaults and
their constraints as ``Annotated[..., pydantic.Field(...)]`` (checked when the registry builds it through
``pydantic.TypeAdapter``; a cross-field rule goes in ``__post_init__`` as a ``ValueError``), a ``name`` class
variable and ``choose(ctx)``::

    @dataclass(frozen=True, kw_only=True, slots=True)
    class FirstOffer:
        name: ClassVar[str] = "first_offer"
        bid_margin: Annotated[float, Field(ge=0.0, le=1.0)] = 0.05

        def choose(self, ctx: StrategyContext) -> Choice: ...
"""

from __future__ import annotations

from vastbid.core.choice import (
    Choice,
    MachineRecord,
    PreRanking,
    Strategy,
    StrategyContext,
    Verb,
)

__all__ = ["Choice", "MachineRecord", "PreRanking", "Strategy", "StrategyContext", "Verb"]
