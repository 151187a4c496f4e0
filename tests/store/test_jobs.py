"""The job queue in the database: what users submit comes back as core jobs, bad input writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from factories import FakeClock
from vastbid.core.jobs import JobSpec, JobState
from vastbid.errors import InvalidInputError, JobSpecError, StoreError
from vastbid.store import Store

SPEC = {"name": "train", "image": "pytorch/pytorch:latest", "max_price_per_gpu": 0.4}


def test_submitted_job_comes_back_queued_with_its_spec(store: Store, clock: FakeClock) -> None:
    deadline = datetime(2026, 4, 1, 18, 0, tzinfo=UTC)
    job = store.jobs.submit({**SPEC, "num_gpus": 2, "work_hours": 10, "deadline": deadline.isoformat()})

    again = store.jobs.get(job.id)
    assert again.state is JobState.QUEUED
    assert again.spec == JobSpec.model_validate({**SPEC, "num_gpus": 2, "work_hours": 10, "deadline": deadline})
    assert again.spec.deadline == deadline
    assert again.created_at == clock.now()
    assert again.max_price == pytest.approx(0.8)


def test_bad_spec_names_the_field_and_writes_nothing(store: Store) -> None:
    with pytest.raises(JobSpecError, match=r"num_gpus: must be greater than or equal to 1 \(got 0\)") as caught:
        store.jobs.submit({**SPEC, "num_gpus": 0})
    assert caught.value.field == "num_gpus"
    assert store.jobs.list() == []


def test_several_jobs_with_one_bad_write_none(store: Store) -> None:
    with pytest.raises(JobSpecError, match=r"jobs\[1\]\.max_price_per_gpu"):
        store.jobs.submit_many([SPEC, {**SPEC, "max_price_per_gpu": -1}, SPEC])
    assert store.jobs.list() == []
    assert len(store.jobs.submit_many([SPEC, SPEC])) == 2


def test_list_orders_by_priority_then_age_and_filters_by_state(store: Store) -> None:
    low = store.jobs.submit({**SPEC, "name": "low", "priority": -5})
    high = store.jobs.submit({**SPEC, "name": "high", "priority": 10})
    mid = store.jobs.submit({**SPEC, "name": "mid"})
    store.jobs.update(mid.id, state=JobState.RUNNING)

    assert [j.spec.name for j in store.jobs.list()] == ["high", "mid", "low"]
    assert [j.id for j in store.jobs.list([JobState.QUEUED])] == [high.id, low.id]
    assert [j.id for j in store.jobs.active()] == [high.id, mid.id, low.id]


def test_cancel_marks_a_job_with_an_instance_cancelled_and_keeps_the_instance_for_the_daemon(
    store: Store,
) -> None:
    job = store.jobs.submit(SPEC)
    store.jobs.update(job.id, state=JobState.RUNNING, instance_id=4242)

    cancelled = store.jobs.cancel(job.id)

    assert cancelled.state is JobState.CANCELLED
    assert cancelled.instance_id == 4242
    assert store.jobs.reason(job.id) == "cancelled by the user"
    assert store.jobs.active() == []


def test_cancel_of_a_finished_job_is_refused(store: Store) -> None:
    job = store.jobs.submit(SPEC)
    store.jobs.update(job.id, state=JobState.SUCCEEDED)
    with pytest.raises(InvalidInputError, match="already succeeded"):
        store.jobs.cancel(job.id)
    assert store.jobs.get(job.id).state is JobState.SUCCEEDED


def test_a_cancelled_job_cannot_be_moved_back_by_a_stale_tick(store: Store) -> None:
    job = store.jobs.submit(SPEC)
    store.jobs.cancel(job.id)
    with pytest.raises(StoreError, match="already cancelled"):
        store.jobs.update(job.id, state=JobState.RUNNING)
    assert store.jobs.get(job.id).state is JobState.CANCELLED


def test_update_changes_only_what_is_given(store: Store, clock: FakeClock) -> None:
    job = store.jobs.submit(SPEC)
    since = clock.advance(hours=1)
    store.jobs.update(job.id, progress_hours=1.5, spent=0.6, on_demand_since=since, instance_id=7, interruptions=2)
    store.jobs.update(job.id, instance_id=None, extra={"note": "outbid"})

    after = store.jobs.get(job.id)
    assert (after.progress_hours, after.spent, after.interruptions) == (1.5, 0.6, 2)
    assert after.on_demand_since == since
    assert after.instance_id is None
    assert after.extra == {"note": "outbid"}


def test_unknown_job_is_reported_by_id(store: Store) -> None:
    with pytest.raises(InvalidInputError, match="there is no job 999"):
        store.jobs.get(999)
    with pytest.raises(InvalidInputError, match="there is no job 999"):
        store.jobs.cancel(999)
