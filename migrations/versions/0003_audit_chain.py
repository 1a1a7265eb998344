"""防篡改: the hash chain over the event log and its checkpoints.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_chain",
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("originator_id", sa.String(64), nullable=False),
        sa.Column("originator_version", sa.Integer, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("link", sa.String(64), nullable=False),
    )
    op.create_index(
        "ix_audit_chain_event", "audit_chain", ["originator_id", "originator_version"], unique=True
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("link", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    # Without its rows the chain must start again from position 0: forget how far it got.
    op.execute("DELETE FROM projection_tracking WHERE name = 'audit-chain'")
    op.drop_table("audit_checkpoints")
    op.drop_index("ix_audit_chain_event", table_name="audit_chain")
    op.drop_table("audit_chain")
