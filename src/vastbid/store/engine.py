"""Making SQLAlchemy engines: any URL works; SQLite gets WAL, a busy timeout, foreign keys and write locks.

SQLite transactions start with ``BEGIN IMMEDIATE`` so that a reader turning writer never fails with "database is
locked" while the daemon and a CLI command write at the same time: the second writer waits (busy timeout).
Once a store has opened a SQLite file, ``forbid_sqlite_create`` makes every later connection open it read-write
only (``mode=rw``): a deleted database file is then an error, never silently replaced by a new empty one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote
from weakref import WeakKeyDictionary

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


@dataclass(slots=True)
class _SqliteFile:
    path: Path
    must_exist: bool = False


_SQLITE_FILES: WeakKeyDictionary[Engine, _SqliteFile] = WeakKeyDictionary()
"""The file of each SQLite engine made here, and whether a connection may still create it."""


def sqlite_path(engine: Engine) -> Path | None:
    """The absolute path of ``engine``'s SQLite file; ``None`` for other backends and in-memory databases."""
    found = _SQLITE_FILES.get(engine)
    return found.path if found is not None else None


def forbid_sqlite_create(engine: Engine) -> None:
    """From now on, ``engine``'s connections never create its SQLite file: a missing file fails to open."""
    found = _SQLITE_FILES.get(engine)
    if found is not None:
        found.must_exist = True


def _make_sqlite_connect_hook(file: _SqliteFile) -> Any:
    def _on_sqlite_do_connect(
        _dialect: Any, _record: ConnectionPoolEntry, cargs: list[Any], cparams: dict[str, Any]
    ) -> None:
        if file.must_exist:
            cargs[:1] = [f"file:{quote(str(file.path))}?mode=rw"]
            cparams["uri"] = True

    return _on_sqlite_do_connect


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
    if path is not None:
        file = _SqliteFile(path.resolve())
        _SQLITE_FILES[engine] = file
        event.listen(engine, "do_connect", _make_sqlite_connect_hook(file))
    return engine
