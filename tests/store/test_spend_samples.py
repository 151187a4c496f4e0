"""Spend sums by day and month, and recorded market samples."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from factories import FakeClock, offer
from vastbid.errors import InvalidInputError
from vastbid.store import SpendKind, Store


def test_spend_across_midnight_is_split_between_the_days(store: Store) -> None:
    start = datetime(2026, 3, 31, 23, 0, tzinfo=UTC)
    store.spend.accrue(
        kind=SpendKind.GPU,
        amount=2.0,
        period_start=start,
        period_end=start + timedelta(hours=2),
        instance_id=5,
        job_id=1,
    )
    store.spend.accrue(
        kind=SpendKind.STORAGE,
        amount=0.25,
        period_start=start,
        period_end=start + timedelta(hours=1),
        instance_id=5,
        job_id=1,
    )

    assert store.spend.spent_on_day(date(2026, 3, 31)) == pytest.approx(1.25)
    assert store.spend.spent_on_day(date(2026, 4, 1)) == pytest.approx(1.0)
    assert store.spend.spent_in_month(datetime(2026, 3, 15, tzinfo=UTC)) == pytest.approx(1.25)
    assert store.spend.spent_in_month(datetime(2026, 4, 2, tzinfo=UTC)) == pytest.approx(1.0)
    assert store.spend.spent_between(start, start + timedelta(days=1), kind=SpendKind.STORAGE) == pytest.approx(0.25)
    assert store.spend.spent_by_job(1) == pytest.approx(2.25)
    assert store.spend.daily_totals(date(2026, 3, 30), date(2026, 4, 1)) == {
        date(2026, 3, 30): 0.0,
        date(2026, 3, 31): pytest.approx(1.25),
        date(2026, 4, 1): pytest.approx(1.0),
    }


def test_negative_spend_is_refused(store: Store, clock: FakeClock) -> None:
    with pytest.raises(InvalidInputError, match="negative"):
        store.spend.accrue(kind=SpendKind.GPU, amount=-1, period_start=clock.now(), period_end=clock.now())
    assert store.spend.spent_on_day(clock.now().date()) == 0.0


def test_market_samples_replay_in_time_order(store: Store, clock: FakeClock) -> None:
    sample = offer(
        1,
        machine_id=10,
        host_id=3,
        gpu_name="RTX 4090",
        num_gpus=2,
        dph_total=0.9,
        min_bid=0.4,
        dlperf=80.0,
        reliability=0.99,
        geolocation="Texas, US",
    )
    first = clock.now()
    store.samples.add_many(first, [sample], tick_id=1)
    later = clock.advance(minutes=1)
    store.samples.add_many(
        later,
        [
            sample,
            offer(2, machine_id=11, gpu_name="A100", gpu_ram_gb=80, dph_total=1.5, min_bid=0.8, rentable=False),
        ],
    )

    replay = list(store.samples.read())
    assert [at for at, _ in replay] == [first, later, later]
    _, seen = replay[0]
    assert (seen.machine_id, seen.num_gpus, seen.gpu_name, seen.dph_total, seen.min_bid) == (
        10,
        2,
        "RTX 4090",
        0.9,
        0.4,
    )
    assert (seen.reliability, seen.dlperf, seen.country) == (0.99, 80.0, "US")
    assert [o.rentable for _, o in store.samples.read(since=later)] == [True, False]


def test_a_ticks_ledger_is_written_whole_or_not_at_all(store: Store) -> None:
    from vastbid.store.spend import SpendEntry

    start = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    end = start + timedelta(minutes=1)
    good = SpendEntry(SpendKind.GPU, 0.01, start, end, instance_id=1, job_id=1)
    bad = SpendEntry(SpendKind.STORAGE, -0.5, start, end, instance_id=2, job_id=2)

    with pytest.raises(InvalidInputError, match="negative"):
        store.spend.accrue_many([good, bad])
    assert store.spend.spent_on_day(date(2026, 5, 1)) == 0.0

    store.spend.accrue_many([good, SpendEntry(SpendKind.STORAGE, 0.002, start, end, instance_id=2, job_id=2)])
    assert store.spend.spent_on_day(date(2026, 5, 1)) == pytest.approx(0.012)
    assert store.spend.spent_by_job(2) == pytest.approx(0.002)
