"""Read models: escalation state, work queues, SLA stints, evaluations, supervisions, tracking.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "projection_tracking",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_table(
        "rm_calls",
        sa.Column("call_id", sa.String(36), primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False, unique=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("item_code", sa.String(64), nullable=False),
        sa.Column("grid_code", sa.String(64), nullable=False),
        sa.Column("community_code", sa.String(64), nullable=False),
        sa.Column("street_code", sa.String(64), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("raised_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("resolved_at", TZ, nullable=True),
        sa.Column("closed_at", TZ, nullable=True),
        sa.Column("supervised", sa.Integer, nullable=False),
        sa.Column("response_due", TZ, nullable=True),
        sa.Column("resolution_due", TZ, nullable=True),
    )
    op.create_index("ix_rm_calls_community", "rm_calls", ["community_code", "seq"])
    op.create_index("ix_rm_calls_street", "rm_calls", ["street_code", "seq"])
    op.create_index("ix_rm_calls_holder_status", "rm_calls", ["holder", "status"])
    op.create_index("ix_rm_calls_status", "rm_calls", ["status", "seq"])
    op.create_index("ix_rm_calls_item", "rm_calls", ["item_code", "seq"])
    op.create_table(
        "rm_work_orders",
        sa.Column("order_id", sa.String(64), primary_key=True),
        sa.Column("call_id", sa.String(36), nullable=False),
        sa.Column("department_code", sa.String(64), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("deadline", TZ, nullable=False),
        sa.Column("instructions", sa.Text, nullable=False),
        sa.Column("dispatched_at", TZ, nullable=False),
        sa.Column("signed_at", TZ, nullable=True),
        sa.Column("completed_at", TZ, nullable=True),
        sa.Column("extension_until", TZ, nullable=True),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("updated_position", sa.Integer, nullable=False),
        sa.Column("item_code", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("street_code", sa.String(64), nullable=False),
        sa.Column("call_status", sa.String(24), nullable=False),
    )
    op.create_index("ix_rm_work_orders_call_id", "rm_work_orders", ["call_id"])
    op.create_index("ix_rm_work_orders_queue", "rm_work_orders", ["department_code", "updated_position"])
    op.create_index(
        "ix_rm_work_orders_dept_status", "rm_work_orders", ["department_code", "status", "deadline"]
    )
    op.create_table(
        "rm_stints",
        sa.Column("call_id", sa.String(36), primary_key=True),
        sa.Column("n", sa.Integer, primary_key=True),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("arrived_at", TZ, nullable=False),
        sa.Column("acknowledged_at", TZ, nullable=True),
        sa.Column("ended_at", TZ, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("response_due", TZ, nullable=True),
        sa.Column("resolution_due", TZ, nullable=True),
    )
    op.create_index("ix_rm_stints_unit", "rm_stints", ["unit", "arrived_at"])
    op.create_table(
        "rm_evaluations",
        sa.Column("call_id", sa.String(36), primary_key=True),
        sa.Column("round", sa.Integer, primary_key=True),
        sa.Column("at", TZ, nullable=False),
        sa.Column("contacted", sa.Boolean, nullable=False),
        sa.Column("solved", sa.Boolean, nullable=True),
        sa.Column("satisfaction", sa.String(24), nullable=True),
        sa.Column("resolved_level", sa.String(16), nullable=True),
        sa.Column("community_code", sa.String(64), nullable=False),
        sa.Column("street_code", sa.String(64), nullable=True),
        sa.Column("lead_department", sa.String(64), nullable=True),
        sa.Column("reopened", sa.Boolean, nullable=False),
    )
    op.create_index("ix_rm_evaluations_at", "rm_evaluations", ["at"])
    op.create_table(
        "rm_supervisions",
        sa.Column("call_id", sa.String(36), primary_key=True),
        sa.Column("n", sa.Integer, primary_key=True),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index("ix_rm_supervisions_unit", "rm_supervisions", ["unit", "at"])


def downgrade() -> None:
    for table in ("rm_supervisions", "rm_evaluations", "rm_stints", "rm_work_orders", "rm_calls"):
        op.drop_table(table)
    op.drop_table("projection_tracking")
