"""The daemon's spot runs: per machine, the open run of interruptible capacity and the lengths of past ones.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "spot_runs",
        sa.Column("machine_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("up_since", sa.DateTime(), nullable=True),
        sa.Column("last_up", sa.DateTime(), nullable=True),
        sa.Column("past_up_hours", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("machine_id"),
    )


def downgrade() -> None:
    op.drop_table("spot_runs")
