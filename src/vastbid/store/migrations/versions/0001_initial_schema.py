"""The initial schema: jobs, instances, ticks, decisions, spend and market samples.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 15:15:32.229980
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tick_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("strategy", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("config_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_decisions_at", "decisions", ["at"])
    op.create_index("ix_decisions_job_id_at", "decisions", ["job_id", "at"])
    op.create_index("ix_decisions_tick_id", "decisions", ["tick_id"])

    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("deadline", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("progress_hours", sa.Float(), nullable=False),
        sa.Column("spent", sa.Float(), nullable=False),
        sa.Column("instance_id", sa.BigInteger(), nullable=True),
        sa.Column("interruptions", sa.Integer(), nullable=False),
        sa.Column("on_demand_since", sa.DateTime(), nullable=True),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_jobs_priority", "jobs", ["priority"])
    op.create_index("ix_jobs_state", "jobs", ["state"])

    op.create_table(
        "market_samples",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tick_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("offer_id", sa.BigInteger(), nullable=True),
        sa.Column("machine_id", sa.BigInteger(), nullable=False),
        sa.Column("num_gpus", sa.Integer(), nullable=False),
        sa.Column("gpu_name", sa.String(length=64), nullable=False),
        sa.Column("dph_total", sa.Float(), nullable=False),
        sa.Column("min_bid", sa.Float(), nullable=False),
        sa.Column("rentable", sa.Boolean(), nullable=False),
        sa.Column("reliability", sa.Float(), nullable=False),
        sa.Column("dlperf", sa.Float(), nullable=False),
        sa.Column("geolocation", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_market_samples_at", "market_samples", ["at"])

    op.create_table(
        "spend",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.BigInteger(), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("period_start", sa.DateTime(), nullable=False),
        sa.Column("period_end", sa.DateTime(), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_spend_instance_id", "spend", ["instance_id"])
    op.create_index("ix_spend_job_id", "spend", ["job_id"])
    op.create_index("ix_spend_period_start", "spend", ["period_start"])

    op.create_table(
        "ticks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ticks_started_at", "ticks", ["started_at"])

    op.create_table(
        "instances",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.BigInteger(), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=128), nullable=False),
        sa.Column("offer_id", sa.BigInteger(), nullable=True),
        sa.Column("machine_id", sa.BigInteger(), nullable=True),
        sa.Column("rental", sa.String(length=16), nullable=False),
        sa.Column("price", sa.Float(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("intent_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("settled_at", sa.DateTime(), nullable=True),
        sa.Column("gone_at", sa.DateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("instance_id"),
        sa.UniqueConstraint("label"),
    )
    op.create_index("ix_instances_job_id", "instances", ["job_id"])
    op.create_index("ix_instances_machine_id", "instances", ["machine_id"])
    op.create_index("ix_instances_state", "instances", ["state"])


def downgrade() -> None:
    op.drop_index("ix_instances_state", table_name="instances")
    op.drop_index("ix_instances_machine_id", table_name="instances")
    op.drop_index("ix_instances_job_id", table_name="instances")

    op.drop_table("instances")
    op.drop_index("ix_ticks_started_at", table_name="ticks")

    op.drop_table("ticks")
    op.drop_index("ix_spend_period_start", table_name="spend")
    op.drop_index("ix_spend_job_id", table_name="spend")
    op.drop_index("ix_spend_instance_id", table_name="spend")

    op.drop_table("spend")
    op.drop_index("ix_market_samples_at", table_name="market_samples")

    op.drop_table("market_samples")
    op.drop_index("ix_jobs_state", table_name="jobs")
    op.drop_index("ix_jobs_priority", table_name="jobs")

    op.drop_table("jobs")
    op.drop_index("ix_decisions_tick_id", table_name="decisions")
    op.drop_index("ix_decisions_job_id_at", table_name="decisions")
    op.drop_index("ix_decisions_at", table_name="decisions")

    op.drop_table("decisions")
