"""Instance rows only move forward (intent -> live | failed, live -> gone), even when two processes race."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import update

from factories import INTENT_JOB_SPEC, FakeClock, record_intent
from vastbid.core.offers import RentalType
from vastbid.errors import InvalidInputError, StaleTransitionError, StoreError
from vastbid.store import InstanceRecordState, Store, open_store
from vastbid.store.schema import InstanceRow

SPEC = INTENT_JOB_SPEC


@pytest.fixture
def replica(db_url: str, store: Store, clock: FakeClock) -> Iterator[Store]:
    """A second process on the same database (a replica, or ``run --once``)."""
    with open_store(db_url, clock=clock) as other:
        yield other


def test_a_late_create_for_an_intent_settled_as_failed_does_not_revive_it(store: Store, replica: Store) -> None:
    job = store.jobs.submit(SPEC)
    label = record_intent(store, job.id)
    replica.instances.settle_failed(label, "no instance carries the label")
    record_intent(replica, job.id, attempt=2)

    with pytest.raises(StaleTransitionError) as stale:
        store.instances.record_created(label, 9001)

    assert (stale.value.state, stale.value.label, stale.value.instance_id) == ("failed", label, 9001)
    row = store.instances.by_label(label)
    assert row is not None and row.state is InstanceRecordState.FAILED and row.instance_id is None
    assert store.instances.live() == []
    assert store.jobs.get(job.id).instance_id is None


def test_a_row_that_is_gone_never_comes_back(store: Store) -> None:
    job = store.jobs.submit(SPEC)
    label = record_intent(store, job.id)
    store.instances.record_created(label, 5)
    store.instances.record_gone(5, error="destroyed")

    late_calls: list[Callable[[], object]] = [
        lambda: store.instances.record_created(label, 6),
        lambda: store.instances.settle_found(label, 5),
        lambda: store.instances.settle_failed(label, "late"),
        lambda: store.instances.adopt(
            label=label, instance_id=5, job_id=job.id, attempt=1, rental=RentalType.INTERRUPTIBLE
        ),
    ]
    for late in late_calls:
        with pytest.raises(StaleTransitionError, match="gone"):
            late()
    row = store.instances.by_label(label)
    assert row is not None and row.state is InstanceRecordState.GONE and row.error == "destroyed"
    assert store.instances.record_gone(5).state is InstanceRecordState.GONE  # saying it again changes nothing


def test_create_and_reconcile_agreeing_on_the_instance_both_succeed(store: Store, replica: Store) -> None:
    job = store.jobs.submit(SPEC)
    label = record_intent(store, job.id)
    replica.instances.settle_found(label, 77)

    row = store.instances.record_created(label, 77)  # the create's own answer arrives after the reconciler's

    assert row.state is InstanceRecordState.LIVE and row.instance_id == 77
    assert store.jobs.get(job.id).instance_id == 77
    with pytest.raises(StaleTransitionError, match="live"):
        store.instances.settle_found(label, 78)  # another instance for the same label: the caller destroys 78
    assert [r.instance_id for r in store.instances.live()] == [77]


def test_a_live_row_cannot_be_settled_as_failed(store: Store) -> None:
    job = store.jobs.submit(SPEC)
    label = record_intent(store, job.id)
    store.instances.record_created(label, 5)

    with pytest.raises(StaleTransitionError, match="live"):
        store.instances.settle_failed(label, "late settlement")

    assert [r.instance_id for r in store.instances.live()] == [5]
    assert store.jobs.get(job.id).instance_id == 5


def test_settling_failed_twice_keeps_the_first_settlement(store: Store, clock: FakeClock) -> None:
    job = store.jobs.submit(SPEC)
    label = record_intent(store, job.id)
    first = store.instances.settle_failed(label, "offer gone")
    clock.advance(seconds=30)

    again = store.instances.settle_failed(label, "no instance carries the label")

    assert again.state is InstanceRecordState.FAILED
    assert (again.error, again.settled_at) == ("offer gone", first.settled_at)


def test_unknown_rows_are_named(store: Store) -> None:
    with pytest.raises(InvalidInputError, match="no instance labelled"):
        store.instances.record_created("vastbid:test:9:9", 1)
    with pytest.raises(InvalidInputError, match="no instance 404"):
        store.instances.record_gone(404)


def test_adopting_twice_is_harmless_but_a_settled_label_is_never_adopted(store: Store, replica: Store) -> None:
    job = store.jobs.submit(SPEC)
    adopt = {"job_id": job.id, "attempt": 3, "rental": RentalType.ON_DEMAND}
    store.instances.adopt(label="vastbid:test:1:3", instance_id=12, **adopt)  # type: ignore[arg-type]

    again = replica.instances.adopt(label="vastbid:test:1:3", instance_id=12, **adopt)  # type: ignore[arg-type]

    assert again.state is InstanceRecordState.LIVE and again.instance_id == 12
    assert [r.instance_id for r in store.instances.live()] == [12]
    with pytest.raises(StaleTransitionError):
        replica.instances.adopt(label="vastbid:test:1:4", instance_id=12, **adopt)  # type: ignore[arg-type]
    failed = record_intent(store, job.id, attempt=5)
    store.instances.settle_failed(failed, "refused")
    with pytest.raises(StaleTransitionError, match="failed"):
        replica.instances.adopt(label=failed, instance_id=13, **adopt)  # type: ignore[arg-type]
    assert [r.instance_id for r in store.instances.live()] == [12]


def test_of_two_sessions_racing_on_an_intent_only_the_first_wins(store: Store, replica: Store) -> None:
    """The replica settles the intent as failed in a transaction still open when the creator's answer arrives:
    the creator waits for it, then finds the row settled instead of overwriting it."""
    job = store.jobs.submit(SPEC)
    label = record_intent(store, job.id)
    outcome: list[BaseException | str] = []

    def creator() -> None:
        try:
            outcome.append(store.instances.record_created(label, 9001).state.value)
        except StoreError as exc:
            outcome.append(exc)

    with replica.engine.begin() as settling:
        settled = settling.execute(
            update(InstanceRow)
            .where(InstanceRow.label == label, InstanceRow.state == "intent")
            .values(state="failed", error="no instance carries the label")
        )
        assert settled.rowcount == 1
        racer = threading.Thread(target=creator)
        racer.start()  # blocks on the settling transaction's lock (or has not started yet)
    racer.join(timeout=30)

    assert not racer.is_alive()
    [result] = outcome
    assert isinstance(result, StaleTransitionError) and result.state == "failed"
    assert store.instances.live() == []
