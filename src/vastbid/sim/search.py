"""Offer search: the wire query of ``POST /bundles/`` (8 ops, string numbers coerced, country suffixes,
``verified`` as a filter on ``verification``), then ``order`` and ``limit``. Unknown fields are ignored.

A query that pins ``gpu_name`` (``eq``/``in`` on text) or ``num_gpus`` (``eq``) skips the machines and chunks that
cannot match before any offer is rendered (the same answer, fast on markets of 100,000 offers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vastbid.sim.entities import Machine
from vastbid.sim.market import Market
from vastbid.sim.render import offer_json

OPS = ("eq", "neq", "gt", "gte", "lt", "lte", "in", "notin")
CONTROL_KEYS = {
    "order",
    "type",
    "limit",
    "allocated_storage",
    "disable_bundling",
    "target_reliability",
    "extra_ids",
    "template_id",
    "select_cols",
    "q",
}
BID_TYPES = {"bid", "interruptible"}
ON_DEMAND_TYPES = {"on-demand", "ondemand", "reserved"}


class QueryProblemError(ValueError):
    """The query body cannot be understood (answered with 400 invalid_args)."""


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _coerce(sample: Any, value: Any) -> Any:
    if isinstance(sample, bool):
        return _as_bool(value)
    if isinstance(sample, int | float):
        if isinstance(value, bool):
            return float(value)
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise QueryProblemError(f"{value!r} is not a number") from exc
    return value


def _country_match(geolocation: Any, wanted: Any) -> bool:
    if not isinstance(geolocation, str) or wanted is None:
        return False
    text = str(wanted).strip()
    return geolocation == text or (geolocation.upper().endswith(text.upper()[-2:]) and len(text) <= 3)


def _predicate(field: str, op: str, value: Any) -> Callable[[dict[str, Any]], bool]:
    if op not in OPS:
        raise QueryProblemError(f"unknown operator {op!r} for {field}")
    if field == "geolocation":
        wanted = value if isinstance(value, list) else [value]
        if op in ("eq", "in"):
            return lambda o: any(_country_match(o.get("geolocation"), w) for w in wanted)
        if op in ("neq", "notin"):
            return lambda o: not any(_country_match(o.get("geolocation"), w) for w in wanted)

    def check(offer: dict[str, Any]) -> bool:
        if field not in offer:
            return True
        have = offer[field]
        if have is None:
            return op in ("neq", "notin")
        if op in ("in", "notin"):
            items = value if isinstance(value, list) else [value]
            inside = any(have == _coerce(have, item) for item in items)
            return inside if op == "in" else not inside
        want = _coerce(have, value)
        if op == "eq":
            return bool(have == want)
        if op == "neq":
            return bool(have != want)
        try:
            if op == "gt":
                return bool(have > want)
            if op == "gte":
                return bool(have >= want)
            if op == "lt":
                return bool(have < want)
            return bool(have <= want)
        except TypeError:
            return False

    return check


def _verified_predicate(want: bool) -> Callable[[dict[str, Any]], bool]:
    def check(offer: dict[str, Any]) -> bool:
        return (offer.get("verification") == "verified") == want

    return check


def compile_query(query: dict[str, Any]) -> list[Callable[[dict[str, Any]], bool]]:
    """Predicates for every filter of the wire query; ``field=any`` simply is not there."""
    preds: list[Callable[[dict[str, Any]], bool]] = []
    for field, spec in query.items():
        if field in CONTROL_KEYS:
            continue
        ops = spec if isinstance(spec, dict) else {"eq": spec}
        for op, value in ops.items():
            if field == "verified":
                if op in ("eq", "in", "neq", "notin"):
                    preds.append(_verified_predicate(_as_bool(value) == (op in ("eq", "in"))))
                continue
            preds.append(_predicate(field, op, value))
    return preds


def _order_keys(query: dict[str, Any]) -> list[tuple[str, bool]]:
    raw = query.get("order", [["score", "desc"]])
    if isinstance(raw, str):
        raw = [[raw, "asc"]]
    keys: list[tuple[str, bool]] = []
    for item in raw or []:
        if isinstance(item, list | tuple) and item:
            keys.append((str(item[0]), len(item) > 1 and str(item[1]).lower() == "desc"))
        elif isinstance(item, str):
            keys.append((item, False))
    return keys


def sort_offers(offers: list[dict[str, Any]], keys: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    """Stable multi-key sort; rows missing a key (or holding null) go last."""
    for field, desc in reversed(keys):
        numbers = [o for o in offers if isinstance(o.get(field), int | float)]
        texts = [o for o in offers if isinstance(o.get(field), str)]
        missing = [o for o in offers if not isinstance(o.get(field), int | float | str)]
        numbers.sort(key=lambda o: o[field], reverse=desc)
        texts.sort(key=lambda o: o[field], reverse=desc)
        offers = numbers + texts + missing
    return offers


def search(market: Market, query: dict[str, Any], *, default_limit: int = 64) -> list[dict[str, Any]]:
    """Offers matching ``query`` in its order, at most its ``limit``."""
    if not isinstance(query, dict):
        raise QueryProblemError("the query must be a JSON object")
    kind = str(query.get("type", "on-demand")).lower()
    if kind not in BID_TYPES | ON_DEMAND_TYPES:
        raise QueryProblemError(f"unknown offer type {kind!r}")
    try:
        storage = float(query.get("allocated_storage", 5.0))
        limit = int(query.get("limit", default_limit) or default_limit)
    except (TypeError, ValueError) as exc:
        raise QueryProblemError("allocated_storage and limit must be numbers") from exc
    preds = compile_query(query)
    names, counts = _pinned(query)
    found = []
    for machine in market.machines.values():
        if not machine.listed or not machine.online or (names is not None and machine.gpu_name not in names):
            continue
        for k in machine.offer_ids:
            if counts is not None and k not in counts:
                continue
            offer = cached_offer(market, machine, k, storage=storage, bid=kind in BID_TYPES)
            if all(p(offer) for p in preds):
                found.append(offer)
    return sort_offers(found, _order_keys(query))[: max(0, limit)]


def _pinned(query: dict[str, Any]) -> tuple[frozenset[str] | None, frozenset[int] | None]:
    """The GPU names and counts a matching offer must have, when the query says so plainly (else ``None``: the
    predicates decide alone). Text names compare as text (as ``_predicate`` does); counts as numbers."""
    names: frozenset[str] | None = None
    spec = query.get("gpu_name")
    ops = spec if isinstance(spec, dict) else {"eq": spec} if spec is not None else {}
    if isinstance(ops.get("eq"), str):
        names = frozenset({ops["eq"]})
    elif isinstance(ops.get("in"), list) and all(isinstance(v, str) for v in ops["in"]) and "eq" not in ops:
        names = frozenset(ops["in"])
    counts: frozenset[int] | None = None
    spec = query.get("num_gpus")
    ops = spec if isinstance(spec, dict) else {"eq": spec} if spec is not None else {}
    if "eq" in ops and not isinstance(ops["eq"], bool):
        try:
            wanted = float(ops["eq"])
        except (TypeError, ValueError):
            wanted = None  # the predicate reports it
        if wanted is not None:
            counts = frozenset({int(wanted)}) if wanted.is_integer() else frozenset()
    return names, counts


def cached_offer(market: Market, machine: Machine, k: int, *, storage: float, bid: bool) -> dict[str, Any]:
    """``offer_json`` memoised per machine revision; only ``duration`` moves with the clock."""
    key = (machine.id, k, storage, bid)
    credit_ok = market.credit > 1e-9
    hit = market.offer_cache.get(key)
    if hit is not None and hit[0] == machine.rev and hit[1] == credit_ok:
        offer = dict(hit[2])
    else:
        offer = offer_json(market, machine, k, storage=storage, bid=bid)
        market.offer_cache[key] = (machine.rev, credit_ok, offer)
        offer = dict(offer)
    offer["duration"] = max(0.0, machine.end_date - market.now)
    return offer


def find_offer(market: Market, offer_id: int, *, storage: float = 5.0, bid: bool = False) -> dict[str, Any] | None:
    where = market.offers.get(offer_id)
    if where is None:
        return None
    return offer_json(market, market.machines[where[0]], where[1], storage=storage, bid=bid)
