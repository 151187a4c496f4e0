"""The account's operations, shared by both surfaces: rent, start/stop/label, bid changes, destroy, host listings,
SSH keys and templates. They validate the wire input and raise ``BadRequestError`` with the native error replies.
"""

from __future__ import annotations

import hashlib
from typing import Any

from vastbid.sim.entities import ACCOUNT, Instance, Machine
from vastbid.sim.market import CreateResult, Market
from vastbid.sim.wire import Reply, fail, price_arg

MAX_CREATE_PRICE = 128.0
MAX_BID_PRICE = 32.0
MIN_PRICE = 0.001


def own_instance(market: Market, instance_id: int) -> Instance:
    inst = market.instances.get(instance_id)
    if inst is None or inst.owner != ACCOUNT:
        raise fail(404, "no_such_instance", f"Instance {instance_id} not found.")
    return inst


def own_machine(market: Market, machine_id: Any) -> Machine:
    try:
        machine = market.machines.get(int(machine_id))
    except (TypeError, ValueError):
        machine = None
    if machine is None or machine.owner != ACCOUNT:
        raise fail(404, "not_found", f"Machine {machine_id} not found or not yours.")
    return machine


def _env(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    if isinstance(value, list):
        return {str(p[0]): str(p[1]) for p in value if isinstance(p, list | tuple) and len(p) == 2}
    if isinstance(value, str):
        out = {}
        for part in value.split():
            if "=" in part:
                key, _, val = part.partition("=")
                out[key] = val
        return out
    raise fail(400, "invalid_args", "env must be an object.")


def create_instance(market: Market, offer_id: int, body: dict[str, Any]) -> tuple[CreateResult, Reply]:
    """``PUT /asks/{id}/``: the instance (if any) and the native reply."""
    price = price_arg(body.get("price"))
    if price is not None and not MIN_PRICE <= price <= MAX_CREATE_PRICE:
        raise fail(400, "invalid_price", f"Price {price} is outside {MIN_PRICE}-{MAX_CREATE_PRICE} $/h.")
    try:
        disk = float(body.get("disk") or 10.0)
    except (TypeError, ValueError) as exc:
        raise fail(400, "invalid_args", "disk must be a number of GB.") from exc
    args = body.get("args")
    label = body.get("label")
    if label is not None and len(str(label)) > 1024:
        raise fail(400, "invalid_args", "label is longer than 1024 characters.")
    result = market.create(
        offer_id,
        price=price,
        cancel_unavail=bool(body.get("cancel_unavail")),
        disk=disk,
        image=str(body.get("image") or "vastai/base-image"),
        env=_env(body.get("env")),
        onstart=body.get("onstart"),
        label=None if label is None else str(label),
        args=[str(a) for a in args] if isinstance(args, list) else None,
        runtype=str(body.get("runtype") or "ssh"),
        template_hash_id=body.get("template_hash_id"),
    )
    if result.instance is None:
        reply = Reply(
            {
                "success": False,
                "error": "invalid_args" if result.status == 404 else result.error,
                "msg": (f"error 404/3603: no_such_ask {result.msg}" if result.status == 404 else result.msg),
                "ask_id": offer_id,
            },
            result.status,
        )
        return result, reply
    inst = result.instance
    if result.error:
        return result, Reply({"success": False, "error": result.error, "msg": result.msg, "new_contract": inst.id})
    if body.get("target_state") == "stopped":
        market.stop(inst)
    return result, Reply({"success": True, "new_contract": inst.id})


def set_state(market: Market, inst: Instance, body: dict[str, Any]) -> None:
    """``PUT /instances/{id}/``: ``state`` running|stopped and/or ``label``."""
    if "label" in body:
        label = body["label"]
        if label is not None and len(str(label)) > 1024:
            raise fail(400, "invalid_args", "label is longer than 1024 characters.")
        inst.label = None if label is None else str(label)
        market.version += 1
    state = body.get("state")
    if state is None:
        if "label" not in body:
            raise fail(400, "invalid_args", "Nothing to change: send state or label.")
        return
    if state == "running":
        if inst.display == "exited":
            inst.display = "stopped"
        market.start(inst)
    elif state == "stopped":
        market.stop(inst)
    else:
        raise fail(400, "invalid_args", f"state must be running or stopped, not {state!r}.")


def change_bid(market: Market, inst: Instance, body: dict[str, Any]) -> None:
    price = price_arg(body.get("price")) if body.get("price") is not None else None
    if price is not None and not MIN_PRICE <= price <= MAX_BID_PRICE:
        raise fail(400, "invalid_args", "Please set a bid price >= 0.001.")
    if not inst.is_bid:
        raise fail(400, "invalid_args", f"Instance {inst.id} is on demand: it has no bid price.")
    market.change_bid(inst, price)


def list_machine(market: Market, machine: Machine, body: dict[str, Any]) -> None:
    """Host: set prices and (re)list: fresh offer ids."""
    for key, attr in (("price_gpu", "price_gpu"), ("price_min_bid", "price_min_bid"), ("price_disk", "price_disk")):
        if body.get(key) is not None:
            value = price_arg(body[key], key)
            if value is None or value < 0:
                raise fail(400, "invalid_args", f"{key} must be a non-negative number.")
            setattr(machine, attr, value)
    if body.get("min_chunk") is not None:
        chunk = int(body["min_chunk"])
        if chunk < 1 or chunk > machine.num_gpus:
            raise fail(400, "invalid_args", "min_chunk must be between 1 and the machine's GPU count.")
        machine.min_chunk = chunk
    if body.get("end_date") is not None:
        machine.end_date = float(body["end_date"])
    elif machine.end_date <= market.now:
        machine.end_date = market.now + 30 * 86400.0
    market.list_machine(machine)
    market.reallocate(machine)


def set_min_bid(market: Market, machine: Machine, price: Any) -> float:
    value = price_arg(price)
    if value is None or value < 0:
        raise fail(400, "invalid_args", "price must be a non-negative number.")
    machine.price_min_bid = value
    market.reallocate(machine)
    return value


def template_hash(template: dict[str, Any], revision: int) -> str:
    seed = f"{template.get('id')}:{revision}:{template.get('name')}:{template.get('image')}"
    return hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()


TEMPLATE_FIELDS = (
    "name",
    "image",
    "tag",
    "env",
    "onstart",
    "runtype",
    "ssh_direct",
    "jup_direct",
    "use_ssh",
    "extra_filters",
    "recommended_disk_space",
    "private",
    "desc",
    "readme",
    "href",
    "repo",
    "args_str",
)


def create_template(market: Market, body: dict[str, Any], user_id: int) -> dict[str, Any]:
    if not body.get("name") and not body.get("image"):
        raise fail(400, "invalid_args", "A template needs a name or an image.")
    template_id = max(market.templates, default=1000) + 1
    template: dict[str, Any] = {"id": template_id, "creator_id": user_id, "created_at": market.now, "revision": 0}
    template.update({k: body[k] for k in TEMPLATE_FIELDS if k in body})
    template["hash_id"] = template_hash(template, 0)
    market.templates[template_id] = template
    return template


def find_template(market: Market, body: dict[str, Any]) -> dict[str, Any]:
    for template in market.templates.values():
        if (
            (body.get("id") is not None and str(template["id"]) == str(body.get("id")))
            or (body.get("template_id") is not None and str(template["id"]) == str(body.get("template_id")))
            or (body.get("hash_id") and template["hash_id"] == body.get("hash_id"))
        ):
            return template
    raise fail(404, "not_found", "No such template.")


def update_template(market: Market, template: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    template.update({k: body[k] for k in TEMPLATE_FIELDS if k in body})
    template["revision"] += 1
    template["hash_id"] = template_hash(template, template["revision"])
    return template


def add_ssh_key(market: Market, key: Any, user_id: int) -> dict[str, Any]:
    if not isinstance(key, str) or not key.strip():
        raise fail(400, "no_ssh_key", "No SSH key given.")
    key_id = max(market.ssh_keys, default=500) + 1
    record = {
        "id": key_id,
        "user_id": user_id,
        "key": key.strip(),
        "public_key": key.strip(),
        "created_at": market.now,
        "deleted_at": None,
    }
    market.ssh_keys[key_id] = record
    return record
