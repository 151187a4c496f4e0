"""``LowCodeApi``: the ``MarketApi`` over the LowCodeAPI proxy (``https://api.lowcodeapi.com/vastai/``).

All 33 endpoints (``lowcode_endpoints.ENDPOINTS``) are reachable through ``call(name, **args)``, which checks the
arguments before anything is sent, and through typed methods. The ``api_token`` travels in the query string, so it is
added by a wrapping transport to a copy of each request (``http.install_secret_query``): httpx never logs it.

URL styles: ``path`` (``/bids/42``), ``query`` (``/bids/bid_id?bid_id=42``) or ``path_then_query`` (default): the
path style, falling back once to the query style on a 404 that came from routing (a body that is not an application
error reply); after a fallback succeeds the adapter keeps using the query style.

Mapping onto the port (our reading, documented in docs/lowcode-api.md terms):
- on-demand creates go through ``POST /instances``; interruptible creates through ``POST /bids`` with the
  ``offer_id`` (so that ``PUT /bids/{id}`` can change the price later; the offer is read first for its GPU count,
  which also reports a vanished offer as ``OfferGoneError``). The created instance is the bid's ``instance_id``;
- ``change_bid(instance_id)`` finds the open bid holding that instance and changes it;
- listings read every page (``limit``/``offset`` until ``total``): a short read raises ``IncompleteListingError``;
  the instance listing also overlaps its pages by one row and checks it (see ``list_instances``);
- ``get_instance`` answers ``None`` only when the proxy says the instance does not exist;
- the offer query is sent as wire JSON in ``q`` and also applied locally (the proxy may not filter everything).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Literal, TypeVar, overload

import httpx
from pydantic import BaseModel

from vastbid.core.instances import Instance
from vastbid.core.offers import Offer, RentalType
from vastbid.errors import (
    IncompleteListingError,
    InvalidInputError,
    MalformedResponseError,
    NotFoundError,
    OfferGoneError,
    RequestRejectedError,
    TransientMarketError,
)
from vastbid.vast import inputs
from vastbid.vast.convert import instance_from_json, instances_from_json, offer_from_json, offers_from_json
from vastbid.vast.http import ROUTE_NOT_FOUND, Call, HttpCore, HttpSettings, install_secret_query
from vastbid.vast.listing import read_consistently
from vastbid.vast.lowcode_endpoints import UrlStyle, endpoint
from vastbid.vast.models import (
    Bid,
    Charge,
    HostMachine,
    Invoice,
    SshKey,
    Template,
    User,
    parse_model,
    parse_models,
)
from vastbid.vast.port import Account, CreateRequest, CreateResult
from vastbid.vast.query import compile_filters, parse_order, parse_query

MAX_PAGES = 10_000
LISTING_ATTEMPTS = 3
T = TypeVar("T")
log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


def _key(body: Any, name: str, what: str) -> Any:
    if not isinstance(body, dict) or name not in body:
        raise MalformedResponseError(f"{what}: the reply has no {name!r}")
    return body[name]


class LowCodeApi:
    """The marketplace through LowCodeAPI (or the simulator's ``/vastai/`` surface)."""

    surface = "lowcode"

    def __init__(
        self,
        client: httpx.Client,
        api_token: str,
        url_style: UrlStyle = "path_then_query",
        *,
        prefix: str = "/vastai",
        settings: HttpSettings | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        page_size: int = 100,
        bid_duration_hours: float | None = None,
        listing_attempts: int = LISTING_ATTEMPTS,
    ) -> None:
        inputs.check_text(api_token, field="api_token")
        if url_style not in ("path", "query", "path_then_query"):
            raise InvalidInputError(
                f"url_style must be path, query or path_then_query, not {url_style!r}", field="url_style"
            )
        self._http = HttpCore(
            client,
            settings=settings,
            headers={"Accept": "application/json"},
            extensions=install_secret_query(client, "api_token", api_token),
            secrets=(api_token,),
            monotonic=monotonic,
            sleep=sleep,
        )
        self._prefix = prefix.rstrip("/")
        self._style: UrlStyle = url_style
        self._page_size = inputs.check_limit(page_size, field="page_size", maximum=100)
        self._bid_duration = bid_duration_hours
        self._listing_attempts = inputs.check_limit(listing_attempts, field="listing_attempts", maximum=10)
        self._base_url = str(client.base_url)

    def __repr__(self) -> str:
        return f"LowCodeApi(base_url={self._base_url!r}, url_style={self._style!r})"

    @property
    def url_style(self) -> UrlStyle:
        """The style in use (``query`` after a successful fallback)."""
        return self._style

    # --- the generic call ----------------------------------------------------------------------------------------

    @overload
    def call(self, name: str, /, **args: Any) -> Any: ...

    @overload
    def call(self, name: str, parse: Callable[[Any], T], /, **args: Any) -> T: ...

    def call(self, name: str, parse: Callable[[Any], T] | None = None, /, **args: Any) -> T | Any:
        """Call endpoint ``name`` with ``args`` (path parameters, query parameters and body fields by name)."""
        return self._call(name, parse, args)

    def _call(
        self, name: str, parse: Callable[[Any], T] | None, args: dict[str, Any], *, route_404_is_error: bool = False
    ) -> T | Any:
        """``call``; with ``route_404_is_error`` a 404 from routing in every style raises ``RequestRejectedError``
        (nothing answered for the object) instead of ``NotFoundError`` (the object does not exist)."""
        spec = endpoint(name)
        path_args, query, body = spec.prepare(args)
        styles: list[Literal["path", "query"]]
        if not path_args or self._style == "path":
            styles = ["path"]
        elif self._style == "query":
            styles = ["query"]
        else:
            styles = ["path", "query"]
        for index, style in enumerate(styles):
            path, style_params = spec.url(style, path_args)
            call = Call(
                spec.method,
                self._prefix + path,
                name,
                idempotent=spec.idempotent,
                params={**query, **style_params} or None,
                json_body=body,
                rate_class=spec.rate_class,
                rental_create=spec.rental_create,
                routing_404_ok=route_404_is_error or index < len(styles) - 1,
            )
            result = self._http.call(call) if parse is None else self._http.call(call, parse)
            if result is ROUTE_NOT_FOUND:
                continue
            if style == "query" and self._style == "path_then_query":
                self._style = "query"
            return result
        if route_404_is_error:
            raise RequestRejectedError(f"{name}: HTTP 404 from routing, no route answered", status=404, endpoint=name)
        raise NotFoundError(f"{name}: no route answered", status=404, endpoint=name)  # pragma: no cover

    def _pages(self, name: str, plural: str, *, page_size: int | None = None, **args: Any) -> tuple[list[Any], int]:
        """Every row of a list endpoint (``limit``/``offset`` until ``total``), and the total it announced."""
        rows: list[Any] = []
        total = 0
        size = page_size or self._page_size
        for _ in range(MAX_PAGES):
            body = self.call(name, _list_page(plural), limit=size, offset=len(rows), **args)
            page, total = body
            rows.extend(page)
            if not page or len(rows) >= total:
                break
        return rows, total

    # --- offers --------------------------------------------------------------------------------------------------

    def search_offers(
        self,
        query: str,
        *,
        rental: RentalType = RentalType.ON_DEMAND,
        limit: int | None = None,
        order: str | None = None,
    ) -> list[Offer]:
        """Offers matching ``query``, priced for ``rental``; the query is also checked locally."""
        filters = parse_query(query)
        if limit is not None:
            inputs.check_limit(limit)
        args: dict[str, Any] = {"q": filters, "type": "bid" if rental is RentalType.INTERRUPTIBLE else "on-demand"}
        ordering = parse_order(order)
        if ordering:
            args["sort_option"], args["order"] = ordering[0]
        matches = compile_filters(filters, text=query)
        found: list[Offer] = []
        offset = 0
        for _ in range(MAX_PAGES):
            size = min(self._page_size, limit - len(found)) if limit is not None else self._page_size
            page, total = self.call("list_offers", _list_page("offers"), limit=size, offset=offset, **args)
            offset += len(page)
            found.extend(matches.filter(offers_from_json(page)))
            if not page or offset >= total or (limit is not None and len(found) >= limit):
                break
        return found[:limit] if limit is not None else found

    def get_offer(self, offer_id: int, *, rental: RentalType = RentalType.ON_DEMAND) -> Offer | None:
        """One offer by id, or ``None`` when it is not offered any more."""
        del rental  # the proxy prices a single offer as listed
        try:
            return self.call("get_offer", lambda b: offer_from_json(_key(b, "offer", "offer")), offer_id=offer_id)
        except NotFoundError:
            return None

    # --- instances -----------------------------------------------------------------------------------------------

    def create_instance(self, offer_id: int, request: CreateRequest) -> CreateResult:
        """Rent on demand (``POST /instances``) or as an interruptible bid (``POST /bids``); never retried."""
        inputs.check_id(offer_id, field="offer_id")
        common: dict[str, Any] = {
            "image": inputs.check_text(request.image, field="image"),
            "disk": inputs.check_positive(request.disk_gb, field="disk_gb"),
            "label": inputs.check_label(request.label),
            "env": inputs.check_env(request.env) or None,
            "onstart": request.onstart,
        }
        if request.price is None:
            args = list(request.args) if request.args is not None else None
            return self.call("create_instance", _new_contract, offer_id=offer_id, args=args, **common)
        price = inputs.check_price(request.price)
        offer = self.get_offer(offer_id)
        if offer is None:
            raise OfferGoneError(f"offer {offer_id} is no longer offered", status=404, endpoint="create_bid")
        bid: Bid = self.call(
            "create_bid",
            _bid_reply,
            offer_id=offer_id,
            price=price,
            num_gpus=offer.num_gpus,
            duration=self._bid_duration,
            **common,
        )
        if bid.instance_id is None:
            raise MalformedResponseError(f"create_bid: bid {bid.id} on offer {offer_id} has no instance_id")
        return CreateResult(instance_id=bid.instance_id)

    def change_bid(self, instance_id: int, price: float) -> None:
        """Change the price of the open bid that holds ``instance_id``."""
        inputs.check_id(instance_id, field="instance_id")
        price = inputs.check_price(price, maximum=inputs.MAX_CHANGE_BID_PRICE)
        bid = next((b for b in self.bids() if b.instance_id == instance_id and b.is_open), None)
        if bid is None:
            raise NotFoundError(f"no open bid holds instance {instance_id}", status=404, endpoint="update_bid")
        self.call("update_bid", bid_id=bid.id, price=price)

    def start_instance(self, instance_id: int) -> None:
        """Ask a stopped instance to run."""
        self.call("start_instance", instance_id=instance_id)

    def stop_instance(self, instance_id: int) -> None:
        """Stop an instance (storage keeps billing)."""
        self.call("stop_instance", instance_id=instance_id)

    def label_instance(self, instance_id: int, label: str) -> None:
        """Set an instance's label."""
        self.call("update_instance", instance_id=instance_id, label=label)

    def destroy_instance(self, instance_id: int) -> None:
        """Destroy an instance; one already gone is not an error."""
        try:
            self.call("delete_instance", instance_id=instance_id)
        except NotFoundError:
            return

    def get_instance(self, instance_id: int) -> Instance | None:
        """One instance, or ``None`` when the proxy says it does not exist (a 404 error reply such as
        ``not_found``, or ``instance: null``). Anything else raises: a 5xx or a timeout (after the retries), a body
        that is not the promised JSON, or a 404 from routing in every URL style (nothing answered for it)."""
        inputs.check_id(instance_id, field="instance_id")

        def parse(body: Any) -> Instance | None:
            row = _key(body, "instance", "instance")
            if row is None:
                return None
            instance = instance_from_json(row)
            if instance.id != instance_id:
                raise MalformedResponseError(f"instance {instance_id}: the reply is instance {instance.id}")
            return instance

        try:
            found: Instance | None = self._call(
                "get_instance", parse, {"instance_id": instance_id}, route_404_is_error=True
            )
        except NotFoundError:
            return None
        return found

    def list_instances(self) -> list[Instance]:
        """Every instance on the account, all pages; never a partial list.

        The proxy pages by ``limit``/``offset``, so a row removed from an earlier page while we read would shift the
        later ones. Each page after the first therefore starts one row back and must begin with the last row of the
        page before (the anchor); besides, no id may be read twice, the announced ``total`` must be the same on
        every page that carries it and equal to the rows read (without a total, a short page ends the listing). An
        inconsistent listing is read again from the first page, ``listing_attempts`` times in all, then raises
        ``IncompleteListingError``; a page that cannot be read at all (after the transport's retries) raises it
        at once.
        """

        def read_once() -> list[Instance] | str:
            try:
                return self._read_listing()
            except TransientMarketError as exc:
                raise IncompleteListingError(
                    f"instance listing failed: {exc}", status=exc.status, endpoint="list_instances"
                ) from exc

        return read_consistently(read_once, self._listing_attempts)

    def _read_listing(self) -> list[Instance] | str:
        """One pass over the pages: the instances, or what made the pages inconsistent."""
        size = max(2, self._page_size)  # a page overlaps the one before by a row: one row alone would not advance
        rows: list[Instance] = []
        seen: set[int] = set()
        expected: int | None = None
        for page in range(1, MAX_PAGES + 1):
            offset = max(0, len(rows) - 1)
            found, total = self.call("list_instances", _instances_page, limit=size, offset=offset)
            served = len(found)
            if rows:
                if not found or found[0].id != rows[-1].id:
                    first = found[0].id if found else "nothing"
                    return f"page {page} starts with {first}, not instance {rows[-1].id}: rows shifted between pages"
                found = found[1:]
            for instance in found:
                if instance.id in seen:
                    return f"instance {instance.id} listed twice (page {page})"
                seen.add(instance.id)
                rows.append(instance)
            if total is not None:
                if expected is not None and total != expected:
                    return f"total changed from {expected} to {total} on page {page}"
                expected = total
            done = len(rows) >= expected if expected is not None else served < size
            if done:
                break
            if not found:
                return f"page {page} added no instance but the listing is not complete"
        else:
            return f"the listing did not end after {MAX_PAGES} pages"
        if expected is not None and len(rows) != expected:
            return f"read {len(rows)} instances but the total is {expected}"
        return rows

    # --- bids ----------------------------------------------------------------------------------------------------

    def bids(self, *, state: str | None = None) -> list[Bid]:
        """Our bids (optionally in one ``state``), all pages."""
        rows, _ = self._pages("list_bids", "bids", state=state)
        return parse_models(Bid, rows, "bids")

    def get_bid(self, bid_id: int) -> Bid:
        """One bid."""
        return self.call("get_bid", _bid_reply, bid_id=bid_id)

    def place_bid(
        self, *, price: float, num_gpus: int, duration: float | None = None, offer_id: int | None = None, **fields: Any
    ) -> Bid:
        """A bid on ``offer_id``, or a limit order for the cheapest ``num_gpus`` offer at most ``price``."""
        return self.call(
            "create_bid", _bid_reply, price=price, num_gpus=num_gpus, duration=duration, offer_id=offer_id, **fields
        )

    def update_bid(self, bid_id: int, price: float) -> Bid:
        """Change a bid's price."""
        return self.call("update_bid", _bid_reply, bid_id=bid_id, price=price)

    def cancel_bid(self, bid_id: int) -> Bid:
        """Cancel a bid; its instance is destroyed."""
        return self.call("delete_bid", _bid_reply, bid_id=bid_id)

    # --- account and users ---------------------------------------------------------------------------------------

    def account(self) -> Account:
        """The balance (``credit``) and the user id."""
        body = self.call("get_balance")
        try:
            return Account(user_id=int(body["user_id"]), balance=float(body["credit"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedResponseError(f"balance: unexpected reply ({type(exc).__name__})") from None

    def current_user(self) -> User:
        """The account holder."""
        return self.call("get_current_user", _object(User, "user"))

    def get_user(self, user_id: int) -> User:
        """Another user's public fields."""
        return self.call("get_user", _object(User, "user"), user_id=user_id)

    def update_current_user(self, **fields: Any) -> User:
        """Change the account holder's ``username``, ``ssh_key``..."""
        return self.call("update_current_user", _object(User, "user"), **fields)

    # --- invoices ------------------------------------------------------------------------------------------------

    def invoices(self, *, type: str | None = None) -> list[Invoice]:
        """Invoices (optionally of one ``type``), all pages."""
        rows, _ = self._pages("list_invoices", "invoices", type=type)
        return parse_models(Invoice, rows, "invoices")

    def get_invoice(self, invoice_id: int) -> Invoice:
        """One invoice."""
        return self.call("get_invoice", _object(Invoice, "invoice"), invoice_id=invoice_id)

    def charges(self) -> list[Charge]:
        """Per-instance charges: the invoices of type ``charge`` read as charges (a debit's negative amount is the
        charge's positive cost)."""
        rows, _ = self._pages("list_invoices", "invoices", type="charge")
        charges = parse_models(Charge, rows, "charges")
        return [c.model_copy(update={"amount": -c.amount}) if c.amount < 0 else c for c in charges]

    # --- machines ------------------------------------------------------------------------------------------------

    def host_machines(self) -> list[HostMachine]:
        """The machines we host, all pages."""
        rows, _ = self._pages("list_machines", "machines")
        return parse_models(HostMachine, rows, "machines")

    def get_machine(self, machine_id: int) -> HostMachine:
        """One hosted machine."""
        return self.call("get_machine", _object(HostMachine, "machine"), machine_id=machine_id)

    def list_machine(self, machine_id: int, *, price_gpu: float, **fields: Any) -> HostMachine:
        """List a hosted machine at ``price_gpu`` $/GPU/h (``price_disk``, ``price_min_bid``, ``min_chunk``...)."""
        return self.call(
            "create_machine_offers",
            _object(HostMachine, "machine"),
            machine_id=machine_id,
            price_gpu=price_gpu,
            **fields,
        )

    def update_listing(self, machine_id: int, **fields: Any) -> HostMachine:
        """Change a listing's prices or terms."""
        return self.call("update_machine_offers", _object(HostMachine, "machine"), machine_id=machine_id, **fields)

    def set_min_bid(self, machine_id: int, price: float) -> HostMachine:
        """Set a hosted machine's minimum bid, $/GPU/h."""
        return self.update_listing(machine_id, price_min_bid=inputs.check_price(price))

    def unlist_machine(self, machine_id: int) -> HostMachine:
        """Withdraw a hosted machine's offers."""
        return self.call("delete_machine_offers", _object(HostMachine, "machine"), machine_id=machine_id)

    # --- SSH keys ------------------------------------------------------------------------------------------------

    def ssh_keys(self) -> list[SshKey]:
        """The account's SSH keys."""
        return self.call("list_ssh_keys", lambda b: parse_models(SshKey, _key(b, "ssh_keys", "ssh keys"), "ssh keys"))

    def add_ssh_key(self, public_key: str) -> SshKey:
        """Add an SSH public key."""
        inputs.check_text(public_key, field="ssh_key")
        return self.call("create_ssh_key", _object(SshKey, "ssh_key"), ssh_key=public_key.strip())

    def delete_ssh_key(self, key_id: int) -> None:
        """Remove an SSH key."""
        self.call("delete_ssh_key", key_id=key_id)

    # --- templates -----------------------------------------------------------------------------------------------

    def templates(self, *, name: str | None = None) -> list[Template]:
        """Templates, optionally those whose name contains ``name``."""
        rows, _ = self._pages("list_templates", "templates", q=name or None)
        return parse_models(Template, rows, "templates")

    def get_template(self, template_id: int) -> Template | None:
        """One template, or ``None``."""
        try:
            return self.call("get_template", _object(Template, "template"), template_id=template_id)
        except NotFoundError:
            return None

    def create_template(self, *, name: str, image: str, **fields: Any) -> Template:
        """Save a template."""
        return self.call("create_template", _object(Template, "template"), name=name, image=image, **fields)

    def update_template(self, template_id: int, **fields: Any) -> Template:
        """Change a template (its ``hash_id`` changes)."""
        return self.call("update_template", _object(Template, "template"), template_id=template_id, **fields)

    def delete_template(self, template_id: int) -> None:
        """Delete a template."""
        self.call("delete_template", template_id=template_id)


# --- reply parsers ---------------------------------------------------------------------------------------------------


def _list_page(plural: str) -> Callable[[Any], tuple[list[Any], int]]:
    def parse(body: Any) -> tuple[list[Any], int]:
        rows = _key(body, plural, plural)
        if not isinstance(rows, list):
            raise MalformedResponseError(f"{plural}: not a list")
        total = body.get("total", len(rows))
        if isinstance(total, bool) or not isinstance(total, int):
            raise MalformedResponseError(f"{plural}: total is not an integer")
        return rows, total

    return parse


def _instances_page(body: Any) -> tuple[list[Instance], int | None]:
    rows = _key(body, "instances", "instances")
    total = body.get("total")
    if total is not None and (isinstance(total, bool) or not isinstance(total, int)):
        raise MalformedResponseError("instances: total is not an integer")
    return instances_from_json(rows), total


def _object(model: type[M], name: str) -> Callable[[Any], M]:
    def parse(body: Any) -> M:
        return parse_model(model, _key(body, name, name), name)

    return parse


def _bid_reply(body: Any) -> Bid:
    return parse_model(Bid, _key(body, "bid", "bid"), "bid")


def _new_contract(body: Any) -> CreateResult:
    contract = _key(body, "new_contract", "create")
    if isinstance(contract, bool) or not isinstance(contract, int):
        raise MalformedResponseError(f"create: new_contract is not an instance id: {contract!r}")
    return CreateResult(instance_id=contract)
