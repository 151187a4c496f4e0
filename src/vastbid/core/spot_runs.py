"""Spot runs: how long each machine's interruptible capacity lasts, measured from what the daemon sees tick by tick.

A machine *has spot capacity* on a tick when one of its offers was seen rentable with ``min_bid < dph_total``
(``has_spot_capacity``). A *run* is a stretch of ticks with capacity: it starts on the first tick it is seen up and
ends on the first tick it is seen down (a machine seen, but without such an offer). A machine not seen at all
(not in this tick's search, or the daemon not ticking) keeps its run open for ``tolerance``; unseen for longer, the
run ended when it was last seen up. So a gap in observation never counts as capacity: neither a long run across
the gap nor a made-up one. With ``resolution`` set to the tick length (the daemon does), each tick seen up counts
whole: a run seen up on k ticks is k ticks old, and k ticks long once over, exactly as the backtests measure runs
in a trace.

``SpotRuns`` is a small mutable tracker owned by the daemon; its logic is pure ("now" is passed in, no I/O).
``stats_for`` gives, per machine id, a ``SpotStats`` value (the age of the current run, 0 when none, and the lengths
of past completed runs in hours, oldest first, at most ``PAST_RUNS_KEPT``): the snapshot carries them and the
deadline strategies read them from ``StrategyContext.spot_stats``.

``snapshot()`` gives the whole state as ``SpotRunState`` values (one per machine) and ``restore(states)`` puts it
back, so the daemon can save it and pick up after a restart as if it had never stopped: a machine unseen past the
tolerance since (the daemon was down) has its open run ended at its last sighting, as for any gap.

Cost: ``observe`` touches only the machines seen on the tick (plus the ones forgotten), ``stats_for`` only the
machines asked for; nothing walks the history. Memory: at most ``PAST_RUNS_KEPT`` lengths per machine, and a
machine unseen for more than ``retention`` is forgotten.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from vastbid.core.offers import Offer

PAST_RUNS_KEPT = 200
"""Past run lengths kept per machine (the most recent)."""
DEFAULT_RETENTION = timedelta(days=7)
"""A machine unseen for longer is forgotten, its past runs with it."""


@dataclass(frozen=True, slots=True)
class SpotStats:
    """What was observed of one machine's spot capacity before now."""

    up_hours: float = 0.0
    """Age of the current run of capacity in hours (0 when there is none)."""
    past_up_hours: tuple[float, ...] = ()
    """Lengths of past completed runs in hours, oldest first."""


def has_spot_capacity(offer: Offer) -> bool:
    """Whether ``offer`` shows interruptible capacity: rentable, and a bid is cheaper than renting on demand."""
    return offer.rentable and offer.min_bid < offer.dph_total


@dataclass(slots=True)
class _Machine:
    last_seen: datetime
    up_since: datetime | None = None
    """Start of the open run (first tick seen up), or ``None``."""
    last_up: datetime | None = None
    """Last tick the open run was seen up."""
    past: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class SpotRunState:
    """One machine as ``SpotRuns`` remembers it: what ``snapshot`` gives and ``restore`` takes."""

    machine_id: int
    last_seen: datetime
    up_since: datetime | None = None
    """Start of the open run, or ``None``."""
    last_up: datetime | None = None
    """Last tick the open run was seen up (``None`` when there is no open run)."""
    past_up_hours: tuple[float, ...] = ()
    """Lengths of past runs in hours, oldest first."""


def _hours(delta: timedelta) -> float:
    return max(delta.total_seconds() / 3600.0, 0.0)


class SpotRuns:
    """Per machine, the open run of spot capacity and the lengths of past ones (see the module docstring)."""

    def __init__(
        self,
        tolerance: timedelta,
        *,
        retention: timedelta = DEFAULT_RETENTION,
        kept: int = PAST_RUNS_KEPT,
        resolution: timedelta = timedelta(0),
    ) -> None:
        self.tolerance = tolerance
        self.resolution = resolution
        """The length of a tick: a run seen up on k ticks is k ticks old (and k long once it ends), as in the
        backtests; 0 counts from its first sighting instead."""
        self.retention = retention
        self.kept = max(kept, 1)
        self._machines: dict[int, _Machine] = {}
        """In order of last sighting, least recent first (each sighting moves a machine to the end)."""
        self._last: datetime | None = None

    def __len__(self) -> int:
        """How many machines are remembered."""
        return len(self._machines)

    def observe_offers(self, now: datetime, offers: Iterable[Offer]) -> None:
        """``observe`` one tick's search results: every machine with an offer is seen, up if one has capacity."""
        seen: set[int] = set()
        available: set[int] = set()
        for offer in offers:
            seen.add(offer.machine_id)
            if has_spot_capacity(offer):
                available.add(offer.machine_id)
        self.observe(now, available, seen)

    def observe(self, now: datetime, available: Iterable[int], seen: Iterable[int]) -> None:
        """Record one tick: ``available`` machines have spot capacity, the rest of ``seen`` have none.

        An observation not later than the previous one is ignored (a clock stepping back must not reorder runs).
        """
        if self._last is not None and now <= self._last:
            return
        up = set(available)
        machines = self._machines
        for machine_id in up.union(seen):
            record = machines.pop(machine_id, None)
            if record is None:
                record = _Machine(last_seen=now)
            else:
                self._expire(record, now)
                record.last_seen = now
            if machine_id in up:
                if record.up_since is None:
                    record.up_since = now
                record.last_up = now
            elif record.up_since is not None:
                self._close(record, now)
            machines[machine_id] = record
        self._last = now
        self._forget(now)

    def stats_for(self, machine_ids: Iterable[int], now: datetime) -> dict[int, SpotStats]:
        """Per known machine of ``machine_ids``, its ``SpotStats`` as of ``now`` (unknown machines are left out).

        A run whose machine has gone unseen past the tolerance is shown ended at its last sighting.
        """
        out: dict[int, SpotStats] = {}
        for machine_id in machine_ids:
            record = self._machines.get(machine_id)
            if record is None:
                continue
            past = record.past
            up_hours = 0.0
            if record.up_since is not None and record.last_up is not None:
                if now - record.last_up > self.tolerance:
                    past = (*past, _hours(record.last_up - record.up_since + self.resolution))[-self.kept :]
                else:
                    up_hours = _hours(now - record.up_since + self.resolution)
            out[machine_id] = SpotStats(up_hours=up_hours, past_up_hours=past)
        return out

    def snapshot(self) -> list[SpotRunState]:
        """Every remembered machine's state, least recently seen first (for ``restore`` after a restart)."""
        return [
            SpotRunState(
                machine_id=machine_id,
                last_seen=record.last_seen,
                up_since=record.up_since,
                last_up=record.last_up,
                past_up_hours=record.past,
            )
            for machine_id, record in self._machines.items()
        ]

    def restore(self, states: Iterable[SpotRunState]) -> None:
        """Replace what is remembered by ``states`` (a ``snapshot``, in any order), keeping this tracker's settings.

        The last observation is taken as the latest ``last_seen``: an observation not later is ignored, as before
        the snapshot. An open run missing either end is dropped (it cannot be measured); at most ``kept`` past
        lengths are kept. A machine given twice keeps its last state.
        """
        latest: dict[int, SpotRunState] = {state.machine_id: state for state in states}
        machines: dict[int, _Machine] = {}
        for state in sorted(latest.values(), key=lambda s: s.last_seen):
            is_open = state.up_since is not None and state.last_up is not None
            machines[state.machine_id] = _Machine(
                last_seen=state.last_seen,
                up_since=state.up_since if is_open else None,
                last_up=state.last_up if is_open else None,
                past=tuple(state.past_up_hours)[-self.kept :],
            )
        self._machines = machines
        self._last = max((record.last_seen for record in machines.values()), default=None)

    def _expire(self, record: _Machine, now: datetime) -> None:
        """End the open run at its last sighting when the machine went unseen for longer than the tolerance."""
        if record.last_up is not None and now - record.last_up > self.tolerance:
            self._close(record, record.last_up + self.resolution)

    def _close(self, record: _Machine, end: datetime) -> None:
        if record.up_since is not None:
            record.past = (*record.past, _hours(end - record.up_since))[-self.kept :]
        record.up_since = None
        record.last_up = None

    def _forget(self, now: datetime) -> None:
        """Drop machines unseen for longer than the retention (the least recently seen come first)."""
        cutoff = now - self.retention
        stale: list[int] = []
        for machine_id, record in self._machines.items():
            if record.last_seen >= cutoff:
                break
            stale.append(machine_id)
        for machine_id in stale:
            del self._machines[machine_id]
