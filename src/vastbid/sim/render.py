"""JSON views of the market: offers, instances, machines, user, charges and invoices, with the native fields.

Non-native extra: instances carry ``sim_progress_hours`` (work done so far, for tests and demos).
"""

from __future__ import annotations

from typing import Any

from vastbid.sim.config import SimConfig
from vastbid.sim.entities import ACCOUNT, Instance, Machine
from vastbid.sim.market import Market

ANY_ADDRESS = ".".join(["0"] * 4)  # the docker port map's host address, not a bind


def offer_json(market: Market, machine: Machine, k: int, *, storage: float, bid: bool) -> dict[str, Any]:
    """One offer (chunk of ``k`` GPUs) priced for ``storage`` GB; ``bid`` prices it from its minimum bid."""
    offer_id = machine.offer_ids[k]
    min_bid = market.min_bid(machine, k)
    blocked = min_bid is None or market.on_demand_blocked(machine, k)
    dph_base = round(machine.price_gpu * k, 6)
    if bid and min_bid is not None:
        dph_base = min_bid
    storage_total = storage * machine.price_disk / 720.0
    dph_total = dph_base + storage_total
    dlperf = round(machine.dlperf_per_gpu * k, 3)
    rented = any(i.owner == ACCOUNT for i in market.machine_instances(machine.id))
    return {
        "id": offer_id,
        "ask_contract_id": offer_id,
        "bundle_id": offer_id,
        "machine_id": machine.id,
        "host_id": machine.host_id,
        "hostname": machine.hostname,
        "num_gpus": k,
        "gpu_name": machine.gpu_name,
        "gpu_ram": machine.gpu_ram,
        "gpu_total_ram": machine.gpu_ram * k,
        "gpu_frac": k / machine.num_gpus,
        "gpu_arch": "nvidia",
        "compute_cap": machine.compute_cap,
        "cuda_max_good": machine.cuda_max_good,
        "driver_version": machine.driver_version,
        "cpu_cores": machine.cpu_cores,
        "cpu_cores_effective": machine.cpu_cores * k / machine.num_gpus,
        "cpu_ram": machine.cpu_ram,
        "cpu_arch": "amd64",
        "disk_space": machine.disk_space,
        "disk_bw": 2000.0,
        "inet_up": machine.inet_up,
        "inet_down": machine.inet_down,
        "inet_up_cost": 0.005,
        "inet_down_cost": 0.005,
        "dph_base": dph_base,
        "dph_total": round(dph_total, 6),
        "storage_cost": machine.price_disk,
        "storage_total_cost": round(storage_total, 6),
        "min_bid": min_bid if min_bid is not None else round(machine.price_min_bid * k, 6),
        "dlperf": dlperf,
        "dlperf_per_dphtotal": round(dlperf / dph_total, 4) if dph_total > 0 else 0.0,
        "total_flops": round(dlperf * 1.3, 3),
        "flops_per_dphtotal": round(dlperf * 1.3 / dph_total, 4) if dph_total > 0 else 0.0,
        "score": round(dlperf * machine.reliability / max(dph_total, 1e-6), 4),
        "reliability": machine.reliability,
        "reliability2": machine.reliability,
        "verification": machine.verification,
        "vericode": 1 if machine.verification == "verified" else 0,
        "rentable": machine.listed and machine.online and not blocked,
        "rented": rented,
        "external": False,
        "hosting_type": machine.hosting_type,
        "geolocation": machine.geolocation,
        "start_date": market.epoch,
        "end_date": machine.end_date,
        "duration": max(0.0, machine.end_date - market.now),
        "is_bid": bid,
        "direct_port_count": 100,
        "static_ip": machine.hosting_type == 1,
        "public_ipaddr": machine.public_ip,
        "os_version": "22.04",
        "pci_gen": 4.0,
        "pcie_bw": 24.5,
    }


def _status(market: Market, inst: Instance) -> tuple[str | None, str, str, str]:
    """(actual_status, intended_status, cur_state, next_state)."""
    machine = market.machines[inst.machine_id]
    if inst.holding:
        if not machine.online:
            return "offline", "running", "running", "running"
        if inst.boot_until is not None and inst.boot_until > market.now:
            first = not inst.started_once and market.now - inst.created_at < market.config.provisioning_seconds
            return (None if first else "loading"), "running", "running", "running"
        return "running", "running", "running", "running"
    if inst.display == "exited":
        return "exited", "running", "stopped", "stopped"
    if inst.wants_run and inst.display != "outbid":
        return "stopped", "running", "stopped", "running"
    return "stopped", "stopped", "stopped", "stopped"


def instance_json(market: Market, inst: Instance) -> dict[str, Any]:
    machine = market.machines[inst.machine_id]
    actual, intended, cur, nxt = _status(market, inst)
    min_bid = market.min_bid(machine, inst.num_gpus, exclude=inst.id)
    return {
        "id": inst.id,
        "machine_id": machine.id,
        "host_id": machine.host_id,
        "bundle_id": machine.offer_ids.get(inst.num_gpus),
        "label": inst.label,
        "actual_status": actual,
        "intended_status": intended,
        "cur_state": cur,
        "next_state": nxt,
        "status_msg": inst.status_msg,
        "is_bid": inst.is_bid,
        "min_bid": min_bid if min_bid is not None else round(machine.price_min_bid * inst.num_gpus, 6),
        "dph_base": round(inst.gpu_rate, 6),
        "dph_total": round(inst.gpu_rate + inst.storage_rate, 6),
        "storage_cost": inst.price_disk,
        "storage_total_cost": round(inst.storage_rate, 6),
        "start_date": float(inst.created_at),
        "end_date": machine.end_date,
        "uptime_mins": round(inst.gpu_seconds / 60.0, 2),
        "duration": max(0.0, market.now - inst.created_at),
        "num_gpus": inst.num_gpus,
        "gpu_name": machine.gpu_name,
        "gpu_ram": machine.gpu_ram,
        "gpu_totalram": machine.gpu_ram * inst.num_gpus,
        "gpu_util": 95.0 if actual == "running" else 0.0,
        "cpu_cores": machine.cpu_cores,
        "cpu_cores_effective": machine.cpu_cores * inst.num_gpus / machine.num_gpus,
        "cpu_ram": machine.cpu_ram,
        "disk_space": inst.disk,
        "disk_usage": 0.1,
        "inet_up": machine.inet_up,
        "inet_down": machine.inet_down,
        "reliability2": machine.reliability,
        "verification": machine.verification,
        "geolocation": machine.geolocation,
        "dlperf": round(machine.dlperf_per_gpu * inst.num_gpus, 3),
        "cuda_max_good": machine.cuda_max_good,
        "driver_version": machine.driver_version,
        "image_uuid": inst.image,
        "image_args": list(inst.args or []),
        "image_runtype": inst.runtype,
        "onstart": inst.onstart,
        "extra_env": [[k, v] for k, v in inst.env.items()],
        "template_hash_id": inst.template_hash_id,
        "ssh_host": f"ssh{inst.id % 9 + 1}.sim.vast.local",
        "ssh_port": inst.ssh_port,
        "public_ipaddr": machine.public_ip + " \n",
        "local_ipaddrs": "172.17.0.2 ",
        "direct_port_start": -1,
        "direct_port_end": -1,
        "ports": {"22/tcp": [{"HostIp": ANY_ADDRESS, "HostPort": str(inst.ssh_port)}]},
        "volume_info": [],
        "time_remaining": "",
        "sim_progress_hours": round(market.progress(inst), 6),
    }


def machine_json(market: Market, machine: Machine) -> dict[str, Any]:
    insts = market.machine_instances(machine.id)
    busy = sum(i.num_gpus for i in insts if i.holding)
    return {
        "id": machine.id,
        "machine_id": machine.id,
        "hostname": machine.hostname,
        "host_id": machine.host_id,
        "gpu_name": machine.gpu_name,
        "num_gpus": machine.num_gpus,
        "gpu_ram": machine.gpu_ram,
        "disk_space": machine.disk_space,
        "reliability2": machine.reliability,
        "geolocation": machine.geolocation,
        "verification": machine.verification,
        "listed": machine.listed,
        "listed_gpu_cost": machine.price_gpu if machine.listed else None,
        "min_bid_price": machine.price_min_bid,
        "listed_storage_cost": machine.price_disk,
        "min_chunk": machine.min_chunk,
        "end_date": machine.end_date if machine.listed else None,
        "gpu_occupancy": " ".join("R" if n < busy else "x" for n in range(machine.num_gpus)),
        "current_rentals_running": sum(1 for i in insts if i.holding),
        "timeout": 0,
        "online": machine.online,
        "offer_ids": {str(k): v for k, v in machine.offer_ids.items()},
    }


def user_json(market: Market, config: SimConfig) -> dict[str, Any]:
    credit = round(market.credit, 6)
    return {
        "id": config.user_id,
        "email": config.email,
        "username": market.username or config.username,
        "fullname": "Sim User",
        "balance": credit,
        "credit": credit,
        "can_pay": credit > 0,
        "has_billing": True,
        "billing_creditonly": 1,
        "host_agreement_accepted": True,
        "ssh_key": next((k["public_key"] for k in market.ssh_keys.values()), None),
        "sid": f"sim-{config.user_id}",
        "key_id": 1,
        "is_staff": False,
        "email_verified": True,
        "user_type": "client",
    }


def _hours_line(seconds: float, amount: float) -> str:
    hours = seconds / 3600.0
    rate = amount / hours if hours > 0 else 0.0
    return f"{hours:.3f} hours at ${rate:.3f}/hour"


def charge_rows(market: Market) -> list[dict[str, Any]]:
    """Per-instance charges (still running and destroyed), each with gpu and disk items."""
    rows = []
    for inst in [*market.account_instances(), *(i for i in market.destroyed.values() if i.owner == ACCOUNT)]:
        amount = inst.gpu_cost + inst.disk_cost
        rows.append(
            {
                "id": inst.id,
                "start": inst.created_at,
                "end": market.now if inst.id in market.instances else inst.created_at + inst.disk_seconds,
                "type": "instance",
                "source": f"instance-{inst.id}",
                "description": f"Instance {inst.id} ({inst.num_gpus}x {market.machines[inst.machine_id].gpu_name})",
                "amount": round(amount, 6),
                "items": [
                    {
                        "type": "gpu",
                        "description": _hours_line(inst.gpu_seconds, inst.gpu_cost),
                        "amount": round(inst.gpu_cost, 6),
                    },
                    {
                        "type": "disk",
                        "description": _hours_line(inst.disk_seconds, inst.disk_cost),
                        "amount": round(inst.disk_cost, 6),
                    },
                ],
            }
        )
    rows.sort(key=lambda r: (r["start"], r["id"]))
    return rows


def invoice_rows(market: Market) -> list[dict[str, Any]]:
    """Credits (deposits) and charges, oldest first, with stable ids."""
    rows: list[dict[str, Any]] = []
    for index, (when, amount) in enumerate(market.deposits):
        rows.append(
            {
                "id": 1 + index,
                "timestamp": when,
                "type": "credit",
                "service": "stripe",
                "when": when,
                "start": when,
                "end": when,
                "amount": amount,
                "description": "Initial deposit",
                "source": "deposit",
            }
        )
    for row in charge_rows(market):
        rows.append(
            {
                "id": 1_000_000 + row["id"],
                "timestamp": row["start"],
                "type": "charge",
                "service": "instance",
                "when": row["start"],
                "start": row["start"],
                "end": row["end"],
                "amount": -row["amount"],
                "description": row["description"],
                "source": row["source"],
                "items": row["items"],
            }
        )
    return rows
