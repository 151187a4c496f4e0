"""What a strategy is shown: one ranking per group, a window of unclaimed offers that could fit the job's cap."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from core_factories import POLICY, snapshot

from factories import job, offer
from vastbid.core.budget import Budget
from vastbid.core.choice import Choice, StrategyContext, Verb
from vastbid.core.decide import decide
from vastbid.core.jobs import Rental
from vastbid.core.offers import Offer, RentalType


class HighestIdFirst:
    """Ranks by id, highest first, and records what it was asked and shown."""

    name: ClassVar[str] = "highest_id"

    def __init__(self) -> None:
        self.preranks = 0
        self.shown: list[tuple[int, ...]] = []

    def prerank(self, offers: Sequence[Offer], rental: Rental) -> Sequence[Offer]:
        self.preranks += 1
        return sorted(offers, key=lambda o: -o.id)

    def choose(self, ctx: StrategyContext) -> Choice:
        self.shown.append(tuple(o.id for o in ctx.offers))
        if not ctx.offers:
            return Choice(verb=Verb.WAIT, why="nothing")
        best = ctx.offers[0]
        return Choice(Verb.ACQUIRE, "highest id", best, RentalType.ON_DEMAND, best.dph_total, ranked=(best,))


def test_a_group_is_ranked_once_and_each_job_sees_the_front_of_it_unclaimed() -> None:
    offers = [offer(i, min_bid=0.1, dph_total=0.5 if i % 2 else 5.0) for i in range(1, 101)]
    strategy = HighestIdFirst()
    jobs = [job(i, strategy="highest_id", rental="on_demand") for i in range(1, 4)]
    policy = type(POLICY)(deployment="t", candidate_window=3)
    plan = decide(snapshot(offers), jobs, budget=Budget(), strategies={"highest_id": strategy}, policy=policy)
    assert strategy.preranks == 1
    # odd ids are the affordable ones (cap $1/h); each job sees the next three not yet taken
    assert strategy.shown == [(99, 97, 95), (97, 95, 93), (95, 93, 91)]
    assert [a.offer.id for a in plan.actions] == [99, 97, 95]  # type: ignore[union-attr]
