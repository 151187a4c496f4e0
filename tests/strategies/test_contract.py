"""The contract every registered strategy keeps, over hypothesis-generated offers, jobs and instances.

Output offers come from the input, nothing is mutated, the same context gives the same choice, no offers and
no instance give a WAIT without an offer, and no price ever exceeds the job's cap.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories import NOW
from vastbid.core.instances import Instance, InstanceStatus
from vastbid.core.jobs import Job, JobSpec, JobState, Rental
from vastbid.core.offers import Offer
from vastbid.core.spot_runs import SpotStats
from vastbid.strategies.base import MachineRecord, Strategy, StrategyContext, Verb
from vastbid.strategies.registry import Registry

PARAMS: dict[str, dict[str, Any]] = {"price_threshold": {"acquire_below": 0.6, "release_above": 0.9}}
"""Parameters for strategies that have required ones; every other strategy is built with its defaults."""


REGISTRY = Registry.from_entry_points()
"""Every registered strategy: the built-ins and whatever else is installed."""


def _built(name: str) -> Strategy:
    return REGISTRY.build(name, PARAMS.get(name))


prices = st.floats(min_value=0.0, max_value=4.0, allow_nan=False)


@st.composite
def offers_lists(draw: st.DrawFn) -> list[Offer]:
    count = draw(st.integers(min_value=0, max_value=10))
    out = []
    for i in range(count):
        gpus = draw(st.sampled_from([1, 2]))
        out.append(
            Offer(
                id=100 + i,
                machine_id=draw(st.integers(min_value=1, max_value=6)),
                host_id=1,
                gpu_name="RTX_4090",
                num_gpus=gpus,
                gpu_ram_gb=24.0,
                dph_total=draw(st.floats(min_value=0.01, max_value=5.0, allow_nan=False)),
                min_bid=draw(prices),
                dlperf=draw(st.floats(min_value=0.0, max_value=100.0, allow_nan=False)),
                reliability=draw(st.floats(min_value=0.0, max_value=1.0, allow_nan=False)),
            )
        )
    return out


@st.composite
def jobs(draw: st.DrawFn) -> Job:
    extra: dict[str, Any] = {}
    if draw(st.booleans()):
        work = draw(st.floats(min_value=0.5, max_value=48.0))
        extra = {"work_hours": work, "deadline": NOW + timedelta(hours=draw(st.floats(min_value=-2.0, max_value=96.0)))}
    spec = JobSpec(
        name="j",
        image="img",
        num_gpus=draw(st.sampled_from([1, 2])),
        max_price_per_gpu=draw(st.floats(min_value=0.01, max_value=2.0)),
        rental=draw(st.sampled_from(list(Rental))),
        restart_overhead_hours=draw(st.sampled_from([0.0, 0.1, 0.2])),
        **extra,
    )
    return Job(
        id=1,
        spec=spec,
        state=draw(st.sampled_from([JobState.QUEUED, JobState.RUNNING, JobState.INTERRUPTED])),
        created_at=NOW - timedelta(hours=draw(st.floats(min_value=0.0, max_value=24.0))),
        progress_hours=draw(st.floats(min_value=0.0, max_value=40.0)),
    )


@st.composite
def instances(draw: st.DrawFn) -> Instance | None:
    if draw(st.booleans()):
        return None
    is_bid = draw(st.booleans())
    price = draw(st.floats(min_value=0.01, max_value=4.0))
    return Instance(
        id=9,
        machine_id=draw(st.integers(min_value=1, max_value=6)),
        label=None,
        is_bid=is_bid,
        bid_price=price if is_bid else None,
        dph_total=price,
        num_gpus=draw(st.sampled_from([1, 2])),
        gpu_name="RTX_4090",
        started_at=NOW,
        status=draw(st.sampled_from(list(InstanceStatus))),
        min_bid=draw(st.one_of(st.none(), prices)),
    )


@pytest.mark.parametrize("name", REGISTRY.names())
def test_a_strategy_is_a_frozen_value_of_its_parameters(name: str) -> None:
    strategy = _built(name)
    assert dataclasses.is_dataclass(strategy)
    assert strategy == _built(name)
    for field in dataclasses.fields(strategy):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(strategy, field.name, getattr(strategy, field.name))


@pytest.mark.parametrize("name", REGISTRY.names())
def test_no_offers_and_no_instance_means_wait(name: str) -> None:
    strategy = _built(name)
    job = Job(id=1, spec=JobSpec(name="j", image="i", max_price_per_gpu=1.0), state=JobState.QUEUED, created_at=NOW)
    choice = strategy.choose(StrategyContext(job=job, offers=(), now=NOW))
    assert choice.verb is Verb.WAIT
    assert choice.offer is None
    assert choice.why


@pytest.mark.parametrize("name", REGISTRY.names())
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(offers=offers_lists(), job=jobs(), instance=instances(), data=st.data())
def test_contract(name: str, offers: list[Offer], job: Job, instance: Instance | None, data: st.DataObject) -> None:
    strategy = _built(name)
    history = {m: MachineRecord(interruptions=data.draw(st.integers(0, 3))) for m in (1, 2)}
    runs = st.lists(st.floats(min_value=0.01, max_value=30.0), max_size=12).map(tuple)
    spot_stats = {m: SpotStats(up_hours=data.draw(st.floats(0.0, 10.0)), past_up_hours=data.draw(runs)) for m in (1, 2)}
    before = (list(offers), dict(history), job, instance)
    ctx = StrategyContext(job=job, offers=offers, now=NOW, instance=instance, history=history, spot_stats=spot_stats)
    first = strategy.choose(ctx)
    second = strategy.choose(ctx)
    assert first == second, "the same context must give the same choice"
    assert (list(offers), dict(history), job, instance) == before, "the context must not be mutated"
    assert first.why
    assert first.offer is None or first.offer in offers
    assert all(o in offers for o in first.ranked)
    if first.price is not None:
        assert first.price <= job.max_price + 1e-9
    if first.offer is not None:
        assert first.rental is not None and first.price is not None
        assert dataclasses.is_dataclass(first.offer)
