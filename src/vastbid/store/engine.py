"""Making SQLAlchemy engines: any URL works; SQLite gets WAL, a busy timeout, foreign keys and write locks.

SQLite transactions start with ``BEGIN IMMEDIATE`` so that a reader turning writer never fails with "database is
locked" while the daemon and a CLI command write at the same time: the second writer waits (busy timeout).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import ConnectionPoolEntry

from vastbid.errors import ConfigError

SQLITE_BUSY_TIMEOUT_MS = 10_000


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _on_sqlite_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    dbapi_connection.isolation_level = None  # let SQLAlchemy's begin event issue BEGIN itself
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _on_sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """An engine for ``url``; for a SQLite file, its directory is created (private) when missing."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"database URL {url!r} is not a SQLAlchemy URL (e.g. sqlite:///path/vastbid.db)") from None
    if parsed.get_backend_name() != "sqlite":
        try:
            return create_engine(parsed, pool_pre_ping=True)
        except (NoSuchModuleError, ImportError) as exc:
            raise ConfigError(
                f"database URL {parsed.render_as_string(hide_password=True)!r} needs a driver that is not installed "
                f"({exc}); for PostgreSQL use postgresql+psycopg:// with vastbid[postgres]"
            ) from None
    path = _sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = create_engine(parsed)
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine
