"""The ``Store``: one database, its repositories, retention and health.

``open_store(url)`` connects and checks the schema is at the packaged head (``upgrade=True`` migrates it first,
as ``vastbid db upgrade`` and the daemon's start do). Every repository call is its own transaction. The store
remembers the database's identity when it opens; ``check_identity`` (and so ``ping``) fails once the database is
not that one any more (SQLite file deleted or replaced, identity row gone or different).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from vastbid.core.jobs import JobState
from vastbid.errors import StoreError
from vastbid.store.decisions import DecisionRepository, TickRepository
from vastbid.store.engine import forbid_sqlite_create, make_engine
from vastbid.store.identity import DatabaseIdentity, check, ensure_identity, read_identity
from vastbid.store.instances import InstanceRecordState, InstanceRepository
from vastbid.store.jobs import JobRepository
from vastbid.store.migrate import current_revision, head_revision, upgrade_engine
from vastbid.store.samples import SampleRepository
from vastbid.store.schema import (
    DecisionRow,
    InstanceRow,
    JobRow,
    MarketSampleRow,
    SpendMarkRow,
    SpendRow,
    TickRow,
)
from vastbid.store.session import Clock, describe_db_error, transaction, utc_now
from vastbid.store.spend import SpendRepository
from vastbid.store.spot_runs import MachineHistoryRepository, SpotRunRepository


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """How many rows a retention pass removed."""

    decisions: int
    ticks: int
    samples: int
    jobs: int = 0


class Store:
    """One database and its repositories."""

    def __init__(self, engine: Engine, *, clock: Clock = utc_now, identity: DatabaseIdentity | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.identity = identity if identity is not None else read_identity(engine)
        forbid_sqlite_create(engine)
        self._sessions: sessionmaker[Session] = sessionmaker(engine, expire_on_commit=False)
        self.jobs = JobRepository(self._sessions, clock)
        self.instances = InstanceRepository(self._sessions, clock)
        self.decisions = DecisionRepository(self._sessions)
        self.ticks = TickRepository(self._sessions, clock)
        self.spend = SpendRepository(self._sessions, clock)
        self.samples = SampleRepository(self._sessions)
        self.spot_runs = SpotRunRepository(self._sessions)
        self.machine_history = MachineHistoryRepository(self._sessions)

    @property
    def url(self) -> str:
        """The database URL with any password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    def ping(self) -> bool:
        """Whether the database answers and is still the one this store opened (``check_identity``)."""
        try:
            self.check_identity()
        except StoreError:
            return False
        return True

    def check_identity(self) -> None:
        """Raise ``DatabaseChangedError`` (the message says why) unless the database is still the one this store
        opened: for SQLite, the same file (same device and inode) still at its path; for every backend, the same
        ``database_id`` row. ``StoreError`` when the database does not answer. Never creates a database."""
        check(self.engine, self.identity)

    def purge_older_than(
        self, *, decisions_before: datetime, samples_before: datetime, jobs_before: datetime | None = None
    ) -> PurgeResult:
        """Delete decisions and finished ticks older than ``decisions_before``, samples older than
        ``samples_before`` and, with ``jobs_before``, the jobs that ended before it holding no instance (with their
        instance records, ledger rows and marks, and decisions), in one transaction. The daily spend totals stay."""
        with transaction(self._sessions) as session:
            removed_jobs = 0
            if jobs_before is not None:
                removed_jobs = _purge_jobs(session, jobs_before)
            removed_decisions = session.execute(delete(DecisionRow).where(DecisionRow.at < decisions_before))
            removed_ticks = session.execute(
                delete(TickRow).where(TickRow.started_at < decisions_before, TickRow.finished_at.is_not(None))
            )
            removed_samples = session.execute(delete(MarketSampleRow).where(MarketSampleRow.at < samples_before))
            return PurgeResult(
                decisions=removed_decisions.rowcount,  # type: ignore[attr-defined]
                ticks=removed_ticks.rowcount,  # type: ignore[attr-defined]
                samples=removed_samples.rowcount,  # type: ignore[attr-defined]
                jobs=removed_jobs,
            )

    def apply_retention(self, *, decision_days: int, sample_days: int) -> PurgeResult:
        """``purge_older_than`` with the settings' retention periods, counted back from now."""
        now = self.clock()
        return self.purge_older_than(
            decisions_before=now - timedelta(days=decision_days), samples_before=now - timedelta(days=sample_days)
        )

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _purge_jobs(session: Session, before: datetime) -> int:
    """Delete the jobs over before ``before`` that hold no instance, and every row that belongs to them."""
    final = [state.value for state in JobState if state.is_final]
    ids = list(
        session.scalars(
            select(JobRow.id).where(JobRow.state.in_(final), JobRow.instance_id.is_(None), JobRow.finished_at < before)
        )
    )
    if not ids:
        return 0
    instances = [
        i
        for i in session.scalars(
            select(InstanceRow.instance_id).where(
                InstanceRow.job_id.in_(ids),
                InstanceRow.state.in_([InstanceRecordState.GONE.value, InstanceRecordState.FAILED.value]),
            )
        )
        if i is not None
    ]
    if instances:
        session.execute(delete(SpendMarkRow).where(SpendMarkRow.instance_id.in_(instances)))
    session.execute(delete(SpendRow).where(SpendRow.job_id.in_(ids)))
    session.execute(delete(DecisionRow).where(DecisionRow.job_id.in_(ids)))
    session.execute(
        delete(InstanceRow).where(
            InstanceRow.job_id.in_(ids),
            InstanceRow.state.in_([InstanceRecordState.GONE.value, InstanceRecordState.FAILED.value]),
        )
    )
    kept = set(session.scalars(select(InstanceRow.job_id).where(InstanceRow.job_id.in_(ids))))
    gone = [job_id for job_id in ids if job_id not in kept]  # a job with a record still open is kept
    session.execute(delete(JobRow).where(JobRow.id.in_(gone)))
    return len(gone)


def open_store(url: str, *, upgrade: bool = False, clock: Clock = utc_now) -> Store:
    """Connect to ``url``. With ``upgrade`` the schema is migrated to the head first; without, a database not at
    the head is refused with the command that fixes it."""
    engine = make_engine(url)
    try:
        if upgrade:
            upgrade_engine(engine)
            ensure_identity(engine)
        else:
            current, head = current_revision(engine), head_revision()
            if current != head:
                state = "empty" if current is None else f"at revision {current}"
                raise StoreError(f"the database is {state}, not at {head}: run `vastbid db upgrade`")
        identity = read_identity(engine)
    except StoreError:
        engine.dispose()
        raise
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(f"cannot open the database: {describe_db_error(exc)}") from None
    return Store(engine, clock=clock, identity=identity)
