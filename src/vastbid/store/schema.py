"""The database tables, as SQLAlchemy 2 typed declarative models.

Timestamps are stored as naive UTC and read back as aware UTC (``UtcDateTime``). Money is in $ (floats),
prices in $/h for a whole instance. The Alembic migrations in ``store/migrations`` build exactly this schema (a
test compares them).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (stored as naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store: pass an aware (UTC) datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """The metadata every table belongs to."""

    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class JobRow(Base):
    """A submitted job: its spec (JSON) and the columns the daemon filters and sorts on."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0, index=True)
    deadline: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    progress_hours: Mapped[float] = mapped_column(Float, default=0.0)
    spent: Mapped[float] = mapped_column(Float, default=0.0)
    instance_id: Mapped[int | None] = mapped_column(BigInteger)
    interruptions: Mapped[int] = mapped_column(Integer, default=0)
    on_demand_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    state_reason: Mapped[str | None] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class InstanceRow(Base):
    """One of our rentals, from the intent committed before the create call to its end."""

    __tablename__ = "instances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(128), unique=True)
    offer_id: Mapped[int | None] = mapped_column(BigInteger)
    machine_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    rental: Mapped[str] = mapped_column(String(16))
    price: Mapped[float | None] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16), index=True)
    intent_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    gone_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    error: Mapped[str | None] = mapped_column(Text)


class TickRow(Base):
    """One run of the daemon loop."""

    __tablename__ = "ticks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ok: Mapped[bool | None] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class DecisionRow(Base):
    """One action the daemon planned, with why, what it saw and what came of it."""

    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_job_id_at", "job_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tick_id: Mapped[int | None] = mapped_column(Integer, index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    job_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    strategy: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    candidates: Mapped[list[Any]] = mapped_column(JSON, default=list)
    outcome: Mapped[str] = mapped_column(String(24))
    error: Mapped[str | None] = mapped_column(Text)
    config_hash: Mapped[str] = mapped_column(String(64))


class SpendRow(Base):
    """Cost accrued by one instance over one period, of one kind (gpu, storage, bandwidth)."""

    __tablename__ = "spend"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    job_id: Mapped[int | None] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    period_end: Mapped[datetime] = mapped_column(UtcDateTime)
    amount: Mapped[float] = mapped_column(Float)


class SpendMarkRow(Base):
    """How far one instance's spend of one kind has been accrued: nothing before ``accrued_until`` is billed
    again (the high-water mark that makes the ledger idempotent)."""

    __tablename__ = "spend_marks"

    instance_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    accrued_until: Mapped[datetime] = mapped_column(UtcDateTime)


class SpendDailyRow(Base):
    """$ accrued on one UTC day, of one kind: the rollup the budget sums read."""

    __tablename__ = "spend_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    amount: Mapped[float] = mapped_column(Float)


class MetaRow(Base):
    """Facts about the database itself, e.g. ``database_id``, written once when it is created."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class MarketSampleRow(Base):
    """One offer as seen on one tick: the recording a backtest replays."""

    __tablename__ = "market_samples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tick_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    offer_id: Mapped[int | None] = mapped_column(BigInteger)
    machine_id: Mapped[int] = mapped_column(BigInteger)
    num_gpus: Mapped[int] = mapped_column(Integer)
    gpu_name: Mapped[str] = mapped_column(String(64))
    dph_total: Mapped[float] = mapped_column(Float)
    min_bid: Mapped[float] = mapped_column(Float)
    rentable: Mapped[bool] = mapped_column(Boolean)
    reliability: Mapped[float] = mapped_column(Float)
    dlperf: Mapped[float] = mapped_column(Float)
    geolocation: Mapped[str] = mapped_column(String(128))


class SpotRunRow(Base):
    """One machine's runs of spot capacity as the daemon last saved them (``core.spot_runs.SpotRunState``)."""

    __tablename__ = "spot_runs"

    machine_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    up_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_up: Mapped[datetime | None] = mapped_column(UtcDateTime)
    past_up_hours: Mapped[list[Any]] = mapped_column(JSON, default=list)


class MachineHistoryRow(Base):
    """What we learned of one machine from our own rentals (``core.choice.MachineRecord``), as the daemon last
    saved it."""

    __tablename__ = "machine_history"

    machine_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    rentals: Mapped[int] = mapped_column(Integer)
    interruptions: Mapped[int] = mapped_column(Integer)
