"""The daemon's spot runs saved in the database: a whole snapshot in, the same snapshot out, on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import event, inspect

from vastbid.core.spot_runs import SpotRuns, SpotRunState
from vastbid.errors import StoreError
from vastbid.store import Store, head_revision, upgrade
from vastbid.store.engine import make_engine
from vastbid.store.migrate import alembic_config

T0 = datetime(2026, 3, 14, 12, 0, 0, 123456, tzinfo=UTC)


def states() -> list[SpotRunState]:
    return [
        SpotRunState(machine_id=2**40 + 1, last_seen=T0, past_up_hours=()),  # beyond 32 bits, no runs
        SpotRunState(
            machine_id=7,
            last_seen=T0 + timedelta(minutes=5),
            up_since=T0 - timedelta(hours=3),
            last_up=T0 + timedelta(minutes=5),
            past_up_hours=(0.1, 1 / 3, 12.5, 1e-9),
        ),
        SpotRunState(machine_id=8, last_seen=T0 + timedelta(minutes=10), past_up_hours=(2.0,) * 200),
    ]


def test_a_saved_snapshot_loads_back_exactly(store: Store) -> None:
    assert store.spot_runs.load() == []
    assert store.spot_runs.replace_all(states()) == 3
    loaded = store.spot_runs.load()
    assert loaded == states()  # least recently seen first; times to the microsecond, lengths bit for bit
    assert all(s.last_seen.tzinfo is not None for s in loaded)


def test_saving_replaces_the_previous_snapshot_whole(store: Store) -> None:
    store.spot_runs.replace_all(states())
    newer = [SpotRunState(machine_id=7, last_seen=T0 + timedelta(hours=1), past_up_hours=(4.0,))]
    store.spot_runs.replace_all(newer)
    assert store.spot_runs.load() == newer  # machines 8 and 2**40+1 no longer remembered are gone
    store.spot_runs.replace_all([])
    assert store.spot_runs.load() == []


def test_a_failed_save_leaves_the_previous_snapshot_as_it_was(store: Store) -> None:
    store.spot_runs.replace_all(states())
    twice = [SpotRunState(machine_id=9, last_seen=T0), SpotRunState(machine_id=9, last_seen=T0)]
    with pytest.raises(StoreError):
        store.spot_runs.replace_all(twice)  # the second row breaks the primary key half way through
    assert store.spot_runs.load() == states()
    naive = [SpotRunState(machine_id=9, last_seen=T0.replace(tzinfo=None))]
    with pytest.raises((StoreError, ValueError)):
        store.spot_runs.replace_all(naive)
    assert store.spot_runs.load() == states()


def test_a_tracker_restored_from_the_database_answers_as_the_one_saved(store: Store) -> None:
    tick = timedelta(minutes=10)
    saved = SpotRuns(3 * tick, resolution=tick)
    for n in range(12):
        saved.observe(T0 + n * tick, {m for m in range(50) if (n + m) % (m % 4 + 2)}, range(50))
    store.spot_runs.replace_all(saved.snapshot())
    restored = SpotRuns(3 * tick, resolution=tick)
    restored.restore(store.spot_runs.load())
    later = T0 + 13 * tick
    assert restored.stats_for(range(50), later) == saved.stats_for(range(50), later)


def test_a_save_is_a_few_bulk_statements_not_one_per_machine(store: Store) -> None:
    many = [
        SpotRunState(
            machine_id=m,
            last_seen=T0 + timedelta(seconds=m),
            up_since=T0 if m % 2 else None,
            last_up=T0 + timedelta(seconds=m) if m % 2 else None,
            past_up_hours=tuple(float(k) for k in range(m % 5)),
        )
        for m in range(3_000)
    ]
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        store.spot_runs.replace_all(many)
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert 1 <= len(inserts) <= 3  # one executemany (or a few batches of many rows), whatever the backend
    assert store.spot_runs.load() == many


def test_the_migration_adds_the_table_and_its_downgrade_removes_it(sqlite_url: str) -> None:
    assert upgrade(sqlite_url) == (None, head_revision())
    engine = make_engine(sqlite_url)
    try:
        assert "spot_runs" in inspect(engine).get_table_names()
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0001")
        tables = set(inspect(engine).get_table_names())
        assert "spot_runs" not in tables
        assert "jobs" in tables
    finally:
        engine.dispose()
