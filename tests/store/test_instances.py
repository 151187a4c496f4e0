"""Our instances: the intent is committed before a create, then settled by what happened."""

from __future__ import annotations

import pytest

from factories import INTENT_JOB_SPEC, FakeClock, record_intent
from vastbid.core.offers import RentalType
from vastbid.errors import StoreError
from vastbid.store import InstanceRecordState, Store

SPEC = INTENT_JOB_SPEC


def test_intent_then_created_links_the_job_to_its_instance(store: Store, clock: FakeClock) -> None:
    job = store.jobs.submit(SPEC)
    label = record_intent(store, job.id)

    intent = store.instances.by_label(label)
    assert intent is not None and intent.state is InstanceRecordState.INTENT and intent.instance_id is None
    assert store.jobs.get(job.id).attempt == 1
    assert [r.label for r in store.instances.open_intents()] == [label]

    clock.advance(seconds=5)
    store.instances.record_created(label, 9001)

    live = store.instances.live()
    assert [(r.label, r.instance_id, r.price) for r in live] == [(label, 9001, 0.35)]
    assert live[0].created_at == clock.now()
    assert store.jobs.get(job.id).instance_id == 9001
    assert store.instances.open_intents() == []


def test_the_same_label_cannot_be_intended_twice(store: Store) -> None:
    job = store.jobs.submit(SPEC)
    label = record_intent(store, job.id)
    with pytest.raises(StoreError, match="already recorded"):
        record_intent(store, job.id)
    assert [r.label for r in store.instances.open_intents()] == [label]


def test_an_ambiguous_create_is_settled_by_label(store: Store) -> None:
    job = store.jobs.submit(SPEC)
    found = record_intent(store, job.id, attempt=1)
    missing = record_intent(store, job.id, attempt=2)

    store.instances.settle_found(found, 77)
    store.instances.settle_failed(missing, "no instance carries the label")

    assert store.instances.by_instance_id(77) is not None
    failed = store.instances.by_label(missing)
    assert failed is not None and failed.state is InstanceRecordState.FAILED and failed.settled_at is not None
    assert [r.instance_id for r in store.instances.live()] == [77]


def test_gone_instance_is_no_longer_live_and_frees_its_job(store: Store) -> None:
    job = store.jobs.submit(SPEC)
    label = record_intent(store, job.id)
    store.instances.record_created(label, 5)

    store.instances.record_gone(5)

    assert store.instances.live() == []
    assert store.jobs.get(job.id).instance_id is None
    assert [r.state for r in store.instances.for_job(job.id)] == [InstanceRecordState.GONE]


def test_adopted_instance_is_live(store: Store) -> None:
    store.instances.adopt(label="vastbid:test:3:1", instance_id=12, job_id=None, attempt=1, rental=RentalType.ON_DEMAND)
    assert [(r.instance_id, r.rental) for r in store.instances.live()] == [(12, RentalType.ON_DEMAND)]
