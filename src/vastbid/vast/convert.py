"""JSON -> core values: Vast's offer and instance objects into ``Offer`` and ``Instance``.

Tolerant of the awkward shapes the real API sends (reference/vast-api.md sections 4 and 5): numbers as strings,
``null`` where a field is usually set, missing optional fields, ``extra_env`` as a list of ``[key, value]`` pairs,
``public_ipaddr`` with trailing whitespace, ``actual_status: null`` (still provisioning). A missing or mistyped
required field (``id``, ``machine_id``...) raises ``MalformedResponseError`` naming it.

Readings worth stating:
- ``gpu_ram`` is in MB; ``Offer.gpu_ram_gb = gpu_ram / 1000`` so the local query evaluator agrees with the CLI's
  ``gpu_ram>=24`` -> ``24000`` MB.
- An offer without ``min_bid`` is given its on-demand ``dph_total`` (never a cheaper price than we know).
- An interruptible instance pays its bid (pay-your-bid): the GPU part of its price, ``dph_base``, is our bid, and
  ``dph_total = dph_base + storage_total_cost``. ``bid_price`` is ``dph_base``, else ``dph_total -
  storage_total_cost``; an instance's ``min_bid`` is the machine's current minimum for that chunk, not our bid.
- ``start_date`` (epoch seconds) -> ``started_at`` in UTC; ``storage_total_cost`` ($/h) -> ``storage_dph``.

A search reply is read in one of two ways that give the same offers. ``decode_offers(body_bytes)`` decodes the raw
body straight into typed structs holding only the fields an ``Offer`` uses (msgspec; the other ~40 fields of each
offer are skipped unread), which costs a fraction of ``json.loads``; any reply that is not plainly well formed
(numbers as strings, ``success: false``, a field of an unexpected type...) makes it answer ``None``, and the caller
reads the body the tolerant way (``json.loads`` + ``offers_from_json``), which also names what is wrong.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec

from vastbid.core.instances import Instance, normalize_status
from vastbid.core.offers import Offer
from vastbid.errors import MalformedResponseError

JsonObject = Mapping[str, Any]


# --- field readers -------------------------------------------------------------------------------------------------


def _obj(value: Any, what: str) -> JsonObject:
    if not isinstance(value, Mapping):
        raise MalformedResponseError(f"{what} is not a JSON object but {type(value).__name__}")
    return value


def _req_int(data: JsonObject, name: str, what: str) -> int:
    value = data.get(name)
    result = _as_int(value)
    if result is None:
        raise MalformedResponseError(f"{what} field {name!r} is missing or not an integer: {value!r}")
    return result


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) else None


def _float(data: JsonObject, name: str, default: float = 0.0) -> float:
    value = _as_float(data.get(name))
    return default if value is None else value


def _req_float(data: JsonObject, name: str, what: str) -> float:
    value = _as_float(data.get(name))
    if value is None:
        raise MalformedResponseError(f"{what} field {name!r} is missing or not a number: {data.get(name)!r}")
    return value


def _str(data: JsonObject, name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    return str(value).strip()


def _bool(data: JsonObject, name: str, default: bool = False) -> bool:
    value = data.get(name)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return default


def epoch_to_utc(value: Any) -> datetime | None:
    """Epoch seconds (number or numeric string) -> aware UTC datetime; ``None`` for null or nonsense."""
    seconds = _as_float(value)
    if seconds is None or seconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def parse_env(value: Any) -> dict[str, str]:
    """``extra_env``/``env`` in any shape Vast sends: a list of ``[k, v]`` pairs, a dict, or null."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    if isinstance(value, list):
        env: dict[str, str] = {}
        for pair in value:
            if isinstance(pair, list | tuple) and len(pair) == 2:
                env[str(pair[0])] = "" if pair[1] is None else str(pair[1])
            elif isinstance(pair, str) and "=" in pair:
                key, _, val = pair.partition("=")
                env[key] = val
        return env
    return {}


# --- offers ----------------------------------------------------------------------------------------------------------


def offer_from_json(raw: Any) -> Offer:
    """One offer object (``search offers`` row) -> ``Offer``."""
    data = _obj(raw, "offer")
    what = "offer"
    offer_id = _as_int(data.get("id"))
    if offer_id is None:
        offer_id = _req_int(data, "ask_contract_id", what)
    num_gpus = _req_int(data, "num_gpus", what)
    dph_total = _req_float(data, "dph_total", what)
    min_bid = _as_float(data.get("min_bid"))
    verification = _str(data, "verification")
    verified = _bool(data, "verified") if "verified" in data else verification == "verified"
    reliability = _as_float(data.get("reliability"))
    if reliability is None:
        reliability = _float(data, "reliability2")
    return Offer(
        id=offer_id,
        machine_id=_req_int(data, "machine_id", what),
        host_id=_as_int(data.get("host_id")) or 0,
        gpu_name=_str(data, "gpu_name") or "",
        num_gpus=num_gpus,
        gpu_ram_gb=_float(data, "gpu_ram") / 1000.0,
        dph_total=dph_total,
        min_bid=dph_total if min_bid is None else min_bid,
        dlperf=_float(data, "dlperf"),
        reliability=reliability,
        verified=verified,
        geolocation=_str(data, "geolocation") or "",
        inet_down=_float(data, "inet_down"),
        disk_space=_float(data, "disk_space"),
        cuda_max_good=_float(data, "cuda_max_good"),
        rentable=_bool(data, "rentable", default=True),
        end_date=_as_float(data.get("end_date")),
        storage_cost=_float(data, "storage_cost"),
        storage_total_cost=_float(data, "storage_total_cost"),
    )


def offers_from_json(rows: Any) -> list[Offer]:
    """A list of offer objects -> offers (any malformed row makes the whole reply malformed)."""
    if not isinstance(rows, list):
        raise MalformedResponseError(f"offers is not a list but {type(rows).__name__}")
    return [offer_from_json(row) for row in rows]


# --- the fast path: typed decoding of a search reply ----------------------------------------------------------------


class _WireOffer(msgspec.Struct, gc=False):
    """The fields of one offer that an ``Offer`` is made of; the others are skipped by the decoder."""

    id: int | None = None
    ask_contract_id: int | None = None
    machine_id: int | None = None
    host_id: int | None = None
    gpu_name: str | None = None
    num_gpus: int | None = None
    gpu_ram: float | None = None
    dph_total: float | None = None
    min_bid: float | None = None
    dlperf: float | None = None
    reliability: float | None = None
    reliability2: float | None = None
    verified: bool | msgspec.UnsetType | None = msgspec.UNSET
    verification: str | None = None
    geolocation: str | None = None
    inet_down: float | None = None
    disk_space: float | None = None
    cuda_max_good: float | None = None
    rentable: bool | None = None
    end_date: float | None = None
    storage_cost: float | None = None
    storage_total_cost: float | None = None


class _WireSearch(msgspec.Struct, gc=False):
    offers: list[_WireOffer] | None = None
    success: bool | None = None


_SEARCH_DECODER = msgspec.json.Decoder(_WireSearch)
"""Strict: a number sent as a string is not coerced here but left to the tolerant path, which reads it its way."""


def decode_offers(content: bytes) -> list[Offer] | None:
    """The offers of a ``POST /bundles/`` reply body, or ``None`` when it must be read the tolerant way.

    Gives exactly what ``offers_from_json(json.loads(content)["offers"])`` gives whenever it answers.
    """
    try:
        reply = _SEARCH_DECODER.decode(content)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    rows = reply.offers
    if rows is None or reply.success is False:
        return None
    out: list[Offer] = []
    append = out.append
    isfinite = math.isfinite
    for w in rows:
        offer_id = w.id if w.id is not None else w.ask_contract_id
        machine_id, num_gpus, dph_total = w.machine_id, w.num_gpus, w.dph_total
        if offer_id is None or machine_id is None or num_gpus is None or dph_total is None:
            return None  # the tolerant path names the missing field
        gpu_ram = w.gpu_ram or 0.0
        min_bid = w.min_bid
        reliability = w.reliability
        if reliability is None:
            reliability = w.reliability2 or 0.0
        dlperf, inet_down, disk_space = w.dlperf or 0.0, w.inet_down or 0.0, w.disk_space or 0.0
        cuda, end_date = w.cuda_max_good or 0.0, w.end_date
        storage_cost, storage_total = w.storage_cost or 0.0, w.storage_total_cost or 0.0
        total = dph_total + gpu_ram + reliability + dlperf + inet_down + disk_space + cuda + storage_cost
        total += storage_total + (min_bid or 0.0) + (end_date or 0.0)
        if not isfinite(total):
            return None  # an infinite or huge number: the tolerant path reads it as missing
        verification = w.verification.strip() if w.verification is not None else None
        verified = w.verified
        append(
            Offer(
                id=offer_id,
                machine_id=machine_id,
                host_id=w.host_id or 0,
                gpu_name=w.gpu_name.strip() if w.gpu_name else "",
                num_gpus=num_gpus,
                gpu_ram_gb=gpu_ram / 1000.0,
                dph_total=dph_total,
                min_bid=dph_total if min_bid is None else min_bid,
                dlperf=dlperf,
                reliability=reliability,
                verified=verification == "verified" if verified is msgspec.UNSET else bool(verified),
                geolocation=w.geolocation.strip() if w.geolocation else "",
                inet_down=inet_down,
                disk_space=disk_space,
                cuda_max_good=cuda,
                rentable=True if w.rentable is None else w.rentable,
                end_date=end_date,
                storage_cost=storage_cost,
                storage_total_cost=storage_total,
            )
        )
    return out


# --- instances -------------------------------------------------------------------------------------------------------


def instance_from_json(raw: Any) -> Instance:
    """One instance object (v1 listing row or ``show instance``) -> ``Instance`` with its normalized status."""
    data = _obj(raw, "instance")
    what = "instance"
    is_bid = _bool(data, "is_bid")
    dph_total = _float(data, "dph_total")
    storage = _float(data, "storage_total_cost")
    bid_price: float | None = None
    if is_bid:
        base = _as_float(data.get("dph_base"))
        bid_price = base if base is not None else max(dph_total - storage, 0.0)
    status = normalize_status(
        _str(data, "actual_status"),
        _str(data, "intended_status"),
        _str(data, "cur_state"),
        _str(data, "next_state"),
        is_bid=is_bid,
    )
    label = data.get("label")
    offer_id = _as_int(data.get("ask_contract_id"))
    if offer_id is None:
        offer_id = _as_int(data.get("bundle_id"))
    return Instance(
        id=_req_int(data, "id", what),
        machine_id=_req_int(data, "machine_id", what),
        label=None if label is None else str(label),
        is_bid=is_bid,
        bid_price=bid_price,
        dph_total=dph_total,
        num_gpus=_as_int(data.get("num_gpus")) or 0,
        gpu_name=_str(data, "gpu_name") or "",
        started_at=epoch_to_utc(data.get("start_date")),
        status=status,
        status_msg=_str(data, "status_msg") or None,
        storage_dph=storage,
        min_bid=_as_float(data.get("min_bid")),
        offer_id=offer_id,
        intended_status=_str(data, "intended_status"),
    )


def instances_from_json(rows: Any) -> list[Instance]:
    """A list of instance objects -> instances."""
    if not isinstance(rows, list):
        raise MalformedResponseError(f"instances is not a list but {type(rows).__name__}")
    return [instance_from_json(row) for row in rows]
