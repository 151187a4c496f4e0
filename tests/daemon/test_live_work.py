"""A tick's cost follows the live work: what the daemon remembers comes back from small aggregates, never from the
decision log, and finished work is not read."""

from __future__ import annotations

import pytest

from ._world import World, job_spec


def test_a_restart_restores_machine_history_without_reading_the_decision_log(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = world.store.jobs.submit(job_spec("one", 5, offer_filter="gpu_name=RTX_4090"))
    first = world.daemon()
    world.run(first, 3)
    machine = next(i.machine_id for i in world.ours())
    assert first.save_spot_runs()  # a graceful stop saves the memory

    def no_log(**_filters: object) -> object:
        raise AssertionError("the decision log was read to rebuild the market memory")

    monkeypatch.setattr(world.store.decisions, "query", no_log)
    restarted = world.daemon()
    assert restarted.tick().ok
    history = restarted.memory.view({}, world.now()).history
    assert history[machine].rentals == 1
    assert world.store.jobs.get(job.id).instance_id is not None


def test_a_tick_reads_only_live_jobs(world: World) -> None:
    done = [world.store.jobs.submit(job_spec(f"done-{n}", 5)) for n in range(30)]
    for job in done:
        world.store.jobs.cancel(job.id)
    live = world.store.jobs.submit(job_spec("live", 5, offer_filter="gpu_name=RTX_4090"))
    assert [j.id for j in world.store.jobs.for_tick()] == [live.id]
