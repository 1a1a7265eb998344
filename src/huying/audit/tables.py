"""防篡改 tables: the hash chain over the log, its checkpoints and the last whole-log check's
verdict. Schema owned by Alembic (``migrations/versions/0003_audit_chain.py``,
``0015v_audit_verdict.py``). Not read models: ``huying rebuild`` leaves them
alone, and the chain keeps its own row in ``projection_tracking``."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Text

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

# The last whole-log check whose verdict stands for the deployment (``audit.verdicts``): one row,
# written by whichever process ran it — the chain keeper, often in another process than the API's
# /readyz and /metrics, which read it.
audit_verdict = Table(
    "audit_verdict",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # always 1
    Column("at", UtcDateTime(), nullable=False),  # wall-clock time of the check
    Column("checked", Integer, nullable=False),
    Column("chained_through", Integer, nullable=False),
    Column("log_head", Integer, nullable=False),
    Column("unchained", Integer, nullable=False),
    Column("checkpoints_checked", Integer, nullable=False),
    Column("break_position", Integer, nullable=True),  # null: the log verified
    Column("break_kind", String(16), nullable=True),
    Column("break_detail", Text, nullable=True),
    Column("intact_through", Integer, nullable=True),
)

AUDIT_TABLES = (audit_chain, audit_checkpoints, audit_verdict)
