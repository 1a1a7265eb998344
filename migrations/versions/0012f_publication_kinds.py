"""Published 考核: a publication's kind may now be ``street_assessment`` or
``department_assessment`` (docs/publications.md), longer than the 16 characters of
``rm_publications.kind``. Widened in place: the rows stay.

Revision ID: 0012f
Revises: 0011p
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012f"
down_revision = "0011p"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rm_publications") as table:
        table.alter_column("kind", type_=sa.String(32), existing_type=sa.String(16), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("rm_publications") as table:
        table.alter_column("kind", type_=sa.String(16), existing_type=sa.String(32), existing_nullable=False)
