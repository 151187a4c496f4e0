"""cheapest_per_gpu: lowest $/GPU/h for the rental the job allows, re-bid or move when outbid."""

from __future__ import annotations

import pytest
from strategy_factories import ctx, instance, job, offer

from vastbid.core.instances import InstanceStatus
from vastbid.core.offers import RentalType
from vastbid.strategies.base import Verb
from vastbid.strategies.cheapest_per_gpu import CheapestPerGpu

S = CheapestPerGpu(bid_margin=0.05)


def test_auto_job_bids_on_the_cheapest_interruptible_at_the_margin() -> None:
    offers = [
        offer(1, min_bid=0.40, dph_total=0.60),
        offer(2, min_bid=0.20, dph_total=0.90),
        offer(3, min_bid=0.30, dph_total=0.50),
    ]
    choice = S.choose(ctx(job(cap_per_gpu=1.0), offers))
    assert choice.verb is Verb.ACQUIRE
    assert choice.offer == offers[1]
    assert choice.rental is RentalType.INTERRUPTIBLE
    assert choice.price == pytest.approx(0.21)
    assert [o.id for o in choice.ranked] == [2, 3, 1]
    assert choice.facts["cap"] == 1.0
    assert "lowest $/GPU/h" in choice.why and "offer 2" in choice.why


def test_per_gpu_price_compares_offers_of_the_job_gpu_count() -> None:
    offers = [offer(1, min_bid=0.9, dph_total=2.0, num_gpus=2), offer(2, min_bid=0.7, dph_total=2.0, num_gpus=2)]
    choice = S.choose(ctx(job(cap_per_gpu=0.5, num_gpus=2), offers))
    assert choice.offer == offers[1]
    assert choice.facts["price_per_gpu"] == pytest.approx(0.7 * 1.05 / 2)


def test_on_demand_job_pays_the_ask_of_the_cheapest_listing() -> None:
    offers = [offer(1, min_bid=0.1, dph_total=0.8), offer(2, min_bid=0.5, dph_total=0.6)]
    choice = S.choose(ctx(job(rental="on_demand"), offers))
    assert (choice.offer, choice.rental, choice.price) == (offers[1], RentalType.ON_DEMAND, 0.6)


def test_auto_falls_back_to_on_demand_when_no_bid_fits_the_cap() -> None:
    offers = [offer(1, min_bid=1.5, dph_total=0.9)]
    choice = S.choose(ctx(job(cap_per_gpu=1.0), offers))
    assert (choice.rental, choice.price) == (RentalType.ON_DEMAND, 0.9)


def test_interruptible_job_never_rents_on_demand() -> None:
    choice = S.choose(ctx(job(cap_per_gpu=1.0, rental="interruptible"), [offer(1, min_bid=1.5, dph_total=0.9)]))
    assert choice.verb is Verb.WAIT and choice.offer is None
    assert "cap" in choice.why


def test_the_margin_never_lifts_a_bid_over_the_cap() -> None:
    choice = S.choose(ctx(job(cap_per_gpu=1.0), [offer(1, min_bid=0.98, dph_total=3.0)]))
    assert choice.price == pytest.approx(1.0)


def test_outbid_instance_rebids_over_the_new_minimum_within_the_cap() -> None:
    mine = offer(5, min_bid=0.40, dph_total=0.9, machine_id=50)
    inst = instance(machine_id=50, status=InstanceStatus.OUTBID, bid=0.30)
    choice = S.choose(ctx(job(cap_per_gpu=1.0, instance_id=77), [mine, offer(6, min_bid=0.2, dph_total=0.9)], inst))
    assert choice.verb is Verb.REBID
    assert choice.price == pytest.approx(0.42)
    assert choice.offer is None


def test_outbid_instance_uses_its_own_min_bid_when_the_machine_is_not_listed() -> None:
    inst = instance(machine_id=50, status=InstanceStatus.OUTBID, bid=0.30, min_bid=0.5)
    choice = S.choose(ctx(job(cap_per_gpu=1.0), [], inst))
    assert (choice.verb, choice.price) == (Verb.REBID, pytest.approx(0.525))


def test_outbid_past_the_cap_moves_to_the_best_other_machine_or_waits() -> None:
    mine = offer(5, min_bid=0.99, dph_total=3.0, machine_id=50)
    other = offer(6, min_bid=0.5, dph_total=3.0)
    inst = instance(machine_id=50, status=InstanceStatus.OUTBID, bid=0.30)
    moved = S.choose(ctx(job(cap_per_gpu=0.8), [mine, other], inst))
    assert moved.verb is Verb.MIGRATE and moved.offer == other
    assert "over the cap" in moved.why
    waited = S.choose(ctx(job(cap_per_gpu=0.8), [mine], inst))
    assert waited.verb is Verb.WAIT and waited.offer is None


def test_running_instance_is_kept_unless_something_is_strictly_cheaper() -> None:
    inst = instance(machine_id=50, bid=0.30)
    same = S.choose(ctx(job(), [offer(6, min_bid=0.30 / 1.05, dph_total=1.0)], inst))
    assert same.verb is Verb.KEEP
    cheaper = S.choose(ctx(job(), [offer(6, min_bid=0.1, dph_total=1.0)], inst))
    assert cheaper.verb is Verb.MIGRATE and cheaper.price == pytest.approx(0.105)
