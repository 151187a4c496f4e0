"""Machine history is a small aggregate: seeded once from the decision log by migration 0004, then saved and
loaded as one row per machine, so a restart never reads the decision log."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert

from vastbid.core.choice import MachineRecord
from vastbid.store import open_store, upgrade
from vastbid.store.engine import make_engine
from vastbid.store.schema import DecisionRow

AT = datetime(2026, 3, 31, 22, 0, tzinfo=UTC)


def _decision(action: str, outcome: str, facts: dict[str, object]) -> dict[str, object]:
    return {
        "at": AT,
        "action": action,
        "reason": "r",
        "outcome": outcome,
        "config_hash": "x",
        "facts": facts,
        "candidates": [],
    }


def test_the_upgrade_seeds_machine_history_from_the_decision_log(db_url: str) -> None:
    upgrade(db_url, "0003")
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(DecisionRow),
                [
                    _decision("place_bid", "applied", {"machine_id": 7}),
                    _decision("rent_on_demand", "applied", {"machine_id": 7}),
                    _decision("place_bid", "failed", {"machine_id": 7}),  # never rented: not counted
                    _decision("job_interrupted", "applied", {"machine_id": 7}),
                    _decision("job_interrupted", "applied", {"machine_id": 9}),
                    _decision("place_bid", "applied", {"machine_id": "9"}),  # not a machine id
                    _decision("keep", "applied", {}),
                ],
            )
    finally:
        engine.dispose()

    upgrade(db_url)

    with open_store(db_url) as store:
        assert store.machine_history.load() == {
            7: MachineRecord(interruptions=1, rentals=2),
            9: MachineRecord(interruptions=1, rentals=0),
        }


def test_machine_history_is_replaced_whole_and_read_back(db_url: str) -> None:
    with open_store(db_url, upgrade=True) as store:
        store.machine_history.replace_all({1: MachineRecord(interruptions=2, rentals=3)})
        store.machine_history.replace_all({4: MachineRecord(rentals=1)})
        assert store.machine_history.load() == {4: MachineRecord(rentals=1)}
