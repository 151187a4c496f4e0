"""The ``MarketApi`` contract, for both adapters x (in process, real socket), against the simulator."""

from __future__ import annotations

from typing import Any

import pytest

from vastbid.core.instances import InstanceStatus
from vastbid.core.offers import Offer, RentalType
from vastbid.errors import BidTooLowError, OfferGoneError
from vastbid.vast.port import CreateRequest

from .conftest import Market

LABEL = "vastbid:test:job-1:0"


def cheapest(api: Any, query: str = "num_gpus=1", rental: RentalType = RentalType.ON_DEMAND) -> Offer:
    offers = api.search_offers(query, rental=rental, order="dph_total")
    assert offers, f"the simulator offers nothing for {query!r}"
    best: Offer = min(offers, key=lambda o: o.dph_total)
    return best


def request(price: float | None = None, label: str = LABEL) -> CreateRequest:
    return CreateRequest(image="vastai/base-image", disk_gb=10.0, label=label, price=price, env={"A": "1"})


def test_search_filters_and_prices_for_the_rental(api: Any) -> None:
    offers = api.search_offers("num_gpus>=2 reliability>0.9")
    assert offers
    assert all(o.num_gpus >= 2 and o.reliability > 0.9 and o.verified for o in offers)
    some = offers[0]
    assert all(o.gpu_name == some.gpu_name for o in api.search_offers(f"gpu_name={some.gpu_name.replace(' ', '_')}"))
    assert len(api.search_offers("", limit=3)) == 3
    ordered = api.search_offers("", order="dph_total")
    assert [o.dph_total for o in ordered] == sorted(o.dph_total for o in ordered)
    bid_priced = {o.id: o for o in api.search_offers("", rental=RentalType.INTERRUPTIBLE)}
    common = [o for o in ordered if o.id in bid_priced]
    assert common and all(bid_priced[o.id].dph_total <= o.dph_total for o in common)


def test_show_offer(api: Any) -> None:
    offer = cheapest(api)
    found = api.get_offer(offer.id)
    assert found is not None and (found.id, found.machine_id, found.num_gpus) == (offer.id, offer.machine_id, 1)
    assert api.get_offer(99_999_999) is None


def test_on_demand_lifecycle(market: Market, api: Any) -> None:
    offer = cheapest(api)
    created = api.create_instance(offer.id, request())
    listed = {i.id: i for i in api.list_instances()}
    assert created.instance_id in listed
    instance = listed[created.instance_id]
    assert instance.label == LABEL and not instance.is_bid and instance.machine_id == offer.machine_id
    market.sim.advance(600)
    assert api.get_instance(created.instance_id).status is InstanceStatus.RUNNING

    api.label_instance(created.instance_id, "renamed")
    api.stop_instance(created.instance_id)
    stopped = api.get_instance(created.instance_id)
    assert stopped.label == "renamed" and stopped.status is InstanceStatus.STOPPED
    api.start_instance(created.instance_id)
    market.sim.advance(600)
    assert api.get_instance(created.instance_id).status is InstanceStatus.RUNNING

    api.destroy_instance(created.instance_id)
    assert api.get_instance(created.instance_id) is None
    assert created.instance_id not in {i.id for i in api.list_instances()}
    api.destroy_instance(created.instance_id)  # already gone: not an error


def test_interruptible_create_and_change_bid(market: Market, api: Any) -> None:
    offer = cheapest(api, rental=RentalType.INTERRUPTIBLE)
    price = round(offer.min_bid + 0.05, 4)
    created = api.create_instance(offer.id, request(price=price))
    instance = api.get_instance(created.instance_id)
    assert instance.is_bid and instance.bid_price == pytest.approx(price) and instance.label == LABEL
    api.change_bid(created.instance_id, round(price + 0.1, 4))
    assert api.get_instance(created.instance_id).bid_price == pytest.approx(price + 0.1)
    api.destroy_instance(created.instance_id)


def test_a_bid_under_the_minimum_reports_the_instance_left_behind(api: Any) -> None:
    offer = cheapest(api, rental=RentalType.INTERRUPTIBLE)
    with pytest.raises(BidTooLowError) as info:
        api.create_instance(offer.id, request(price=max(offer.min_bid / 4, 0.001)))
    left = info.value.new_contract
    assert left is not None
    instance = api.get_instance(left)
    assert instance is not None and instance.status is not InstanceStatus.RUNNING
    api.destroy_instance(left)
    assert api.get_instance(left) is None


def test_an_offer_that_is_gone(api: Any) -> None:
    with pytest.raises(OfferGoneError):
        api.create_instance(99_999_999, request())


def test_listing_reads_every_page(market: Market) -> None:
    api = market.api(page_size=2)
    offers = api.search_offers("", order="dph_total")[:5]
    ids = {api.create_instance(o.id, request(label=f"vastbid:test:job-{o.id}:0")).instance_id for o in offers}
    listed = api.list_instances()
    assert {i.id for i in listed} == ids and len(listed) == 5
    assert market.count("instances") >= 3


def test_account_and_charges_grow(market: Market, api: Any) -> None:
    before = api.account()
    assert before.user_id == 424242 and before.balance == pytest.approx(100.0)
    assert api.current_user().email == "sim@example.com"
    created = api.create_instance(cheapest(api).id, request())
    market.sim.advance(3600)
    after = api.account()
    assert after.balance < before.balance
    charges = [c for c in api.charges() if c.instance_id == created.instance_id]
    assert charges and charges[0].amount > 0
    first = charges[0].amount
    market.sim.advance(3600)
    again = next(c for c in api.charges() if c.instance_id == created.instance_id)
    assert again.amount > first
    assert any(inv.type == "credit" and inv.amount == pytest.approx(100.0) for inv in api.invoices())


def test_ssh_keys_round_trip(api: Any) -> None:
    key = api.add_ssh_key("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 test@host")
    assert key.public_key == "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 test@host"
    assert [k.id for k in api.ssh_keys()] == [key.id]
    api.delete_ssh_key(key.id)
    assert api.ssh_keys() == []


def test_templates_round_trip(api: Any) -> None:
    created = api.create_template(name="vastbid-train", image="pytorch/pytorch", onstart="echo hi")
    assert created.id and created.hash_id and created.name == "vastbid-train"
    assert [t.id for t in api.templates(name="train")] == [created.id]
    updated = api.update_template(created.id, onstart="echo bye")
    assert updated.id == created.id and updated.onstart == "echo bye" and updated.hash_id != created.hash_id
    assert api.get_template(created.id).onstart == "echo bye"
    api.delete_template(created.id)
    assert api.get_template(created.id) is None and api.templates(name="train") == []


def test_host_machines_listing_changes_the_offers(api: Any) -> None:
    machine = next(m for m in api.host_machines() if not m.listed)
    query = f"machine_id={machine.id} verified=any"
    assert api.search_offers(query) == []

    api.list_machine(machine.id, price_gpu=0.5, price_min_bid=0.2, price_disk=0.1)
    listed = api.search_offers(query)
    assert listed and all(o.dph_total >= 0.5 * o.num_gpus for o in listed)
    assert next(m for m in api.host_machines() if m.id == machine.id).listed

    api.set_min_bid(machine.id, 0.3)
    bids = api.search_offers(query, rental=RentalType.INTERRUPTIBLE)
    assert bids and all(o.min_bid == pytest.approx(0.3 * o.num_gpus) for o in bids)
    assert next(m for m in api.host_machines() if m.id == machine.id).min_bid_price == pytest.approx(0.3)

    api.unlist_machine(machine.id)
    assert api.search_offers(query) == []
