"""防篡改 tables: the hash chain over the log and its checkpoints. Schema owned by Alembic
(``migrations/versions/0003_audit_chain.py``). Not read models: ``huying rebuild`` leaves them
alone, and the chain keeps its own row in ``projection_tracking``."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table

from huying.db import UtcDateTime, metadata

# One row per stored event, in log order: what the event's bytes hashed to, and the link.
audit_chain = Table(
    "audit_chain",
    metadata,
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("originator_id", String(64), nullable=False),
    Column("originator_version", Integer, nullable=False),
    Column("digest", String(64), nullable=False),  # sha256 of the event's canonical bytes
    Column("link", String(64), nullable=False),  # sha256(previous link ‖ canonical bytes)
    Index("ix_audit_chain_event", "originator_id", "originator_version", unique=True),
)

# 审计检查点: the link at a position, at a time — exported and kept elsewhere.
audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("link", String(64), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
)

AUDIT_TABLES = (audit_chain, audit_checkpoints)
