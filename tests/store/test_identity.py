"""The store notices when its database is no longer the one it opened, and never makes a new one to check."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import delete, text, update

from vastbid.errors import DatabaseChangedError, StoreError
from vastbid.store import Store, open_store, upgrade
from vastbid.store.schema import MetaRow


def _sqlite_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def test_an_unchanged_database_passes_and_reopening_it_finds_the_same_identity(db_url: str, store: Store) -> None:
    store.check_identity()
    assert store.ping()
    with open_store(db_url) as again:
        assert again.identity.database_id == store.identity.database_id


def test_two_databases_have_different_identities(sqlite_url: str, tmp_path: Path) -> None:
    with open_store(sqlite_url, upgrade=True) as one, open_store(f"sqlite:///{tmp_path / 'b.db'}", upgrade=True) as two:
        assert one.identity.database_id != two.identity.database_id


def test_a_deleted_sqlite_file_is_noticed_though_select_1_still_answers(sqlite_url: str) -> None:
    path = _sqlite_file(sqlite_url)
    with open_store(sqlite_url, upgrade=True) as store:
        store.jobs.submit({"name": "train", "image": "img", "max_price_per_gpu": 0.5})
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)

        with store.engine.connect() as connection:  # the pooled connection still reads the deleted file
            assert connection.execute(text("SELECT 1")).scalar() == 1
        with pytest.raises(DatabaseChangedError, match="no longer exists"):
            store.check_identity()
        assert not store.ping()
        assert not path.exists()  # checking made no new, empty database


def test_a_sqlite_file_replaced_by_another_database_is_noticed(sqlite_url: str, tmp_path: Path) -> None:
    path = _sqlite_file(sqlite_url)
    other = tmp_path / "other.db"
    upgrade(f"sqlite:///{other}")
    with open_store(sqlite_url, upgrade=True) as store:
        os.replace(other, path)

        with pytest.raises(DatabaseChangedError, match="replaced"):
            store.check_identity()
        assert not store.ping()


def test_new_connections_never_create_a_vanished_sqlite_file(sqlite_url: str) -> None:
    path = _sqlite_file(sqlite_url)
    with open_store(sqlite_url, upgrade=True) as store:
        store.engine.dispose()  # no pooled connection left to the old file
        path.unlink()

        with pytest.raises(StoreError):
            store.jobs.list()
        assert not path.exists()


def test_a_lost_or_different_identity_row_is_noticed(store: Store) -> None:
    with store.engine.begin() as connection:
        connection.execute(update(MetaRow).where(MetaRow.key == "database_id").values(value="0" * 32))
    with pytest.raises(DatabaseChangedError, match="identity changed"):
        store.check_identity()

    with store.engine.begin() as connection:
        connection.execute(delete(MetaRow))
    with pytest.raises(DatabaseChangedError, match="identity row is gone"):
        store.check_identity()
    assert not store.ping()


def test_a_database_without_the_identity_table_is_noticed(store: Store) -> None:
    with store.engine.begin() as connection:
        connection.execute(text("DROP TABLE meta"))
    with pytest.raises(DatabaseChangedError, match="no identity table"):
        store.check_identity()


def test_opening_needs_an_identity_and_an_upgrade_writes_a_missing_one(db_url: str) -> None:
    with open_store(db_url, upgrade=True) as store, store.engine.begin() as connection:
        connection.execute(delete(MetaRow))
    with pytest.raises(StoreError, match="vastbid db upgrade"):
        open_store(db_url)
    with open_store(db_url, upgrade=True) as store:
        store.check_identity()
