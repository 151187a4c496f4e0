"""Migrations: empty to head on every backend, the head matches the models, SQLite runs in WAL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from vastbid.errors import StoreError
from vastbid.store import head_revision, open_store, upgrade
from vastbid.store.engine import make_engine
from vastbid.store.migrate import MIGRATIONS_DIR
from vastbid.store.schema import Base

TABLES = {"jobs", "instances", "decisions", "ticks", "spend", "market_samples", "alembic_version"}


def test_upgrade_from_empty_to_head_creates_every_table(db_url: str) -> None:
    before, after = upgrade(db_url)
    assert (before, after) == (None, head_revision())
    engine = make_engine(db_url)
    try:
        assert set(inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()
    assert upgrade(db_url) == (head_revision(), head_revision())  # idempotent


def test_head_schema_matches_the_models(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_a_database_behind_the_head_is_refused_with_the_fix(db_url: str) -> None:
    with pytest.raises(StoreError, match="vastbid db upgrade"):
        open_store(db_url)


def test_sqlite_runs_in_wal_with_foreign_keys_and_a_busy_timeout(sqlite_url: str) -> None:
    with open_store(sqlite_url, upgrade=True) as store, store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 1000


def test_migration_scripts_ship_inside_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert (MIGRATIONS_DIR / "versions" / "__init__.py").is_file()  # packaged by setuptools as a package
    assert list((MIGRATIONS_DIR / "versions").glob("0001_*.py"))
    assert MIGRATIONS_DIR.parent == Path(__file__).resolve().parents[2] / "src" / "vastbid" / "store"
