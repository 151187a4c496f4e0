"""The daemon keeps the decision log and market samples only as long as the settings say."""

from __future__ import annotations

from datetime import timedelta

from vastbid.store.decisions import DecisionOutcome, DecisionRecord

from ._world import World


def _decision(world: World, age: timedelta, reason: str) -> DecisionRecord:
    return DecisionRecord(
        at=world.now() - age, action="place_bid", reason=reason, outcome=DecisionOutcome.APPLIED, config_hash="x"
    )


def test_decisions_older_than_the_retention_period_are_purged_and_recent_ones_kept(world: World) -> None:
    world.store.decisions.add_many(
        [_decision(world, timedelta(days=40), "old"), _decision(world, timedelta(days=5), "recent")]
    )
    daemon = world.daemon(decision_retention_days=30)

    world.run(daemon, 1)

    reasons = {d.reason for d in world.store.decisions.query()}
    assert "recent" in reasons
    assert "old" not in reasons


def test_recorded_market_samples_are_kept_for_their_own_period(world: World) -> None:
    daemon = world.daemon(record_market_samples=True, sample_retention_days=1)
    world.store.jobs.submit(
        {"name": "j", "image": "img", "offer_filter": "gpu_name=RTX_4090", "max_price_per_gpu": 0.6}
    )
    daemon.tick()
    window = (world.now() - timedelta(days=30), world.now() + timedelta(days=30))
    first = {at for at, _ in world.store.samples.read(*window)}
    assert first

    world.sim.advance(2 * 86_400)
    daemon.tick()

    kept = {at for at, _ in world.store.samples.read(*window)}
    assert kept
    assert not kept & first


def test_finished_jobs_are_purged_with_their_rows_after_their_retention_and_budget_totals_stay(world: World) -> None:
    spec = {"name": "short", "image": "img", "offer_filter": "gpu_name=RTX_4090", "max_price_per_gpu": 0.6}
    old = world.store.jobs.submit({**spec, "env": {"SIM_WORK_HOURS": "0.05"}})
    daemon = world.daemon(job_retention_days=2)
    world.run(daemon, 10, seconds=600)  # it runs three minutes of work and finishes
    assert world.store.jobs.get(old.id).state.is_final
    assert world.store.spend.spent_by_job(old.id) > 0
    spent_month = world.store.spend.spent_in_month(world.now())
    recent = world.store.jobs.submit({**spec, "name": "recent", "env": {"SIM_WORK_HOURS": "0.05"}})
    world.run(daemon, 10, seconds=600)
    assert world.store.jobs.get(recent.id).state.is_final

    world.sim.advance(2 * 86_400 - 2 * 3_600)  # two days after the first ended, not after the second
    daemon.tick()

    assert world.store.jobs.find(old.id) is None
    assert world.store.instances.for_job(old.id) == []
    assert world.store.decisions.query(job_id=old.id) == []
    assert world.store.spend.spent_by_job(old.id) == 0
    assert world.store.jobs.find(recent.id) is not None  # ended less than two days ago: kept
    assert world.store.spend.spent_in_month(world.now()) >= spent_month  # the budgets' daily totals stay
