"""price_threshold: acquire under a $/GPU/h threshold, release above a higher one."""

from __future__ import annotations

import pytest
from strategy_factories import ctx, instance, job, offer

from vastbid.core.instances import InstanceStatus
from vastbid.errors import StrategyError
from vastbid.strategies.base import Verb
from vastbid.strategies.price_threshold import PriceThreshold
from vastbid.strategies.registry import Registry

S = PriceThreshold(bid_margin=0.0, acquire_below=0.3, release_above=0.5)


def test_release_threshold_must_be_above_the_acquire_threshold() -> None:
    registry = Registry({"price_threshold": PriceThreshold})
    with pytest.raises(StrategyError, match=r"release_above \(0.2\) must be greater than acquire_below \(0.3\)"):
        registry.build("price_threshold", {"acquire_below": 0.3, "release_above": 0.2})
    with pytest.raises(StrategyError, match="'acquire_below' is required"):
        registry.build("price_threshold", {"release_above": 0.2})


def test_acquires_only_strictly_under_the_threshold_per_gpu() -> None:
    offers = [offer(1, min_bid=0.6, dph_total=2.0, num_gpus=2), offer(2, min_bid=0.5, dph_total=2.0, num_gpus=2)]
    choice = S.choose(ctx(job(num_gpus=2), offers))
    assert choice.verb is Verb.ACQUIRE and choice.offer == offers[1]
    assert choice.facts["acquire_below"] == 0.3
    nothing = S.choose(ctx(job(num_gpus=2), offers[:1]))
    assert nothing.verb is Verb.WAIT and nothing.offer is None


def test_an_instance_above_the_release_threshold_is_released() -> None:
    inst = instance(machine_id=9, bid=None, dph=0.6)
    choice = S.choose(ctx(job(), [offer(1, min_bid=0.1, dph_total=0.2)], inst))
    assert choice.verb is Verb.RELEASE
    assert "over the release threshold" in choice.why
    kept = S.choose(ctx(job(), [], instance(machine_id=9, bid=None, dph=0.45)))
    assert kept.verb is Verb.KEEP


def test_outbid_rebids_up_to_the_release_threshold_then_releases() -> None:
    inst = instance(machine_id=9, status=InstanceStatus.OUTBID, bid=0.25)
    rebid = S.choose(ctx(job(), [offer(1, min_bid=0.45, dph_total=0.9, machine_id=9)], inst))
    assert (rebid.verb, rebid.price) == (Verb.REBID, pytest.approx(0.45))
    dear = S.choose(ctx(job(), [offer(1, min_bid=0.55, dph_total=0.9, machine_id=9)], inst))
    assert dear.verb is Verb.RELEASE and "over $0.5000/GPU/h" in dear.why
    moved = S.choose(
        ctx(job(), [offer(1, min_bid=0.55, dph_total=0.9, machine_id=9), offer(2, min_bid=0.2, dph_total=0.9)], inst)
    )
    assert moved.verb is Verb.MIGRATE and moved.offer is not None and moved.offer.id == 2
