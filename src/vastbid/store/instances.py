"""Our instances in the database: the intent written before every create, then what became of it.

Life of a row (``InstanceRecordState``):
``intent`` (committed before the create call; the job's ``attempt`` moves with it) -> ``live`` (the create
returned an instance id, or the reconciler found the label) | ``failed`` (the create surely made nothing)
-> ``gone`` (destroyed or vanished). An ``intent`` row still open on the next tick is settled by label, never
by a blind retry.

Rows only move forward: each transition is one conditional UPDATE with the expected state in its WHERE, so of
two processes racing on a row exactly one wins. A transition to where the row already is (the same instance) is
a no-op that returns the row; one the row has moved past raises ``StaleTransitionError`` (e.g. a late
``record_created`` for an intent another process settled as failed: the caller destroys what it created).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from vastbid.core.instances import Instance as ListedInstance
from vastbid.core.offers import RentalType
from vastbid.errors import InvalidInputError, StaleTransitionError, StoreError
from vastbid.store.schema import Base, InstanceRow, JobRow
from vastbid.store.session import Clock, transaction
from vastbid.store.upsert import insert_ignoring_conflicts


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
        """The create answered with ``instance_id``: the intent goes live and its job points at it.

        ``StaleTransitionError`` when the intent was settled meanwhile (failed, gone, or live with another
        instance): the row is left as it is and the caller must destroy ``instance_id``."""
        return self._go_live(label, instance_id, settled=False)

    def settle_found(self, label: str, instance_id: int) -> InstanceRecord:
        """An open intent whose instance the reconciler found by label: live, marked as settled.

        ``StaleTransitionError`` when the row is no longer an intent (and not already live with this instance)."""
        return self._go_live(label, instance_id, settled=True)

    def settle_failed(self, label: str, error: str) -> InstanceRecord:
        """The create made nothing (refused, or no instance carries the label): the intent is closed as failed.

        A row already failed is returned as it is; ``StaleTransitionError`` when it went live (or gone) meanwhile."""
        now = self._clock()
        with transaction(self._sessions) as session:
            moved = self._move(
                session,
                InstanceRow.label == label,
                InstanceRecordState.INTENT,
                state=InstanceRecordState.FAILED.value,
                error=error,
                settled_at=now,
            )
            row = self._fresh(session, InstanceRow.label == label)
            if row is None:
                raise InvalidInputError(f"no instance labelled {label!r} is recorded", field="label")
            if not moved and row.state != InstanceRecordState.FAILED.value:
                raise self._stale(row, f"cannot settle {label!r} as failed", None)
            return _record(row)

    def record_gone(self, instance_id: int, *, error: str | None = None) -> InstanceRecord:
        """The instance was destroyed or vanished: live -> gone; its job no longer points at it.

        A row already gone is returned as it is."""
        now = self._clock()
        values: dict[str, object] = {"state": InstanceRecordState.GONE.value, "gone_at": now}
        if error is not None:
            values["error"] = error
        with transaction(self._sessions) as session:
            moved = self._move(session, InstanceRow.instance_id == instance_id, InstanceRecordState.LIVE, **values)
            row = self._fresh(session, InstanceRow.instance_id == instance_id)
            if row is None:
                raise InvalidInputError(f"no instance {instance_id} is recorded", field="instance_id")
            if not moved:
                if row.state != InstanceRecordState.GONE.value:
                    raise self._stale(row, f"cannot record instance {instance_id} as gone", instance_id)
                return _record(row)
            if row.job_id is not None:
                session.execute(
                    update(JobRow)
                    .where(JobRow.id == row.job_id, JobRow.instance_id == instance_id)
                    .values(instance_id=None, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
            return _record(row)

    def adopt(
        self, *, label: str, instance_id: int, job_id: int | None, attempt: int, rental: RentalType
    ) -> InstanceRecord:
        """Record a live instance of ours the database had lost (found by its label; no row carries the label).

        Adopting what is already recorded live with this label and instance returns that row;
        ``StaleTransitionError`` when the label or the instance is recorded otherwise (an intent to settle, a
        failed or gone row: never revived)."""
        now = self._clock()
        with transaction(self._sessions) as session:
            inserted = insert_ignoring_conflicts(
                session,
                Base.metadata.tables[InstanceRow.__tablename__],
                {
                    "label": label,
                    "job_id": job_id,
                    "attempt": attempt,
                    "rental": RentalType(rental).value,
                    "instance_id": instance_id,
                    "state": InstanceRecordState.LIVE.value,
                    "intent_at": now,
                    "created_at": now,
                    "settled_at": now,
                },
            )
            row = self._fresh(session, InstanceRow.label == label)
            if inserted and row is not None:
                return _record(row)
            if row is not None and row.state == InstanceRecordState.LIVE.value and row.instance_id == instance_id:
                return _record(row)  # adopted already (by another process, or on an earlier tick)
            other = row or self._fresh(session, InstanceRow.instance_id == instance_id)
            state = other.state if other is not None else "unknown"
            raise StaleTransitionError(
                f"cannot adopt instance {instance_id} as {label!r}: already recorded ({state})",
                label=label,
                state=state,
                instance_id=instance_id,
            )

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

    def records_for(self, listing: Iterable[ListedInstance]) -> list[InstanceRecord]:
        """In one query, what reconciling a listing needs: open intents, live rows, and every row whose instance id
        or label is listed (oldest first)."""
        listed = list(listing)
        ids = [i.id for i in listed]
        labels = [i.label for i in listed if i.label]
        active = [InstanceRecordState.INTENT.value, InstanceRecordState.LIVE.value]
        query = (
            select(InstanceRow)
            .where(or_(InstanceRow.state.in_(active), InstanceRow.instance_id.in_(ids), InstanceRow.label.in_(labels)))
            .order_by(InstanceRow.id)
        )
        with transaction(self._sessions) as session:
            return [_record(row) for row in session.scalars(query)]

    def highest_instance_id(self) -> int | None:
        """The highest Vast instance id ever recorded (``None``: none)."""
        with transaction(self._sessions) as session:
            return session.scalar(select(func.max(InstanceRow.instance_id)))

    def recorded_ids(self, instance_ids: Iterable[int]) -> set[int]:
        """Which of ``instance_ids`` are instances of ours (a row of any state carries them)."""
        ids = list(instance_ids)
        if not ids:
            return set()
        query = select(InstanceRow.instance_id).where(InstanceRow.instance_id.in_(ids))
        with transaction(self._sessions) as session:
            return {int(i) for i in session.scalars(query) if i is not None}

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
        values: dict[str, object] = {
            "instance_id": instance_id,
            "state": InstanceRecordState.LIVE.value,
            "created_at": now,
        }
        if settled:
            values["settled_at"] = now
        with transaction(self._sessions) as session:
            moved = self._move(session, InstanceRow.label == label, InstanceRecordState.INTENT, **values)
            row = self._fresh(session, InstanceRow.label == label)
            if row is None:
                raise InvalidInputError(f"no instance labelled {label!r} is recorded", field="label")
            if not moved:
                if row.state == InstanceRecordState.LIVE.value and row.instance_id == instance_id:
                    return _record(row)  # the other path (create or reconcile) recorded the same instance
                raise self._stale(row, f"cannot record instance {instance_id} for {label!r}", instance_id)
            if row.job_id is not None:
                session.execute(
                    update(JobRow)
                    .where(JobRow.id == row.job_id)
                    .values(instance_id=instance_id, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
            return _record(row)

    @staticmethod
    def _move(session: Session, which: ColumnElement[bool], expected: InstanceRecordState, **values: object) -> bool:
        """One conditional UPDATE: the row matching ``which`` takes ``values`` if it is in ``expected``."""
        result = session.execute(
            update(InstanceRow)
            .where(which, InstanceRow.state == expected.value)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    @staticmethod
    def _fresh(session: Session, which: ColumnElement[bool]) -> InstanceRow | None:
        query = select(InstanceRow).where(which).execution_options(populate_existing=True)
        return session.scalar(query)

    @staticmethod
    def _stale(row: InstanceRow, what: str, instance_id: int | None) -> StaleTransitionError:
        held = f" (instance {row.instance_id})" if row.instance_id is not None else ""
        return StaleTransitionError(
            f"{what}: the row is already {row.state}{held}", label=row.label, state=row.state, instance_id=instance_id
        )
