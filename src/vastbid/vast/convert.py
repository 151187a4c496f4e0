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
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

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
    )


def offers_from_json(rows: Any) -> list[Offer]:
    """A list of offer objects -> offers (any malformed row makes the whole reply malformed)."""
    if not isinstance(rows, list):
        raise MalformedResponseError(f"offers is not a list but {type(rows).__name__}")
    return [offer_from_json(row) for row in rows]


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
