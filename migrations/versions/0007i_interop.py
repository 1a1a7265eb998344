"""Interop: what civic apps (Open311) may give besides name and phone — email, device id, account
id — sealed like the rest of a reporter's contact; webhook subscriptions and their delivery log.

Revision ID: 0007i
Revises: 0006p
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007i"
down_revision = "0006p"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
_CONTACT_COLUMNS = ("email_enc", "device_id_enc", "account_id_enc")


def upgrade() -> None:
    with op.batch_alter_table("reporter_contacts") as t:
        for name in _CONTACT_COLUMNS:
            t.add_column(sa.Column(name, sa.LargeBinary, nullable=True))
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("kinds", sa.Text, nullable=False),
        sa.Column("description", sa.String(200), nullable=False, server_default=""),
        sa.Column("secret_enc", sa.LargeBinary, nullable=False),
        sa.Column("secret_key_id", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("paused_reason", sa.String(300), nullable=True),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("created_role", sa.String(32), nullable=False),
        sa.Column("created_unit", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("fingerprint", sa.String(32), nullable=True),
        sa.Column("replay_key", sa.String(200), nullable=True),
        sa.Column("replay_fingerprint", sa.String(32), nullable=True),
    )
    op.create_index("ix_webhook_subscriptions_unit", "webhook_subscriptions", ["role", "unit"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subscription_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("webhook_id", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("call_id", sa.String(36), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error", sa.String(300), nullable=True),
        sa.Column("duration_ms", sa.Integer, nullable=False),
    )
    op.create_index("ix_webhook_deliveries_subscription", "webhook_deliveries", ["subscription_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_subscription", "webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_webhook_subscriptions_unit", "webhook_subscriptions")
    op.drop_table("webhook_subscriptions")
    with op.batch_alter_table("reporter_contacts") as t:
        for name in reversed(_CONTACT_COLUMNS):
            t.drop_column(name)
