"""What our instances cost: the idempotent spend ledger, its daily rollup, and sums by period.

Every accrual for an instance is clipped to start at that instance's high-water mark for its kind
(``spend_marks``), which moves forward in the same transaction as the rows it covers: a second is billed once,
whatever crashes or overlapping calls happen (an entry wholly before the mark adds nothing). ``accrue_tick`` is
the tick's ledger: spend by instance and kind plus each job's ``spent`` and ``progress_hours``, all in one
transaction. Periods are split at UTC midnights (pro rata), so every row lies inside one UTC day; ``spend_daily``
keeps the sum per day and kind in the same transaction, so the day and month sums read O(days) rows.
``spent_between(start, end)`` sums the raw rows that start in ``[start, end)``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from vastbid.errors import InvalidInputError
from vastbid.store.schema import Base, JobRow, SpendDailyRow, SpendMarkRow, SpendRow
from vastbid.store.session import Clock, transaction, utc_now
from vastbid.store.upsert import add_to_column, insert_ignoring_conflicts


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


@dataclass(frozen=True, slots=True)
class InstanceUsage:
    """One instance as a tick observed it over ``[since, until)``, taken to have stayed as it is now.

    GPU costs ``gpu_dph`` $/h while ``running``; storage costs ``storage_dph`` $/h in every state. The job gains
    the running hours as progress when ``counts_progress`` (e.g. not on the first observation that sees it
    running, whose boot moment is unknown).
    """

    instance_id: int
    since: datetime
    until: datetime
    running: bool
    gpu_dph: float
    storage_dph: float
    counts_progress: bool
    job_id: int | None = None


@dataclass(frozen=True, slots=True)
class JobAccrual:
    """What one ``accrue_tick`` added to a job, and the job's totals after it."""

    spent: float
    progress_hours: float
    spent_total: float
    progress_hours_total: float


@dataclass(frozen=True, slots=True)
class TickAccrual:
    """What one ``accrue_tick`` actually added (after clipping to the marks)."""

    by_kind: Mapping[SpendKind, float]
    """$ per kind (gpu and storage always present)."""
    by_job: Mapping[int, JobAccrual]
    """Per job that gained something: $ added to ``spent`` and hours added to ``progress_hours``."""
    by_instance: Mapping[int, float]
    """$ per instance, all kinds."""

    @property
    def total(self) -> float:
        """$ added, all kinds."""
        return sum(self.by_kind.values())


@dataclass(frozen=True, slots=True)
class _Clip:
    start: datetime
    end: datetime
    amount: float

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600.0


def _validate(entry: SpendEntry) -> None:
    if entry.amount < 0:
        raise InvalidInputError(f"a spend amount cannot be negative (got {entry.amount})", field="amount")
    if entry.period_end < entry.period_start:
        raise InvalidInputError("a spend period cannot end before it starts", field="period_end")


def _lock_marks(session: Session, entries: Sequence[SpendEntry]) -> dict[tuple[int, str], SpendMarkRow]:
    """The marks of every (instance, kind) in ``entries``, created at the earliest start when missing, locked."""
    earliest: dict[tuple[int, str], datetime] = {}
    for entry in entries:
        if entry.instance_id is not None:
            key = (entry.instance_id, SpendKind(entry.kind).value)
            earliest[key] = min(earliest.get(key, entry.period_start), entry.period_start)
    if not earliest:
        return {}
    table = Base.metadata.tables[SpendMarkRow.__tablename__]
    for (instance_id, kind), start in sorted(earliest.items()):
        insert_ignoring_conflicts(session, table, {"instance_id": instance_id, "kind": kind, "accrued_until": start})
    query = (
        select(SpendMarkRow)
        .where(SpendMarkRow.instance_id.in_(sorted({key[0] for key in earliest})))
        .order_by(SpendMarkRow.instance_id, SpendMarkRow.kind)
        .with_for_update()
    )
    rows = session.scalars(query.execution_options(populate_existing=True))
    return {(row.instance_id, row.kind): row for row in rows if (row.instance_id, row.kind) in earliest}


def _tails(session: Session, marks: Mapping[tuple[int, str], SpendMarkRow]) -> dict[tuple[int, str], SpendRow]:
    """Per (instance, kind), its row that ends at its mark (the one a contiguous interval extends), in one query."""
    if not marks:
        return {}
    ends = {mark.accrued_until for mark in marks.values()}
    query = select(SpendRow).where(
        SpendRow.instance_id.in_(sorted({key[0] for key in marks})), SpendRow.period_end.in_(sorted(ends))
    )
    tails: dict[tuple[int, str], SpendRow] = {}
    for row in session.scalars(query):
        key = (int(row.instance_id or 0), row.kind)
        mark = marks.get(key)
        if mark is not None and row.period_end == mark.accrued_until:
            tails[key] = row
    return tails


def _write(session: Session, entries: Sequence[SpendEntry]) -> list[_Clip | None]:
    """Write ``entries`` clipped to their marks (entries without an instance are written whole); advance the
    marks and the daily rollup. One clip per entry, ``None`` where nothing was left to bill."""
    for entry in entries:
        _validate(entry)
    marks = _lock_marks(session, entries)
    tails = _tails(session, marks)
    clips: list[_Clip | None] = []
    daily: dict[tuple[date, str], float] = {}
    for entry in entries:
        kind = SpendKind(entry.kind).value
        start = entry.period_start
        if entry.instance_id is not None:
            mark = marks[(entry.instance_id, kind)]
            start = max(start, mark.accrued_until)
            mark.accrued_until = max(mark.accrued_until, entry.period_end)
            if entry.period_end <= start:  # wholly before the mark (or no second at all): billed already
                clips.append(None)
                continue
        full = (entry.period_end - entry.period_start).total_seconds()
        part = (entry.period_end - start).total_seconds()
        amount = entry.amount * part / full if full > 0 else entry.amount
        clip = _Clip(start, entry.period_end, amount)
        clips.append(clip)
        if amount <= 0:
            continue
        for piece_start, piece_end, piece in _split_at_midnights(clip.start, clip.end, amount):
            key = (entry.instance_id, kind) if entry.instance_id is not None else None
            tail = tails.get(key) if key is not None else None
            if (
                tail is not None
                and tail.period_end == piece_start
                and tail.job_id == entry.job_id
                and tail.period_start.astimezone(UTC).date() == piece_start.astimezone(UTC).date()
            ):
                # The same instance billed on without a gap, the same day: one row grows, the table does not.
                tail.period_end = piece_end
                tail.amount += piece
            else:
                tail = SpendRow(
                    instance_id=entry.instance_id,
                    job_id=entry.job_id,
                    kind=kind,
                    period_start=piece_start,
                    period_end=piece_end,
                    amount=piece,
                )
                session.add(tail)
            if key is not None:
                tails[key] = tail
            day = piece_start.astimezone(UTC).date()
            daily[(day, kind)] = daily.get((day, kind), 0.0) + piece
    table = Base.metadata.tables[SpendDailyRow.__tablename__]
    for (day, kind), amount in sorted(daily.items()):
        add_to_column(session, table, {"day": day, "kind": kind}, "amount", amount)
    session.flush()
    return clips


def _usage_entries(usage: InstanceUsage) -> tuple[SpendEntry, SpendEntry]:
    if usage.gpu_dph < 0 or usage.storage_dph < 0:
        raise InvalidInputError(
            f"instance {usage.instance_id}: a $/h rate cannot be negative "
            f"(gpu {usage.gpu_dph}, storage {usage.storage_dph})",
            field="gpu_dph" if usage.gpu_dph < 0 else "storage_dph",
        )
    if usage.until < usage.since:
        raise InvalidInputError(f"instance {usage.instance_id}: an interval cannot end before it starts", field="until")
    hours = (usage.until - usage.since).total_seconds() / 3600.0
    gpu = usage.gpu_dph * hours if usage.running else 0.0
    return (
        SpendEntry(SpendKind.GPU, gpu, usage.since, usage.until, usage.instance_id, usage.job_id),
        SpendEntry(
            SpendKind.STORAGE, usage.storage_dph * hours, usage.since, usage.until, usage.instance_id, usage.job_id
        ),
    )


class SpendRepository:
    """Accrued costs and their sums."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock = utc_now) -> None:
        self._sessions = sessions
        self._clock = clock

    def accrue(
        self,
        *,
        kind: SpendKind,
        amount: float,
        period_start: datetime,
        period_end: datetime,
        instance_id: int | None = None,
        job_id: int | None = None,
    ) -> float:
        """Record ``amount`` $ of ``kind`` spent over ``[period_start, period_end)``; the $ actually added."""
        return self.accrue_many([SpendEntry(kind, amount, period_start, period_end, instance_id, job_id)])

    def accrue_many(self, entries: Sequence[SpendEntry]) -> float:
        """Record several accruals in one transaction (all or none); the $ actually added.

        An instance's entry is clipped to start at its mark for that kind (pro rata), so the same seconds are
        never billed twice; entries without an instance are written whole.
        """
        with transaction(self._sessions) as session:
            return sum(clip.amount for clip in _write(session, entries) if clip is not None)

    def accrue_tick(self, usages: Sequence[InstanceUsage]) -> TickAccrual:
        """The tick's ledger, in one transaction: each instance's GPU and storage spend over its interval,
        clipped to start at its marks (a second already billed adds nothing), the marks moved to the interval's
        end, and each job's ``spent`` (+ its instances' clipped cost) and ``progress_hours`` (+ the clipped
        running hours, when ``counts_progress``). Calling it again over the same or an overlapping interval, e.g.
        after a crash, adds only the seconds not billed yet."""
        entries: list[SpendEntry] = []
        for usage in usages:
            entries.extend(_usage_entries(usage))
        now = self._clock()
        by_kind = {SpendKind.GPU: 0.0, SpendKind.STORAGE: 0.0}
        by_instance: dict[int, float] = {}
        spent: dict[int, float] = {}
        progress: dict[int, float] = {}
        with transaction(self._sessions) as session:
            clips = _write(session, entries)
            for index, usage in enumerate(usages):
                gpu, storage = clips[2 * index], clips[2 * index + 1]
                cost = sum(clip.amount for clip in (gpu, storage) if clip is not None)
                by_kind[SpendKind.GPU] += gpu.amount if gpu is not None else 0.0
                by_kind[SpendKind.STORAGE] += storage.amount if storage is not None else 0.0
                by_instance[usage.instance_id] = by_instance.get(usage.instance_id, 0.0) + cost
                if usage.job_id is None:
                    continue
                gained = gpu.hours if gpu is not None and usage.running and usage.counts_progress else 0.0
                spent[usage.job_id] = spent.get(usage.job_id, 0.0) + cost
                progress[usage.job_id] = progress.get(usage.job_id, 0.0) + gained
            gained_jobs = [job_id for job_id in sorted(spent) if spent[job_id] > 0 or progress[job_id] > 0]
            for job_id in gained_jobs:
                session.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id)
                    .values(
                        spent=JobRow.spent + spent[job_id],
                        progress_hours=JobRow.progress_hours + progress[job_id],
                        updated_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
            totals = session.execute(
                select(JobRow.id, JobRow.spent, JobRow.progress_hours).where(JobRow.id.in_(gained_jobs))
            )
            by_job = {
                job_id: JobAccrual(spent[job_id], progress[job_id], float(job_spent), float(job_progress))
                for job_id, job_spent, job_progress in totals
            }
        return TickAccrual(by_kind=by_kind, by_job=by_job, by_instance=by_instance)

    def accrued_until(self, instance_id: int, kind: SpendKind = SpendKind.GPU) -> datetime | None:
        """How far ``instance_id``'s spend of ``kind`` has been accrued (``None``: never)."""
        query = select(SpendMarkRow.accrued_until).where(
            SpendMarkRow.instance_id == instance_id, SpendMarkRow.kind == SpendKind(kind).value
        )
        with transaction(self._sessions) as session:
            return session.scalar(query)

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
        """$ accrued on one UTC day (from the daily rollup)."""
        return self._days_sum(day, day + timedelta(days=1))

    def spent_in_month(self, moment: datetime) -> float:
        """$ accrued in the UTC month of ``moment`` (from the daily rollup)."""
        return self._days_sum(month_start(moment).date(), next_month_start(moment).date())

    def daily_totals(self, first: date, last: date) -> dict[date, float]:
        """$ per UTC day from ``first`` to ``last`` inclusive (days without spend are 0)."""
        query = (
            select(SpendDailyRow.day, func.sum(SpendDailyRow.amount))
            .where(SpendDailyRow.day >= first, SpendDailyRow.day <= last)
            .group_by(SpendDailyRow.day)
        )
        with transaction(self._sessions) as session:
            found = {day: float(amount or 0.0) for day, amount in session.execute(query)}
        totals: dict[date, float] = {}
        day = first
        while day <= last:
            totals[day] = found.get(day, 0.0)
            day += timedelta(days=1)
        return totals

    def spent_by_instance(self, instance_ids: Collection[int]) -> dict[int, float]:
        """$ accrued per instance of ``instance_ids``, all time (instances with nothing accrued are left out)."""
        if not instance_ids:
            return {}
        query = (
            select(SpendRow.instance_id, func.sum(SpendRow.amount))
            .where(SpendRow.instance_id.in_(list(instance_ids)))
            .group_by(SpendRow.instance_id)
        )
        with transaction(self._sessions) as session:
            return {int(i): float(total or 0.0) for i, total in session.execute(query) if i is not None}

    def spent_by_job(self, job_id: int) -> float:
        """$ accrued for one job, all time."""
        query = select(func.coalesce(func.sum(SpendRow.amount), 0.0)).where(SpendRow.job_id == job_id)
        with transaction(self._sessions) as session:
            return float(session.scalar(query) or 0.0)

    def _days_sum(self, first: date, end: date) -> float:
        query = select(func.coalesce(func.sum(SpendDailyRow.amount), 0.0)).where(
            SpendDailyRow.day >= first, SpendDailyRow.day < end
        )
        with transaction(self._sessions) as session:
            return float(session.scalar(query) or 0.0)
