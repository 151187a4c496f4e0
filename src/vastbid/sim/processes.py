"""The other market participants, seeded: on-demand renters, competing bidders, failing machines, expiring
listings. Each is a Poisson process scheduled as events on the market's queue (no per-second loop).
"""

from __future__ import annotations

from typing import Any

from vastbid.sim.entities import OTHER, Machine
from vastbid.sim.market import Market


class Participants:
    """Registers the event handlers and seeds the first events and the initial occupancy."""

    def __init__(self, market: Market) -> None:
        self.market = market
        self.rates = market.config.rates
        self.rng = market.rng
        self._machines: list[Machine] | None = None
        market.handlers.update(
            {
                "od_arrival": self._on_demand_arrival,
                "bid_arrival": self._bidder_arrival,
                "bid_move": self._bid_move,
                "depart": self._depart,
                "failure": self._failure,
                "online": self._online,
                "expire": self._expire,
                "relist": self._relist,
            }
        )

    def start(self) -> None:
        market = self.market
        for machine in self._market_machines():
            market.schedule(machine.end_date, "expire", (machine.id, machine.listing_generation))
        for machine in self._market_machines():
            roll = self.rng.random()
            if roll < self.rates.initial_on_demand_fraction:
                self._rent(machine, bid=False)
            elif roll < self.rates.initial_on_demand_fraction + self.rates.initial_bid_fraction:
                self._rent(machine, bid=True)
        self._next("od_arrival", self.rates.on_demand_arrivals_per_hour)
        self._next("bid_arrival", self.rates.bidder_arrivals_per_hour)
        self._next("bid_move", self.rates.bid_moves_per_hour)
        self._next("failure", self.rates.machine_failures_per_hour)

    def _market_machines(self) -> list[Machine]:
        if self._machines is None:
            self._machines = [m for m in self.market.machines.values() if m.owner == OTHER]
        return self._machines

    def _hours(self, mean: float) -> float:
        return self.rng.expovariate(1.0 / mean) * 3600.0 if mean > 0 else 0.0

    def _next(self, kind: str, per_hour: float) -> None:
        if per_hour > 0:
            self.market.schedule(self.market.now + self.rng.expovariate(per_hour) * 3600.0, kind)

    def _rent(self, machine: Machine, *, bid: bool) -> None:
        market = self.market
        if not machine.listed or not machine.online or not machine.offer_ids:
            return
        k = self.rng.choice(list(machine.offer_ids))
        offer_id = machine.offer_ids[k]
        price: float | None = None
        if bid:
            floor = market.min_bid(machine, k)
            if floor is None:
                return
            price = round(floor * self.rng.uniform(1.0, 1.15), 4)
            if price >= machine.price_gpu * k:
                return
        result = market.create(offer_id, price=price, owner=OTHER, image="market/other")
        if result.instance is not None:
            mean = self.rates.bidder_mean_hours if bid else self.rates.on_demand_mean_hours
            market.schedule(market.now + self._hours(mean), "depart", result.instance.id)

    def _random_machine(self) -> Machine | None:
        machines = self._market_machines()
        return self.rng.choice(machines) if machines else None

    def _on_demand_arrival(self, market: Market, _: Any) -> None:
        machine = self._random_machine()
        if machine is not None:
            self._rent(machine, bid=False)
        self._next("od_arrival", self.rates.on_demand_arrivals_per_hour)

    def _bidder_arrival(self, market: Market, _: Any) -> None:
        machine = self._random_machine()
        if machine is not None:
            self._rent(machine, bid=True)
        self._next("bid_arrival", self.rates.bidder_arrivals_per_hour)

    def _bid_move(self, market: Market, _: Any) -> None:
        bidders = [i for i in market.instances.values() if i.owner == OTHER and i.is_bid]
        if bidders:
            inst = self.rng.choice(bidders)
            machine = market.machines[inst.machine_id]
            floor = market.min_bid(machine, inst.num_gpus, exclude=inst.id)
            if floor is not None:
                new = round(floor * self.rng.uniform(0.95, 1.15), 4)
                if new < machine.price_gpu * inst.num_gpus:
                    market.change_bid(inst, new)
        self._next("bid_move", self.rates.bid_moves_per_hour)

    def _depart(self, market: Market, instance_id: Any) -> None:
        inst = market.instances.get(int(instance_id))
        if inst is not None:
            market.destroy(inst)

    def _failure(self, market: Market, _: Any) -> None:
        machine = self._random_machine()
        if machine is not None and machine.online:
            machine.online = False
            market.touch(machine)
            market.schedule(market.now + self._hours(self.rates.offline_mean_hours), "online", machine.id)
        self._next("failure", self.rates.machine_failures_per_hour)

    def _online(self, market: Market, machine_id: Any) -> None:
        machine = market.machines[int(machine_id)]
        machine.online = True
        market.reallocate(machine)

    def _expire(self, market: Market, payload: Any) -> None:
        machine_id, generation = payload
        machine = market.machines[machine_id]
        if machine.listed and machine.listing_generation == generation:
            market.unlist_machine(machine)
            market.schedule(market.now + self._hours(self.rates.relist_delay_mean_hours), "relist", machine_id)

    def _relist(self, market: Market, machine_id: Any) -> None:
        machine = market.machines[int(machine_id)]
        if machine.listed:
            return
        factor = self.rng.uniform(0.9, 1.1)
        machine.price_gpu = round(machine.price_gpu * factor, 4)
        machine.price_min_bid = round(machine.price_gpu * self.rng.uniform(0.4, 0.7), 4)
        days = self.rng.uniform(self.rates.listing_min_days, self.rates.listing_max_days)
        machine.end_date = market.now + days * 86400.0
        market.list_machine(machine)
        market.schedule(machine.end_date, "expire", (machine.id, machine.listing_generation))
        market.reallocate(machine)
