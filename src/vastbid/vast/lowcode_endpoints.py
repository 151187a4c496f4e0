"""The 33 LowCodeAPI endpoints of its Vast.ai integration (docs/lowcode-api.md), and their argument checks.

Each ``Endpoint`` names its path (path style, ``{param}`` placeholders), its query parameters and body fields, its
rate class and whether a retry is safe. ``Endpoint.prepare(args)`` checks the arguments of one call before anything
is sent: an unknown argument, a missing path parameter, a negative price or a bid over the API maximum, a malformed
offer query raise ``InvalidInputError``/``QueryError`` with ``field`` naming it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from vastbid.errors import InvalidInputError
from vastbid.vast import inputs
from vastbid.vast.query import parse_query

UrlStyle = Literal["path", "query", "path_then_query"]
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One LowCodeAPI endpoint."""

    name: str
    category: str
    method: str
    path: str
    query: tuple[str, ...] = ()
    body: tuple[str, ...] = ()
    rate_class: str | None = None
    idempotent: bool = True
    rental_create: bool = False

    @property
    def path_params(self) -> tuple[str, ...]:
        """The names of the path parameters (``bid_id``...)."""
        return tuple(_PLACEHOLDER.findall(self.path))

    def url(self, style: Literal["path", "query"], path_args: Mapping[str, int]) -> tuple[str, dict[str, Any]]:
        """The path for ``style`` and the query parameters that style adds."""
        if style == "path":
            return _PLACEHOLDER.sub(lambda m: str(path_args[m.group(1)]), self.path), {}
        return _PLACEHOLDER.sub(lambda m: m.group(1), self.path), {k: str(v) for k, v in path_args.items()}

    def prepare(self, args: Mapping[str, Any]) -> tuple[dict[str, int], dict[str, Any], dict[str, Any] | None]:
        """Check ``args`` and split them into path, query and body parts."""
        allowed = set(self.path_params) | set(self.query) | set(self.body)
        for name in args:
            if name not in allowed:
                valid = ", ".join(sorted(allowed)) or "none"
                raise InvalidInputError(
                    f"{self.name} takes no argument {name!r} (valid: {valid})",
                    field=name,
                )
        path_args: dict[str, int] = {}
        for name in self.path_params:
            if name not in args:
                raise InvalidInputError(f"{self.name} needs {name}", field=name)
            path_args[name] = inputs.check_id(args[name], field=name)
        query = {k: _check(self, k, v) for k, v in args.items() if k in self.query and v is not None}
        body: dict[str, Any] | None = None
        if self.body or self.method in ("POST", "PUT"):
            body = {k: _check(self, k, v) for k, v in args.items() if k in self.body and v is not None}
        return path_args, query, body


def _check(endpoint: Endpoint, name: str, value: Any) -> Any:
    """Validate one query or body value."""
    if name in ("price", "price_gpu", "price_min_bid"):
        maximum = inputs.MAX_CHANGE_BID_PRICE if endpoint.name == "update_bid" else inputs.MAX_CREATE_PRICE
        return inputs.check_price(value, field=name, maximum=maximum)
    if name == "limit":
        return inputs.check_limit(value, maximum=100 if endpoint.name == "list_instances" else 10_000)
    if name == "offset":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidInputError(f"offset must be a non-negative integer, not {value!r}", field="offset")
        return value
    if name in ("offer_id", "owner_id"):
        return inputs.check_id(value, field=name)
    if name in ("num_gpus", "min_chunk"):
        return inputs.check_id(value, field=name)
    if name in ("duration", "disk", "recommended_disk_space", "end_date"):
        return inputs.check_positive(value, field=name)
    if name == "price_disk":
        return inputs.check_positive(value, field=name, allow_zero=True)
    if name == "label":
        return inputs.check_label(value)
    if name == "env" and isinstance(value, Mapping):
        return inputs.check_env(value)
    if name == "q" and endpoint.name == "list_offers":
        return _offer_query(value)
    if name == "order" and value not in ("asc", "desc"):
        raise InvalidInputError(f"order must be 'asc' or 'desc', not {value!r}", field="order")
    if name == "type" and endpoint.name == "list_offers" and value not in ("on-demand", "bid"):
        raise InvalidInputError(f"type must be 'on-demand' or 'bid', not {value!r}", field="type")
    if name == "state" and endpoint.name == "update_instance" and value not in ("running", "stopped"):
        raise InvalidInputError(f"state must be 'running' or 'stopped', not {value!r}", field="state")
    return value


def _offer_query(value: Any) -> Any:
    """``q`` as wire JSON: a mapping is sent as it is, text in the ``vastai search offers`` grammar is parsed."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        return parse_query(value)
    raise InvalidInputError(f"q must be an offer query (text or wire JSON), not {type(value).__name__}", field="q")


_PAGE: Final = ("limit", "offset")
_BID_BODY: Final = ("price", "duration", "num_gpus", "offer_id", "image", "disk", "label", "env", "onstart")
_INSTANCE_BODY: Final = ("offer_id", "image", "disk", "label", "env", "onstart", "args", "price")
_LISTING_BODY: Final = ("price_gpu", "price_disk", "price_min_bid", "min_chunk", "end_date")
_TEMPLATE_BODY: Final = ("name", "image", "tag", "env", "onstart", "runtype", "recommended_disk_space")
_USER_BODY: Final = ("username", "ssh_key", "email", "fullname")

ENDPOINTS: Final[Mapping[str, Endpoint]] = {
    e.name: e
    for e in (
        Endpoint("get_balance", "Account", "GET", "/balance"),
        Endpoint("list_bids", "Bids", "GET", "/bids", query=("owner_id", "state", *_PAGE)),
        Endpoint("get_bid", "Bids", "GET", "/bids/{bid_id}"),
        Endpoint(
            "create_bid",
            "Bids",
            "POST",
            "/bids",
            body=_BID_BODY,
            rate_class="asks",
            idempotent=False,
            rental_create=True,
        ),
        Endpoint("update_bid", "Bids", "PUT", "/bids/{bid_id}", body=("price",), rate_class="bid_price"),
        Endpoint("delete_bid", "Bids", "DELETE", "/bids/{bid_id}", rate_class="destroy"),
        Endpoint(
            "list_instances",
            "Instances",
            "GET",
            "/instances",
            query=("owner_id", "state", *_PAGE),
            rate_class="v1_instances",
        ),
        Endpoint("get_instance", "Instances", "GET", "/instances/{instance_id}", rate_class="show_instance"),
        Endpoint(
            "create_instance",
            "Instances",
            "POST",
            "/instances",
            body=_INSTANCE_BODY,
            rate_class="asks",
            idempotent=False,
            rental_create=True,
        ),
        Endpoint("update_instance", "Instances", "PUT", "/instances/{instance_id}", body=("label", "state")),
        Endpoint("stop_instance", "Instances", "PUT", "/instances/{instance_id}/stop"),
        Endpoint("start_instance", "Instances", "PUT", "/instances/{instance_id}/start"),
        Endpoint("delete_instance", "Instances", "DELETE", "/instances/{instance_id}", rate_class="destroy"),
        Endpoint("list_invoices", "Invoices", "GET", "/invoices", query=("type", *_PAGE)),
        Endpoint("get_invoice", "Invoices", "GET", "/invoices/{invoice_id}"),
        Endpoint("list_machines", "Machines", "GET", "/machines", query=("owner_id", *_PAGE)),
        Endpoint("get_machine", "Machines", "GET", "/machines/{machine_id}"),
        Endpoint("create_machine_offers", "Machines", "POST", "/machines/{machine_id}/offers", body=_LISTING_BODY),
        Endpoint("update_machine_offers", "Machines", "PUT", "/machines/{machine_id}/offers", body=_LISTING_BODY),
        Endpoint("delete_machine_offers", "Machines", "DELETE", "/machines/{machine_id}/offers"),
        Endpoint(
            "list_offers",
            "Offers",
            "GET",
            "/offers",
            query=("q", "type", *_PAGE, "sort_option", "order"),
            rate_class="search",
        ),
        Endpoint("get_offer", "Offers", "GET", "/offers/{offer_id}", rate_class="search"),
        Endpoint("list_ssh_keys", "SSH Keys", "GET", "/ssh-keys"),
        Endpoint("create_ssh_key", "SSH Keys", "POST", "/ssh-keys", body=("ssh_key",), idempotent=False),
        Endpoint("delete_ssh_key", "SSH Keys", "DELETE", "/ssh-keys/{key_id}"),
        Endpoint("list_templates", "Templates", "GET", "/templates", query=("q", *_PAGE)),
        Endpoint("get_template", "Templates", "GET", "/templates/{template_id}"),
        Endpoint("create_template", "Templates", "POST", "/templates", body=_TEMPLATE_BODY, idempotent=False),
        Endpoint("update_template", "Templates", "PUT", "/templates/{template_id}", body=_TEMPLATE_BODY),
        Endpoint("delete_template", "Templates", "DELETE", "/templates/{template_id}"),
        Endpoint("get_current_user", "Users", "GET", "/users/me"),
        Endpoint("get_user", "Users", "GET", "/users/{user_id}"),
        Endpoint("update_current_user", "Users", "PUT", "/users/me", body=_USER_BODY),
    )
}
"""Every endpoint by name; 33 in all (Account 1, Bids 5, Instances 7, Invoices 2, Machines 5, Offers 2, SSH Keys 3,
Templates 5, Users 3)."""


def endpoint(name: str) -> Endpoint:
    """The endpoint called ``name``; an unknown name raises ``InvalidInputError`` (field ``endpoint``)."""
    found = ENDPOINTS.get(name)
    if found is None:
        raise InvalidInputError(f"unknown LowCodeAPI endpoint {name!r}", field="endpoint")
    return found
