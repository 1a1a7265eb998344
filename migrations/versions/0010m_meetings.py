"""联席会议: the joint meetings' read models — one row per meeting, one per unit in it (meetings
by unit and period), one per decision (议定事项) with its task. Empty at first: `huying rebuild`
(or the running projector, from the start of the log) fills them.

Revision ID: 0010m
Revises: 0010d
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010m"
down_revision = "0010d"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rm_meetings",
        sa.Column("meeting_id", sa.String(36), primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False, unique=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("convener", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("scheduled_for", TZ, nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("invited", sa.String(4000), nullable=False),
        sa.Column("agenda_items", sa.Integer, nullable=False),
        sa.Column("calls_tabled", sa.Integer, nullable=False),
        sa.Column("decisions", sa.Integer, nullable=False),
    )
    op.create_index("ix_rm_meetings_convener", "rm_meetings", ["convener", "scheduled_for"])
    op.create_table(
        "rm_meeting_units",
        sa.Column("meeting_id", sa.String(36), primary_key=True),
        sa.Column("unit", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("convener", sa.String(64), nullable=False),
        sa.Column("scheduled_for", TZ, nullable=False),
        sa.Column("convening", sa.Boolean, nullable=False),
        sa.Column("attended", sa.Boolean, nullable=True),
    )
    op.create_index("ix_rm_meeting_units_unit", "rm_meeting_units", ["unit", "scheduled_for"])
    op.create_table(
        "rm_decisions",
        sa.Column("meeting_id", sa.String(36), primary_key=True),
        sa.Column("decision_id", sa.String(16), primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("convener", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("lead_unit", sa.String(64), nullable=False),
        sa.Column("assisting_units", sa.String(2000), nullable=False),
        sa.Column("responsible_name", sa.String(50), nullable=False),
        sa.Column("responsible_post", sa.String(100), nullable=False),
        sa.Column("deadline", TZ, nullable=False),
        sa.Column("decided_at", TZ, nullable=False),
        sa.Column("task_id", sa.String(36), nullable=False),
        sa.Column("settles_call", sa.String(36), nullable=True),
    )
    op.create_index("ix_rm_decisions_convener", "rm_decisions", ["convener", "decided_at"])
    op.create_index("ix_rm_decisions_task", "rm_decisions", ["task_id"])


def downgrade() -> None:
    for table in ("rm_decisions", "rm_meeting_units", "rm_meetings"):
        op.drop_table(table)
