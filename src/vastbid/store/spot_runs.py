"""The daemon's market memory as small aggregates: its spot runs (``core.spot_runs.SpotRuns``) and its machine
history (``core.choice.MachineRecord`` per machine), each saved whole so a restart picks up where it left off.

``replace_all`` swaps the stored snapshot for a new one in one transaction (all the old rows or all the new, never
a mix or nothing: a failed save leaves the previous snapshot as it was); ``load`` gives it back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, sessionmaker

from vastbid.core.choice import MachineRecord
from vastbid.core.spot_runs import SpotRunState
from vastbid.store.schema import Base, MachineHistoryRow, SpotRunRow
from vastbid.store.session import transaction

_TABLE = Base.metadata.tables[SpotRunRow.__tablename__]


class SpotRunRepository:
    """The saved snapshot of the daemon's spot runs, one row per machine."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def replace_all(self, states: Sequence[SpotRunState]) -> int:
        """Store ``states`` in place of the previous snapshot (one transaction, bulk insert); returns the rows."""
        rows = [
            {
                "machine_id": state.machine_id,
                "last_seen": state.last_seen,
                "up_since": state.up_since,
                "last_up": state.last_up,
                "past_up_hours": [float(hours) for hours in state.past_up_hours],
            }
            for state in states
        ]
        with transaction(self._sessions) as session:
            session.execute(delete(SpotRunRow))
            if rows:
                # The table's Core insert: one executemany (the ORM's bulk path emits a statement per row here).
                session.execute(insert(_TABLE), rows)
        return len(rows)

    def load(self) -> list[SpotRunState]:
        """The saved snapshot, least recently seen first (empty when none was saved)."""
        query = select(SpotRunRow).order_by(SpotRunRow.last_seen, SpotRunRow.machine_id)
        with transaction(self._sessions) as session:
            rows = list(session.scalars(query))
        return [
            SpotRunState(
                machine_id=row.machine_id,
                last_seen=row.last_seen,
                up_since=row.up_since,
                last_up=row.last_up,
                past_up_hours=tuple(float(hours) for hours in row.past_up_hours),
            )
            for row in rows
        ]


_HISTORY = Base.metadata.tables[MachineHistoryRow.__tablename__]


class MachineHistoryRepository:
    """The saved machine history, one row per machine (rentals we made, interruptions we saw)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def replace_all(self, history: Mapping[int, MachineRecord]) -> int:
        """Store ``history`` in place of the previous one (one transaction); returns the rows."""
        rows = [
            {"machine_id": machine, "rentals": record.rentals, "interruptions": record.interruptions}
            for machine, record in sorted(history.items())
        ]
        with transaction(self._sessions) as session:
            session.execute(delete(MachineHistoryRow))
            if rows:
                session.execute(insert(_HISTORY), rows)
        return len(rows)

    def load(self) -> dict[int, MachineRecord]:
        """The saved history (empty when none was saved)."""
        with transaction(self._sessions) as session:
            rows = list(session.scalars(select(MachineHistoryRow)))
        return {row.machine_id: MachineRecord(interruptions=row.interruptions, rentals=row.rentals) for row in rows}
