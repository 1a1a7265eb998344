"""令行禁止: the directives' read models — one row per directive, one per target (its stage,
clocks and evidence). Empty at first: `huying rebuild` (or the running projector, from the
start of the log) fills them.

Revision ID: 0010d
Revises: 0009c
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010d"
down_revision = "0009c"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rm_directives",
        sa.Column("directive_id", sa.String(36), primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False, unique=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("issuer", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("parent_id", sa.String(36), nullable=True),
        sa.Column("origin_kind", sa.String(32), nullable=True),
        sa.Column("issued_at", TZ, nullable=False),
        sa.Column("deadline", TZ, nullable=False),
        sa.Column("evidence", sa.String(32), nullable=False),
        sa.Column("cancelled", sa.Boolean, nullable=False),
        sa.Column("targets", sa.Integer, nullable=False),
        sa.Column("accepted", sa.Integer, nullable=False),
        sa.Column("supervised", sa.Integer, nullable=False),
    )
    op.create_index("ix_rm_directives_issuer", "rm_directives", ["issuer", "seq"])
    op.create_index("ix_rm_directives_parent", "rm_directives", ["parent_id", "seq"])
    op.create_table(
        "rm_directive_targets",
        sa.Column("directive_id", sa.String(36), primary_key=True),
        sa.Column("unit", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("issuer", sa.String(64), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("issued_at", TZ, nullable=False),
        sa.Column("receipt_due", TZ, nullable=False),
        sa.Column("due", TZ, nullable=False),
        sa.Column("received_at", TZ, nullable=True),
        sa.Column("reported_at", TZ, nullable=True),
        sa.Column("accepted_at", TZ, nullable=True),
        sa.Column("cancelled_at", TZ, nullable=True),
        sa.Column("reworks", sa.Integer, nullable=False),
        sa.Column("reports", sa.Integer, nullable=False),
        sa.Column("notes", sa.Integer, nullable=False),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("photos", sa.Text, nullable=True),
        sa.Column("extension_pending", sa.Boolean, nullable=False),
        sa.Column("supervised", sa.Integer, nullable=False),
        sa.Column("next_due", TZ, nullable=True),
        sa.Column("updated_position", sa.Integer, nullable=False),
    )
    op.create_index("ix_rm_directive_targets_unit", "rm_directive_targets", ["unit", "stage", "due"])
    op.create_index("ix_rm_directive_targets_next_due", "rm_directive_targets", ["next_due"])


def downgrade() -> None:
    op.drop_table("rm_directive_targets")
    op.drop_table("rm_directives")
