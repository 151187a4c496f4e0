"""The market state and its rules: GPU allocation by priority, instance lifecycle, billing, lazy time.

Priority on a machine: on demand first (by age), then interruptibles by $/GPU bid descending; an instance that
already holds its GPUs wins a tie, then the earlier instance. Allocation is greedy in that order, so a new or raised
bid displaces only strictly lower ones, lowest first. Time moves lazily: ``advance_to(t)`` jumps from event to event
(boot done, work done, credit exhausted, bid expiry, market processes) and accrues billing in between.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vastbid.sim.config import SimConfig
from vastbid.sim.entities import ACCOUNT, Bid, Instance, Machine

EPSILON_BID = 0.001


@dataclass
class CreateResult:
    """What a create did: ``error`` is None on success; ``instance`` may exist even on failure (low bid)."""

    instance: Instance | None
    error: str | None = None
    status: int = 200
    msg: str = ""


@dataclass(order=True)
class _Event:
    when: float
    seq: int
    kind: str = field(compare=False)
    payload: Any = field(compare=False, default=None)


class Market:
    """All simulated state. Callers hold ``Simulator.lock`` and call ``advance_to`` before acting."""

    def __init__(self, config: SimConfig, start: float) -> None:
        self.config = config
        self.now = start
        self.epoch = start
        self.rng = random.Random(config.seed)
        self.machines: dict[int, Machine] = {}
        self.instances: dict[int, Instance] = {}
        self.destroyed: dict[int, Instance] = {}
        self.account: dict[int, Instance] = {}
        self.offers: dict[int, tuple[int, int]] = {}
        self.by_machine: dict[int, list[int]] = {}
        self.checkpoints: dict[str, float] = {}
        self.bids: dict[int, Bid] = {}
        self.credit = config.initial_credit
        self.username: str | None = None
        self.deposits: list[tuple[float, float]] = [(start, config.initial_credit)]
        self.ssh_keys: dict[int, dict[str, Any]] = {}
        self.templates: dict[int, dict[str, Any]] = {}
        self._events: list[_Event] = []
        self._seq = 0
        self._next_instance_id = config.first_instance_id
        self._next_offer_id = 10_000_000
        self._next_bid_id = 1
        self.offer_cache: dict[tuple[int, int, float, bool], tuple[int, bool, dict[str, Any]]] = {}
        self.handlers: dict[str, Callable[[Market, Any], None]] = {}
        self.after_step: list[Callable[[Market], None]] = []
        self.version = 0

    # --- ids and events ---------------------------------------------------------------------------------------

    def new_instance_id(self) -> int:
        self._next_instance_id += self.rng.randint(1, 7)
        return self._next_instance_id

    def new_bid_id(self) -> int:
        self._next_bid_id += 1
        return self._next_bid_id - 1

    def schedule(self, when: float, kind: str, payload: Any = None) -> None:
        self._seq += 1
        heapq.heappush(self._events, _Event(when, self._seq, kind, payload))

    # --- listings ---------------------------------------------------------------------------------------------

    def add_machine(self, machine: Machine) -> None:
        self.machines[machine.id] = machine
        self.by_machine.setdefault(machine.id, [])
        if machine.listed:
            self.list_machine(machine)

    def list_machine(self, machine: Machine) -> None:
        """(Re)list: every chunk gets a fresh offer id."""
        for old in machine.offer_ids.values():
            self.offers.pop(old, None)
        machine.offer_ids = {}
        machine.listed = True
        machine.listing_generation += 1
        for k in machine.chunks():
            self._next_offer_id += self.rng.randint(1, 13)
            machine.offer_ids[k] = self._next_offer_id
            self.offers[self._next_offer_id] = (machine.id, k)
        self.touch(machine)

    def unlist_machine(self, machine: Machine) -> None:
        for old in machine.offer_ids.values():
            self.offers.pop(old, None)
        machine.offer_ids = {}
        machine.listed = False
        self.touch(machine)

    def touch(self, machine: Machine) -> None:
        """Note that something about ``machine`` changed (invalidates its cached offers)."""
        machine.rev += 1
        self.version += 1

    def machine_instances(self, machine_id: int) -> list[Instance]:
        return [self.instances[i] for i in self.by_machine.get(machine_id, []) if i in self.instances]

    # --- priority and minimum bids ----------------------------------------------------------------------------

    @staticmethod
    def _priority(inst: Instance) -> tuple[int, float, int, int]:
        return (0 if not inst.is_bid else 1, -inst.per_gpu_bid, 0 if inst.holding else 1, inst.id)

    def _eligible(self, inst: Instance, machine: Machine) -> bool:
        if not inst.wants_run or not machine.online:
            return inst.holding and inst.wants_run  # an offline machine keeps its contracts
        if inst.owner == ACCOUNT and self.credit <= 1e-9:
            return False
        if inst.is_bid and (not inst.holding or self.config.evict_on_min_bid_raise):
            return inst.per_gpu_bid + 1e-12 >= machine.price_min_bid
        return True

    def _allocate(self, machine: Machine, candidates: list[Instance]) -> set[int]:
        free = machine.num_gpus
        won: set[int] = set()
        for inst in sorted(candidates, key=self._priority):
            if inst.num_gpus <= free:
                won.add(inst.id)
                free -= inst.num_gpus
        return won

    def on_demand_blocked(self, machine: Machine, k: int) -> bool:
        """True when GPUs held or wanted on demand leave fewer than ``k`` for a new rental."""
        held = sum(i.num_gpus for i in self.machine_instances(machine.id) if not i.is_bid and i.wants_run)
        return machine.num_gpus - held < k

    def min_bid(self, machine: Machine, k: int, exclude: int | None = None) -> float | None:
        """The lowest whole-offer bid that would get ``k`` GPUs now; None when on demand blocks it."""
        floor = round(machine.price_min_bid * k, 6)
        others = [i for i in self.machine_instances(machine.id) if i.id != exclude and self._eligible(i, machine)]
        if not others:
            return floor
        if any(not i.is_bid for i in others) and self.on_demand_blocked(machine, k):
            return None
        candidates = sorted({floor} | {round(i.per_gpu_bid * k + EPSILON_BID, 6) for i in others if i.is_bid})
        probe_id = 1 << 62
        for price in candidates:
            if price < floor:
                continue
            probe = Instance(probe_id, ACCOUNT, machine.id, k, True, price, 0.0, 0.0, 0.0, self.now)
            probe.wants_run = True
            if probe_id in self._allocate(machine, [*others, probe]):
                return price
        return None

    # --- allocation -------------------------------------------------------------------------------------------

    def reallocate(self, machine: Machine) -> None:
        """Give the machine's GPUs to the highest-priority instances; stop the displaced ones."""
        insts = self.machine_instances(machine.id)
        won = self._allocate(machine, [i for i in insts if self._eligible(i, machine)])
        for inst in insts:
            if inst.id in won and not inst.holding:
                inst.holding = True
                inst.display = "running"
                inst.boot_until = self.now + self._boot_seconds(inst)
                inst.status_msg = "loading image"
            elif inst.id not in won and inst.holding:
                inst.holding = False
                inst.boot_until = None
                if inst.owner == ACCOUNT and self.credit <= 1e-9:
                    inst.wants_run = False
                    inst.display = "no_credit"
                    inst.status_msg = "stopped: insufficient credit"
                else:
                    inst.display = "outbid"
                    inst.status_msg = "stopped: outbid by a higher bid or an on-demand rental"
                    inst.wants_run = self.config.auto_resume
        self.touch(machine)

    def _boot_seconds(self, inst: Instance) -> float:
        rnd = random.Random(hash((self.config.seed, inst.id, round(self.now))))
        return rnd.uniform(self.config.boot_min_seconds, self.config.boot_max_seconds)

    # --- the account's actions --------------------------------------------------------------------------------

    def create(
        self,
        offer_id: int,
        *,
        price: float | None,
        owner: str = ACCOUNT,
        cancel_unavail: bool = False,
        disk: float = 10.0,
        **fields: Any,
    ) -> CreateResult:
        """Rent an offer: ``price`` None = on demand, else an interruptible bid for the whole offer."""
        where = self.offers.get(offer_id)
        if where is None:
            return CreateResult(None, "no_such_ask", 404, f"Instance type by id {offer_id} is not available.")
        machine = self.machines[where[0]]
        k = where[1]
        if not machine.online or self.on_demand_blocked(machine, k):
            return CreateResult(None, "no_such_ask", 404, f"Instance type by id {offer_id} is not available.")
        min_bid = self.min_bid(machine, k)
        low = price is not None and (min_bid is None or price < min_bid - 1e-9)
        if low and cancel_unavail:
            return CreateResult(None, "no_such_ask", 410, f"Instance type by id {offer_id} is no longer available.")
        inst = Instance(
            id=self.new_instance_id(),
            owner=owner,
            machine_id=machine.id,
            num_gpus=k,
            is_bid=price is not None,
            price=price,
            on_demand_rate=round(machine.price_gpu * k, 6),
            disk=float(disk),
            price_disk=machine.price_disk,
            created_at=self.now,
            **fields,
        )
        inst.ssh_port = 20000 + inst.id % 40000
        if inst.checkpoint_key is None:
            inst.progress_hours = 0.0
        self.instances[inst.id] = inst
        if owner == ACCOUNT:
            self.account[inst.id] = inst
        self.by_machine[machine.id].append(inst.id)
        if low:
            inst.wants_run = False
            inst.display = "low_bid"
            inst.status_msg = "stopped: bid price below the minimum bid"
            self.touch(machine)
            shown = "none (on-demand rentals hold the GPUs)" if min_bid is None else f"{min_bid:.4f}"
            return CreateResult(inst, "insufficient_bid", 200, f"Your bid price {price} is below the minimum {shown}.")
        self.reallocate(machine)
        return CreateResult(inst)

    def start(self, inst: Instance) -> None:
        if inst.holding:
            return
        inst.wants_run = True
        inst.display = "scheduling"
        inst.status_msg = "scheduling: waiting for the GPUs"
        self.reallocate(self.machines[inst.machine_id])

    def stop(self, inst: Instance) -> None:
        inst.wants_run = False
        inst.holding = False
        inst.boot_until = None
        inst.display = "stopped"
        inst.status_msg = "stopped by the user"
        self.reallocate(self.machines[inst.machine_id])

    def change_bid(self, inst: Instance, price: float | None) -> None:
        machine = self.machines[inst.machine_id]
        if price is None:
            price = self.min_bid(machine, inst.num_gpus, exclude=inst.id) or inst.price or 0.0
        inst.price = float(price)
        inst.is_bid = True
        if inst.display == "low_bid":
            inst.display = "stopped"
        self.reallocate(machine)

    def destroy(self, inst: Instance) -> None:
        self.instances.pop(inst.id, None)
        self.account.pop(inst.id, None)
        inst.holding = False
        inst.wants_run = False
        self.destroyed[inst.id] = inst
        self.by_machine[inst.machine_id].remove(inst.id)
        self.reallocate(self.machines[inst.machine_id])

    # --- time -------------------------------------------------------------------------------------------------

    def account_instances(self) -> list[Instance]:
        return list(self.account.values())

    def progress(self, inst: Instance) -> float:
        key = inst.checkpoint_key
        return self.checkpoints.get(key, 0.0) if key else inst.progress_hours

    def burn_rate(self) -> float:
        """$/h the account pays right now."""
        total = 0.0
        for inst in self.account_instances():
            total += inst.storage_rate
            if self._gpu_billed(inst):
                total += inst.gpu_rate
        return total

    def _gpu_billed(self, inst: Instance) -> bool:
        return inst.booted(self.now) and self.machines[inst.machine_id].online

    def _next_internal(self) -> float | None:
        times: list[float] = []
        for inst in self.account_instances():
            if inst.holding and inst.boot_until is not None and inst.boot_until > self.now:
                times.append(inst.boot_until)
            work = inst.work_hours
            if work is not None and self._gpu_billed(inst):
                times.append(self.now + max(0.0, work - self.progress(inst)) * 3600.0)
        rate = self.burn_rate()
        if rate > 0 and self.credit > 1e-9:
            times.append(self.now + self.credit / rate * 3600.0)
        for bid in self.bids.values():
            if bid.closed is None and bid.expires_at is not None:
                times.append(max(bid.expires_at, self.now))
        if self._events:
            times.append(self._events[0].when)
        return min(times) if times else None

    def _accrue(self, until: float) -> None:
        dt = until - self.now
        if dt <= 0:
            return
        hours = dt / 3600.0
        for inst in self.account_instances():
            cost = inst.storage_rate * hours
            inst.disk_seconds += dt
            inst.disk_cost += cost
            self.credit -= cost
            if self._gpu_billed(inst):
                gpu = inst.gpu_rate * hours
                inst.gpu_seconds += dt
                inst.gpu_cost += gpu
                self.credit -= gpu
                key = inst.checkpoint_key
                if key:
                    self.checkpoints[key] = self.checkpoints.get(key, 0.0) + hours
                else:
                    inst.progress_hours += hours
        self.now = until

    def _settle(self) -> None:
        """Apply what became true at ``self.now``: boots done, work done, credit gone, bids lapsed."""
        touched: set[int] = set()
        for inst in list(self.account_instances()):
            if inst.boot_until is not None and inst.boot_until <= self.now + 1e-9:
                inst.boot_until = None
                inst.started_once = True
                if inst.status_msg == "loading image":
                    inst.status_msg = f"success, running {inst.image}/ssh"
            work = inst.work_hours
            if work is not None and self._gpu_billed(inst) and self.progress(inst) >= work - 1e-9:
                inst.holding = False
                inst.wants_run = False
                inst.display = "exited"
                inst.status_msg = "container exited with code 0"
                touched.add(inst.machine_id)
        if self.credit <= 1e-9:
            for inst in self.account_instances():
                if inst.holding or inst.wants_run:
                    inst.wants_run = False
                    touched.add(inst.machine_id)
        for bid in self.bids.values():
            if bid.closed is None and bid.expires_at is not None and bid.expires_at <= self.now + 1e-9:
                bid.closed = "expired"
                lapsed = self.instances.get(bid.instance_id) if bid.instance_id is not None else None
                if lapsed is not None:
                    self.destroy(lapsed)
        for machine_id in touched:
            self.reallocate(self.machines[machine_id])
        if self.credit <= 1e-9:
            for inst in self.account_instances():
                if not inst.holding and inst.display not in ("exited", "low_bid", "stopped"):
                    inst.display = "no_credit"
                    inst.status_msg = "stopped: insufficient credit"

    def advance_to(self, when: float) -> None:
        """Bring the market up to ``when``, event by event."""
        guard = 0
        while True:
            nxt = self._next_internal()
            if nxt is None or nxt > when:
                self._accrue(when)
                self._settle()
                break
            self._accrue(max(nxt, self.now))
            while self._events and self._events[0].when <= self.now:
                event = heapq.heappop(self._events)
                handler = self.handlers.get(event.kind)
                if handler is not None:
                    handler(self, event.payload)
            self._settle()
            for hook in self.after_step:
                hook(self)
            guard += 1
            if guard > 5_000_000:  # pragma: no cover - a bug, not a market
                raise RuntimeError("simulator time does not advance")
