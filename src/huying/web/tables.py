"""The console's own table: signed-in sessions. Alembic owns its schema (0009c)."""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table

from huying.db import UtcDateTime, metadata

# One row per signed-in browser. The cookie holds a random secret; the row only its SHA-256,
# so a copy of the table signs nobody in. A session lives as long as its token is not revoked.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # sha256 of the cookie's secret
    Column("token_id", String(16), nullable=False),  # api_tokens.id: revoking it ends the session
    Column("csrf", String(64), nullable=False),  # the form token every POST must carry back
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Index("ix_console_sessions_token", "token_id"),
)
