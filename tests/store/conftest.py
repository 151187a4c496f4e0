"""A fresh database per test, on SQLite and on PostgreSQL (a schema of its own, dropped after).

PostgreSQL's URL comes from ``VASTBID_TEST_POSTGRES_URL``; without it those cases skip, unless
``VASTBID_REQUIRE_POSTGRES=1`` (CI), where a missing or unreachable server fails them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from factories import FakeClock
from vastbid.store import Store, open_store


def _postgres_base_url() -> str:
    url = os.environ.get("VASTBID_TEST_POSTGRES_URL", "").strip()
    if not url:
        if os.environ.get("VASTBID_REQUIRE_POSTGRES") == "1":
            pytest.fail("VASTBID_REQUIRE_POSTGRES=1 but VASTBID_TEST_POSTGRES_URL is not set")
        pytest.skip("VASTBID_TEST_POSTGRES_URL is not set")
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose search_path is a new, empty schema (dropped after the test)."""
    base = _postgres_base_url()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        admin.dispose()
        if os.environ.get("VASTBID_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL at {make_url(base).render_as_string(hide_password=True)} unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {type(exc).__name__}")
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state' / 'vastbid.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database of each kind."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 14, 12, 0, tzinfo=UTC))


@pytest.fixture
def store(db_url: str, clock: FakeClock) -> Iterator[Store]:
    """A store at the head schema, on a fresh database, with a hand-moved clock."""
    with open_store(db_url, upgrade=True, clock=clock) as opened:
        yield opened
