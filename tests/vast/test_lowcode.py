"""Every one of the 33 LowCodeAPI endpoints against the simulator, in both URL styles, and the 404 fallback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from vastbid.core.offers import RentalType
from vastbid.errors import InvalidInputError, NotFoundError, OfferGoneError, QueryError
from vastbid.vast.lowcode import LowCodeApi
from vastbid.vast.lowcode_endpoints import ENDPOINTS

from .conftest import Market, make_sim, open_market


@pytest.fixture(params=["path", "query"])
def lc(request: pytest.FixtureRequest, wire: str) -> Iterator[tuple[Market, LowCodeApi]]:
    with ExitStack() as stack:
        market = open_market(stack, "lowcode", wire)
        yield market, market.api(url_style=request.param)


def test_the_table_has_the_33_endpoints_by_category() -> None:
    counts: dict[str, int] = {}
    for spec in ENDPOINTS.values():
        counts[spec.category] = counts.get(spec.category, 0) + 1
    assert counts == {
        "Account": 1,
        "Bids": 5,
        "Instances": 7,
        "Invoices": 2,
        "Machines": 5,
        "Offers": 2,
        "SSH Keys": 3,
        "Templates": 5,
        "Users": 3,
    }


def test_every_endpoint(lc: tuple[Market, LowCodeApi]) -> None:
    market, lowcode = lc
    api: Any = lowcode
    called: set[str] = set()

    def note(name: str) -> None:
        called.add(name)

    # Account, Users
    assert api.call("get_balance")["credit"] == pytest.approx(100.0)
    note("get_balance")
    me = api.current_user()
    note("get_current_user")
    assert me.id == 424242 and me.email == "sim@example.com"
    public = api.get_user(me.id)
    note("get_user")
    assert public.id == me.id and public.email is None, "another user's view has no private fields"
    assert api.update_current_user(username="renamed").username == "renamed"
    note("update_current_user")

    # Offers
    offers = api.search_offers("num_gpus=1", order="dph_total")
    note("list_offers")
    assert offers and all(o.num_gpus == 1 for o in offers)
    assert [o.dph_total for o in offers] == sorted(o.dph_total for o in offers)
    one = api.get_offer(offers[0].id)
    note("get_offer")
    assert one is not None and one.id == offers[0].id

    # Instances
    created = api.call("create_instance", offer_id=offers[0].id, image="vastai/base-image", disk=10.0, label="lc:1")
    note("create_instance")
    instance_id = created["new_contract"]
    rows = api.call("list_instances", limit=10, offset=0)["instances"]
    note("list_instances")
    assert [r["label"] for r in rows] == ["lc:1"]
    assert api.call("get_instance", instance_id=instance_id)["instance"]["id"] == instance_id
    note("get_instance")
    api.call("update_instance", instance_id=instance_id, label="lc:renamed")
    note("update_instance")
    api.call("stop_instance", instance_id=instance_id)
    note("stop_instance")
    assert api.get_instance(instance_id).intended_status == "stopped"
    api.call("start_instance", instance_id=instance_id)
    note("start_instance")
    started = api.get_instance(instance_id)
    assert started.intended_status == "running" and started.label == "lc:renamed"

    # Bids
    bid_offer = api.search_offers("num_gpus=1", rental=RentalType.INTERRUPTIBLE, order="dph_total")[1]
    bid = api.place_bid(price=round(bid_offer.min_bid + 0.05, 4), num_gpus=1, offer_id=bid_offer.id, label="lc:bid")
    note("create_bid")
    assert bid.status == "active" and bid.instance_id is not None and bid.offer_id == bid_offer.id
    assert [b.id for b in api.bids()] == [bid.id]
    note("list_bids")
    assert api.get_bid(bid.id).price == pytest.approx(bid_offer.min_bid + 0.05)
    note("get_bid")
    raised = api.update_bid(bid.id, round(bid_offer.min_bid + 0.2, 4))
    note("update_bid")
    assert api.get_instance(bid.instance_id).bid_price == pytest.approx(raised.price)
    assert api.cancel_bid(bid.id).status == "cancelled"
    note("delete_bid")
    assert api.get_instance(bid.instance_id) is None

    api.call("delete_instance", instance_id=instance_id)
    note("delete_instance")
    assert api.get_instance(instance_id) is None

    # Invoices
    invoices = api.invoices()
    note("list_invoices")
    assert invoices and invoices[0].id is not None
    assert api.get_invoice(invoices[0].id).amount == invoices[0].amount
    note("get_invoice")

    # Machines
    machine = api.host_machines()[0]
    note("list_machines")
    assert api.get_machine(machine.id).id == machine.id
    note("get_machine")
    listed = api.list_machine(machine.id, price_gpu=0.4, price_min_bid=0.1)
    note("create_machine_offers")
    assert listed.listed and listed.listed_gpu_cost == pytest.approx(0.4)
    assert api.update_listing(machine.id, price_gpu=0.6).listed_gpu_cost == pytest.approx(0.6)
    note("update_machine_offers")
    assert not api.unlist_machine(machine.id).listed
    note("delete_machine_offers")

    # SSH keys
    key = api.add_ssh_key("ssh-ed25519 AAAAtest lc@host")
    note("create_ssh_key")
    assert key.id in {k.id for k in api.ssh_keys()}
    note("list_ssh_keys")
    api.delete_ssh_key(key.id)
    note("delete_ssh_key")
    assert key.id not in {k.id for k in api.ssh_keys()}

    # Templates
    template = api.create_template(name="lc-train", image="pytorch/pytorch", recommended_disk_space=20.0)
    note("create_template")
    assert [t.id for t in api.templates(name="train")] == [template.id]
    note("list_templates")
    assert api.get_template(template.id).image == "pytorch/pytorch"
    note("get_template")
    assert api.update_template(template.id, tag="2.3").hash_id != template.hash_id
    note("update_template")
    api.delete_template(template.id)
    note("delete_template")
    assert api.get_template(template.id) is None

    assert called == set(ENDPOINTS), f"not exercised: {sorted(set(ENDPOINTS) - called)}"
    literal = any(r.url.path.endswith("/instances/instance_id") for r in market.sent)
    assert literal == (api.url_style == "query"), "the chosen URL style is the one on the wire"


def test_a_bid_on_a_vanished_offer(lc: tuple[Market, LowCodeApi]) -> None:
    _, api = lc
    from vastbid.vast.port import CreateRequest

    with pytest.raises(OfferGoneError):
        api.create_instance(99_999_999, CreateRequest("img", 10.0, "x", price=0.5))
    with pytest.raises(NotFoundError):
        api.get_bid(424)


class QueryStyleOnly(httpx.BaseTransport):
    """A proxy that predates path parameters: path-style URLs hit the simulator's router as unknown paths."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if any(part.isdigit() for part in request.url.path.split("/")):
            request.url = request.url.copy_with(path="/vastai/unknown" + request.url.path)
        return self.inner.handle_request(request)


def test_path_style_falls_back_once_to_query_style_on_a_routing_404() -> None:
    wire = QueryStyleOnly(make_sim().transport())
    client = httpx.Client(transport=wire, base_url="http://sim.local")
    api = LowCodeApi(client, "sim-token-fedcba9876543210", sleep=lambda s: None)
    template = api.create_template(name="t", image="i")
    assert api.get_template(template.id) is not None
    assert wire.paths[-2:] == [f"/vastai/templates/{template.id}", "/vastai/templates/template_id"]
    assert api.url_style == "query"
    assert api.get_template(template.id) is not None
    assert wire.paths[-1] == "/vastai/templates/template_id", "the working style is kept"


def test_an_application_404_does_not_fall_back() -> None:
    wire = QueryStyleOnly(make_sim().transport())
    wire.handle_request = wire.inner.handle_request  # type: ignore[method-assign]
    client = httpx.Client(transport=wire, base_url="http://sim.local")
    sent: list[str] = []
    client.event_hooks["request"] = [lambda r: sent.append(r.url.path)]
    api = LowCodeApi(client, "sim-token-fedcba9876543210", sleep=lambda s: None)
    assert api.get_template(123) is None
    assert sent == ["/vastai/templates/123"] and api.url_style == "path_then_query"


@pytest.mark.parametrize(
    ("name", "args", "error", "field"),
    [
        ("list_bids", {"colour": 1}, InvalidInputError, "colour"),
        ("paint_bids", {}, InvalidInputError, "endpoint"),
        ("get_bid", {}, InvalidInputError, "bid_id"),
        ("get_bid", {"bid_id": "seven"}, InvalidInputError, "bid_id"),
        ("create_bid", {"price": -0.5, "num_gpus": 1}, InvalidInputError, "price"),
        ("create_bid", {"price": 129.0, "num_gpus": 1}, InvalidInputError, "price"),
        ("update_bid", {"bid_id": 1, "price": 33.0}, InvalidInputError, "price"),
        ("create_instance", {"offer_id": 5, "price": -1}, InvalidInputError, "price"),
        ("list_instances", {"limit": 500}, InvalidInputError, "limit"),
        ("list_offers", {"q": "gpu_name"}, QueryError, "query"),
        ("list_offers", {"order": "sideways"}, InvalidInputError, "order"),
        ("update_instance", {"instance_id": 3, "state": "paused"}, InvalidInputError, "state"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(
    name: str, args: dict[str, object], error: type[Exception], field: str
) -> None:
    with ExitStack() as stack:
        market = open_market(stack, "lowcode", "inprocess")
        with pytest.raises(error) as info:
            market.api().call(name, **args)
        assert getattr(info.value, "field", None) == field
        assert field in str(info.value) or field == "query"
        assert market.sent == []
