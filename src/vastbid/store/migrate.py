"""Schema migrations, run programmatically: ``upgrade(url)`` brings any database to the newest revision.

The Alembic scripts ship inside the package (``vastbid/store/migrations``), so an installed vastbid can migrate
its database without a source checkout. The whole upgrade runs in one transaction (PostgreSQL rolls DDL back
on failure; SQLite holds its write lock for the duration).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from vastbid.errors import StoreError
from vastbid.store.engine import make_engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    """An Alembic configuration pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest revision the packaged migrations know."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise StoreError("the packaged migrations have no head revision")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, ``None`` for an empty database."""
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read the schema revision: {type(exc).__name__}: {exc.args[0]}") from None


def upgrade_engine(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Migrate ``engine``'s database to ``revision`` (the head by default: an older one is for testing
    migrations); returns ``(revision before, revision after)``."""
    before = current_revision(engine)
    config = alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except SQLAlchemyError as exc:
        raise StoreError(f"schema upgrade failed: {type(exc).__name__}: {exc.args[0]}") from None
    return before, head_revision() if revision == "head" else revision


def upgrade(url: str, revision: str = "head") -> tuple[str | None, str]:
    """Migrate the database at ``url`` to ``revision`` (the head by default); returns ``(before, after)``."""
    engine = make_engine(url)
    try:
        return upgrade_engine(engine, revision)
    finally:
        engine.dispose()
