"""What our instances cost: accrued amounts by instance, job and kind, and sums by period.

``accrue`` splits a period at UTC midnights (pro rata), so every row lies inside one UTC day and the sums by day
and by month are exact. ``spent_between(start, end)`` sums the rows that start in ``[start, end)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from vastbid.errors import InvalidInputError
from vastbid.store.schema import SpendRow
from vastbid.store.session import transaction


class SpendKind(StrEnum):
    """What a cost is for."""

    GPU = "gpu"
    STORAGE = "storage"
    BANDWIDTH = "bandwidth"


def day_start(day: date) -> datetime:
    """Midnight UTC opening ``day``."""
    return datetime.combine(day, time(), tzinfo=UTC)


def month_start(moment: datetime) -> datetime:
    """Midnight UTC opening the month of ``moment``."""
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def next_month_start(moment: datetime) -> datetime:
    """Midnight UTC opening the month after ``moment``'s."""
    start = month_start(moment)
    return (start + timedelta(days=32)).replace(day=1)


def _split_at_midnights(start: datetime, end: datetime, amount: float) -> list[tuple[datetime, datetime, float]]:
    total = (end - start).total_seconds()
    if total <= 0:
        return [(start, end, amount)]
    pieces: list[tuple[datetime, datetime, float]] = []
    cursor = start
    while cursor < end:
        boundary = min(day_start(cursor.astimezone(UTC).date() + timedelta(days=1)), end)
        pieces.append((cursor, boundary, amount * (boundary - cursor).total_seconds() / total))
        cursor = boundary
    return pieces


@dataclass(frozen=True, slots=True)
class SpendEntry:
    """``amount`` $ of ``kind`` spent over ``[period_start, period_end)`` by an instance (and its job)."""

    kind: SpendKind
    amount: float
    period_start: datetime
    period_end: datetime
    instance_id: int | None = None
    job_id: int | None = None


class SpendRepository:
    """Accrued costs and their sums."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def accrue(
        self,
        *,
        kind: SpendKind,
        amount: float,
        period_start: datetime,
        period_end: datetime,
        instance_id: int | None = None,
        job_id: int | None = None,
    ) -> None:
        """Record ``amount`` $ of ``kind`` spent over ``[period_start, period_end)``."""
        self.accrue_many([SpendEntry(kind, amount, period_start, period_end, instance_id, job_id)])

    def accrue_many(self, entries: Sequence[SpendEntry]) -> None:
        """Record several accruals in one transaction (a tick's ledger): all or none."""
        for entry in entries:
            if entry.amount < 0:
                raise InvalidInputError(f"a spend amount cannot be negative (got {entry.amount})", field="amount")
            if entry.period_end < entry.period_start:
                raise InvalidInputError("a spend period cannot end before it starts", field="period_end")
        with transaction(self._sessions) as session:
            for entry in entries:
                for start, end, part in _split_at_midnights(entry.period_start, entry.period_end, entry.amount):
                    session.add(
                        SpendRow(
                            instance_id=entry.instance_id,
                            job_id=entry.job_id,
                            kind=SpendKind(entry.kind).value,
                            period_start=start,
                            period_end=end,
                            amount=part,
                        )
                    )

    def spent_between(
        self, start: datetime, end: datetime, *, kind: SpendKind | None = None, job_id: int | None = None
    ) -> float:
        """$ accrued in rows starting in ``[start, end)``, optionally of one kind or one job."""
        query = select(func.coalesce(func.sum(SpendRow.amount), 0.0)).where(
            SpendRow.period_start >= start, SpendRow.period_start < end
        )
        if kind is not None:
            query = query.where(SpendRow.kind == SpendKind(kind).value)
        if job_id is not None:
            query = query.where(SpendRow.job_id == job_id)
        with transaction(self._sessions) as session:
            return float(session.scalar(query) or 0.0)

    def spent_on_day(self, day: date) -> float:
        """$ accrued on one UTC day."""
        start = day_start(day)
        return self.spent_between(start, start + timedelta(days=1))

    def spent_in_month(self, moment: datetime) -> float:
        """$ accrued in the UTC month of ``moment``."""
        return self.spent_between(month_start(moment), next_month_start(moment))

    def daily_totals(self, first: date, last: date) -> dict[date, float]:
        """$ per UTC day from ``first`` to ``last`` inclusive (days without spend are 0)."""
        totals: dict[date, float] = {}
        day = first
        while day <= last:
            totals[day] = self.spent_on_day(day)
            day += timedelta(days=1)
        return totals

    def spent_by_job(self, job_id: int) -> float:
        """$ accrued for one job, all time."""
        query = select(func.coalesce(func.sum(SpendRow.amount), 0.0)).where(SpendRow.job_id == job_id)
        with transaction(self._sessions) as session:
            return float(session.scalar(query) or 0.0)
