"""stable_cheapest: among offers within a fraction of the cheapest, the most reliable, least interrupted."""

from __future__ import annotations

from strategy_factories import ctx, job, offer

from vastbid.strategies.base import MachineRecord, Verb
from vastbid.strategies.stable_cheapest import StableCheapest

S = StableCheapest(bid_margin=0.0, within_fraction=0.1)


def test_prefers_the_least_interrupted_machine_within_the_band() -> None:
    cheapest = offer(1, min_bid=0.50, dph_total=2.0, machine_id=10)
    close = offer(2, min_bid=0.54, dph_total=2.0, machine_id=20)
    history = {10: MachineRecord(interruptions=3, rentals=4), 20: MachineRecord(interruptions=0, rentals=2)}
    choice = S.choose(ctx(job(), [cheapest, close], history=history))
    assert choice.verb is Verb.ACQUIRE and choice.offer == close
    assert choice.facts["interruptions"] == 0
    assert choice.facts["band_size"] == 2


def test_prefers_higher_reliability_within_the_band_when_history_is_equal() -> None:
    cheapest = offer(1, min_bid=0.50, dph_total=2.0, reliability=0.90)
    close = offer(2, min_bid=0.52, dph_total=2.0, reliability=0.999)
    assert S.choose(ctx(job(), [cheapest, close])).offer == close


def test_a_reliable_offer_outside_the_band_loses_to_the_cheapest() -> None:
    cheapest = offer(1, min_bid=0.50, dph_total=2.0, reliability=0.90)
    dear = offer(2, min_bid=0.60, dph_total=2.0, reliability=1.0)
    choice = S.choose(ctx(job(), [cheapest, dear]))
    assert choice.offer == cheapest
    assert [o.id for o in choice.ranked] == [1, 2]


def test_zero_fraction_is_plain_cheapest() -> None:
    strict = StableCheapest(within_fraction=0.0)
    cheapest = offer(1, min_bid=0.50, dph_total=2.0, reliability=0.5)
    close = offer(2, min_bid=0.51, dph_total=2.0, reliability=1.0)
    assert strict.choose(ctx(job(), [cheapest, close])).offer == cheapest
