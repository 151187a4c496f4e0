"""Conflict-aware inserts that hold under concurrent writers, on SQLite and PostgreSQL alike.

``insert_ignoring_conflicts`` adds rows unless a row with the same unique key exists (``ON CONFLICT DO
NOTHING``); ``add_to_column`` adds to a counter row, creating it on first use (``ON CONFLICT DO UPDATE SET
col = col + excluded.col``). Other backends fall back to read-then-write inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignoring_conflicts(session: Session, table: Table, row: Mapping[str, Any]) -> bool:
    """Insert ``row`` unless it would break a unique constraint; whether it was inserted."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":  # its rowcount is not reliable here (implicit RETURNING): ask for the key back
        statement = postgresql.insert(table).values(**row).on_conflict_do_nothing()
        return session.execute(statement.returning(*table.primary_key.columns)).first() is not None
    if dialect == "sqlite":
        result = session.execute(sqlite.insert(table).values(**row).on_conflict_do_nothing())
    else:  # pragma: no cover - only SQLite and PostgreSQL are tested
        keys = list(table.primary_key.columns)
        if all(key.name in row for key in keys):
            exists = session.execute(select(*keys).where(*[key == row[key.name] for key in keys])).first()
            if exists is not None:
                return False
        result = session.execute(insert(table).values(**row))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def add_to_column(session: Session, table: Table, key: Mapping[str, Any], column: str, amount: float) -> None:
    """``column += amount`` on the row of primary key ``key``, created with ``amount`` when missing."""
    dialect = session.get_bind().dialect.name
    values = {**key, column: amount}
    if dialect in ("postgresql", "sqlite"):
        module: Any = postgresql if dialect == "postgresql" else sqlite
        statement = module.insert(table).values(**values)
        index: Sequence[str] = list(key)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=index, set_={column: table.c[column] + statement.excluded[column]}
            )
        )
        return
    where = [table.c[name] == value for name, value in key.items()]  # pragma: no cover
    found = session.execute(select(table.c[column]).where(*where).with_for_update()).first()  # pragma: no cover
    if found is None:  # pragma: no cover
        session.execute(insert(table).values(**values))
    else:  # pragma: no cover
        session.execute(update(table).where(*where).values({column: table.c[column] + amount}))
