"""``MarketMemory``: what the daemon remembers about the market between ticks, in one injected object.

In the manner of Karpenter's ``UnavailableOfferings``, it owns:
- recently unavailable offers (a create found them taken or gone): skipped for ``UNAVAILABLE_TICKS`` ticks;
- per-machine history: rentals we made there and interruptions we saw (``MachineRecord``), learned from what
  each tick did (never by reading back the rows it wrote);
- spot runs (``SpotRuns``): how long each machine's interruptible capacity lasts.

It is loaded once (on the first tick: the spot runs and the machine history saved in the database, small aggregates,
never rebuilt from the decision log; a failed load is logged and retried on the next tick, and nothing is saved
until a load succeeded, so an empty memory never overwrites a stored one) and saved every ``SAVE_EVERY`` and on a
graceful stop. The snapshot step reads it through ``view``; the tick feeds it through ``observe`` and ``learn``.

A ``spot_source`` may stand in for the measured spot runs (the backtests feed what a market recorder saw of a
trace's past).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from vastbid.core.choice import MachineRecord
from vastbid.core.offers import Offer
from vastbid.core.spot_runs import SpotRuns, SpotStats
from vastbid.store.store import Store

log = structlog.get_logger("vastbid.memory")

UNAVAILABLE_TICKS = 5
"""How many ticks an offer that failed to rent (taken, gone) is skipped."""
SPOT_GAP_TICKS = 3
"""A machine unseen for more than this many tick lengths has its run of spot capacity ended at its last sighting."""
SAVE_EVERY = timedelta(minutes=15)
"""How often (on the daemon's clock) the spot runs are saved in the database."""

SpotSource = Callable[[Collection[int], datetime], Mapping[int, SpotStats]]
"""Per machine id asked for, its spot statistics as of a moment."""
Group = tuple[str, int]
"""A group of jobs sharing an offer filter and a GPU count."""


@dataclass(frozen=True, slots=True)
class MemoryView:
    """What the memory tells one tick's snapshot."""

    unavailable_offer_ids: frozenset[int]
    history: Mapping[int, MachineRecord]
    spot_stats: Mapping[Group, Mapping[int, SpotStats]]


class MarketMemory:
    """The daemon's memory of the market (see the module docstring)."""

    def __init__(self, tick: timedelta, *, spot_source: SpotSource | None = None) -> None:
        self.spot_runs = SpotRuns(tolerance=SPOT_GAP_TICKS * tick, resolution=tick)
        self._spot_source = spot_source
        self._unavailable: dict[int, int] = {}
        self._machines: dict[int, MachineRecord] = {}
        self._loaded = False
        self._saved_at: datetime | None = None
        self._orphans: dict[int, datetime] = {}

    # --- persistence ----------------------------------------------------------------------------------------

    def load(self, store: Store, now: datetime) -> None:
        """Once, restore the saved spot runs and machine history (small aggregates: never the decision log); a
        failure is logged and retried on the next tick."""
        if self._loaded:
            return
        try:
            states = store.spot_runs.load()
            history = store.machine_history.load()
        except Exception as exc:  # never fails the tick: the next one tries again
            log.warning("spot_runs_load_failed", error=str(exc), error_class=type(exc).__name__)
            return
        self.spot_runs.restore(states)
        for machine, record in history.items():  # what this run already learned adds to what was saved
            self._count(machine, rentals=record.rentals, interruptions=record.interruptions)
        self._loaded = True
        self._saved_at = now
        log.info("spot_runs_restored", machines=len(self.spot_runs))

    def save_if_due(self, store: Store, now: datetime) -> None:
        """Save when ``SAVE_EVERY`` has passed since the last save (or the load)."""
        if self._saved_at is not None and now - self._saved_at >= SAVE_EVERY:
            self.save(store, now)

    def save(self, store: Store, now: datetime) -> bool:
        """Save the spot runs now; whether it worked (a failure is logged, never raised).

        Nothing is saved before the stored snapshot has been loaded, so it is never replaced by a blank one.
        """
        if not self._loaded:
            return False
        try:
            saved = store.spot_runs.replace_all(self.spot_runs.snapshot())
            store.machine_history.replace_all(self._machines)
        except Exception as exc:  # a failed save must not fail the tick; the previous snapshot stays whole
            log.warning("spot_runs_save_failed", error=str(exc), error_class=type(exc).__name__)
            return False
        self._saved_at = now
        log.info("spot_runs_saved", machines=saved)
        return True

    # --- feeding --------------------------------------------------------------------------------------------

    def observe(self, now: datetime, scanned: Iterable[Offer]) -> None:
        """One tick's search results: which machines showed spot capacity."""
        self.spot_runs.observe_offers(now, scanned)

    def learn(
        self, *, rented_machines: Iterable[int], interrupted_machines: Iterable[int], unavailable_offers: Iterable[int]
    ) -> None:
        """What one tick did: machines rented, machines where we were interrupted, offers that failed to rent."""
        self._unavailable = {oid: left - 1 for oid, left in self._unavailable.items() if left > 1}
        for offer_id in unavailable_offers:
            self._unavailable[offer_id] = UNAVAILABLE_TICKS
        for machine in rented_machines:
            self._count(machine, rentals=1)
        for machine in interrupted_machines:
            self._count(machine, interruptions=1)

    def _count(self, machine: int, *, rentals: int = 0, interruptions: int = 0) -> None:
        seen = self._machines.get(machine, MachineRecord())
        self._machines[machine] = dataclasses.replace(
            seen, rentals=seen.rentals + rentals, interruptions=seen.interruptions + interruptions
        )

    def orphans_since(self) -> dict[int, datetime]:
        """Since when each orphan of ours has been seen (the grace period of ``adopt_or_destroy``)."""
        return dict(self._orphans)

    def saw_orphans(self, ids: Iterable[int], now: datetime) -> None:
        """The orphans seen this tick: new ones start their grace period now, the others are forgotten."""
        self._orphans = {i: self._orphans.get(i, now) for i in ids}

    # --- reading --------------------------------------------------------------------------------------------

    def view(self, groups: Mapping[Group, Collection[int]], now: datetime) -> MemoryView:
        """The snapshot's part: unavailable offers, machine history, and each group's machines' spot statistics."""
        stats: dict[Group, Mapping[int, SpotStats]] = {}
        for group, machines in groups.items():
            if self._spot_source is not None:
                stats[group] = dict(self._spot_source(machines, now))
            else:
                stats[group] = self.spot_runs.stats_for(sorted(machines), now)
        return MemoryView(
            unavailable_offer_ids=frozenset(self._unavailable),
            history=dict(self._machines),
            spot_stats=stats,
        )
