"""``deadline_aware``: ours. Uniform Progress with a cost-aware core (first version: UP semantics)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from vastbid.strategies import _deadline as dl
from vastbid.strategies.base import Choice, StrategyContext, StrategyParams
from vastbid.strategies.uniform_progress import UniformProgress


class DeadlineAware:
    """Deadline-safe spot usage; see the module docstring."""

    name: ClassVar[str] = "deadline_aware"

    class Params(StrategyParams):
        """``bid_margin``: bid this fraction over the minimum bid (capped by the job's price cap)."""

        bid_margin: float = Field(default=0.1, ge=0.0, le=10.0)

    def __init__(self, params: DeadlineAware.Params | None = None) -> None:
        self._params = params if params is not None else DeadlineAware.Params()
        self._up = UniformProgress(UniformProgress.Params(bid_margin=self._params.bid_margin))

    @property
    def params(self) -> DeadlineAware.Params:
        """The validated parameters."""
        return self._params

    def choose(self, ctx: StrategyContext) -> Choice:
        """See the module docstring."""
        _ = dl
        return self._up.choose(ctx)
