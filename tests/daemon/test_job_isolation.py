"""One job's failure (a filter that does not compile, a strategy that raises or is missing) never stops the others."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from vastbid.core.choice import Choice, StrategyContext
from vastbid.core.jobs import JobState
from vastbid.obs.metrics import Metrics
from vastbid.store.decisions import DecisionOutcome, DecisionRecord
from vastbid.strategies.cheapest_per_gpu import CheapestPerGpu
from vastbid.strategies.registry import Registry

from ._world import World, job_spec

FILTER = "gpu_name=RTX_4090"


@dataclass(frozen=True, kw_only=True)
class Exploding:
    """An installed strategy whose ``choose`` raises (a bug in another package)."""

    name: ClassVar[str] = "exploding"

    def choose(self, ctx: StrategyContext) -> Choice:
        raise ZeroDivisionError("the plugin divided by zero")


def failures_logged(captured: list[dict[str, object]], caplog: pytest.LogCaptureFixture) -> list[object]:
    """The job ids of ``job_decision_failed`` log events, whether structlog's logger was captured or had been cached
    by an earlier test that configured logging (then the event reaches the standard library's logging)."""
    ids = [e["job_id"] for e in captured if e["event"] == "job_decision_failed"]
    for record in caplog.records:
        if isinstance(record.msg, dict) and record.msg.get("event") == "job_decision_failed":
            ids.append(record.msg["job_id"])
    return sorted(ids, key=str)


def errors_of(world: World, tick_id: int) -> list[DecisionRecord]:
    return [d for d in world.store.decisions.query(tick_id=tick_id) if d.outcome is DecisionOutcome.ERROR]


def registry() -> Registry:
    return Registry({"cheapest_per_gpu": CheapestPerGpu, "exploding": Exploding})


def test_a_bad_filter_and_a_raising_strategy_fail_their_own_jobs_only(
    make_world: Callable[..., World], caplog: pytest.LogCaptureFixture
) -> None:
    world = make_world(scenario="default")
    good = [world.store.jobs.submit(job_spec(f"good-{i}", 5, offer_filter=FILTER)) for i in range(18)]
    bad_filter = world.store.jobs.submit(job_spec("bad-filter", 5, offer_filter="num_gpus>>2"))
    raising = world.store.jobs.submit(job_spec("raising", 5, offer_filter=FILTER, strategy="exploding"))
    metrics = Metrics(CollectorRegistry())
    # A two-minute tick starts up to 21 creates (Vast's 4.5 s pace): all 18 fit in the first one.
    daemon = world.daemon(registry=registry(), metrics=metrics, tick_seconds=120)

    with capture_logs() as logs:
        first = daemon.tick()
    failed_once = failures_logged(logs, caplog)
    caplog.clear()

    assert first.ok, first.error
    assert world.store.ticks.last(ok=True) is not None
    for job in good:  # every other job was acted on in the same tick
        current = world.store.jobs.get(job.id)
        assert current.state is JobState.ACQUIRING, (job.id, current.state, current.state_reason)
        assert current.instance_id is not None
    assert len(world.ours()) == 18

    errors = errors_of(world, first.tick_id)
    assert {row.job_id for row in errors} == {bad_filter.id, raising.id}
    by_job = {row.job_id: row for row in errors}
    assert "num_gpus>>2" in by_job[bad_filter.id].reason and "QueryError" in by_job[bad_filter.id].reason
    assert "ZeroDivisionError: the plugin divided by zero" in by_job[raising.id].reason
    assert by_job[bad_filter.id].facts["cause"] == "filter"
    assert by_job[raising.id].facts["cause"] == "strategy_failed"

    for job, words in ((bad_filter, "QueryError"), (raising, "ZeroDivisionError")):
        current = world.store.jobs.get(job.id)
        assert current.state is JobState.QUEUED
        assert current.instance_id is None
        assert current.state_reason is not None and words in current.state_reason

    scraped = metrics.registry
    assert scraped.get_sample_value("vastbid_job_errors_total", {"cause": "filter"}) == 1.0
    assert scraped.get_sample_value("vastbid_job_errors_total", {"cause": "strategy_failed"}) == 1.0
    assert failed_once == sorted([bad_filter.id, raising.id])

    # Later ticks retry the two jobs, but their unchanged error is logged once, not once per tick.
    with capture_logs() as later_logs:
        later = world.run(daemon, 3)
    assert all(result.ok for result in later)
    assert all(not errors_of(world, r.tick_id) for r in later)
    assert failures_logged(later_logs, caplog) == []
    assert scraped.get_sample_value("vastbid_job_errors_total", {"cause": "filter"}) == 4.0


def test_a_strategy_that_is_not_installed_fails_its_job_and_names_the_valid_ones(world: World) -> None:
    served = world.store.jobs.submit(job_spec("served", 5, offer_filter=FILTER))
    missing = world.store.jobs.submit(job_spec("missing", 5, offer_filter=FILTER, strategy="bogus"))
    result = world.daemon(registry=registry()).tick()

    assert result.ok
    assert world.store.jobs.get(served.id).instance_id is not None
    reason = world.store.jobs.get(missing.id).state_reason
    assert reason is not None and "bogus" in reason and "cheapest_per_gpu" in reason


def test_a_fixed_job_is_served_and_its_error_reason_cleared(world: World) -> None:
    job = world.store.jobs.submit(job_spec("later", 5, offer_filter=FILTER, strategy="not_yet"))
    world.run(world.daemon(registry=registry()), 1)
    assert "not_yet" in (world.store.jobs.get(job.id).state_reason or "")

    # The package providing the strategy is installed and the daemon restarted with it.
    fixed = Registry({"cheapest_per_gpu": CheapestPerGpu, "exploding": Exploding, "not_yet": CheapestPerGpu})
    world.run(world.daemon(registry=fixed), 1)
    current = world.store.jobs.get(job.id)
    assert current.instance_id is not None
    assert not (current.state_reason or "").startswith("error: ")
