"""An idempotent ledger and the database's identity: spend marks, the daily spend rollup and ``meta``.

``spend_marks`` holds, per instance and kind, how far spend has been accrued (a second is billed once, whatever
crashes); each mark is seeded from the latest end of that instance's existing spend rows, so nothing accrued
before the upgrade is counted again. ``spend_daily`` is seeded from the existing rows, so the totals are unchanged.
``meta`` gets a random ``database_id`` that the daemon checks to notice a replaced or lost database.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-10 10:00:00.000000
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_spend = sa.table(
    "spend",
    sa.column("instance_id", sa.BigInteger()),
    sa.column("kind", sa.String()),
    sa.column("period_start", sa.DateTime()),
    sa.column("period_end", sa.DateTime()),
    sa.column("amount", sa.Float()),
)


def upgrade() -> None:
    marks = op.create_table(
        "spend_marks",
        sa.Column("instance_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("accrued_until", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("instance_id", "kind"),
    )
    daily = op.create_table(
        "spend_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("day", "kind"),
    )
    meta = op.create_table(
        "meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    assert marks is not None and daily is not None and meta is not None
    bind = op.get_bind()
    latest = (
        sa.select(_spend.c.instance_id, _spend.c.kind, sa.func.max(_spend.c.period_end))
        .where(_spend.c.instance_id.is_not(None))
        .group_by(_spend.c.instance_id, _spend.c.kind)
    )
    bind.execute(marks.insert().from_select(["instance_id", "kind", "accrued_until"], latest))
    totals: dict[tuple[date, str], float] = {}
    rows = bind.execute(sa.select(_spend.c.period_start, _spend.c.kind, _spend.c.amount))
    for start, kind, amount in rows:
        day = start.date() if isinstance(start, datetime) else datetime.fromisoformat(str(start)).date()
        totals[(day, kind)] = totals.get((day, kind), 0.0) + float(amount)
    if totals:
        bind.execute(
            daily.insert(), [{"day": day, "kind": kind, "amount": amount} for (day, kind), amount in totals.items()]
        )
    bind.execute(meta.insert(), [{"key": "database_id", "value": uuid.uuid4().hex}])


def downgrade() -> None:
    op.drop_table("meta")
    op.drop_table("spend_daily")
    op.drop_table("spend_marks")
