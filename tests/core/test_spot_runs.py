"""SpotRuns: runs of interruptible capacity per machine, as the daemon observes them tick by tick."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from factories import offer
from vastbid.backtest.replay import spot_stats_at, up_runs
from vastbid.core.spot_runs import (
    DEFAULT_RETENTION,
    PAST_RUNS_KEPT,
    SpotRuns,
    SpotRunState,
    SpotStats,
    has_spot_capacity,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)
TICK = timedelta(minutes=10)
TOLERANCE = 3 * TICK


def at(tick: float) -> datetime:
    return T0 + tick * TICK


def hours(ticks: float) -> float:
    return ticks * TICK.total_seconds() / 3600.0


def tracker(retention: timedelta = DEFAULT_RETENTION) -> SpotRuns:
    return SpotRuns(TOLERANCE, retention=retention)


def feed(runs: SpotRuns, pattern: str, machine: int = 1, start: int = 0) -> None:
    """One tick per character: ``U`` seen up, ``D`` seen down, ``.`` not seen (or the daemon not ticking)."""
    for i, char in enumerate(pattern):
        if char == "U":
            runs.observe(at(start + i), {machine}, {machine})
        elif char == "D":
            runs.observe(at(start + i), set(), {machine})


def stats(runs: SpotRuns, now: datetime, machine: int = 1) -> SpotStats:
    return runs.stats_for([machine], now)[machine]


def test_a_run_lasts_from_the_first_tick_seen_up_to_the_first_tick_seen_down() -> None:
    runs = tracker()
    feed(runs, "UUUUD")
    assert stats(runs, at(4)) == SpotStats(up_hours=0.0, past_up_hours=(pytest.approx(hours(4)),))


def test_the_current_run_s_age_grows_with_time_and_past_runs_are_kept_oldest_first() -> None:
    runs = tracker()
    feed(runs, "UUDDUDUUU")
    result = stats(runs, at(8.5))
    assert result.up_hours == pytest.approx(hours(2.5))
    assert result.past_up_hours == (pytest.approx(hours(2)), pytest.approx(hours(1)))


def test_a_machine_missing_from_a_few_searches_keeps_its_run() -> None:
    runs = tracker()
    feed(runs, "UU..UU")
    assert stats(runs, at(5)) == SpotStats(up_hours=pytest.approx(hours(5)), past_up_hours=())


def test_a_machine_unseen_past_the_tolerance_ended_its_run_when_last_seen_up() -> None:
    runs = tracker()
    feed(runs, "UUU")
    # Not seen since tick 2: at tick 6 (4 ticks later, past the 3-tick tolerance) the run ended at tick 2.
    assert stats(runs, at(6)) == SpotStats(up_hours=0.0, past_up_hours=(pytest.approx(hours(2)),))
    # Seen down later: the run is still the one that ended at its last sighting, not one ending now.
    feed(runs, "D", start=7)
    assert stats(runs, at(7)) == SpotStats(up_hours=0.0, past_up_hours=(pytest.approx(hours(2)),))


def test_a_gap_in_observation_makes_neither_a_long_run_nor_a_fake_one() -> None:
    runs = tracker()
    feed(runs, "UU")
    # The daemon is down for ten hours; the machine is up again when it comes back.
    back = 2 + 60
    feed(runs, "UU", start=back)
    result = stats(runs, at(back + 1))
    assert result.past_up_hours == (pytest.approx(hours(1)),)
    assert result.up_hours == pytest.approx(hours(1))


def test_a_machine_seen_without_spot_capacity_has_no_run() -> None:
    runs = tracker()
    feed(runs, "DDD")
    assert stats(runs, at(2)) == SpotStats(up_hours=0.0, past_up_hours=())


def test_machines_never_seen_are_left_out_of_the_statistics() -> None:
    runs = tracker()
    feed(runs, "UU", machine=1)
    assert set(runs.stats_for([1, 2], at(1))) == {1}


def test_at_most_the_last_200_run_lengths_are_kept() -> None:
    runs = tracker()
    # Runs of 1, 2, 3, ... ticks, each followed by a tick down.
    pattern = "".join("U" * (n % 7 + 1) + "D" for n in range(PAST_RUNS_KEPT + 50))
    feed(runs, pattern)
    past = stats(runs, at(len(pattern))).past_up_hours
    assert isinstance(past, tuple)
    assert len(past) == PAST_RUNS_KEPT
    expected = [hours(n % 7 + 1) for n in range(50, PAST_RUNS_KEPT + 50)]
    assert list(past) == pytest.approx(expected)


def test_machines_unseen_for_longer_than_the_retention_are_forgotten() -> None:
    runs = tracker(retention=timedelta(days=7))
    runs.observe(at(0), {1}, {1, 2})
    week = int(timedelta(days=7) / TICK)
    runs.observe(at(week), {2}, {2})
    assert len(runs) == 2  # machine 1 unseen for exactly the retention: kept
    runs.observe(at(week + 1), {2}, {2})
    assert len(runs) == 1
    assert set(runs.stats_for([1, 2], at(week + 1))) == {2}


def test_an_observation_from_the_past_is_ignored() -> None:
    runs = tracker()
    feed(runs, "UUU")
    runs.observe(at(1), set(), {1})
    assert stats(runs, at(2)) == SpotStats(up_hours=pytest.approx(hours(2)), past_up_hours=())


def test_spot_capacity_is_a_rentable_offer_whose_minimum_bid_is_under_its_on_demand_price() -> None:
    assert has_spot_capacity(offer(machine_id=1))
    assert not has_spot_capacity(offer(machine_id=1, min_bid=0.5, dph_total=0.5))
    assert not has_spot_capacity(offer(machine_id=1, rentable=False))
    runs = tracker()
    listing = [offer(machine_id=1), offer(machine_id=2, min_bid=0.6), offer(machine_id=3, rentable=False)]
    runs.observe_offers(at(0), listing)
    runs.observe_offers(at(1), listing)
    result = runs.stats_for([1, 2, 3], at(1))
    assert result[1].up_hours == pytest.approx(hours(1))
    assert result[2] == SpotStats(up_hours=0.0, past_up_hours=())
    assert result[3] == SpotStats(up_hours=0.0, past_up_hours=())


def test_twenty_thousand_machines_are_each_tracked_on_every_tick() -> None:
    # What this costs a tick is measured by bench/tick.py (the daemon with 20,000 offers), not timed here.
    runs = tracker()
    machines = range(20_000)
    half = set(range(0, 20_000, 2))
    for tick in range(6):
        runs.observe(at(tick), half if tick % 2 else machines, machines)
        result = runs.stats_for(machines, at(tick))
    assert len(result) == 20_000
    assert result[0] == SpotStats(up_hours=pytest.approx(hours(5)), past_up_hours=())  # up on every tick
    assert result[1] == SpotStats(up_hours=0.0, past_up_hours=(pytest.approx(hours(1)),) * 3)  # up one tick in two
    assert result[19_999] == result[1]


def test_with_the_tick_as_resolution_ages_and_lengths_are_the_backtest_replay_s() -> None:
    pattern = "DUUUDDUUDUUUUUD..UUD"
    runs = SpotRuns(TOLERANCE, resolution=TICK)
    available = np.array([char == "U" for char in pattern])
    intervals = up_runs(available)
    for tick, char in enumerate(pattern):
        feed(runs, char, start=tick)
        if char == ".":
            continue  # the replay has no unobserved ticks
        replayed = spot_stats_at(intervals, available, tick, hours(1))
        seen = stats(runs, at(tick))
        assert seen.up_hours == pytest.approx(replayed.up_hours)
        assert seen.past_up_hours == pytest.approx(replayed.past_up_hours)


# --- snapshot and restore (a daemon restart) ---------------------------------------------------------------------

PATTERNS = {1: "UUDUUUD..UUUU", 2: "DDDUUUUUUUUUU", 3: "UU....U.UUDDU", 4: "UUUUUUUUUU...", 5: "D.D.D.D.D.D.D"}
"""Five machines' ticks (``feed`` notation), all fed in step."""


def feed_all(runs: SpotRuns, start: int, end: int) -> None:
    for tick in range(start, end):
        chars = {machine: pattern[tick] for machine, pattern in PATTERNS.items()}
        up = {m for m, c in chars.items() if c == "U"}
        runs.observe(at(tick), up, {m for m, c in chars.items() if c != "."})


def restarted(runs: SpotRuns, *, reverse: bool = False) -> SpotRuns:
    """A new tracker with the same settings, restored from ``runs``'s snapshot (in reverse order if asked)."""
    states = runs.snapshot()
    fresh = SpotRuns(runs.tolerance, retention=runs.retention, kept=runs.kept, resolution=runs.resolution)
    fresh.restore(list(reversed(states)) if reverse else states)
    return fresh


def test_a_restored_tracker_goes_on_exactly_as_if_it_had_never_stopped() -> None:
    length = len(PATTERNS[1])
    for cut in range(1, length):
        never_stopped = SpotRuns(TOLERANCE, resolution=TICK)
        feed_all(never_stopped, 0, length)
        before = SpotRuns(TOLERANCE, resolution=TICK)
        feed_all(before, 0, cut)
        after = restarted(before, reverse=True)
        assert set(after.snapshot()) == set(before.snapshot())
        feed_all(after, cut, length)
        assert set(after.snapshot()) == set(never_stopped.snapshot())
        now = at(length + 0.5)
        assert after.stats_for(PATTERNS, now) == never_stopped.stats_for(PATTERNS, now)


def test_a_snapshot_holds_each_machine_s_open_run_and_past_lengths_and_is_a_copy() -> None:
    runs = SpotRuns(TOLERANCE, resolution=TICK)
    feed(runs, "UUDUU", machine=7)
    feed(runs, "DD", machine=8, start=5)
    states = runs.snapshot()
    assert states == [
        SpotRunState(machine_id=7, last_seen=at(4), up_since=at(3), last_up=at(4), past_up_hours=(hours(2),)),
        SpotRunState(machine_id=8, last_seen=at(6)),
    ]
    feed(runs, "D", machine=7, start=7)
    assert states[0].past_up_hours == (hours(2),)  # later observations do not reach a taken snapshot
    assert SpotRuns(TOLERANCE).snapshot() == []


def test_after_a_restart_past_the_tolerance_the_open_run_ended_at_its_last_sighting() -> None:
    before = SpotRuns(TOLERANCE, resolution=TICK)
    feed(before, "UUU")
    after = restarted(before)
    # The daemon was down for ten hours: asked, or seeing the machine up again, the run ended after tick 2.
    back = 2 + 60
    assert stats(after, at(back)) == SpotStats(up_hours=0.0, past_up_hours=(pytest.approx(hours(3)),))
    feed(after, "U", start=back)
    assert stats(after, at(back)) == SpotStats(
        up_hours=pytest.approx(hours(1)), past_up_hours=(pytest.approx(hours(3)),)
    )


def test_after_a_short_restart_the_open_run_goes_on() -> None:
    before = SpotRuns(TOLERANCE, resolution=TICK)
    feed(before, "UUU")
    after = restarted(before)
    feed(after, "UD", start=4)  # back within the tolerance
    assert stats(after, at(5)) == SpotStats(up_hours=0.0, past_up_hours=(pytest.approx(hours(5)),))


def test_an_observation_older_than_the_snapshot_is_ignored_after_a_restore() -> None:
    before = tracker()
    feed(before, "UUU")
    after = restarted(before)
    after.observe(at(1), set(), {1})  # the clock stepped back across the restart
    after.observe(at(2), set(), {1})
    assert stats(after, at(2)) == SpotStats(up_hours=pytest.approx(hours(2)), past_up_hours=())
    assert restarted(tracker()).snapshot() == []  # an empty snapshot: the first observation counts
    empty = restarted(tracker())
    feed(empty, "U", start=0)
    assert len(empty) == 1


def test_restored_machines_are_forgotten_after_the_retention_whatever_order_they_were_given_in() -> None:
    runs = tracker(retention=timedelta(days=1))
    day = int(timedelta(days=1) / TICK)
    runs.observe(at(0), {1}, {1})
    runs.observe(at(10), {2}, {2})
    runs.observe(at(20), {3}, {3})
    after = restarted(runs, reverse=True)
    after.observe(at(day + 5), {4}, {4})  # machine 1 unseen for longer than a day, 2 and 3 not
    assert sorted(s.machine_id for s in after.snapshot()) == [2, 3, 4]
    after.observe(at(day + 25), set(), {4})
    assert [s.machine_id for s in after.snapshot()] == [4]


def test_a_restore_keeps_the_tracker_s_settings_and_drops_what_cannot_be_measured() -> None:
    runs = SpotRuns(TOLERANCE, kept=3)
    runs.restore(
        [
            SpotRunState(machine_id=1, last_seen=at(5), past_up_hours=(1.0, 2.0, 3.0, 4.0, 5.0)),
            SpotRunState(machine_id=2, last_seen=at(5), up_since=at(1), last_up=None),  # half an open run
        ]
    )
    assert runs.stats_for([1, 2], at(5)) == {
        1: SpotStats(up_hours=0.0, past_up_hours=(3.0, 4.0, 5.0)),
        2: SpotStats(up_hours=0.0, past_up_hours=()),
    }
    runs.restore([])
    assert len(runs) == 0
