"""The native Vast.ai surface: ``/api/v0/...`` and ``/api/v1/...`` routes over the shared market.

Decisions where Vast is undocumented: a bid under the minimum answers HTTP 200 with ``success: false``,
``error: insufficient_bid`` and ``new_contract``; the deprecated v0 list answers 200 with ``deprecated_endpoint``;
a search without ``limit`` returns at most 64 offers; the v1 instance listing's ``next_token`` names the sort key of
the last row served (key paging, so an instance created or destroyed between two pages shifts nothing), unless
``faults.offset_paging`` asks for the race-prone offset paging.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request

from vastbid.sim import operations as ops
from vastbid.sim.config import SimConfig
from vastbid.sim.entities import ACCOUNT
from vastbid.sim.faults import FaultConfig
from vastbid.sim.market import Market
from vastbid.sim.render import charge_rows, instance_json, invoice_rows, machine_json, user_json
from vastbid.sim.search import QueryProblemError, compile_query, search
from vastbid.sim.wire import PageToken, Reply, as_int, decode_token, encode_token, error, fail, json_body, query_value

STORED_INSTANCE_COLUMNS = {
    "id",
    "machine_id",
    "host_id",
    "label",
    "actual_status",
    "intended_status",
    "cur_state",
    "next_state",
    "gpu_name",
    "num_gpus",
    "verification",
    "is_bid",
    "status_msg",
    "image_uuid",
    "geolocation",
    "start_date",
    "disk_space",
    "template_hash_id",
    "bundle_id",
    "ssh_host",
    "ssh_port",
    "public_ipaddr",
}
V1_PAGE_MAX = 25


@dataclass
class Ctx:
    """What a handler sees: the market, the settings, the faults and the request."""

    market: Market
    config: SimConfig
    faults: FaultConfig
    request: Request
    route: str


Handler = Callable[..., Reply]


def _rules() -> list[Rule]:
    v0 = "/api/v0"
    routes = [
        ("/bundles", "POST", "bundles"),
        ("/bundles", "GET", "bundles_get"),
        ("/search/asks", "PUT", "search_asks"),
        ("/asks/<int:offer_id>", "PUT", "asks"),
        ("/instances", "GET", "v0_instances"),
        ("/instances", "PUT", "bulk_state"),
        ("/instances", "DELETE", "bulk_destroy"),
        ("/instances/<int:instance_id>", "GET", "show_instance"),
        ("/instances/<int:instance_id>", "PUT", "instance_state"),
        ("/instances/<int:instance_id>", "DELETE", "destroy"),
        ("/instances/bid_price/<int:instance_id>", "PUT", "bid_price"),
        ("/instances/reboot/<int:instance_id>", "PUT", "reboot"),
        ("/instances/recycle/<int:instance_id>", "PUT", "reboot"),
        ("/users/current", "GET", "user"),
        ("/charges", "GET", "charges"),
        ("/users/me/invoices", "GET", "legacy_invoices"),
        ("/ssh", "GET", "ssh_list"),
        ("/ssh", "POST", "ssh_add"),
        ("/ssh/<int:key_id>", "PUT", "ssh_update"),
        ("/ssh/<int:key_id>", "DELETE", "ssh_delete"),
        ("/template", "GET", "template_search"),
        ("/template", "POST", "template_create"),
        ("/template", "PUT", "template_update"),
        ("/template", "DELETE", "template_delete"),
        ("/machines", "GET", "machines"),
        ("/machines/<int:machine_id>", "GET", "machine"),
        ("/machines/create_asks", "PUT", "create_asks"),
        ("/machines/<int:machine_id>/asks", "DELETE", "unlist"),
        ("/machines/<int:machine_id>/minbid", "PUT", "minbid"),
        ("/gpu_names/unique", "GET", "gpu_names"),
    ]
    rules = [Rule(v0 + path, methods=[method], endpoint=name) for path, method, name in routes]
    rules += [
        Rule("/api/v1/instances", methods=["GET"], endpoint="v1_instances"),
        Rule("/api/v1/invoices", methods=["GET"], endpoint="invoices"),
        Rule("/api/v1/template", methods=["PUT"], endpoint="template_update"),
    ]
    return rules


URL_MAP = Map(_rules(), strict_slashes=False)
UNAUTHENTICATED = {"gpu_names"}


def authenticate(request: Request, config: SimConfig) -> str | Reply:
    """Bearer header or ``?api_key=``: the caller's identity, or the 403/401 reply."""
    header = request.headers.get("Authorization", "")
    key = header[7:].strip() if header.lower().startswith("bearer ") else request.args.get("api_key", "")
    if not key:
        return error(403, "auth_error", "This action requires login.")
    if not hmac.compare_digest(key.encode(), config.api_key.encode()):
        return error(401, "auth_error", "Invalid user key")
    return "account"


def bundles(ctx: Ctx) -> Reply:
    query = json_body(ctx.request)
    return _search(ctx, query)


def bundles_get(ctx: Ctx) -> Reply:
    query = query_value(ctx.request, "q", {})
    if not isinstance(query, dict):
        raise fail(400, "invalid_args", "q must be a JSON object.")
    return _search(ctx, query)


def search_asks(ctx: Ctx) -> Reply:
    body = json_body(ctx.request)
    query = body.get("q", {})
    return _search(ctx, query if isinstance(query, dict) else {})


def _search(ctx: Ctx, query: dict[str, Any]) -> Reply:
    try:
        return Reply({"offers": search(ctx.market, query)})
    except QueryProblemError as exc:
        raise fail(400, "invalid_args", str(exc)) from exc


def asks(ctx: Ctx, offer_id: int) -> Reply:
    _, reply = ops.create_instance(ctx.market, offer_id, json_body(ctx.request))
    return reply


def v0_instances(ctx: Ctx) -> Reply:
    return Reply(
        {
            "success": False,
            "error": "deprecated_endpoint",
            "msg": "/api/v0/instances/ is deprecated. Use /api/v1/instances/ instead.",
        }
    )


def _instance_rows(ctx: Ctx) -> list[dict[str, Any]]:
    return [instance_json(ctx.market, i) for i in sorted(ctx.market.account_instances(), key=lambda i: i.id)]


class _Desc:
    """A value that sorts in reverse (a descending sort column inside a tuple key)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.value == other.value

    def __lt__(self, other: _Desc) -> bool:
        return bool(other.value < self.value)

    def __hash__(self) -> int:
        return hash(self.value)


def _sort_key(values: tuple[Any, ...], order: tuple[tuple[str, bool], ...]) -> tuple[Any, ...]:
    """The key ``sort_offers`` sorts by: numbers, then texts, then missing values, each column asc or desc."""
    key: list[Any] = []
    for value, (_, desc) in zip(values, order, strict=True):
        if isinstance(value, int | float):
            key.append((0, _Desc(value) if desc else value))
        elif isinstance(value, str):
            key.append((1, _Desc(value) if desc else value))
        else:
            key.append((2, 0))
    return tuple(key)


def _row_values(row: dict[str, Any], order: tuple[tuple[str, bool], ...]) -> tuple[Any, ...]:
    return tuple(row.get(col) for col, _ in order)


def v1_instances(ctx: Ctx) -> Reply:
    """Key paging by default: the token names the sort key of the last row served (as a real ``after_token``), so
    an instance created or destroyed between two pages shifts nothing; ``faults.offset_paging`` pages by offset."""
    request = ctx.request
    filters = query_value(request, "select_filters", {}) or {}
    order_by = query_value(request, "order_by", [{"col": "id", "dir": "asc"}]) or []
    if not isinstance(filters, dict) or not isinstance(order_by, list):
        raise fail(400, "invalid_request", "select_filters must be an object and order_by a list.")
    for column in filters:
        if column not in STORED_INSTANCE_COLUMNS:
            raise fail(400, "invalid_request", f"{column} is not a valid search key")
    limit = as_int(query_value(request, "limit"), "limit", V1_PAGE_MAX)
    limit = 5 if limit <= 0 else min(limit, V1_PAGE_MAX)
    raw_token = request.args.get("after_token") or request.args.get("next_token")
    token = decode_token(raw_token, limit) if raw_token else None
    try:
        preds = compile_query(filters)
    except QueryProblemError as exc:
        raise fail(400, "invalid_request", str(exc)) from exc
    rows = [r for r in _instance_rows(ctx) if all(p(r) for p in preds)]
    order: tuple[tuple[str, bool], ...] = tuple(
        (str(o.get("col", "id")), str(o.get("dir", "asc")).lower() == "desc") for o in order_by if isinstance(o, dict)
    )
    if "id" not in {col for col, _ in order}:
        order = (*order, ("id", False))  # id is always the tiebreaker
    if token is not None and token.after is not None:
        order = token.order  # a token keeps the order it was made for
    rows.sort(key=lambda r: _sort_key(_row_values(r, order), order))
    page_no = token.page if token is not None else 1
    if token is not None and token.after is not None:
        after = _sort_key(token.after, order)
        rest = [r for r in rows if _sort_key(_row_values(r, order), order) > after]
    else:
        rest = rows[token.offset or 0 :] if token is not None else rows
    page = rest[:limit]
    more = len(rest) > limit
    if ctx.faults.pick(ctx.route, request.method, request.path, ("truncated_listing",)) and page:
        page = page[: max(0, len(page) - max(1, len(page) // 2))]
        more = False
    next_token: str | None = None
    if more and ctx.faults.offset_paging:
        next_token = encode_token(PageToken(page=page_no + 1, offset=len(rows) - len(rest) + limit))
    elif more:
        next_token = encode_token(PageToken(page=page_no + 1, after=_row_values(page[-1], order), order=order))
    served = list(page)
    page, total = listing_faults(ctx, page_no, page, len(rows))
    cols = query_value(request, "select_cols")
    if isinstance(cols, list) and cols and cols != ["*"]:
        page = [{c: r.get(c) for c in cols} for r in page]
    labels: dict[str, int] = {}
    for row in rows:
        labels[str(row.get("label"))] = labels.get(str(row.get("label")), 0) + 1
    body: dict[str, Any] = {"success": True}
    if total is not None:
        body.update({"instances_found": total, "total_instances": total})
    body.update({"label_counts": labels, "next_token": next_token, "instances": page})
    if more:
        listing_race(ctx, page_no, served)
    return Reply(body)


def listing_faults(ctx: Ctx, page_no: int, page: list[Any], total: int) -> tuple[list[Any], int | None]:
    """The page and total an instance listing answers, after the ``duplicate_row``, ``wrong_total`` and
    ``no_total`` faults aimed at this page."""
    request, faults = ctx.request, ctx.faults
    if page and faults.pick(ctx.route, request.method, request.path, ("duplicate_row",), page=page_no):
        page = [page[0], *page]
    shown: int | None = total
    if faults.pick(ctx.route, request.method, request.path, ("wrong_total",), page=page_no):
        shown = total + 1
    if faults.pick(ctx.route, request.method, request.path, ("no_total",), page=page_no):
        shown = None
    return page, shown


def listing_race(ctx: Ctx, page_no: int, served: list[dict[str, Any]]) -> None:
    """The ``listing_race`` fault, once a page with more pages after it is served: another party destroys or
    creates an instance of the account before the next page is asked for."""
    request = ctx.request
    rule = ctx.faults.pick(ctx.route, request.method, request.path, ("listing_race",), page=page_no)
    if rule is None:
        return
    market = ctx.market
    if rule.action == "destroy":
        target = rule.instance_id if rule.instance_id is not None else (served[0]["id"] if served else None)
        inst = market.account.get(target) if target is not None else None
        if inst is not None:
            market.destroy(inst)
        return
    for offer_id in sorted(market.offers):
        if market.create(offer_id, price=None, image="vastai/base-image", label=rule.label).instance is not None:
            return


def show_instance(ctx: Ctx, instance_id: int) -> Reply:
    inst = ctx.market.instances.get(instance_id)
    if inst is None or inst.owner != ACCOUNT:
        return Reply({"instances": None})
    return Reply({"instances": instance_json(ctx.market, inst)})


def instance_state(ctx: Ctx, instance_id: int) -> Reply:
    ops.set_state(ctx.market, ops.own_instance(ctx.market, instance_id), json_body(ctx.request))
    return Reply({"success": True})


def bulk_state(ctx: Ctx) -> Reply:
    body = json_body(ctx.request)
    for instance_id in body.get("ids") or []:
        ops.set_state(ctx.market, ops.own_instance(ctx.market, int(instance_id)), {"state": body.get("state")})
    return Reply({"success": True})


def destroy(ctx: Ctx, instance_id: int) -> Reply:
    ctx.market.destroy(ops.own_instance(ctx.market, instance_id))
    return Reply({"success": True, "msg": f"destroying instance {instance_id}."})


def bulk_destroy(ctx: Ctx) -> Reply:
    body = json_body(ctx.request)
    for instance_id in body.get("instance_ids") or []:
        ctx.market.destroy(ops.own_instance(ctx.market, int(instance_id)))
    return Reply({"success": True})


def bid_price(ctx: Ctx, instance_id: int) -> Reply:
    ops.change_bid(ctx.market, ops.own_instance(ctx.market, instance_id), json_body(ctx.request))
    return Reply({"success": True})


def reboot(ctx: Ctx, instance_id: int) -> Reply:
    ops.own_instance(ctx.market, instance_id)
    return Reply({"success": True})


def user(ctx: Ctx) -> Reply:
    return Reply(user_json(ctx.market, ctx.config))


def _window(rows: list[dict[str, Any]], filters: Any, field: str) -> list[dict[str, Any]]:
    if not isinstance(filters, dict):
        return rows
    span = filters.get(field) or {}
    lo = float(span.get("gte", float("-inf"))) if isinstance(span, dict) else float("-inf")
    hi = float(span.get("lte", float("inf"))) if isinstance(span, dict) else float("inf")
    rows = [r for r in rows if r["end"] >= lo and r["start"] <= hi]
    for key in ("type", "service"):
        wanted = filters.get(key)
        if isinstance(wanted, dict) and isinstance(wanted.get("in"), list):
            rows = [r for r in rows if r.get(key) in wanted["in"]]
    return rows


def _envelope(ctx: Ctx, rows: list[dict[str, Any]]) -> Reply:
    if query_value(ctx.request, "latest_first") not in (None, False, "false", 0):
        rows = list(reversed(rows))
    limit = as_int(query_value(ctx.request, "limit"), "limit", 0)
    total = len(rows)
    if limit > 0:
        rows = rows[:limit]
    return Reply({"success": True, "count": len(rows), "total": total, "next_token": None, "results": rows})


def charges(ctx: Ctx) -> Reply:
    return _envelope(ctx, _window(charge_rows(ctx.market), query_value(ctx.request, "select_filters"), "day"))


def invoices(ctx: Ctx) -> Reply:
    return _envelope(ctx, _window(invoice_rows(ctx.market), query_value(ctx.request, "select_filters"), "when"))


def legacy_invoices(ctx: Ctx) -> Reply:
    return Reply(
        {
            "invoices": invoice_rows(ctx.market),
            "current": {"charges": round(ctx.config.initial_credit - ctx.market.credit, 6)},
        }
    )


def ssh_list(ctx: Ctx) -> Reply:
    return Reply(list(ctx.market.ssh_keys.values()))


def ssh_add(ctx: Ctx) -> Reply:
    key = ops.add_ssh_key(ctx.market, json_body(ctx.request).get("ssh_key"), ctx.config.user_id)
    return Reply({"success": True, "key": key})


def ssh_update(ctx: Ctx, key_id: int) -> Reply:
    record = ctx.market.ssh_keys.get(key_id)
    if record is None:
        raise fail(404, "not_found", f"SSH key {key_id} not found.")
    new = json_body(ctx.request).get("ssh_key")
    if not isinstance(new, str) or not new.strip():
        raise fail(400, "no_ssh_key", "No SSH key given.")
    record["key"] = record["public_key"] = new.strip()
    return Reply({"success": True, "key": record})


def ssh_delete(ctx: Ctx, key_id: int) -> Reply:
    if ctx.market.ssh_keys.pop(key_id, None) is None:
        raise fail(404, "not_found", f"SSH key {key_id} not found.")
    return Reply({"success": True})


def template_search(ctx: Ctx) -> Reply:
    filters = query_value(ctx.request, "select_filters", {}) or {}
    try:
        preds = compile_query(filters if isinstance(filters, dict) else {})
    except QueryProblemError as exc:
        raise fail(400, "invalid_args", str(exc)) from exc
    found = [t for t in ctx.market.templates.values() if all(p(t) for p in preds)]
    return Reply({"success": True, "templates_found": len(found), "templates": found})


def template_create(ctx: Ctx) -> Reply:
    template = ops.create_template(ctx.market, json_body(ctx.request), ctx.config.user_id)
    return Reply({"success": True, "msg": "Template created.", "template": template})


def template_update(ctx: Ctx) -> Reply:
    body = json_body(ctx.request)
    template = ops.update_template(ctx.market, ops.find_template(ctx.market, body), body)
    return Reply({"success": True, "msg": "Template updated.", "template": template})


def template_delete(ctx: Ctx) -> Reply:
    template = ops.find_template(ctx.market, json_body(ctx.request))
    del ctx.market.templates[template["id"]]
    return Reply({"success": True, "msg": "Template deleted."})


def _own_machines(ctx: Ctx) -> list[dict[str, Any]]:
    return [machine_json(ctx.market, m) for m in ctx.market.machines.values() if m.owner == ACCOUNT]


def machines(ctx: Ctx) -> Reply:
    return Reply({"machines": _own_machines(ctx)})


def machine(ctx: Ctx, machine_id: int) -> Reply:
    return Reply([machine_json(ctx.market, ops.own_machine(ctx.market, machine_id))])


def create_asks(ctx: Ctx) -> Reply:
    body = json_body(ctx.request)
    target = ops.own_machine(ctx.market, body.get("machine"))
    ops.list_machine(ctx.market, target, body)
    extended = sum(1 for i in ctx.market.machine_instances(target.id))
    return Reply({"success": True, "extended": extended})


def unlist(ctx: Ctx, machine_id: int) -> Reply:
    ctx.market.unlist_machine(ops.own_machine(ctx.market, machine_id))
    return Reply({"success": True, "machine_id": machine_id, "user_id": ctx.config.user_id})


def minbid(ctx: Ctx, machine_id: int) -> Reply:
    body = json_body(ctx.request)
    value = ops.set_min_bid(ctx.market, ops.own_machine(ctx.market, machine_id), body.get("price"))
    return Reply({"success": True, "you_sent": {"client_id": body.get("client_id"), "price": value}})


def gpu_names(ctx: Ctx) -> Reply:
    return Reply({"gpu_names": sorted({m.gpu_name for m in ctx.market.machines.values()})})


HANDLERS: dict[str, Handler] = {
    name: fn for name, fn in globals().items() if callable(fn) and name in {r.endpoint for r in URL_MAP.iter_rules()}
}
