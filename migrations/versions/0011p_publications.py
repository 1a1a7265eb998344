"""Published 考评: one row per version of each publication (the figures stay in the events).
Empty at first: `huying rebuild` (or the running projector, from the start of the log) fills it.
And the indexes by which a settled period's scores find the stints and orders of the period
answered or ended after its cutoff (``huying.queries.settled``).

Revision ID: 0011p
Revises: 0011a
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011p"
down_revision = "0011a"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rm_publications",
        sa.Column("publication_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("position", sa.Integer, nullable=False, unique=True),
        sa.Column("period", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("settles_at", TZ, nullable=False),
        sa.Column("published_at", TZ, nullable=False),
        sa.Column("published_by", sa.String(64), nullable=False),
        sa.Column("latest", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("replaces", sa.Integer, nullable=True),
        sa.Column("units_changed", sa.Integer, nullable=True),
    )
    op.create_index("ix_rm_publications_period", "rm_publications", ["kind", "period"])
    op.create_index("ix_rm_stints_unit_arrived", "rm_stints", ["level", "unit", "arrived_at"])
    op.create_index(
        "ix_rm_work_orders_dept_dispatched", "rm_work_orders", ["department_code", "dispatched_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_rm_work_orders_dept_dispatched", table_name="rm_work_orders")
    op.drop_index("ix_rm_stints_unit_arrived", table_name="rm_stints")
    op.drop_index("ix_rm_publications_period", table_name="rm_publications")
    op.drop_table("rm_publications")
