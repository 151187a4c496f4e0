"""Migration 0003 on a database that already has spend: totals unchanged, nothing billed twice afterwards."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import insert, inspect

from factories import FakeClock
from vastbid.store import InstanceUsage, SpendKind, open_store, upgrade
from vastbid.store.engine import make_engine
from vastbid.store.migrate import alembic_config
from vastbid.store.schema import SpendRow

EVENING = datetime(2026, 3, 31, 22, 0, tzinfo=UTC)


def test_upgrading_a_ledger_keeps_its_totals_and_bills_no_old_second_again(db_url: str) -> None:
    upgrade(db_url, "0002")
    engine = make_engine(db_url)
    midnight = EVENING + timedelta(hours=2)
    rows = [  # as the old daemon wrote them: split at midnight, one instance, plus a manual row
        (7, "gpu", EVENING, midnight, 2.0),
        (7, "gpu", midnight, midnight + timedelta(hours=1), 1.0),
        (7, "storage", EVENING, midnight, 0.1),
        (None, "bandwidth", EVENING, EVENING + timedelta(minutes=1), 0.5),
    ]
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(SpendRow),
                [
                    {"instance_id": i, "kind": k, "period_start": s, "period_end": e, "amount": a, "job_id": None}
                    for i, k, s, e, a in rows
                ],
            )
    finally:
        engine.dispose()

    upgrade(db_url)

    with open_store(db_url, clock=FakeClock(midnight)) as store:
        assert store.spend.spent_on_day(date(2026, 3, 31)) == pytest.approx(2.6)
        assert store.spend.spent_on_day(date(2026, 4, 1)) == pytest.approx(1.0)
        assert store.spend.spent_in_month(EVENING) == pytest.approx(2.6)
        assert store.spend.accrued_until(7) == midnight + timedelta(hours=1)
        assert store.spend.accrued_until(7, SpendKind.STORAGE) == midnight

        # the first tick after the upgrade restarts from the old last tick: only the new seconds count
        added = store.spend.accrue_tick(
            [
                InstanceUsage(
                    instance_id=7,
                    since=EVENING,
                    until=midnight + timedelta(hours=2),
                    running=True,
                    gpu_dph=1.0,
                    storage_dph=0.05,
                    counts_progress=True,
                )
            ]
        )
        assert added.by_kind == {SpendKind.GPU: pytest.approx(1.0), SpendKind.STORAGE: pytest.approx(0.1)}
        assert store.spend.spent_on_day(date(2026, 4, 1)) == pytest.approx(2.1)
        assert len(store.identity.database_id) == 32


def test_the_migration_downgrades_cleanly(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0002")
        tables = set(inspect(engine).get_table_names())
        assert not tables & {"spend_marks", "spend_daily", "meta"}
        assert "spend" in tables
    finally:
        engine.dispose()
