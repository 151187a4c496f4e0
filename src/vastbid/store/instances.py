"""Our instances in the database: the intent written before every create, then what became of it.

Life of a row (``InstanceRecordState``):
``intent`` (committed before the create call; the job's ``attempt`` moves with it) -> ``live`` (the create
returned an instance id, or the reconciler found the label) | ``failed`` (the create surely made nothing)
-> ``gone`` (destroyed or vanished). An ``intent`` row still open on the next tick is settled by label, never
by a blind retry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vastbid.core.offers import RentalType
from vastbid.errors import InvalidInputError, StoreError
from vastbid.store.schema import InstanceRow, JobRow
from vastbid.store.session import Clock, transaction


class InstanceRecordState(StrEnum):
    """Where one of our rentals is, as far as the database knows."""

    INTENT = "intent"
    LIVE = "live"
    FAILED = "failed"
    GONE = "gone"


@dataclass(frozen=True, slots=True)
class InstanceRecord:
    """One stored rental of ours."""

    id: int
    label: str
    job_id: int | None
    attempt: int
    rental: RentalType
    state: InstanceRecordState
    intent_at: datetime
    instance_id: int | None = None
    offer_id: int | None = None
    machine_id: int | None = None
    price: float | None = None
    """The bid (interruptible) or the expected $/h (on demand) for the whole instance."""
    created_at: datetime | None = None
    settled_at: datetime | None = None
    gone_at: datetime | None = None
    error: str | None = None


def _record(row: InstanceRow) -> InstanceRecord:
    return InstanceRecord(
        id=row.id,
        label=row.label,
        job_id=row.job_id,
        attempt=row.attempt,
        rental=RentalType(row.rental),
        state=InstanceRecordState(row.state),
        intent_at=row.intent_at,
        instance_id=row.instance_id,
        offer_id=row.offer_id,
        machine_id=row.machine_id,
        price=row.price,
        created_at=row.created_at,
        settled_at=row.settled_at,
        gone_at=row.gone_at,
        error=row.error,
    )


class InstanceRepository:
    """Our rentals: intents, creations, settlements and ends."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def record_intent(
        self,
        *,
        label: str,
        job_id: int | None,
        attempt: int,
        rental: RentalType,
        offer_id: int | None,
        machine_id: int | None,
        price: float | None,
    ) -> InstanceRecord:
        """Commit the intent to create an instance (before the create call); the job's ``attempt`` follows."""
        now = self._clock()
        with transaction(self._sessions) as session:
            if session.scalar(select(InstanceRow.id).where(InstanceRow.label == label)) is not None:
                raise StoreError(f"an instance labelled {label!r} was already recorded: settle it first")
            row = InstanceRow(
                label=label,
                job_id=job_id,
                attempt=attempt,
                rental=RentalType(rental).value,
                offer_id=offer_id,
                machine_id=machine_id,
                price=price,
                state=InstanceRecordState.INTENT.value,
                intent_at=now,
            )
            session.add(row)
            if job_id is not None:
                job = session.get(JobRow, job_id)
                if job is None:
                    raise InvalidInputError(f"there is no job {job_id}", field="job_id")
                job.attempt = max(job.attempt, attempt)
                job.updated_at = now
            session.flush()
            return _record(row)

    def record_created(self, label: str, instance_id: int) -> InstanceRecord:
        """The create answered with ``instance_id``: the row goes live and its job points at it."""
        return self._go_live(label, instance_id, settled=False)

    def settle_found(self, label: str, instance_id: int) -> InstanceRecord:
        """An open intent whose instance the reconciler found by label: live, marked as settled."""
        return self._go_live(label, instance_id, settled=True)

    def settle_failed(self, label: str, error: str) -> InstanceRecord:
        """The create made nothing (refused, or no instance carries the label): the row is closed as failed."""
        now = self._clock()
        with transaction(self._sessions) as session:
            row = self._by_label(session, label)
            row.state = InstanceRecordState.FAILED.value
            row.error = error
            row.settled_at = now
            session.flush()
            return _record(row)

    def record_gone(self, instance_id: int, *, error: str | None = None) -> InstanceRecord:
        """The instance was destroyed or vanished; its job no longer points at it."""
        now = self._clock()
        with transaction(self._sessions) as session:
            row = session.scalar(select(InstanceRow).where(InstanceRow.instance_id == instance_id))
            if row is None:
                raise InvalidInputError(f"no instance {instance_id} is recorded", field="instance_id")
            row.state = InstanceRecordState.GONE.value
            row.gone_at = now
            if error is not None:
                row.error = error
            if row.job_id is not None:
                job = session.get(JobRow, row.job_id)
                if job is not None and job.instance_id == instance_id:
                    job.instance_id = None
                    job.updated_at = now
            session.flush()
            return _record(row)

    def adopt(
        self, *, label: str, instance_id: int, job_id: int | None, attempt: int, rental: RentalType
    ) -> InstanceRecord:
        """Record a live instance of ours the database had lost (found by its label)."""
        now = self._clock()
        with transaction(self._sessions) as session:
            row = InstanceRow(
                label=label,
                job_id=job_id,
                attempt=attempt,
                rental=RentalType(rental).value,
                instance_id=instance_id,
                state=InstanceRecordState.LIVE.value,
                intent_at=now,
                created_at=now,
                settled_at=now,
            )
            session.add(row)
            session.flush()
            return _record(row)

    def by_label(self, label: str) -> InstanceRecord | None:
        """The row with this label, if any."""
        with transaction(self._sessions) as session:
            row = session.scalar(select(InstanceRow).where(InstanceRow.label == label))
            return _record(row) if row is not None else None

    def by_instance_id(self, instance_id: int) -> InstanceRecord | None:
        """The row of this Vast instance id, if any."""
        with transaction(self._sessions) as session:
            row = session.scalar(select(InstanceRow).where(InstanceRow.instance_id == instance_id))
            return _record(row) if row is not None else None

    def live(self) -> list[InstanceRecord]:
        """Rows believed to exist on Vast: live ones."""
        return self._in_states(InstanceRecordState.LIVE)

    def open_intents(self) -> list[InstanceRecord]:
        """Intents whose create has not been settled yet (ambiguous until the reconciler checks the label)."""
        return self._in_states(InstanceRecordState.INTENT)

    def for_job(self, job_id: int) -> list[InstanceRecord]:
        """Every rental a job had, oldest first."""
        with transaction(self._sessions) as session:
            rows = session.scalars(select(InstanceRow).where(InstanceRow.job_id == job_id).order_by(InstanceRow.id))
            return [_record(row) for row in rows]

    def _in_states(self, *states: InstanceRecordState) -> list[InstanceRecord]:
        query = select(InstanceRow).where(InstanceRow.state.in_([s.value for s in states])).order_by(InstanceRow.id)
        with transaction(self._sessions) as session:
            return [_record(row) for row in session.scalars(query)]

    def _go_live(self, label: str, instance_id: int, *, settled: bool) -> InstanceRecord:
        now = self._clock()
        with transaction(self._sessions) as session:
            row = self._by_label(session, label)
            row.instance_id = instance_id
            row.state = InstanceRecordState.LIVE.value
            row.created_at = row.created_at or now
            if settled:
                row.settled_at = now
            if row.job_id is not None:
                job = session.get(JobRow, row.job_id)
                if job is not None:
                    job.instance_id = instance_id
                    job.updated_at = now
            session.flush()
            return _record(row)

    @staticmethod
    def _by_label(session: Session, label: str) -> InstanceRow:
        row = session.scalar(select(InstanceRow).where(InstanceRow.label == label).with_for_update())
        if row is None:
            raise InvalidInputError(f"no instance labelled {label!r} is recorded", field="label")
        return row
