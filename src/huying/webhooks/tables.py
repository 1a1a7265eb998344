"""Webhook subscriptions and their delivery log (service tables; schema owned by Alembic,
``migrations/versions/0007i_*``). Where each subscription stands in the event log is a
``projection_tracking`` row named ``webhook:<id>``."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, LargeBinary, String, Table, Text

from huying.db import UtcDateTime, metadata

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", String(36), primary_key=True),
    # Whose view the deliveries get: what this role and unit may see, and what concerns them.
    Column("role", String(32), nullable=False),
    Column("unit", String(64), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("kinds", Text, nullable=False),  # comma-separated event kinds (call.escalated, …)
    Column("description", String(200), nullable=False, server_default=""),
    # The signing secret (whsec_…), sealed under a key derived from the master key.
    Column("secret_enc", LargeBinary, nullable=False),
    Column("secret_key_id", String(16), nullable=False),
    Column("status", String(16), nullable=False),  # active | paused
    Column("paused_reason", String(300), nullable=True),
    Column("failures", Integer, nullable=False, server_default="0"),  # consecutive failed attempts
    Column("next_attempt_at", UtcDateTime(), nullable=True),  # backoff: not before this
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    # Who made it, and under which Idempotency-Key and body (a retry is answered from the row).
    Column("created_role", String(32), nullable=False),
    Column("created_unit", String(64), nullable=False),
    Column("idempotency_key", String(200), nullable=True),
    Column("fingerprint", String(32), nullable=True),
    # The last replay's Idempotency-Key and body: a retried replay does not rewind twice.
    Column("replay_key", String(200), nullable=True),
    Column("replay_fingerprint", String(32), nullable=True),
    Index("ix_webhook_subscriptions_unit", "role", "unit"),
)

# Every attempt to deliver an event to a subscription, successful or not.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subscription_id", String(36), nullable=False),
    Column("position", Integer, nullable=False),
    Column("webhook_id", String(80), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("call_id", String(36), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("outcome", String(16), nullable=False),  # delivered | failed
    Column("error", String(300), nullable=True),
    Column("duration_ms", Integer, nullable=False),
    Index("ix_webhook_deliveries_subscription", "subscription_id", "id"),
)
