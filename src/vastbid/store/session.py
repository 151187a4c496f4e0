"""Transactions: one ``with transaction(sessions) as session:`` per repository call, errors as ``StoreError``.

Everything inside the block commits together or not at all; SQLAlchemy's errors leave the store as
``StoreError`` with the exception class and the driver's first line (never bound parameters, which could hold a
label or a reason but are not worth the risk in a log line).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from vastbid.errors import StoreError

Clock = Callable[[], datetime]
"""Returns "now" as an aware UTC datetime; injected so tests control time."""


def utc_now() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


def describe_db_error(exc: SQLAlchemyError) -> str:
    """A one-line description of a database error without its SQL parameters."""
    original = getattr(exc, "orig", None)
    detail = str(original if original is not None else exc).strip().splitlines()
    first = detail[0] if detail else ""
    return f"{type(exc).__name__}: {first}"


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session in a transaction: committed on success, rolled back on any error."""
    try:
        with sessions.begin() as session:
            yield session
    except SQLAlchemyError as exc:
        raise StoreError(f"database error: {describe_db_error(exc)}") from None
