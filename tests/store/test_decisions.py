"""The decision log and tick records: what a tick decided can be read back by job and time."""

from __future__ import annotations

from datetime import timedelta

from factories import FakeClock
from vastbid.store import DecisionOutcome, DecisionRecord, Store


def _decision(clock: FakeClock, tick_id: int, job_id: int | None, action: str) -> DecisionRecord:
    return DecisionRecord(
        tick_id=tick_id,
        at=clock.now(),
        job_id=job_id,
        action=action,
        strategy="cheapest_per_gpu",
        reason="cheapest offer under the cap",
        facts={"price": 0.31, "cap": 0.5},
        candidates=[{"offer_id": 1, "price": 0.31}, {"offer_id": 2, "price": 0.4}],
        outcome=DecisionOutcome.PLANNED,
        config_hash="abc123",
    )


def test_a_ticks_decisions_come_back_with_their_facts(store: Store, clock: FakeClock) -> None:
    tick = store.ticks.start()
    ids = store.decisions.add_many([_decision(clock, tick, 1, "place_bid"), _decision(clock, tick, 2, "wait")])
    store.decisions.set_outcome(ids[0], DecisionOutcome.FAILED, error="offer gone")
    clock.advance(seconds=3)
    store.ticks.finish(tick, ok=True, counts={"offers": 40, "actions": 2})

    for_job = store.decisions.query(job_id=1)
    assert len(for_job) == 1
    assert for_job[0].facts == {"price": 0.31, "cap": 0.5}
    assert for_job[0].candidates[1] == {"offer_id": 2, "price": 0.4}
    assert (for_job[0].outcome, for_job[0].error) == (DecisionOutcome.FAILED, "offer gone")
    last = store.ticks.last(ok=True)
    assert last is not None and last.id == tick and last.counts == {"offers": 40, "actions": 2}
    assert last.finished_at == clock.now()


def test_query_since_and_limit_give_the_latest(store: Store, clock: FakeClock) -> None:
    for hour in range(4):
        store.decisions.add_many([_decision(clock, hour, None, f"a{hour}")])
        clock.advance(hours=1)
    since = clock.now() - timedelta(hours=2)
    assert [d.action for d in store.decisions.query(since=since)] == ["a2", "a3"]
    assert [d.action for d in store.decisions.query(limit=3)] == ["a1", "a2", "a3"]


def test_retention_removes_old_decisions_and_samples_only(store: Store, clock: FakeClock) -> None:
    old_tick = store.ticks.start()
    store.ticks.finish(old_tick, ok=False, error="boom")
    store.decisions.add_many([_decision(clock, old_tick, 1, "old")])
    clock.advance(days=10)
    new_tick = store.ticks.start()
    store.decisions.add_many([_decision(clock, new_tick, 1, "new")])

    result = store.apply_retention(decision_days=5, sample_days=5)

    assert (result.decisions, result.ticks) == (1, 1)
    assert [d.action for d in store.decisions.query()] == ["new"]
    assert store.ticks.last() is None  # the running tick is kept but not finished
