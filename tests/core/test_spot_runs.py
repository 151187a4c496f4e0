"""SpotRuns: runs of interruptible capacity per machine, as the daemon observes them tick by tick."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from vastbid.backtest.replay import _spot_stats, _up_runs
from vastbid.core.offers import Offer
from vastbid.core.spot_runs import DEFAULT_RETENTION, PAST_RUNS_KEPT, SpotRuns, has_spot_capacity

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


def stats(runs: SpotRuns, now: datetime, machine: int = 1) -> dict[str, object]:
    return dict(runs.stats_for([machine], now)[machine])


def offer(machine_id: int, *, min_bid: float = 0.2, dph_total: float = 0.5, rentable: bool = True) -> Offer:
    return Offer(
        id=machine_id * 10,
        machine_id=machine_id,
        host_id=1,
        gpu_name="RTX_4090",
        num_gpus=1,
        gpu_ram_gb=24.0,
        dph_total=dph_total,
        min_bid=min_bid,
        rentable=rentable,
    )


def test_a_run_lasts_from_the_first_tick_seen_up_to_the_first_tick_seen_down() -> None:
    runs = tracker()
    feed(runs, "UUUUD")
    assert stats(runs, at(4)) == {"up_hours": 0.0, "past_up_hours": (pytest.approx(hours(4)),)}


def test_the_current_run_s_age_grows_with_time_and_past_runs_are_kept_oldest_first() -> None:
    runs = tracker()
    feed(runs, "UUDDUDUUU")
    result = stats(runs, at(8.5))
    assert result["up_hours"] == pytest.approx(hours(2.5))
    assert result["past_up_hours"] == (pytest.approx(hours(2)), pytest.approx(hours(1)))


def test_a_machine_missing_from_a_few_searches_keeps_its_run() -> None:
    runs = tracker()
    feed(runs, "UU..UU")
    assert stats(runs, at(5)) == {"up_hours": pytest.approx(hours(5)), "past_up_hours": ()}


def test_a_machine_unseen_past_the_tolerance_ended_its_run_when_last_seen_up() -> None:
    runs = tracker()
    feed(runs, "UUU")
    # Not seen since tick 2: at tick 6 (4 ticks later, past the 3-tick tolerance) the run ended at tick 2.
    assert stats(runs, at(6)) == {"up_hours": 0.0, "past_up_hours": (pytest.approx(hours(2)),)}
    # Seen down later: the run is still the one that ended at its last sighting, not one ending now.
    feed(runs, "D", start=7)
    assert stats(runs, at(7)) == {"up_hours": 0.0, "past_up_hours": (pytest.approx(hours(2)),)}


def test_a_gap_in_observation_makes_neither_a_long_run_nor_a_fake_one() -> None:
    runs = tracker()
    feed(runs, "UU")
    # The daemon is down for ten hours; the machine is up again when it comes back.
    back = 2 + 60
    feed(runs, "UU", start=back)
    result = stats(runs, at(back + 1))
    assert result["past_up_hours"] == (pytest.approx(hours(1)),)
    assert result["up_hours"] == pytest.approx(hours(1))


def test_a_machine_seen_without_spot_capacity_has_no_run() -> None:
    runs = tracker()
    feed(runs, "DDD")
    assert stats(runs, at(2)) == {"up_hours": 0.0, "past_up_hours": ()}


def test_machines_never_seen_are_left_out_of_the_statistics() -> None:
    runs = tracker()
    feed(runs, "UU", machine=1)
    assert set(runs.stats_for([1, 2], at(1))) == {1}


def test_at_most_the_last_200_run_lengths_are_kept() -> None:
    runs = tracker()
    # Runs of 1, 2, 3, ... ticks, each followed by a tick down.
    pattern = "".join("U" * (n % 7 + 1) + "D" for n in range(PAST_RUNS_KEPT + 50))
    feed(runs, pattern)
    past = stats(runs, at(len(pattern)))["past_up_hours"]
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
    assert stats(runs, at(2)) == {"up_hours": pytest.approx(hours(2)), "past_up_hours": ()}


def test_spot_capacity_is_a_rentable_offer_whose_minimum_bid_is_under_its_on_demand_price() -> None:
    assert has_spot_capacity(offer(1))
    assert not has_spot_capacity(offer(1, min_bid=0.5, dph_total=0.5))
    assert not has_spot_capacity(offer(1, rentable=False))
    runs = tracker()
    runs.observe_offers(at(0), [offer(1), offer(2, min_bid=0.6), offer(3, rentable=False)])
    runs.observe_offers(at(1), [offer(1), offer(2, min_bid=0.6), offer(3, rentable=False)])
    result = runs.stats_for([1, 2, 3], at(1))
    assert result[1]["up_hours"] == pytest.approx(hours(1))
    assert result[2] == {"up_hours": 0.0, "past_up_hours": ()}
    assert result[3] == {"up_hours": 0.0, "past_up_hours": ()}


def test_twenty_thousand_machines_stay_cheap_per_tick() -> None:
    runs = tracker()
    machines = range(20_000)
    half = set(range(0, 20_000, 2))
    worst = 0.0
    for tick in range(6):
        started = time.perf_counter()
        runs.observe(at(tick), half if tick % 2 else machines, machines)
        result = runs.stats_for(machines, at(tick))
        worst = max(worst, time.perf_counter() - started)
    assert len(result) == 20_000
    assert result[0] == {"up_hours": pytest.approx(hours(5)), "past_up_hours": ()}  # up on every tick
    assert result[1] == {"up_hours": 0.0, "past_up_hours": (pytest.approx(hours(1)),) * 3}  # up one tick in two
    assert worst < 1.0


def test_with_the_tick_as_resolution_ages_and_lengths_are_the_backtest_replay_s() -> None:
    pattern = "DUUUDDUUDUUUUUD..UUD"
    runs = SpotRuns(TOLERANCE, resolution=TICK)
    available = np.array([char == "U" for char in pattern])
    intervals = _up_runs(available)
    for tick, char in enumerate(pattern):
        feed(runs, char, start=tick)
        if char == ".":
            continue  # the replay has no unobserved ticks
        replayed = _spot_stats(intervals, available, tick, hours(1))
        seen = stats(runs, at(tick))
        assert seen["up_hours"] == pytest.approx(replayed["up_hours"])
        assert seen["past_up_hours"] == pytest.approx(replayed["past_up_hours"])
