"""令行禁止 read-model tables. Every row belongs to one directive (``directive_id``), so the
projector replaces a directive's rows wholesale whenever it changes, as it does a call's.
Schema owned by Alembic (``migrations/versions/0010d_directives.py``)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, Text

from huying.db import UtcDateTime, metadata

# 指令 — one row per directive.
rm_directives = Table(
    "rm_directives",
    metadata,
    Column("directive_id", String(36), primary_key=True),
    Column("seq", Integer, nullable=False, unique=True),  # log position of Issued: a stable cursor
    Column("position", Integer, nullable=False),  # log position of the latest event
    Column("version", Integer, nullable=False),
    Column("issuer", String(64), nullable=False),
    Column("title", String(200), nullable=False),
    Column("parent_id", String(36), nullable=True),  # the directive it breaks down (分解)
    Column("origin_kind", String(32), nullable=True),  # e.g. meeting-decision
    Column("issued_at", UtcDateTime(), nullable=False),
    Column("deadline", UtcDateTime(), nullable=False),
    Column("evidence", String(32), nullable=False),  # what a report must carry, space-separated
    Column("cancelled", Boolean, nullable=False),
    Column("targets", Integer, nullable=False),
    Column("accepted", Integer, nullable=False),  # targets accepted (验收)
    Column("supervised", Integer, nullable=False),  # 督办 flags
    Index("ix_rm_directives_issuer", "issuer", "seq"),
    Index("ix_rm_directives_parent", "parent_id", "seq"),
)

# 指令对象 — one row per target of a directive: its own lifecycle and clocks.
rm_directive_targets = Table(
    "rm_directive_targets",
    metadata,
    Column("directive_id", String(36), primary_key=True),
    Column("unit", String(64), primary_key=True),
    Column("seq", Integer, nullable=False),  # the directive's
    Column("issuer", String(64), nullable=False),
    Column("role", String(8), nullable=False),  # lead | assist
    Column("stage", String(16), nullable=False),
    Column("issued_at", UtcDateTime(), nullable=False),
    Column("receipt_due", UtcDateTime(), nullable=False),
    Column("due", UtcDateTime(), nullable=False),  # moved by a granted extension
    Column("received_at", UtcDateTime(), nullable=True),
    Column("reported_at", UtcDateTime(), nullable=True),  # the latest report
    Column("accepted_at", UtcDateTime(), nullable=True),
    Column("cancelled_at", UtcDateTime(), nullable=True),
    Column("reworks", Integer, nullable=False),  # times sent back (返工)
    Column("reports", Integer, nullable=False),
    Column("notes", Integer, nullable=False),
    Column("result", Text, nullable=True),  # the latest report's result
    Column("photos", Text, nullable=True),  # the latest report's photos, space-separated
    Column("extension_pending", Boolean, nullable=False),
    Column("supervised", Integer, nullable=False),  # 督办 flags against this target
    Column("next_due", UtcDateTime(), nullable=True),  # its earliest running clock not yet flagged
    Column("updated_position", Integer, nullable=False),  # log position of its last change
    Index("ix_rm_directive_targets_unit", "unit", "stage", "due"),
    Index("ix_rm_directive_targets_next_due", "next_due"),
)

DIRECTIVE_TABLES = (rm_directives, rm_directive_targets)
