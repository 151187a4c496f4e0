"""The LowCodeAPI surface under ``/vastai/`` (docs/lowcode-api.md, our interpretation), over the same market.

Auth is the ``api_token`` query parameter. Both URL styles are served: path style (``/bids/42``) and query style
(``/bids/bid_id?bid_id=42``), by rewriting literal parameter names from the query before routing. Bids are
interruptible rentals; one without ``offer_id`` is a limit order filled by the cheapest matching offer.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request

from vastbid.sim import operations as ops
from vastbid.sim.bids import bid_json, bid_status, fill_pending, rent_for_bid
from vastbid.sim.config import SimConfig
from vastbid.sim.entities import ACCOUNT, Bid
from vastbid.sim.market import Market
from vastbid.sim.native import Ctx, listing_faults, listing_race
from vastbid.sim.render import instance_json, invoice_rows, machine_json, user_json
from vastbid.sim.search import QueryProblemError, find_offer, search
from vastbid.sim.wire import Reply, as_int, error, fail, json_body, price_arg, query_value

PREFIX = "/vastai/"
PATH_PARAMETERS = ("bid_id", "instance_id", "invoice_id", "machine_id", "offer_id", "key_id", "template_id", "user_id")
BID_STATUSES = ("pending", "active", "outbid", "expired", "cancelled")


def _rules() -> list[Rule]:
    routes = [
        ("/balance", "GET", "lc_balance"),
        ("/bids", "GET", "lc_bids"),
        ("/bids/<int:bid_id>", "GET", "lc_bid"),
        ("/bids", "POST", "lc_bid_create"),
        ("/bids/<int:bid_id>", "PUT", "lc_bid_update"),
        ("/bids/<int:bid_id>", "DELETE", "lc_bid_cancel"),
        ("/instances", "GET", "lc_instances"),
        ("/instances/<int:instance_id>", "GET", "lc_instance"),
        ("/instances", "POST", "lc_instance_create"),
        ("/instances/<int:instance_id>", "PUT", "lc_instance_update"),
        ("/instances/<int:instance_id>/stop", "PUT", "lc_instance_stop"),
        ("/instances/<int:instance_id>/start", "PUT", "lc_instance_start"),
        ("/instances/<int:instance_id>", "DELETE", "lc_instance_destroy"),
        ("/invoices", "GET", "lc_invoices"),
        ("/invoices/<int:invoice_id>", "GET", "lc_invoice"),
        ("/machines", "GET", "lc_machines"),
        ("/machines/<int:machine_id>", "GET", "lc_machine"),
        ("/machines/<int:machine_id>/offers", "POST", "lc_machine_list"),
        ("/machines/<int:machine_id>/offers", "PUT", "lc_machine_list"),
        ("/machines/<int:machine_id>/offers", "DELETE", "lc_machine_unlist"),
        ("/offers", "GET", "lc_offers"),
        ("/offers/<int:offer_id>", "GET", "lc_offer"),
        ("/ssh-keys", "GET", "lc_ssh_keys"),
        ("/ssh-keys", "POST", "lc_ssh_key_add"),
        ("/ssh-keys/<int:key_id>", "DELETE", "lc_ssh_key_delete"),
        ("/templates", "GET", "lc_templates"),
        ("/templates/<int:template_id>", "GET", "lc_template"),
        ("/templates", "POST", "lc_template_create"),
        ("/templates/<int:template_id>", "PUT", "lc_template_update"),
        ("/templates/<int:template_id>", "DELETE", "lc_template_delete"),
        ("/users/me", "GET", "lc_me"),
        ("/users/<int:user_id>", "GET", "lc_user"),
        ("/users/me", "PUT", "lc_me_update"),
    ]
    return [Rule("/vastai" + path, methods=[method], endpoint=name) for path, method, name in routes]


URL_MAP = Map(_rules(), strict_slashes=False)
UNAUTHENTICATED: set[str] = set()


def rewrite_query_style(path: str, request: Request) -> str:
    """``/bids/bid_id?bid_id=42`` → ``/bids/42``: literal parameter names take their value from the query."""
    parts = path.split("/")
    return "/".join(request.args.get(p, p) if p in PATH_PARAMETERS else p for p in parts)


def authenticate(request: Request, config: SimConfig) -> str | Reply:
    token = request.args.get("api_token", "")
    if not token or not hmac.compare_digest(token.encode(), config.lowcode_token.encode()):
        return error(401, "auth_error", "Invalid api_token")
    return "account"


class LowCodeBook:
    """Fills pending limit orders whenever the market moves."""

    def __init__(self, market: Market) -> None:
        self.market = market
        market.after_step.append(fill_pending)


# --- bids ---------------------------------------------------------------------------------------------------------


def _get_bid(market: Market, bid_id: int) -> Bid:
    bid = market.bids.get(bid_id)
    if bid is None:
        raise fail(404, "not_found", f"Bid {bid_id} not found.")
    return bid


def lc_bids(ctx: Ctx, book: LowCodeBook) -> Reply:
    market = ctx.market
    state = ctx.request.args.get("state")
    rows = [bid_json(market, b) for b in sorted(market.bids.values(), key=lambda b: b.id)]
    if state:
        rows = [r for r in rows if r["status"] == state]
    return _page(ctx, "bids", rows, 100)


def lc_bid(ctx: Ctx, book: LowCodeBook, bid_id: int) -> Reply:
    return Reply({"success": True, "bid": bid_json(ctx.market, _get_bid(ctx.market, bid_id))})


def lc_bid_create(ctx: Ctx, book: LowCodeBook) -> Reply:
    market = ctx.market
    body = json_body(ctx.request)
    price = price_arg(body.get("price"))
    if price is None or not ops.MIN_PRICE <= price <= ops.MAX_CREATE_PRICE:
        raise fail(400, "invalid_price", "price must be between 0.001 and 128 $/h.")
    duration = price_arg(body.get("duration"), "duration")
    if duration is not None and duration <= 0:
        raise fail(400, "invalid_args", "duration must be a positive number of hours.")
    offer_id = body.get("offer_id")
    num_gpus = as_int(body.get("num_gpus"), "num_gpus", 0)
    if offer_id is None and num_gpus < 1:
        raise fail(400, "invalid_args", "num_gpus is required without offer_id.")
    bid = Bid(
        id=market.new_bid_id(),
        price=price,
        duration_hours=duration,
        num_gpus=num_gpus,
        created_at=market.now,
        image=str(body.get("image") or "vastai/base-image"),
        disk=float(body.get("disk") or 10.0),
        label=body.get("label"),
        env={str(k): str(v) for k, v in (body.get("env") or {}).items()},
        onstart=body.get("onstart"),
    )
    if offer_id is not None:
        refused = rent_for_bid(market, bid, as_int(offer_id, "offer_id", 0))
        if refused is not None:
            return refused
    market.bids[bid.id] = bid
    if bid.instance_id is None:
        fill_pending(market)
    return Reply({"success": True, "bid": bid_json(market, bid)}, 201)


def lc_bid_update(ctx: Ctx, book: LowCodeBook, bid_id: int) -> Reply:
    market = ctx.market
    bid = _get_bid(market, bid_id)
    if bid_status(market, bid) in ("expired", "cancelled"):
        raise fail(400, "invalid_args", f"Bid {bid_id} is {bid_status(market, bid)}.")
    body = json_body(ctx.request)
    price = price_arg(body.get("price"))
    if price is None or not ops.MIN_PRICE <= price <= ops.MAX_BID_PRICE:
        raise fail(400, "invalid_args", "Please set a bid price >= 0.001.")
    bid.price = price
    if bid.instance_id is not None:
        ops.change_bid(market, ops.own_instance(market, bid.instance_id), {"price": price})
    else:
        fill_pending(market)
    return Reply({"success": True, "bid": bid_json(market, bid)})


def lc_bid_cancel(ctx: Ctx, book: LowCodeBook, bid_id: int) -> Reply:
    market = ctx.market
    bid = _get_bid(market, bid_id)
    if bid.closed is None:
        bid.closed = "cancelled"
        inst = market.instances.get(bid.instance_id) if bid.instance_id is not None else None
        if inst is not None:
            market.destroy(inst)
    return Reply({"success": True, "bid": bid_json(market, bid)})


# --- instances ----------------------------------------------------------------------------------------------------


def _page(ctx: Ctx, plural: str, rows: list[Any], max_limit: int) -> Reply:
    limit = as_int(ctx.request.args.get("limit"), "limit", max_limit)
    limit = max(1, min(limit, max_limit))
    offset = max(0, as_int(ctx.request.args.get("offset"), "offset", 0))
    return Reply({"success": True, plural: rows[offset : offset + limit], "total": len(rows)})


def lc_instances(ctx: Ctx, book: LowCodeBook) -> Reply:
    market = ctx.market
    rows = [instance_json(market, i) for i in sorted(market.account_instances(), key=lambda i: i.id)]
    state = ctx.request.args.get("state")
    if state:
        rows = [r for r in rows if r["actual_status"] == state]
    limit = max(1, min(as_int(ctx.request.args.get("limit"), "limit", 100), 100))
    offset = max(0, as_int(ctx.request.args.get("offset"), "offset", 0))
    page_no = -(-offset // limit) + 1  # pages that overlap by a row still count 1, 2, 3...
    served = rows[offset : offset + limit]
    page, total = listing_faults(ctx, page_no, served, len(rows))
    body: dict[str, Any] = {"success": True, "instances": page}
    if total is not None:
        body["total"] = total
    if offset + limit < len(rows):
        listing_race(ctx, page_no, served)
    return Reply(body)


def _instance(ctx: Ctx, instance_id: int) -> Any:
    inst = ctx.market.instances.get(instance_id)
    if inst is None or inst.owner != ACCOUNT:
        raise fail(404, "not_found", f"Instance {instance_id} not found.")
    return inst


def lc_instance(ctx: Ctx, book: LowCodeBook, instance_id: int) -> Reply:
    return Reply({"success": True, "instance": instance_json(ctx.market, _instance(ctx, instance_id))})


def lc_instance_create(ctx: Ctx, book: LowCodeBook) -> Reply:
    body = json_body(ctx.request)
    if body.get("offer_id") is None:
        raise fail(400, "invalid_args", "offer_id is required.")
    _, reply = ops.create_instance(ctx.market, as_int(body["offer_id"], "offer_id", 0), body)
    return reply


def lc_instance_update(ctx: Ctx, book: LowCodeBook, instance_id: int) -> Reply:
    ops.set_state(ctx.market, _instance(ctx, instance_id), json_body(ctx.request))
    return Reply({"success": True})


def lc_instance_stop(ctx: Ctx, book: LowCodeBook, instance_id: int) -> Reply:
    ops.set_state(ctx.market, _instance(ctx, instance_id), {"state": "stopped"})
    return Reply({"success": True})


def lc_instance_start(ctx: Ctx, book: LowCodeBook, instance_id: int) -> Reply:
    ops.set_state(ctx.market, _instance(ctx, instance_id), {"state": "running"})
    return Reply({"success": True})


def lc_instance_destroy(ctx: Ctx, book: LowCodeBook, instance_id: int) -> Reply:
    ctx.market.destroy(_instance(ctx, instance_id))
    return Reply({"success": True})


# --- account, invoices, machines, offers --------------------------------------------------------------------------


def lc_balance(ctx: Ctx, book: LowCodeBook) -> Reply:
    credit = round(ctx.market.credit, 6)
    return Reply({"success": True, "balance": credit, "credit": credit, "user_id": ctx.config.user_id})


def lc_invoices(ctx: Ctx, book: LowCodeBook) -> Reply:
    rows = invoice_rows(ctx.market)
    kind = ctx.request.args.get("type")
    if kind:
        rows = [r for r in rows if r["type"] == kind]
    return _page(ctx, "invoices", rows, 100)


def lc_invoice(ctx: Ctx, book: LowCodeBook, invoice_id: int) -> Reply:
    for row in invoice_rows(ctx.market):
        if row["id"] == invoice_id:
            return Reply({"success": True, "invoice": row})
    raise fail(404, "not_found", f"Invoice {invoice_id} not found.")


def lc_machines(ctx: Ctx, book: LowCodeBook) -> Reply:
    rows = [machine_json(ctx.market, m) for m in ctx.market.machines.values() if m.owner == ACCOUNT]
    return _page(ctx, "machines", rows, 100)


def lc_machine(ctx: Ctx, book: LowCodeBook, machine_id: int) -> Reply:
    return Reply({"success": True, "machine": machine_json(ctx.market, ops.own_machine(ctx.market, machine_id))})


def lc_machine_list(ctx: Ctx, book: LowCodeBook, machine_id: int) -> Reply:
    machine = ops.own_machine(ctx.market, machine_id)
    ops.list_machine(ctx.market, machine, json_body(ctx.request))
    return Reply({"success": True, "machine": machine_json(ctx.market, machine)})


def lc_machine_unlist(ctx: Ctx, book: LowCodeBook, machine_id: int) -> Reply:
    machine = ops.own_machine(ctx.market, machine_id)
    ctx.market.unlist_machine(machine)
    return Reply({"success": True, "machine": machine_json(ctx.market, machine)})


def lc_offers(ctx: Ctx, book: LowCodeBook) -> Reply:
    query = query_value(ctx.request, "q", {}) or {}
    if not isinstance(query, dict):
        raise fail(400, "invalid_args", "q must be a JSON object.")
    query = dict(query)
    if ctx.request.args.get("type"):
        query["type"] = ctx.request.args["type"]
    if ctx.request.args.get("sort_option"):
        query["order"] = [[ctx.request.args["sort_option"], ctx.request.args.get("order", "asc")]]
    query["limit"] = 1_000_000
    try:
        rows = search(ctx.market, query)
    except QueryProblemError as exc:
        raise fail(400, "invalid_args", str(exc)) from exc
    return _page(ctx, "offers", rows, 1000)


def lc_offer(ctx: Ctx, book: LowCodeBook, offer_id: int) -> Reply:
    offer = find_offer(ctx.market, offer_id, bid=ctx.request.args.get("type") in ("bid", "interruptible"))
    if offer is None:
        raise fail(404, "no_such_ask", f"Offer {offer_id} is not available.")
    return Reply({"success": True, "offer": offer})


# --- SSH keys, templates, users -------------------------------------------------------------------------------------


def lc_ssh_keys(ctx: Ctx, book: LowCodeBook) -> Reply:
    return Reply({"success": True, "ssh_keys": list(ctx.market.ssh_keys.values())})


def lc_ssh_key_add(ctx: Ctx, book: LowCodeBook) -> Reply:
    key = ops.add_ssh_key(ctx.market, json_body(ctx.request).get("ssh_key"), ctx.config.user_id)
    return Reply({"success": True, "ssh_key": key})


def lc_ssh_key_delete(ctx: Ctx, book: LowCodeBook, key_id: int) -> Reply:
    if ctx.market.ssh_keys.pop(key_id, None) is None:
        raise fail(404, "not_found", f"SSH key {key_id} not found.")
    return Reply({"success": True})


def lc_templates(ctx: Ctx, book: LowCodeBook) -> Reply:
    needle = (ctx.request.args.get("q") or "").lower()
    rows = [t for t in ctx.market.templates.values() if needle in str(t.get("name", "")).lower()]
    return _page(ctx, "templates", rows, 100)


def lc_template(ctx: Ctx, book: LowCodeBook, template_id: int) -> Reply:
    return Reply({"success": True, "template": ops.find_template(ctx.market, {"id": template_id})})


def lc_template_create(ctx: Ctx, book: LowCodeBook) -> Reply:
    template = ops.create_template(ctx.market, json_body(ctx.request), ctx.config.user_id)
    return Reply({"success": True, "template": template})


def lc_template_update(ctx: Ctx, book: LowCodeBook, template_id: int) -> Reply:
    template = ops.find_template(ctx.market, {"id": template_id})
    return Reply({"success": True, "template": ops.update_template(ctx.market, template, json_body(ctx.request))})


def lc_template_delete(ctx: Ctx, book: LowCodeBook, template_id: int) -> Reply:
    template = ops.find_template(ctx.market, {"id": template_id})
    del ctx.market.templates[template["id"]]
    return Reply({"success": True})


PUBLIC_USER_FIELDS = ("id", "username", "fullname", "user_type")


def lc_me(ctx: Ctx, book: LowCodeBook) -> Reply:
    return Reply({"success": True, "user": user_json(ctx.market, ctx.config)})


def lc_user(ctx: Ctx, book: LowCodeBook, user_id: int) -> Reply:
    if user_id != ctx.config.user_id:
        raise fail(404, "not_found", f"User {user_id} not found.")
    me = user_json(ctx.market, ctx.config)
    return Reply({"success": True, "user": {k: me[k] for k in PUBLIC_USER_FIELDS}})


def lc_me_update(ctx: Ctx, book: LowCodeBook) -> Reply:
    body = json_body(ctx.request)
    if body.get("ssh_key"):
        ops.add_ssh_key(ctx.market, body["ssh_key"], ctx.config.user_id)
    if body.get("username"):
        ctx.market.username = str(body["username"])
    return Reply({"success": True, "user": user_json(ctx.market, ctx.config)})


HANDLERS: dict[str, Callable[..., Reply]] = {
    name: fn for name, fn in globals().items() if name.startswith("lc_") and callable(fn)
}
