"""The decision log and the tick records.

Each tick gets a row (``TickRepository.start`` / ``finish``); every action it planned is a decision row with the
strategy, the reason, the facts and candidates behind it, its outcome and the config hash. A tick's decisions are
written in one transaction (``DecisionRepository.add_many``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vastbid.errors import InvalidInputError
from vastbid.store.schema import DecisionRow, TickRow
from vastbid.store.session import Clock, transaction


class DecisionOutcome(StrEnum):
    """What became of a planned action."""

    PLANNED = "planned"
    APPLIED = "applied"
    FAILED = "failed"
    SKIPPED_DRY_RUN = "skipped_dry_run"
    ERROR = "error"
    """Deciding for the job failed (its filter, its strategy); nothing was planned for it."""


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One logged decision. ``id`` is ``None`` until stored."""

    at: datetime
    action: str
    reason: str
    outcome: DecisionOutcome
    config_hash: str
    tick_id: int | None = None
    job_id: int | None = None
    strategy: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)
    candidates: Sequence[Any] = ()
    error: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class TickRecord:
    """One run of the loop; ``ok`` is ``None`` while it runs."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    ok: bool | None
    error: str | None
    counts: Mapping[str, Any]


def _decision(row: DecisionRow) -> DecisionRecord:
    return DecisionRecord(
        id=row.id,
        tick_id=row.tick_id,
        at=row.at,
        job_id=row.job_id,
        action=row.action,
        strategy=row.strategy,
        reason=row.reason,
        facts=dict(row.facts or {}),
        candidates=list(row.candidates or []),
        outcome=DecisionOutcome(row.outcome),
        error=row.error,
        config_hash=row.config_hash,
    )


class DecisionRepository:
    """The decision log."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add_many(self, decisions: Sequence[DecisionRecord]) -> list[int]:
        """Store a tick's decisions together (all or none); returns their ids in order."""
        with transaction(self._sessions) as session:
            rows = [
                DecisionRow(
                    tick_id=d.tick_id,
                    at=d.at,
                    job_id=d.job_id,
                    action=d.action,
                    strategy=d.strategy,
                    reason=d.reason,
                    facts=dict(d.facts),
                    candidates=list(d.candidates),
                    outcome=DecisionOutcome(d.outcome).value,
                    error=d.error,
                    config_hash=d.config_hash,
                )
                for d in decisions
            ]
            session.add_all(rows)
            session.flush()
            return [row.id for row in rows]

    def set_outcome(self, decision_id: int, outcome: DecisionOutcome, *, error: str | None = None) -> None:
        """Record what became of a planned action."""
        with transaction(self._sessions) as session:
            row = session.get(DecisionRow, decision_id)
            if row is None:
                raise InvalidInputError(f"there is no decision {decision_id}", field="decision_id")
            row.outcome = DecisionOutcome(outcome).value
            row.error = error

    def query(
        self,
        *,
        job_id: int | None = None,
        tick_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[DecisionRecord]:
        """Decisions matching every given filter, oldest first (the newest ``limit`` when given)."""
        query = select(DecisionRow)
        if job_id is not None:
            query = query.where(DecisionRow.job_id == job_id)
        if tick_id is not None:
            query = query.where(DecisionRow.tick_id == tick_id)
        if since is not None:
            query = query.where(DecisionRow.at >= since)
        if until is not None:
            query = query.where(DecisionRow.at < until)
        query = query.order_by(DecisionRow.at.desc(), DecisionRow.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with transaction(self._sessions) as session:
            return [_decision(row) for row in reversed(list(session.scalars(query)))]


class TickRepository:
    """The record of every loop run."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def start(self, at: datetime | None = None) -> int:
        """Open a tick row; returns its id."""
        with transaction(self._sessions) as session:
            row = TickRow(started_at=at or self._clock(), counts={})
            session.add(row)
            session.flush()
            return row.id

    def finish(
        self,
        tick_id: int,
        *,
        ok: bool,
        error: str | None = None,
        counts: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> None:
        """Close a tick row with its result."""
        with transaction(self._sessions) as session:
            row = session.get(TickRow, tick_id)
            if row is None:
                raise InvalidInputError(f"there is no tick {tick_id}", field="tick_id")
            row.finished_at = at or self._clock()
            row.ok = ok
            row.error = error
            row.counts = dict(counts or {})

    def last(self, *, ok: bool | None = None) -> TickRecord | None:
        """The latest finished tick (only successful or failed ones when ``ok`` is given)."""
        query = select(TickRow).where(TickRow.finished_at.is_not(None))
        if ok is not None:
            query = query.where(TickRow.ok.is_(ok))
        query = query.order_by(TickRow.started_at.desc(), TickRow.id.desc()).limit(1)
        with transaction(self._sessions) as session:
            row = session.scalar(query)
            if row is None:
                return None
            return TickRecord(row.id, row.started_at, row.finished_at, row.ok, row.error, dict(row.counts or {}))
