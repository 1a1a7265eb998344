"""SLA clocks in the read models (signing due times, next due, due-soon and breach flags), and
leases so only one SLA watchdog runs per deployment.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
    )
    with op.batch_alter_table("rm_calls") as t:
        t.add_column(sa.Column("next_due", TZ, nullable=True))
        t.add_column(sa.Column("due_soon_at", TZ, nullable=True))
        t.add_column(sa.Column("ever_breached", sa.Boolean, nullable=False, server_default=sa.false()))
        t.add_column(sa.Column("clock_time", sa.Boolean, nullable=False, server_default=sa.false()))
        t.create_index("ix_rm_calls_next_due", ["next_due"])
    with op.batch_alter_table("rm_work_orders") as t:
        t.add_column(sa.Column("sign_due", TZ, nullable=True))
        t.add_column(sa.Column("next_due", TZ, nullable=True))
        t.add_column(sa.Column("due_soon_at", TZ, nullable=True))
        t.add_column(sa.Column("ever_breached", sa.Boolean, nullable=False, server_default=sa.false()))
        t.add_column(sa.Column("settled_at", TZ, nullable=True))
        t.create_index("ix_rm_work_orders_next_due", ["next_due"])


def downgrade() -> None:
    op.drop_table("leases")
    with op.batch_alter_table("rm_work_orders") as t:
        t.drop_index("ix_rm_work_orders_next_due")
        for name in ("settled_at", "ever_breached", "due_soon_at", "next_due", "sign_due"):
            t.drop_column(name)
    with op.batch_alter_table("rm_calls") as t:
        t.drop_index("ix_rm_calls_next_due")
        for name in ("clock_time", "ever_breached", "due_soon_at", "next_due"):
            t.drop_column(name)
