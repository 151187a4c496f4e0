"""perf_per_dollar: the most DLPerf per dollar, ties to the cheaper."""

from __future__ import annotations

import pytest
from strategy_factories import ctx, job, offer

from vastbid.core.jobs import Rental
from vastbid.strategies.base import Verb
from vastbid.strategies.perf_per_dollar import PerfPerDollar

S = PerfPerDollar(bid_margin=0.0)


def test_picks_the_most_performance_per_dollar_not_the_cheapest() -> None:
    cheap = offer(1, min_bid=0.2, dph_total=1.0, dlperf=10.0)  # 50 per $
    fast = offer(2, min_bid=0.4, dph_total=1.0, dlperf=40.0)  # 100 per $
    choice = S.choose(ctx(job(), [cheap, fast]))
    assert choice.verb is Verb.ACQUIRE and choice.offer == fast
    assert choice.facts["dlperf_per_dollar"] == pytest.approx(100.0)
    assert [o.id for o in choice.ranked] == [2, 1]


def test_equal_value_goes_to_the_cheaper_offer() -> None:
    a = offer(1, min_bid=0.4, dph_total=1.0, dlperf=40.0)
    b = offer(2, min_bid=0.2, dph_total=1.0, dlperf=20.0)
    assert S.choose(ctx(job(), [a, b])).offer == b


def test_prerank_puts_the_best_value_first() -> None:
    offers = [offer(1, min_bid=0.2, dph_total=1.0, dlperf=10.0), offer(2, min_bid=0.4, dph_total=0.5, dlperf=40.0)]
    assert [o.id for o in S.prerank(offers, Rental.INTERRUPTIBLE)] == [2, 1]
