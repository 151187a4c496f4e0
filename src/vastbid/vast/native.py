"""``NativeVastApi``: the ``MarketApi`` over Vast.ai's own REST API (``/api/v0``, ``/api/v1``), key in a Bearer header.

Routes and bodies follow reference/vast-api.md section 2 (the shapes the official CLI 1.9 sends). Beyond the port it
covers one offer, the current user, charges, invoices, SSH keys, templates and host machines. Every call goes through
``HttpCore``: pacing, safe retries and error translation live there.

The instance listing is accepted only when its pages are consistent (``list_instances``); ``get_instance`` answers
``None`` only when Vast says the instance is gone and raises whenever it cannot tell.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, cast

import httpx

from vastbid.core.instances import Instance
from vastbid.core.offers import Offer, RentalType
from vastbid.errors import (
    IncompleteListingError,
    MalformedResponseError,
    NotFoundError,
    RequestRejectedError,
    TransientMarketError,
)
from vastbid.vast import inputs
from vastbid.vast.convert import decode_offers, instance_from_json, instances_from_json, offers_from_json
from vastbid.vast.http import ROUTE_NOT_FOUND, Call, HttpCore, HttpSettings
from vastbid.vast.listing import read_consistently
from vastbid.vast.models import Charge, HostMachine, Invoice, SshKey, Template, User, parse_model, parse_models
from vastbid.vast.port import Account, CreateRequest, CreateResult
from vastbid.vast.query import search_body

V0 = "/api/v0"
V1 = "/api/v1"
MAX_PAGES = 10_000
LISTING_ATTEMPTS = 3

log = logging.getLogger(__name__)


def _key(body: Any, name: str, what: str) -> Any:
    if not isinstance(body, dict) or name not in body:
        raise MalformedResponseError(f"{what}: the reply has no {name!r}")
    return body[name]


def _new_contract(body: Any) -> CreateResult:
    contract = _key(body, "new_contract", "create")
    if isinstance(contract, bool) or not isinstance(contract, int):
        raise MalformedResponseError(f"create: new_contract is not an instance id: {contract!r}")
    return CreateResult(instance_id=contract)


class NativeVastApi:
    """The marketplace through ``https://console.vast.ai`` (or any server speaking its API, like the simulator)."""

    surface = "native"

    def __init__(
        self,
        client: httpx.Client,
        api_key: str,
        *,
        settings: HttpSettings | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        storage_gb: float = 5.0,
        page_size: int = 25,
        listing_attempts: int = LISTING_ATTEMPTS,
    ) -> None:
        inputs.check_text(api_key, field="api_key")
        self._http = HttpCore(
            client,
            settings=settings,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            secrets=(api_key,),
            monotonic=monotonic,
            sleep=sleep,
        )
        self._storage_gb = storage_gb
        self._page_size = inputs.check_limit(page_size, field="page_size", maximum=25)
        self._listing_attempts = inputs.check_limit(listing_attempts, field="listing_attempts", maximum=10)
        self._base_url = str(client.base_url)

    def __repr__(self) -> str:
        return f"NativeVastApi(base_url={self._base_url!r})"

    # --- offers --------------------------------------------------------------------------------------------------

    def search_offers(
        self,
        query: str,
        *,
        rental: RentalType = RentalType.ON_DEMAND,
        limit: int | None = None,
        order: str | None = None,
    ) -> list[Offer]:
        """Offers matching ``query`` (``vastai search offers`` grammar), priced for ``rental``."""
        if limit is not None:
            inputs.check_limit(limit)
        body = search_body(query, rental=rental, order=order, limit=limit, storage_gb=self._storage_gb)
        call = Call(
            "POST",
            f"{V0}/bundles/",
            "search_offers",
            idempotent=True,
            json_body=body,
            rate_class="search",
            decode=decode_offers,
        )
        return self._http.call(call, lambda b: offers_from_json(_key(b, "offers", "search offers")))

    def get_offer(self, offer_id: int, *, rental: RentalType = RentalType.ON_DEMAND) -> Offer | None:
        """One offer by id (searched without the CLI defaults), or ``None`` when it is not offered any more."""
        inputs.check_id(offer_id, field="offer_id")
        body = search_body(f"id={offer_id}", rental=rental, storage_gb=self._storage_gb, defaults=False)
        call = Call("POST", f"{V0}/bundles/", "show_offer", idempotent=True, json_body=body, rate_class="search")
        offers: list[Offer] = self._http.call(call, lambda b: offers_from_json(_key(b, "offers", "show offer")))
        return next((o for o in offers if o.id == offer_id), None)

    # --- instances -----------------------------------------------------------------------------------------------

    def create_instance(self, offer_id: int, request: CreateRequest) -> CreateResult:
        """Rent ``offer_id`` on demand (``price`` None) or as an interruptible bid at ``price`` $/h; never retried."""
        inputs.check_id(offer_id, field="offer_id")
        price = None if request.price is None else inputs.check_price(request.price)
        body: dict[str, Any] = {
            "client_id": "me",
            "image": inputs.check_text(request.image, field="image"),
            "env": inputs.check_env(request.env),
            "price": price,
            "disk": inputs.check_positive(request.disk_gb, field="disk_gb"),
            "label": inputs.check_label(request.label),
            "extra": None,
            "onstart": request.onstart,
            "image_login": None,
            "python_utf8": False,
            "lang_utf8": False,
            "use_jupyter_lab": False,
            "jupyter_dir": None,
            "force": False,
            "cancel_unavail": False,
            "template_hash_id": None,
            "user": None,
            "runtype": "args" if request.args is not None else "ssh",
        }
        if request.args is not None:
            body["args"] = list(request.args)
        call = Call(
            "PUT",
            f"{V0}/asks/{offer_id}/",
            "create_instance",
            idempotent=False,
            json_body=body,
            rate_class="asks",
            rental_create=True,
        )
        return self._http.call(call, _new_contract)

    def change_bid(self, instance_id: int, price: float) -> None:
        """Set an interruptible's bid, $/h for the whole instance (0.001-32)."""
        inputs.check_id(instance_id, field="instance_id")
        price = inputs.check_price(price, maximum=inputs.MAX_CHANGE_BID_PRICE)
        self._put_state(
            f"{V0}/instances/bid_price/{instance_id}/", "change_bid", {"client_id": "me", "price": price}, "bid_price"
        )

    def start_instance(self, instance_id: int) -> None:
        """Ask a stopped instance to run."""
        inputs.check_id(instance_id, field="instance_id")
        self._put_state(f"{V0}/instances/{instance_id}/", "start_instance", {"state": "running"})

    def stop_instance(self, instance_id: int) -> None:
        """Stop an instance (storage keeps billing)."""
        inputs.check_id(instance_id, field="instance_id")
        self._put_state(f"{V0}/instances/{instance_id}/", "stop_instance", {"state": "stopped"})

    def label_instance(self, instance_id: int, label: str) -> None:
        """Set an instance's label (at most 1024 characters)."""
        inputs.check_id(instance_id, field="instance_id")
        self._put_state(f"{V0}/instances/{instance_id}/", "label_instance", {"label": inputs.check_label(label)})

    def destroy_instance(self, instance_id: int) -> None:
        """Destroy an instance; one already gone is not an error."""
        inputs.check_id(instance_id, field="instance_id")
        call = Call(
            "DELETE", f"{V0}/instances/{instance_id}/", "destroy_instance", True, json_body={}, rate_class="destroy"
        )
        try:
            self._http.call(call)
        except NotFoundError:
            return

    def get_instance(self, instance_id: int) -> Instance | None:
        """One instance, or ``None`` when Vast says it does not exist (``{"instances": null}``, or a 404 naming
        it: ``no_such_instance`` / ``not_found``). Anything else raises: a 5xx or a timeout (after the retries), a
        body that is not the promised JSON, or a 404 that names nothing (a router's or a session's) cannot say the
        instance is gone."""
        inputs.check_id(instance_id, field="instance_id")
        call = Call(
            "GET",
            f"{V0}/instances/{instance_id}/",
            "show_instance",
            idempotent=True,
            params={"owner": "me"},
            rate_class="show_instance",
            routing_404_ok=True,
        )

        def parse(body: Any) -> Instance | None:
            row = _key(body, "instances", "show instance")
            if row is None:
                return None
            instance = instance_from_json(row)
            if instance.id != instance_id:
                raise MalformedResponseError(f"show instance {instance_id}: the reply is instance {instance.id}")
            return instance

        try:
            found: Any = self._http.call(call, parse)
        except NotFoundError:
            return None
        if found is ROUTE_NOT_FOUND:
            raise RequestRejectedError(
                f"show_instance: HTTP 404 without an error code; cannot tell whether instance {instance_id} exists",
                status=404,
                endpoint="show_instance",
            )
        return cast("Instance | None", found)

    def list_instances(self) -> list[Instance]:
        """Every instance on the account through ``/api/v1/instances/``, all pages; never a partial list.

        A listing is accepted only when its pages are consistent: ordered by id ascending, every id past the ones
        before it (so none is seen twice), no page token repeated, ``total_instances`` the same on every page that
        carries it and equal to the number of rows read. An inconsistent listing (the account changed while it was
        paged, or the server erred) is read again from the first page, ``listing_attempts`` times in all, then
        ``IncompleteListingError``; a page that cannot be read at all (after the transport's retries) raises it at
        once.
        """
        return read_consistently(self._read_listing, self._listing_attempts)

    def _read_listing(self) -> list[Instance] | str:
        """One pass over the pages: the instances, or what made the pages inconsistent."""
        rows: list[Instance] = []
        seen: set[int] = set()
        tokens: set[str] = set()
        token: str | None = None
        expected: int | None = None
        for page in range(1, MAX_PAGES + 1):
            params: dict[str, Any] = {"limit": self._page_size, "order_by": [{"col": "id", "dir": "asc"}]}
            if token is not None:
                params["after_token"] = token
            call = Call("GET", f"{V1}/instances/", "list_instances", True, params=params, rate_class="v1_instances")
            try:
                page_rows, total, next_token = self._http.call(call, _instances_page)
            except TransientMarketError as exc:
                raise IncompleteListingError(
                    f"instance listing failed on page {page} after {len(rows)} rows: {exc}",
                    status=exc.status,
                    endpoint="list_instances",
                ) from exc
            for instance in page_rows:
                if instance.id in seen:
                    return f"instance {instance.id} listed twice (page {page})"
                if rows and instance.id < rows[-1].id:
                    return f"page {page} lists instance {instance.id} after {rows[-1].id} (ids must ascend)"
                seen.add(instance.id)
                rows.append(instance)
            if total is not None:
                if expected is not None and total != expected:
                    return f"total_instances changed from {expected} to {total} on page {page}"
                expected = total
            if next_token is None:
                break
            if next_token in tokens:
                return f"page {page} repeated an earlier page token"
            tokens.add(next_token)
            token = next_token
        else:
            return f"the listing did not end after {MAX_PAGES} pages"
        if expected is not None and len(rows) != expected:
            return f"read {len(rows)} instances but total_instances is {expected}"
        return rows

    def _put_state(self, path: str, endpoint: str, body: Mapping[str, Any], rate_class: str | None = None) -> None:
        self._http.call(Call("PUT", path, endpoint, idempotent=True, json_body=dict(body), rate_class=rate_class))

    # --- account -------------------------------------------------------------------------------------------------

    def current_user(self) -> User:
        """The account holder (the key itself is never kept)."""
        call = Call("GET", f"{V0}/users/current", "current_user", idempotent=True)
        return self._http.call(call, lambda b: parse_model(User, b, "users/current"))

    def account(self) -> Account:
        """The current user and balance (``credit``)."""
        user = self.current_user()
        return Account(user_id=user.id, balance=user.credit, email=user.email)

    def charges(self, *, since: float | None = None, until: float | None = None) -> list[Charge]:
        """Per-instance charges between ``since`` and ``until`` (epoch seconds; default: everything), all pages."""
        day: dict[str, float] = {}
        if since is not None:
            day["gte"] = since
        if until is not None:
            day["lte"] = until
        params: dict[str, Any] = {"limit": 100, "format": "tree", "latest_first": "false"}
        if day:
            params["select_filters"] = {"day": day}
        return self._results_pages(f"{V0}/charges/", "charges", params, Charge)

    def invoices(self) -> list[Invoice]:
        """Money movements on the account (credits, charges...), all pages."""
        return self._results_pages(f"{V1}/invoices/", "invoices", {"limit": 100, "latest_first": "false"}, Invoice)

    def _results_pages(self, path: str, endpoint: str, params: dict[str, Any], model: type[Any]) -> list[Any]:
        out: list[Any] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            page_params = dict(params)
            if token is not None:
                page_params["after_token"] = token
            body = self._http.call(Call("GET", path, endpoint, idempotent=True, params=page_params))
            out.extend(parse_models(model, _key(body, "results", endpoint), endpoint))
            next_token = body.get("next_token")
            if not next_token or next_token == token:
                break
            token = next_token
        return out

    # --- SSH keys ------------------------------------------------------------------------------------------------

    def ssh_keys(self) -> list[SshKey]:
        """The account's SSH keys."""
        call = Call("GET", f"{V0}/ssh/", "ssh_keys", idempotent=True)
        return self._http.call(call, lambda b: parse_models(SshKey, _bare_or(b, "keys"), "ssh keys"))

    def add_ssh_key(self, public_key: str) -> SshKey:
        """Add an SSH public key."""
        body = {"ssh_key": inputs.check_text(public_key, field="ssh_key").strip()}
        call = Call("POST", f"{V0}/ssh/", "add_ssh_key", idempotent=False, json_body=body)
        return self._http.call(call, lambda b: parse_model(SshKey, _key(b, "key", "add ssh key"), "ssh key"))

    def delete_ssh_key(self, key_id: int) -> None:
        """Remove an SSH key."""
        inputs.check_id(key_id, field="key_id")
        self._http.call(Call("DELETE", f"{V0}/ssh/{key_id}/", "delete_ssh_key", idempotent=True, json_body={}))

    # --- templates -----------------------------------------------------------------------------------------------

    def templates(self, *, name: str | None = None) -> list[Template]:
        """Templates, optionally those whose name contains ``name`` (matched here: the server filters exactly)."""
        call = Call("GET", f"{V0}/template/", "templates", idempotent=True, params={"select_cols": ["*"]})
        found: list[Template] = self._http.call(
            call, lambda b: parse_models(Template, _key(b, "templates", "templates"), "templates")
        )
        return [t for t in found if not name or name.lower() in (t.name or "").lower()]

    def get_template(self, template_id: int) -> Template | None:
        """One template by id, or ``None``."""
        inputs.check_id(template_id, field="template_id")
        params = {"select_cols": ["*"], "select_filters": {"id": {"eq": template_id}}}
        call = Call("GET", f"{V0}/template/", "templates", idempotent=True, params=params)
        found: list[Template] = self._http.call(
            call, lambda b: parse_models(Template, _key(b, "templates", "templates"), "templates")
        )
        return next((t for t in found if t.id == template_id), None)

    def create_template(self, *, name: str, image: str, **fields: Any) -> Template:
        """Save a template (``tag``, ``env``, ``onstart``, ``runtype``, ``recommended_disk_space``...)."""
        body = {"name": inputs.check_text(name, field="name"), "image": inputs.check_text(image, field="image")}
        body.update(fields)
        call = Call("POST", f"{V0}/template/", "create_template", idempotent=False, json_body=body)
        return self._template_reply(call, body)

    def update_template(self, template_id: int, **fields: Any) -> Template:
        """Change a template (its ``hash_id`` changes)."""
        inputs.check_id(template_id, field="template_id")
        current = self.get_template(template_id)
        if current is None:
            raise NotFoundError(f"template {template_id} does not exist", status=404, endpoint="update_template")
        body: dict[str, Any] = current.model_dump(exclude_none=True)
        body.update(fields)
        body["id"] = template_id
        call = Call("PUT", f"{V1}/template/", "update_template", idempotent=True, json_body=body)
        return self._template_reply(call, body)

    def _template_reply(self, call: Call, body: Mapping[str, Any]) -> Template:
        def parse(reply: Any) -> Template:
            ids = _key(reply, "template", call.endpoint)
            merged = {**body, **(ids if isinstance(ids, dict) else {})}
            return parse_model(Template, merged, call.endpoint)

        return self._http.call(call, parse)

    def delete_template(self, template_id: int) -> None:
        """Delete a template."""
        inputs.check_id(template_id, field="template_id")
        body = {"template_id": template_id}
        self._http.call(Call("DELETE", f"{V0}/template/", "delete_template", idempotent=True, json_body=body))

    # --- host machines -------------------------------------------------------------------------------------------

    def host_machines(self) -> list[HostMachine]:
        """The machines we host, with their listings."""
        call = Call("GET", f"{V0}/machines", "host_machines", idempotent=True, params={"owner": "me"})
        return self._http.call(call, lambda b: parse_models(HostMachine, _key(b, "machines", "machines"), "machines"))

    def list_machine(
        self,
        machine_id: int,
        *,
        price_gpu: float,
        price_disk: float | None = None,
        price_min_bid: float | None = None,
        min_chunk: int = 1,
        end_date: float | None = None,
    ) -> None:
        """List (or relist) a hosted machine at ``price_gpu`` $/GPU/h (``create_asks``)."""
        inputs.check_id(machine_id, field="machine_id")
        body: dict[str, Any] = {
            "machine": machine_id,
            "price_gpu": inputs.check_price(price_gpu, field="price_gpu"),
            "min_chunk": inputs.check_id(min_chunk, field="min_chunk"),
        }
        if price_disk is not None:
            body["price_disk"] = inputs.check_positive(price_disk, field="price_disk", allow_zero=True)
        if price_min_bid is not None:
            body["price_min_bid"] = inputs.check_price(price_min_bid, field="price_min_bid")
        if end_date is not None:
            body["end_date"] = inputs.check_positive(end_date, field="end_date")
        self._http.call(Call("PUT", f"{V0}/machines/create_asks/", "list_machine", idempotent=True, json_body=body))

    def unlist_machine(self, machine_id: int) -> None:
        """Withdraw a hosted machine's offers (running contracts continue)."""
        inputs.check_id(machine_id, field="machine_id")
        path = f"{V0}/machines/{machine_id}/asks/"
        self._http.call(Call("DELETE", path, "unlist_machine", idempotent=True, json_body={}))

    def set_min_bid(self, machine_id: int, price: float) -> None:
        """Set a hosted machine's minimum bid, $/GPU/h."""
        inputs.check_id(machine_id, field="machine_id")
        body = {"client_id": "me", "price": inputs.check_price(price)}
        path = f"{V0}/machines/{machine_id}/minbid/"
        self._http.call(Call("PUT", path, "set_min_bid", idempotent=True, json_body=body, rate_class="minbid"))


def _instances_page(body: Any) -> tuple[list[Instance], int | None, str | None]:
    if not isinstance(body, dict) or not isinstance(body.get("instances"), list):
        raise MalformedResponseError("v1 instances: the page has no 'instances' list")
    total = body.get("total_instances")
    token = body.get("next_token")
    return (
        instances_from_json(body["instances"]),
        total if isinstance(total, int) and not isinstance(total, bool) else None,
        token if isinstance(token, str) and token else None,
    )


def _bare_or(body: Any, name: str) -> Any:
    """Some endpoints answer a bare list, others wrap it."""
    if isinstance(body, list):
        return body
    return _key(body, name, name)
