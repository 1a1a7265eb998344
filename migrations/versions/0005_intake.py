"""Field intake: 随手拍 attachments (stored content-addressed, who uploaded each, which calls name
it), who erased a reporter's contact, and where each call is (lat/lon) for duplicate hints.

Calls projected before this revision have no lat/lon until `huying rebuild`; until then they are
hinted as duplicates by grid only.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "attachment_uploads",
        sa.Column("attachment_id", sa.String(36), primary_key=True),
        sa.Column("role", sa.String(32), primary_key=True),
        sa.Column("unit", sa.String(64), primary_key=True),
        sa.Column("uploaded_at", TZ, nullable=False),
    )
    op.create_table(
        "attachment_refs",
        sa.Column("attachment_id", sa.String(36), primary_key=True),
        sa.Column("call_id", sa.String(36), primary_key=True),
    )
    with op.batch_alter_table("reporter_contacts") as t:
        t.add_column(sa.Column("erased_by", sa.String(100), nullable=True))
    with op.batch_alter_table("rm_calls") as t:
        t.add_column(sa.Column("lat", sa.Float, nullable=True))
        t.add_column(sa.Column("lon", sa.Float, nullable=True))
        t.create_index("ix_rm_calls_item_raised", ["item_code", "raised_at"])


def downgrade() -> None:
    with op.batch_alter_table("rm_calls") as t:
        t.drop_index("ix_rm_calls_item_raised")
        t.drop_column("lon")
        t.drop_column("lat")
    with op.batch_alter_table("reporter_contacts") as t:
        t.drop_column("erased_by")
    op.drop_table("attachment_refs")
    op.drop_table("attachment_uploads")
    op.drop_table("attachments")
