"""Every job that is not running says why, with figures, and the decision log says it once per change."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from vastbid.core.budget import Budget
from vastbid.obs.metrics import Metrics

from ._world import World, job_spec


def test_a_job_s_reason_to_wait_is_stored_shown_and_logged_once_over_ten_ticks(world: World) -> None:
    nothing = world.store.jobs.submit(job_spec("nothing", 5, offer_filter="gpu_name=RTX_9999"))
    too_cheap = world.store.jobs.submit(
        job_spec("too-cheap", 5, offer_filter="gpu_name=RTX_4090", max_price_per_gpu=0.01)
    )
    budgeted = world.store.jobs.submit(
        job_spec("budgeted", 5, offer_filter="gpu_name=RTX_3090", rental="on_demand", max_price_per_gpu=2.0)
    )
    world.store.spend.accrue_tick([])  # nothing spent yet: the daily cap below is what blocks
    metrics = Metrics(CollectorRegistry())
    daemon = world.daemon(budget=Budget(daily_cap=0.0001), metrics=metrics)
    world.run(daemon, 10)

    reasons = {job.id: world.store.jobs.get(job.id).state_reason or "" for job in (nothing, too_cheap, budgeted)}
    assert reasons[nothing.id].startswith("no_match: no rentable offer matches the filter 'gpu_name=RTX_9999'")
    assert reasons[too_cheap.id].startswith("over_cap: ")
    assert "over the cap $0.0100/GPU/h" in reasons[too_cheap.id] and "cheapest at $" in reasons[too_cheap.id]
    assert reasons[budgeted.id].startswith("budget: ") and "daily cap $0.00" in reasons[budgeted.id]

    for job in (nothing, too_cheap, budgeted):
        rows = [d for d in world.store.decisions.query(job_id=job.id) if "wait_reason" in d.facts]
        assert len(rows) == 1, [d.reason for d in rows]  # once, not once per tick

    shown = {
        reason: metrics.registry.get_sample_value("vastbid_jobs_waiting", {"reason": reason})
        for reason in ("no_match", "over_cap", "budget")
    }
    assert shown == {"no_match": 1.0, "over_cap": 1.0, "budget": 1.0}
