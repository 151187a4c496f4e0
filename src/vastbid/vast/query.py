"""The offer query language: the ``vastai search offers`` grammar, its wire JSON, and a local evaluator.

``parse_query("gpu_name=RTX_4090 num_gpus>=2 dph<1.0 geolocation in [US,CA]")`` gives the filter part of the
``POST /bundles/`` body exactly as the official CLI builds it (reference/vast-api.md section 3): ``field op value``
clauses separated by spaces; operators ``= == != > >= < <=`` and the words ``eq neq noteq "not eq" gt gte lt lte in
notin nin "not in"``; ``[a,b]`` lists; ``_`` becomes a space and quotes are stripped; ``true/false`` become booleans,
``None/null`` null, every other value stays a string (as the CLI sends it) except the unit-multiplied fields
(``gpu_ram``, ``cpu_ram``, ``gpu_total_ram`` GB->MB x1000, ``duration`` days->s x86400) and a dotted
``driver_version`` (-> int). Aliases (``dph`` -> ``dph_total``...) apply, the CLI defaults (``verified=true
external=false rentable=true``) come first, ``field=any`` (or ``?``/``*``) removes a field and its default, and the same
field twice merges its operators. Anything that does not parse raises ``QueryError`` naming the unconsumed text.

``compile_query(text)`` turns the same text into a predicate over ``vastbid.core.offers.Offer`` values, compiled
once into a single Python function (fast enough for tens of thousands of offers per tick). Fields an ``Offer`` does
not carry (``external``, ``cpu_ram``...) cannot be checked locally: they are listed in ``CompiledQuery.unevaluated``
and left to the server. A query that pins the GPU model (``gpu_name=X`` or ``gpu_name in [...]``) says so in
``CompiledQuery.gpu_names``, so ``OfferIndex`` evaluates it only on the offers of those models.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from vastbid.core.offers import Offer, RentalType
from vastbid.errors import QueryError

log = logging.getLogger(__name__)

Filters = dict[str, dict[str, Any]]
"""The filter part of the wire query: ``{field: {op: value}}``."""

ALIASES: Final[Mapping[str, str]] = {
    "dph": "dph_total",
    "cuda_vers": "cuda_max_good",
    "dlperf_usd": "dlperf_per_dphtotal",
    "flops_usd": "flops_per_dphtotal",
    "display_active": "gpu_display_active",
}
MULTIPLIERS: Final[Mapping[str, float]] = {
    "cpu_ram": 1000.0,
    "gpu_ram": 1000.0,
    "gpu_total_ram": 1000.0,
    "duration": 86400.0,
}
DEFAULTS: Final[Mapping[str, Mapping[str, Any]]] = {
    "verified": {"eq": True},
    "external": {"eq": False},
    "rentable": {"eq": True},
}
KNOWN_FIELDS: Final = frozenset(
    """bw_nvlink compute_cap cpu_arch cpu_cores cpu_cores_effective cpu_ghz cpu_ram cuda_max_good datacenter
    direct_port_count driver_version disk_bw disk_space dlperf dlperf_per_dphtotal dph_total duration external
    flops_per_dphtotal gpu_arch gpu_display_active gpu_frac gpu_mem_bw gpu_name gpu_ram gpu_total_ram gpu_max_power
    gpu_max_temp has_avx host_id id inet_down inet_down_cost inet_up inet_up_cost machine_id min_bid mobo_name
    num_gpus pci_gen pcie_bw reliability rentable rented storage_cost static_ip total_flops ubuntu_version
    verification verified vms_enabled geolocation cluster_id""".split()  # noqa: SIM905
)

_OPERATORS: Final[Mapping[str, str]] = {
    "=": "eq",
    "==": "eq",
    "eq": "eq",
    "!=": "neq",
    "neq": "neq",
    "noteq": "neq",
    "not eq": "neq",
    ">": "gt",
    "gt": "gt",
    ">=": "gte",
    "gte": "gte",
    "<": "lt",
    "lt": "lt",
    "<=": "lte",
    "lte": "lte",
    "in": "in",
    "notin": "notin",
    "nin": "notin",
    "not in": "notin",
}
_LIST_OPS: Final = frozenset({"in", "notin"})
_WILDCARDS: Final = frozenset({"any", "?", "*"})
_CLAUSE: Final = re.compile(
    r"""(?P<field>[A-Za-z0-9_]+)
        (?: \s*(?P<sym>[=<>!]+) \s* | \s+(?P<word>not\s?eq|not\s?in|noteq|notin|nin|neq|eq|gte|gt|lte|lt|in)\s+ )
        (?P<value>\[[^\]]*\]|"[^"]*"|[^\s=<>!][^\s]*)
        \s*""",
    re.VERBOSE,
)


# --- parsing -------------------------------------------------------------------------------------------------------


def parse_query(text: str, *, defaults: bool = True) -> Filters:
    """The wire filters for ``text`` (the ``vastai search offers`` grammar), CLI defaults first unless disabled."""
    filters: Filters = {k: dict(v) for k, v in DEFAULTS.items()} if defaults else {}
    query = text.strip()
    pos = 0
    while pos < len(query):
        match = _CLAUSE.match(query, pos)
        if match is None:
            raise QueryError(f"cannot parse the offer query at {query[pos:]!r} (unconsumed text)", field="query")
        pos = match.end()
        _apply_clause(filters, match)
    return filters


def _apply_clause(filters: Filters, match: re.Match[str]) -> None:
    raw_field = match.group("field")
    operator = match.group("sym") or " ".join((match.group("word") or "").replace("not", "not ").split())
    op = _OPERATORS.get(operator)
    if op is None:
        raise QueryError(f"unknown operator {operator!r} in {match.group(0).strip()!r}", field=raw_field)
    name = ALIASES.get(raw_field, raw_field)
    if name not in KNOWN_FIELDS:
        log.warning("offer_query_unknown_field field=%s (sent to the server as is)", name)
    raw_value = match.group("value")
    if raw_value.strip('"') in _WILDCARDS:
        if op != "eq":
            raise QueryError(f"a wildcard only makes sense with '=': {match.group(0).strip()!r}", field=name)
        filters.pop(name, None)
        return
    value = _convert_value(name, op, raw_value, clause=match.group(0).strip())
    filters.setdefault(name, {})[op] = value


def _convert_value(name: str, op: str, raw: str, *, clause: str) -> Any:
    is_list = raw.startswith("[") and raw.endswith("]")
    if op in _LIST_OPS:
        items = [item.strip() for item in raw.strip("[]").split(",") if item.strip()]
        if not items:
            raise QueryError(f"an empty list in {clause!r}", field=name)
        return [_convert_scalar(name, item, clause=clause) for item in items]
    if is_list:
        raise QueryError(f"a list needs 'in' or 'notin': {clause!r}", field=name)
    return _convert_scalar(name, raw, clause=clause)


def _convert_scalar(name: str, raw: str, *, clause: str) -> Any:
    text = raw.replace("_", " ").strip('"')
    if not text:
        raise QueryError(f"a blank value in {clause!r}", field=name)
    if name in MULTIPLIERS:
        try:
            return float(text) * MULTIPLIERS[name]
        except ValueError:
            raise QueryError(f"{name} needs a number, not {text!r}", field=name) from None
    if name == "driver_version" and "." in text:
        parts = text.split(".")
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            raise QueryError(f"driver_version needs the form 535.86.05, not {text!r}", field=name)
        return int("".join(p.zfill(3) for p in parts))
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if text in ("None", "null"):
        return None
    return text


def parse_order(text: str | None) -> list[list[str]]:
    """``"dph_total,dlperf-"`` -> ``[["dph_total","asc"],["dlperf","desc"]]`` (``-`` desc, ``+`` asc, aliases)."""
    if not text:
        return []
    order: list[list[str]] = []
    for item in text.split(","):
        name = item.strip()
        if not name:
            continue
        direction = "asc"
        if name.strip("-") != name:
            direction, name = "desc", name.strip("-")
        if name.strip("+") != name:
            direction, name = "asc", name.strip("+")
        if not re.fullmatch(r"[A-Za-z0-9_]+", name):
            raise QueryError(f"cannot parse the order at {item.strip()!r}", field="order")
        order.append([ALIASES.get(name, name), direction])
    return order


def search_body(
    query: str,
    *,
    rental: RentalType = RentalType.ON_DEMAND,
    order: str | None = None,
    limit: int | None = None,
    storage_gb: float = 5.0,
    defaults: bool = True,
) -> dict[str, Any]:
    """The whole ``POST /bundles/`` body: filters, ``order``, ``type``, ``limit`` and ``allocated_storage``."""
    body: dict[str, Any] = dict(parse_query(query, defaults=defaults))
    body["order"] = parse_order(order) or [["score", "desc"]]
    body["type"] = "bid" if rental is RentalType.INTERRUPTIBLE else "on-demand"
    if limit is not None:
        body["limit"] = int(limit)
    body["allocated_storage"] = float(storage_gb)
    return body


# --- the local evaluator ---------------------------------------------------------------------------------------------

_Kind = Literal["number", "text", "bool", "geo"]


@dataclass(frozen=True, slots=True)
class _Column:
    expression: str
    """Python source over ``o`` (an Offer) and ``NOW``; only these fixed strings ever reach the generated code."""
    kind: _Kind
    nullable: bool = False


_COLUMNS: Final[Mapping[str, _Column]] = {
    "id": _Column("o.id", "number"),
    "machine_id": _Column("o.machine_id", "number"),
    "host_id": _Column("o.host_id", "number"),
    "num_gpus": _Column("o.num_gpus", "number"),
    "gpu_name": _Column("o.gpu_name", "text"),
    "gpu_ram": _Column("o.gpu_ram_gb * 1000.0", "number"),
    "gpu_total_ram": _Column("o.gpu_ram_gb * 1000.0 * o.num_gpus", "number"),
    "dph_total": _Column("o.dph_total", "number"),
    "min_bid": _Column("o.min_bid", "number"),
    "dlperf": _Column("o.dlperf", "number"),
    "dlperf_per_dphtotal": _Column("(o.dlperf / o.dph_total if o.dph_total else 0.0)", "number"),
    "reliability": _Column("o.reliability", "number"),
    "verified": _Column("o.verified", "bool"),
    "verification": _Column("('verified' if o.verified else 'unverified')", "text"),
    "geolocation": _Column("o.geolocation", "geo"),
    "inet_down": _Column("o.inet_down", "number"),
    "disk_space": _Column("o.disk_space", "number"),
    "cuda_max_good": _Column("o.cuda_max_good", "number"),
    "rentable": _Column("o.rentable", "bool"),
    "end_date": _Column("o.end_date", "number", nullable=True),
}
_DURATION: Final = _Column("(None if o.end_date is None else o.end_date - NOW)", "number", nullable=True)
_COMPARE: Final[Mapping[str, str]] = {"eq": "==", "neq": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


@dataclass(frozen=True)
class CompiledQuery:
    """A parsed offer query, ready to test offers: ``q(offer) -> bool``, ``q.filter(offers) -> list``."""

    text: str
    filters: Filters
    unevaluated: frozenset[str]
    """Fields the local evaluator cannot check on an ``Offer`` (left to the server)."""
    _predicate: Any = field(repr=False, compare=False)
    gpu_names: frozenset[str] | None = None
    """The only GPU names a matching offer can have (``gpu_name=X``, ``gpu_name in [...]``); ``None``: any."""

    def __call__(self, offer: Offer) -> bool:
        return bool(self._predicate(offer))

    def filter(self, offers: Iterable[Offer]) -> list[Offer]:
        """The offers that match, in their order."""
        predicate = self._predicate
        return [offer for offer in offers if predicate(offer)]


@functools.lru_cache(maxsize=256)
def compile_query(text: str, *, defaults: bool = True, now: float | None = None) -> CompiledQuery:
    """Parse ``text`` once and compile it to a predicate over offers (``duration`` is checked only with ``now``)."""
    return compile_filters(parse_query(text, defaults=defaults), text=text, now=now)


def compile_filters(
    filters: Mapping[str, Mapping[str, Any]], *, text: str = "", now: float | None = None
) -> CompiledQuery:
    """Compile wire filters (as ``parse_query`` returns them) into a ``CompiledQuery``."""
    namespace: dict[str, Any] = {"NOW": now}
    terms: list[str] = []
    unevaluated: set[str] = set()
    for name, ops in filters.items():
        column = _DURATION if name == "duration" and now is not None else _COLUMNS.get(name)
        if column is None:
            unevaluated.add(name)
            continue
        for op, value in ops.items():
            constant = f"c{len(namespace)}"
            term, namespace[constant] = _term(name, column, op, value, constant)
            terms.append(term)
    source = "def predicate(o):\n    return " + (" and ".join(f"({t})" for t in terms) or "True") + "\n"
    # The source is assembled only from the fixed expressions above and generated constant names; the query's
    # values live in ``namespace``, never in the code.
    exec(compile(source, "<offer query>", "exec"), namespace)  # noqa: S102
    frozen = {k: dict(v) for k, v in filters.items()}
    return CompiledQuery(
        text, frozen, frozenset(unevaluated), namespace["predicate"], _pinned_gpu_names(filters.get("gpu_name", {}))
    )


def _pinned_gpu_names(ops: Mapping[str, Any]) -> frozenset[str] | None:
    """The GPU names ``eq``/``in`` allow, as the predicate compares them (text equality); ``None`` when unpinned."""
    pinned: frozenset[str] | None = None
    if "eq" in ops:
        value = ops["eq"]
        pinned = frozenset() if value is None else frozenset({str(value)})
    if "in" in ops:
        items = ops["in"] if isinstance(ops["in"], list) else [ops["in"]]
        members = frozenset(str(item) for item in items)
        pinned = members if pinned is None else pinned & members
    return pinned


class OfferIndex:
    """Offers grouped by GPU name, so each query runs only over the models it can match (same result as
    ``query.filter(offers)``, in the same order)."""

    def __init__(self, offers: Sequence[Offer]) -> None:
        self.offers = offers
        self._by_gpu: dict[str, list[Offer]] = {}
        for offer in offers:
            rows = self._by_gpu.get(offer.gpu_name)
            if rows is None:
                self._by_gpu[offer.gpu_name] = [offer]
            else:
                rows.append(offer)

    def matching(self, query: CompiledQuery) -> list[Offer]:
        """The offers ``query`` matches."""
        names = query.gpu_names
        if names is None:
            return query.filter(self.offers)
        if len(names) == 1:
            return query.filter(self._by_gpu.get(next(iter(names)), ()))
        return query.filter(o for o in self.offers if o.gpu_name in names)


def _term(name: str, column: _Column, op: str, value: Any, constant: str) -> tuple[str, Any]:
    expr = column.expression
    if op in _LIST_OPS:
        if not isinstance(value, list):
            value = [value]
        members = frozenset(_coerce(name, column, item) for item in value)
        geo = column.kind == "geo"
        term = f"({expr} in {constant} or o.country in {constant})" if geo else f"{expr} in {constant}"
        return (term if op == "in" else f"not ({term})"), members
    if op not in _COMPARE:
        raise QueryError(f"unknown operator {op!r} for {name}", field=name)
    if value is None:
        if op not in ("eq", "neq"):
            raise QueryError(f"{name} cannot be compared with null using {op}", field=name)
        return (f"{expr} is None" if op == "eq" else f"{expr} is not None"), None
    if op not in ("eq", "neq") and column.kind != "number":
        raise QueryError(f"{name} cannot be ordered ({op}); use = or in", field=name)
    coerced = _coerce(name, column, value)
    if column.kind == "geo":
        term = f"({expr} == {constant} or o.country == {constant})"
        return (term if op == "eq" else f"not {term}"), coerced
    comparison = f"{expr} {_COMPARE[op]} {constant}"
    if column.nullable:
        comparison = f"({expr} is not None and {comparison})"
    return comparison, coerced


def _coerce(name: str, column: _Column, value: Any) -> Any:
    if column.kind == "number":
        if isinstance(value, bool):
            raise QueryError(f"{name} needs a number, not {value!r}", field=name)
        try:
            return float(value)
        except (TypeError, ValueError):
            raise QueryError(f"{name} needs a number, not {value!r}", field=name) from None
    if column.kind == "bool":
        if not isinstance(value, bool):
            raise QueryError(f"{name} needs true or false, not {value!r}", field=name)
        return value
    return str(value)
