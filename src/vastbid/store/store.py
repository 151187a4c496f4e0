"""The ``Store``: one database, its repositories, retention and health.

``open_store(url)`` connects and checks the schema is at the packaged head (``upgrade=True`` migrates it first,
as ``vastbid db upgrade`` and the daemon's start do). Every repository call is its own transaction. The store
remembers the database's identity when it opens; ``check_identity`` (and so ``ping``) fails once the database is
not that one any more (SQLite file deleted or replaced, identity row gone or different).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from vastbid.errors import StoreError
from vastbid.store.decisions import DecisionRepository, TickRepository
from vastbid.store.engine import forbid_sqlite_create, make_engine
from vastbid.store.identity import DatabaseIdentity, check, ensure_identity, read_identity
from vastbid.store.instances import InstanceRepository
from vastbid.store.jobs import JobRepository
from vastbid.store.migrate import current_revision, head_revision, upgrade_engine
from vastbid.store.samples import SampleRepository
from vastbid.store.schema import DecisionRow, MarketSampleRow, TickRow
from vastbid.store.session import Clock, describe_db_error, transaction, utc_now
from vastbid.store.spend import SpendRepository
from vastbid.store.spot_runs import SpotRunRepository


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """How many rows a retention pass removed."""

    decisions: int
    ticks: int
    samples: int


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

    def purge_older_than(self, *, decisions_before: datetime, samples_before: datetime) -> PurgeResult:
        """Delete decisions and finished ticks older than ``decisions_before`` and samples older than
        ``samples_before``, in one transaction."""
        with transaction(self._sessions) as session:
            removed_decisions = session.execute(delete(DecisionRow).where(DecisionRow.at < decisions_before))
            removed_ticks = session.execute(
                delete(TickRow).where(TickRow.started_at < decisions_before, TickRow.finished_at.is_not(None))
            )
            removed_samples = session.execute(delete(MarketSampleRow).where(MarketSampleRow.at < samples_before))
            return PurgeResult(
                decisions=removed_decisions.rowcount,  # type: ignore[attr-defined]
                ticks=removed_ticks.rowcount,  # type: ignore[attr-defined]
                samples=removed_samples.rowcount,  # type: ignore[attr-defined]
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
