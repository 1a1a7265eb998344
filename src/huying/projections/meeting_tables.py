"""联席会议 read-model tables. Every row belongs to one meeting (``meeting_id``), so the projector
replaces a meeting's rows wholesale whenever it changes. Schema owned by Alembic
(``migrations/versions/0010m_meetings.py``)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table

from huying.db import UtcDateTime, metadata

# One row per meeting.
rm_meetings = Table(
    "rm_meetings",
    metadata,
    Column("meeting_id", String(36), primary_key=True),
    Column("seq", Integer, nullable=False, unique=True),  # log position of Convened: a stable cursor
    Column("position", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("convener", String(64), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("title", String(200), nullable=False),
    Column("scheduled_for", UtcDateTime(), nullable=False),
    Column("stage", String(16), nullable=False),
    Column("invited", String(4000), nullable=False),  # space-separated unit codes
    Column("agenda_items", Integer, nullable=False),
    Column("calls_tabled", Integer, nullable=False),
    Column("decisions", Integer, nullable=False),
    Index("ix_rm_meetings_convener", "convener", "scheduled_for"),
)

# Meetings by unit: one row per unit in a meeting (its convener and each unit invited).
rm_meeting_units = Table(
    "rm_meeting_units",
    metadata,
    Column("meeting_id", String(36), primary_key=True),
    Column("unit", String(64), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("convener", String(64), nullable=False),
    Column("scheduled_for", UtcDateTime(), nullable=False),
    Column("convening", Boolean, nullable=False),
    Column("attended", Boolean, nullable=True),  # null until the minutes are recorded
    Index("ix_rm_meeting_units_unit", "unit", "scheduled_for"),
)

# 议定事项: one row per decision, with the task (a directive) that carries it out.
rm_decisions = Table(
    "rm_decisions",
    metadata,
    Column("meeting_id", String(36), primary_key=True),
    Column("decision_id", String(16), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("convener", String(64), nullable=False),
    Column("title", String(200), nullable=False),
    Column("lead_unit", String(64), nullable=False),
    Column("assisting_units", String(2000), nullable=False),  # space-separated unit codes
    Column("responsible_name", String(50), nullable=False),
    Column("responsible_post", String(100), nullable=False),
    Column("deadline", UtcDateTime(), nullable=False),
    Column("decided_at", UtcDateTime(), nullable=False),
    Column("task_id", String(36), nullable=False),
    Column("settles_call", String(36), nullable=True),
    Index("ix_rm_decisions_convener", "convener", "decided_at"),
    Index("ix_rm_decisions_task", "task_id"),
)

MEETING_TABLES = (rm_meetings, rm_meeting_units, rm_decisions)
