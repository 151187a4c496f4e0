"""Which database this is: a random ``database_id`` written once (migration 0003), and for SQLite the file's
``(st_dev, st_ino)``, both remembered when a store opens and compared by ``check``.

A deleted SQLite file still answers ``SELECT 1`` on an open connection, and a restored or swapped file answers
everything: only the identity tells the daemon that the database it writes is not the one it started with.
Checking never creates a database (the file is looked at with ``stat`` first; see ``engine.forbid_sqlite_create``).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError, SQLAlchemyError

from vastbid.errors import DatabaseChangedError, StoreError
from vastbid.store.engine import sqlite_path
from vastbid.store.schema import MetaRow
from vastbid.store.session import describe_db_error

DATABASE_ID = "database_id"


@dataclass(frozen=True, slots=True)
class DatabaseIdentity:
    """What a store remembers about its database when it opens."""

    database_id: str
    path: Path | None = None
    """The SQLite file, ``None`` for a server database."""
    file_id: tuple[int, int] | None = None
    """The SQLite file's ``(st_dev, st_ino)``."""


def _file_id(path: Path) -> tuple[int, int]:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        raise DatabaseChangedError(f"the database file {path} no longer exists") from None
    except OSError as exc:
        raise StoreError(f"cannot look at the database file {path}: {exc.strerror}") from None
    return stat.st_dev, stat.st_ino


def _is_missing_table(exc: SQLAlchemyError) -> bool:
    if isinstance(exc, ProgrammingError):  # PostgreSQL: undefined table
        return True
    return isinstance(exc, OperationalError) and "no such table" in str(exc.orig)


def _read_id(engine: Engine) -> str | None:
    try:
        with engine.connect() as connection:
            return connection.scalar(select(MetaRow.value).where(MetaRow.key == DATABASE_ID))
    except SQLAlchemyError as exc:
        if _is_missing_table(exc):
            raise DatabaseChangedError(
                "the database has no identity table (meta): it is not the database this process opened"
            ) from None
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            raise StoreError(f"the database does not answer: {describe_db_error(exc)}") from None
        raise StoreError(f"cannot read the database identity: {describe_db_error(exc)}") from None


def ensure_identity(engine: Engine) -> None:
    """Write a random ``database_id`` when the database has none (a first start); never changes one."""
    if _read_id(engine) is not None:
        return
    try:
        with engine.begin() as connection:
            connection.execute(insert(MetaRow).values(key=DATABASE_ID, value=uuid.uuid4().hex))
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot write the database identity: {describe_db_error(exc)}") from None


def read_identity(engine: Engine) -> DatabaseIdentity:
    """The identity of ``engine``'s database now (``StoreError`` when it has none: run ``vastbid db upgrade``)."""
    path = sqlite_path(engine)
    file_id = _file_id(path) if path is not None else None
    database_id = _read_id(engine)
    if database_id is None:
        raise StoreError("the database has no identity row: run `vastbid db upgrade`")
    return DatabaseIdentity(database_id=database_id, path=path, file_id=file_id)


def check(engine: Engine, remembered: DatabaseIdentity) -> None:
    """``DatabaseChangedError`` (with why) unless ``engine`` still reaches the database that was ``remembered``;
    ``StoreError`` when it does not answer at all."""
    if remembered.path is not None and _file_id(remembered.path) != remembered.file_id:
        raise DatabaseChangedError(f"the database file {remembered.path} was replaced by another file")
    database_id = _read_id(engine)
    if database_id is None:
        raise DatabaseChangedError("the database's identity row is gone: it is not the database this process opened")
    if database_id != remembered.database_id:
        raise DatabaseChangedError(
            f"the database's identity changed (opened {remembered.database_id[:8]}, now {database_id[:8]}): "
            "it is not the database this process opened"
        )
