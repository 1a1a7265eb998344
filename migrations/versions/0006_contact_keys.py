"""Privacy: every reporter contact sealed under its own record key (crypto-shredding), the record
keys' table, and the log of who was shown a contact in full.

Contacts kept before this revision stay Fernet tokens under the master key (``sealing`` =
"master") and are read as such; ``huying keys rotate`` re-seals them under record keys (it needs
the master key, which a migration does not have).

Revision ID: 0006p
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006p"
down_revision = "0005"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("reporter_contacts") as t:
        t.add_column(sa.Column("sealing", sa.String(16), nullable=False, server_default="master"))
    op.create_table(
        "reporter_keys",
        sa.Column("ref", sa.String(36), primary_key=True),
        sa.Column("master_key_id", sa.String(16), nullable=False),
        sa.Column("wrapped", sa.LargeBinary, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "contact_access",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", TZ, nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("call_id", sa.String(36), nullable=False),
        sa.Column("shown", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("contact_access")
    op.drop_table("reporter_keys")
    with op.batch_alter_table("reporter_contacts") as t:
        t.drop_column("sealing")
