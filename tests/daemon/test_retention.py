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
