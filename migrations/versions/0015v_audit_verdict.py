"""防篡改: the last whole-log check's verdict, kept where every process reads it — the chain
keeper runs in `huying project` (a child of `huying serve` on SQLite, a service of its own on
PostgreSQL) while /readyz and /metrics are answered by the API's processes.

Revision ID: 0015v
Revises: 0014l
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015v"
down_revision = "0014l"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_verdict",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked", sa.Integer, nullable=False),
        sa.Column("chained_through", sa.Integer, nullable=False),
        sa.Column("log_head", sa.Integer, nullable=False),
        sa.Column("unchained", sa.Integer, nullable=False),
        sa.Column("checkpoints_checked", sa.Integer, nullable=False),
        sa.Column("break_position", sa.Integer, nullable=True),
        sa.Column("break_kind", sa.String(16), nullable=True),
        sa.Column("break_detail", sa.Text, nullable=True),
        sa.Column("intact_through", sa.Integer, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("audit_verdict")
