"""Machine history as a small aggregate: rentals we made and interruptions we saw, per machine.

The daemon used to rebuild this at every start from 30 days of the decision log (333k rows on an aged database,
32 s and 2.4 GB for the first tick). It is now kept as one row per machine, saved with the spot runs; the
upgrade seeds it from the decision log once, so nothing learned is lost.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 19:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_decisions = sa.table(
    "decisions",
    sa.column("id", sa.Integer()),
    sa.column("action", sa.String()),
    sa.column("outcome", sa.String()),
    sa.column("facts", sa.JSON()),
)
_RENTALS = ("place_bid", "rent_on_demand")
_BATCH = 10_000


def upgrade() -> None:
    table = op.create_table(
        "machine_history",
        sa.Column("machine_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("rentals", sa.Integer(), nullable=False),
        sa.Column("interruptions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("machine_id"),
    )
    counts: dict[int, list[int]] = {}
    connection = op.get_bind()
    relevant = sa.or_(
        sa.and_(_decisions.c.action.in_(_RENTALS), _decisions.c.outcome == "applied"),
        _decisions.c.action == "job_interrupted",
    )
    last = 0
    while True:  # in batches by id: an aged log never sits in memory whole
        query = (
            sa.select(_decisions.c.id, _decisions.c.action, _decisions.c.facts)
            .where(relevant, _decisions.c.id > last)
            .order_by(_decisions.c.id)
            .limit(_BATCH)
        )
        rows = list(connection.execute(query))
        if not rows:
            break
        for row_id, action, facts in rows:
            last = row_id
            machine = _machine(facts)
            if machine is None:
                continue
            seen = counts.setdefault(machine, [0, 0])
            seen[0 if action in _RENTALS else 1] += 1
    if counts:
        op.bulk_insert(
            table,
            [{"machine_id": m, "rentals": r, "interruptions": i} for m, (r, i) in sorted(counts.items())],
        )


def _machine(facts: Any) -> int | None:
    machine = facts.get("machine_id") if isinstance(facts, dict) else None
    return machine if isinstance(machine, int) and not isinstance(machine, bool) else None


def downgrade() -> None:
    op.drop_table("machine_history")
