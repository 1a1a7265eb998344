"""一呼一评 by the caller: one row per rating (a street's of a department's work order, a
community's of its street's response), and 督办 charged fairly (one row per flag, naming the unit
it counts against). Empty at first: `huying rebuild` (or the running projector, from the start
of the log) fills them.

Revision ID: 0011a
Revises: 0009r
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011a"
down_revision = "0009r"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rm_caller_ratings",
        sa.Column("call_id", sa.String(36), primary_key=True),
        sa.Column("target", sa.String(80), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("rated_unit", sa.String(64), nullable=False),
        sa.Column("rater_unit", sa.String(64), nullable=False),
        sa.Column("satisfaction", sa.String(32), nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("at", TZ, nullable=False),
    )
    op.create_index("ix_rm_caller_ratings_rated", "rm_caller_ratings", ["rated_unit", "at"])
    op.create_table(
        "rm_supervision_charges",
        sa.Column("call_id", sa.String(36), primary_key=True),
        sa.Column("n", sa.Integer, primary_key=True),
        sa.Column("flagged_unit", sa.String(64), nullable=False),
        sa.Column("charged_unit", sa.String(64), nullable=False),
        sa.Column("moved", sa.Boolean, nullable=False),
        sa.Column("at", TZ, nullable=False),
    )
    op.create_index("ix_rm_supervision_charges_charged", "rm_supervision_charges", ["charged_unit", "at"])


def downgrade() -> None:
    op.drop_index("ix_rm_supervision_charges_charged", table_name="rm_supervision_charges")
    op.drop_table("rm_supervision_charges")
    op.drop_index("ix_rm_caller_ratings_rated", table_name="rm_caller_ratings")
    op.drop_table("rm_caller_ratings")
