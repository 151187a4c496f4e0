"""The idempotent ledger: a second of an instance is billed once, whatever crashes or overlapping ticks happen."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from factories import FakeClock
from vastbid.errors import InvalidInputError, StoreError
from vastbid.store import InstanceUsage, SpendKind, Store, open_store
from vastbid.store.spend import SpendEntry

T0 = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
SPEC = {"name": "train", "image": "img", "max_price_per_gpu": 5.0}


def usage(
    since: datetime,
    until: datetime,
    *,
    job_id: int | None = None,
    instance_id: int = 500,
    running: bool = True,
    counts_progress: bool = True,
    gpu_dph: float = 1.2,
    storage_dph: float = 0.06,
) -> InstanceUsage:
    return InstanceUsage(
        instance_id=instance_id,
        since=since,
        until=until,
        running=running,
        gpu_dph=gpu_dph,
        storage_dph=storage_dph,
        counts_progress=counts_progress,
        job_id=job_id,
    )


def test_the_same_interval_accrued_twice_is_billed_once(store: Store) -> None:
    job = store.jobs.submit(SPEC)
    tick = [usage(T0, T0 + timedelta(hours=1), job_id=job.id)]

    first = store.spend.accrue_tick(tick)
    again = store.spend.accrue_tick(tick)

    assert first.by_kind == {SpendKind.GPU: pytest.approx(1.2), SpendKind.STORAGE: pytest.approx(0.06)}
    assert first.by_instance == {500: pytest.approx(1.26)}
    assert first.by_job[job.id].spent == pytest.approx(1.26)
    assert first.by_job[job.id].progress_hours == pytest.approx(1.0)
    assert first.by_job[job.id].spent_total == pytest.approx(1.26)
    assert again.total == 0.0 and again.by_job == {}
    after = store.jobs.get(job.id)
    assert after.spent == pytest.approx(1.26)
    assert after.progress_hours == pytest.approx(1.0)
    assert store.spend.spent_on_day(T0.date()) == pytest.approx(1.26)
    assert store.spend.spent_by_job(job.id) == pytest.approx(1.26)
    assert store.spend.accrued_until(500) == T0 + timedelta(hours=1)
    assert store.spend.accrued_until(500, SpendKind.STORAGE) == T0 + timedelta(hours=1)


def test_an_overlapping_interval_adds_only_the_seconds_not_billed_yet(store: Store) -> None:
    job = store.jobs.submit(SPEC)
    store.spend.accrue_tick([usage(T0, T0 + timedelta(minutes=30), job_id=job.id)])

    added = store.spend.accrue_tick([usage(T0 + timedelta(minutes=15), T0 + timedelta(minutes=45), job_id=job.id)])

    assert added.by_kind[SpendKind.GPU] == pytest.approx(1.2 * 0.25)
    assert added.by_job[job.id].progress_hours == pytest.approx(0.25)
    assert store.jobs.get(job.id).progress_hours == pytest.approx(0.75)
    assert store.spend.spent_on_day(T0.date()) == pytest.approx(1.26 * 0.75)
    # an interval wholly inside what was billed adds nothing at all
    assert store.spend.accrue_tick([usage(T0 + timedelta(minutes=5), T0 + timedelta(minutes=40))]).total == 0.0


def test_a_restart_after_a_crash_between_two_ticks_does_not_count_twice(db_url: str) -> None:
    """The issue's crash: the accrual of [t0, t1) commits, the tick row never finishes, the restarted daemon
    accrues again from the same last successful tick t0 up to t2."""
    clock = FakeClock(T0)
    with open_store(db_url, upgrade=True, clock=clock) as first:
        job = first.jobs.submit(SPEC)
        first.spend.accrue_tick([usage(T0, T0 + timedelta(minutes=10), job_id=job.id)])
    with open_store(db_url, clock=clock) as restarted:
        restarted.spend.accrue_tick([usage(T0, T0 + timedelta(minutes=20), job_id=job.id)])
        restarted.spend.accrue_tick([usage(T0 + timedelta(minutes=20), T0 + timedelta(minutes=30), job_id=job.id)])

        assert restarted.spend.spent_on_day(T0.date()) == pytest.approx(1.26 * 0.5)
        after = restarted.jobs.get(job.id)
        assert after.spent == pytest.approx(1.26 * 0.5)
        assert after.progress_hours == pytest.approx(0.5)


@pytest.fixture
def failing_job_updates(store: Store) -> Iterator[list[bool]]:
    """While the list holds True, any UPDATE of the jobs table fails (a crash in the middle of the ledger)."""
    armed = [True]

    def fail(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if armed[0] and statement.lstrip().upper().startswith("UPDATE JOBS"):
            raise RuntimeError("crash in the middle of the tick's ledger")

    event.listen(store.engine, "before_cursor_execute", fail)
    yield armed
    event.remove(store.engine, "before_cursor_execute", fail)


def test_a_ledger_that_fails_half_way_leaves_nothing_and_its_retry_counts_once(
    store: Store, failing_job_updates: list[bool]
) -> None:
    job = store.jobs.submit(SPEC)
    tick = [usage(T0, T0 + timedelta(hours=1), job_id=job.id)]

    with pytest.raises(RuntimeError):
        store.spend.accrue_tick(tick)
    assert store.spend.spent_on_day(T0.date()) == 0.0
    assert store.spend.accrued_until(500) is None
    assert store.jobs.get(job.id).spent == 0.0

    failing_job_updates[0] = False
    store.spend.accrue_tick(tick)
    store.spend.accrue_tick(tick)
    assert store.spend.spent_on_day(T0.date()) == pytest.approx(1.26)
    assert store.jobs.get(job.id).spent == pytest.approx(1.26)


def test_an_interval_across_midnight_is_split_between_the_days_and_still_billed_once(store: Store) -> None:
    late = datetime(2026, 3, 31, 23, 0, tzinfo=UTC)
    tick = [usage(late, late + timedelta(hours=2), gpu_dph=1.0, storage_dph=0.0)]

    store.spend.accrue_tick(tick)
    store.spend.accrue_tick([usage(late + timedelta(minutes=30), late + timedelta(hours=2), gpu_dph=1.0)])

    assert store.spend.spent_on_day(date(2026, 3, 31)) == pytest.approx(1.0)
    assert store.spend.spent_on_day(date(2026, 4, 1)) == pytest.approx(1.0)
    assert store.spend.spent_in_month(datetime(2026, 3, 2, tzinfo=UTC)) == pytest.approx(1.0)
    assert store.spend.spent_in_month(datetime(2026, 4, 30, tzinfo=UTC)) == pytest.approx(1.0)
    assert store.spend.daily_totals(date(2026, 3, 30), date(2026, 4, 1)) == {
        date(2026, 3, 30): 0.0,
        date(2026, 3, 31): pytest.approx(1.0),
        date(2026, 4, 1): pytest.approx(1.0),
    }
    assert store.spend.spent_between(late, late + timedelta(hours=1)) == pytest.approx(1.0)


def test_a_stopped_instance_pays_storage_only_and_its_job_gains_no_progress(store: Store) -> None:
    job = store.jobs.submit(SPEC)

    stopped = store.spend.accrue_tick([usage(T0, T0 + timedelta(hours=1), job_id=job.id, running=False)])
    first_seen = store.spend.accrue_tick(
        [usage(T0 + timedelta(hours=1), T0 + timedelta(hours=2), job_id=job.id, counts_progress=False)]
    )

    assert stopped.by_kind == {SpendKind.GPU: 0.0, SpendKind.STORAGE: pytest.approx(0.06)}
    assert stopped.by_job[job.id].progress_hours == 0.0
    assert first_seen.by_kind[SpendKind.GPU] == pytest.approx(1.2)
    assert first_seen.by_job[job.id].progress_hours == 0.0
    after = store.jobs.get(job.id)
    assert after.spent == pytest.approx(1.32)
    assert after.progress_hours == 0.0


def test_each_instance_has_its_own_marks_and_jobs_sum_their_instances(store: Store) -> None:
    one, two = store.jobs.submit(SPEC), store.jobs.submit(SPEC)
    end = T0 + timedelta(hours=1)
    store.spend.accrue_tick([usage(T0, end, job_id=one.id, instance_id=1)])

    added = store.spend.accrue_tick(
        [
            usage(T0, end, job_id=one.id, instance_id=1),
            usage(T0, end, job_id=two.id, instance_id=2, gpu_dph=2.0),
            usage(T0, end, job_id=two.id, instance_id=3, storage_dph=0.5, running=False),
        ]
    )

    assert added.by_instance == {1: 0.0, 2: pytest.approx(2.06), 3: pytest.approx(0.5)}
    assert set(added.by_job) == {two.id}
    assert added.by_job[two.id].spent == pytest.approx(2.56)
    assert added.by_job[two.id].progress_hours == pytest.approx(1.0)


def test_bad_usage_is_refused_before_anything_is_written(store: Store) -> None:
    with pytest.raises(InvalidInputError, match="negative"):
        store.spend.accrue_tick([usage(T0, T0 + timedelta(hours=1)), usage(T0, T0 + timedelta(hours=1), gpu_dph=-1)])
    with pytest.raises(InvalidInputError, match="before it starts"):
        store.spend.accrue_tick([usage(T0 + timedelta(hours=1), T0)])
    assert store.spend.spent_on_day(T0.date()) == 0.0
    assert store.spend.accrued_until(500) is None


def test_plain_accruals_of_an_instance_are_clipped_too(store: Store) -> None:
    entry = SpendEntry(SpendKind.GPU, 1.0, T0, T0 + timedelta(hours=1), instance_id=9, job_id=None)
    manual = SpendEntry(SpendKind.BANDWIDTH, 0.1, T0, T0 + timedelta(hours=1))

    assert store.spend.accrue_many([entry, manual]) == pytest.approx(1.1)
    assert store.spend.accrue_many([entry]) == 0.0
    assert store.spend.accrue_many([manual]) == pytest.approx(0.1)  # no instance: nothing to key it on
    assert store.spend.spent_on_day(T0.date()) == pytest.approx(1.2)


def test_two_processes_accruing_the_same_tick_at_once_bill_it_once(db_url: str) -> None:
    clock = FakeClock(T0)
    with open_store(db_url, upgrade=True, clock=clock) as one, open_store(db_url, clock=clock) as two:
        job = one.jobs.submit(SPEC)
        tick = [usage(T0, T0 + timedelta(hours=1), job_id=job.id)]
        errors: list[BaseException] = []
        with one.engine.begin() as holding:  # the first writer holds the database while the second starts
            holding.exec_driver_sql("UPDATE jobs SET priority = priority")
            racer = threading.Thread(target=_guarded(lambda: two.spend.accrue_tick(tick), errors))
            racer.start()  # it waits for the held lock (or has not started yet)
        one.spend.accrue_tick(tick)  # races the second process for the same seconds
        racer.join(timeout=30)

        assert not racer.is_alive() and errors == []
        assert one.spend.spent_on_day(T0.date()) == pytest.approx(1.26)
        assert one.jobs.get(job.id).spent == pytest.approx(1.26)


def _guarded(work: Any, errors: list[BaseException]) -> Any:
    def run() -> None:
        try:
            work()
        except (StoreError, RuntimeError) as exc:  # pragma: no cover - reported by the assertion
            errors.append(exc)

    return run
