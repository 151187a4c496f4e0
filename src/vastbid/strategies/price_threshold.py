"""``price_threshold``: acquire only under ``acquire_below`` $/GPU/h, release above ``release_above``.

Among the candidates priced strictly under ``acquire_below`` (per GPU, for the rental the job allows) it takes the
cheapest. A held instance whose price per GPU is over ``release_above`` is released; an outbid interruptible is
re-bid while the re-bid stays at or under ``release_above`` (and the cap), else it moves to a candidate under
``acquire_below``, else it is released. ``release_above`` must be greater than ``acquire_below``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from pydantic import Field

from vastbid.core.instances import InstanceStatus
from vastbid.strategies import _common as common
from vastbid.strategies.base import Choice, StrategyContext, Verb


@dataclass(frozen=True, kw_only=True, slots=True)
class PriceThreshold:
    """Buy cheap, let go when dear (thresholds in $/GPU/h)."""

    name: ClassVar[str] = "price_threshold"
    bid_margin: common.BidMargin = 0.05
    acquire_below: Annotated[float, Field(gt=0, le=128, description="acquire only under this $/GPU/h")]
    release_above: Annotated[float, Field(gt=0, le=128, description="release a held instance above this $/GPU/h")]

    def __post_init__(self) -> None:
        if self.release_above <= self.acquire_below:
            raise ValueError(
                f"release_above ({self.release_above}) must be greater than acquire_below ({self.acquire_below})"
            )

    def choose(self, ctx: StrategyContext) -> Choice:
        """See the module docstring."""
        below = [
            c for c in common.priced_candidates(ctx, self.bid_margin) if c.per_gpu < self.acquire_below - common.EPS
        ]
        ranked = sorted(below, key=lambda c: (c.per_gpu, c.offer.id))
        inst = common.held(ctx)
        release_why = None
        if inst is not None and inst.status is not InstanceStatus.OUTBID:
            per_gpu = inst.gpu_dph / max(inst.num_gpus, 1)
            if per_gpu > self.release_above + common.EPS:
                release_why = (
                    f"instance {inst.id} costs ${per_gpu:.4f}/GPU/h, over the release threshold "
                    f"${self.release_above:.4f}/GPU/h: release"
                )
        return common.choose_ranked(
            ctx,
            ranked,
            margin=self.bid_margin,
            goal=f"cheapest under ${self.acquire_below:.4f}/GPU/h",
            facts={"strategy": self.name, "acquire_below": self.acquire_below, "release_above": self.release_above},
            rebid_limit_per_gpu=self.release_above,
            release_why=release_why,
            outbid_fallback=Verb.RELEASE,
        )
