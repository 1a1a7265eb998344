"""Read-model tables. Every row belongs to one aggregate — these to a call (``call_id``), those in
``directive_tables`` to a directive — so the runner can replace its rows wholesale whenever it
changes: incremental and rebuilt results are the same function of the same events. Schema owned
by Alembic (``migrations/versions/0002_*``)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Index, Integer, String, Table, Text, false

from huying.db import UtcDateTime, metadata
from huying.projections.directive_tables import DIRECTIVE_TABLES
from huying.projections.meeting_tables import MEETING_TABLES

projection_tracking = Table(
    "projection_tracking",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
)

# 呼叫状态 — escalation state: one row per call.
rm_calls = Table(
    "rm_calls",
    metadata,
    Column("call_id", String(36), primary_key=True),
    Column("seq", Integer, nullable=False, unique=True),  # log position of Raised: a stable cursor
    Column("position", Integer, nullable=False),  # log position of the latest event
    Column("version", Integer, nullable=False),
    Column("item_code", String(64), nullable=False),
    Column("grid_code", String(64), nullable=False),
    Column("community_code", String(64), nullable=False),
    Column("street_code", String(64), nullable=False),
    Column("level", String(16), nullable=False),
    Column("holder", String(64), nullable=False),
    Column("status", String(24), nullable=False),
    Column("round", Integer, nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("title", String(200), nullable=False),
    Column("raised_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("resolved_at", UtcDateTime(), nullable=True),
    Column("closed_at", UtcDateTime(), nullable=True),  # 销号
    Column("supervised", Integer, nullable=False),
    # The current stint's clocks (filled once SLA clocks exist; work orders carry their own).
    Column("response_due", UtcDateTime(), nullable=True),
    Column("resolution_due", UtcDateTime(), nullable=True),
    # SLA (时限): the earliest due time among the call's running clocks (stints and open
    # orders), when it becomes "due soon" (80% used), whether any clock ever ran late, and
    # whether its clocks run on clock time (应急处置) rather than working time.
    Column("next_due", UtcDateTime(), nullable=True),
    Column("due_soon_at", UtcDateTime(), nullable=True),
    Column("ever_breached", Boolean, nullable=False, server_default=false()),
    Column("clock_time", Boolean, nullable=False, server_default=false()),
    # Where the problem is (from the call's location), for duplicate hints within a distance.
    Column("lat", Float, nullable=True),
    Column("lon", Float, nullable=True),
    # The due times of every clock still running (its stint's and its open orders'), UTC, in
    # order: the list shows the next one not yet passed, and how long ago the first one passed.
    Column("running_dues", Text, nullable=True),
    # What the holder street has to decide (the transition table's rules, as of the last event).
    Column("ready_to_resolve", Boolean, nullable=False, server_default=false()),  # lead order done
    Column("pending_extension", Boolean, nullable=False, server_default=false()),  # 申请延期 awaits
    Column("returned_order", Boolean, nullable=False, server_default=false()),  # 退单 since dispatch
    Index("ix_rm_calls_community", "community_code", "seq"),
    Index("ix_rm_calls_street", "street_code", "seq"),
    Index("ix_rm_calls_holder_status", "holder", "status"),
    Index("ix_rm_calls_status", "status", "seq"),
    Index("ix_rm_calls_item", "item_code", "seq"),
    Index("ix_rm_calls_next_due", "next_due"),
    Index("ix_rm_calls_item_raised", "item_code", "raised_at"),  # duplicate hints
    Index("ix_rm_calls_raised", "raised_at"),
    Index("ix_rm_calls_ready_to_resolve", "ready_to_resolve", "seq"),
    Index("ix_rm_calls_pending_extension", "pending_extension", "seq"),
    Index("ix_rm_calls_returned_order", "returned_order", "seq"),
)

# 全文检索 — what the search's free text (``q``) looks in: a call's title and description as
# terms (``projections.text``), one row per call. On SQLite an FTS5 index over ``terms`` is kept
# in step by triggers (migration 0007); elsewhere the terms are matched with LIKE.
rm_call_text = Table(
    "rm_call_text",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),  # rm_calls.seq: the index's rowid
    Column("call_id", String(36), nullable=False, unique=True),
    Column("terms", Text, nullable=False),
)
CALL_TEXT_INDEX = "rm_call_text_index"


def is_call_text_index(table_name: str) -> bool:
    """The FTS5 index and its shadow tables: made by the migration, not declared here."""
    return table_name.startswith(CALL_TEXT_INDEX)


# 工单 — one row per work order: the department queues.
rm_work_orders = Table(
    "rm_work_orders",
    metadata,
    Column("order_id", String(64), primary_key=True),
    Column("call_id", String(36), nullable=False, index=True),
    Column("department_code", String(64), nullable=False),
    Column("role", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("deadline", UtcDateTime(), nullable=False),
    Column("instructions", Text, nullable=False),
    Column("dispatched_at", UtcDateTime(), nullable=False),
    Column("signed_at", UtcDateTime(), nullable=True),
    Column("completed_at", UtcDateTime(), nullable=True),
    Column("extension_until", UtcDateTime(), nullable=True),
    Column("result", Text, nullable=True),
    Column("round", Integer, nullable=False),
    Column("updated_position", Integer, nullable=False),  # the queue cursor
    Column("item_code", String(64), nullable=False),
    Column("title", String(200), nullable=False),
    Column("street_code", String(64), nullable=False),
    Column("call_status", String(24), nullable=False),
    Column("sign_due", UtcDateTime(), nullable=True),  # 签收时限
    Column("next_due", UtcDateTime(), nullable=True),
    Column("due_soon_at", UtcDateTime(), nullable=True),
    Column("ever_breached", Boolean, nullable=False, server_default=false()),
    Column("settled_at", UtcDateTime(), nullable=True),  # returned or cancelled
    Column("running_dues", Text, nullable=True),  # as rm_calls.running_dues, for this order
    Index("ix_rm_work_orders_queue", "department_code", "updated_position"),
    Index("ix_rm_work_orders_dept_status", "department_code", "status", "deadline"),
    Index("ix_rm_work_orders_next_due", "next_due"),
)

# 层级时段 — one row per stint: a community or street holding the call at its level.
rm_stints = Table(
    "rm_stints",
    metadata,
    Column("call_id", String(36), primary_key=True),
    Column("n", Integer, primary_key=True),
    Column("unit", String(64), nullable=False),
    Column("level", String(16), nullable=False),
    Column("round", Integer, nullable=False),
    Column("arrived_at", UtcDateTime(), nullable=False),
    Column("acknowledged_at", UtcDateTime(), nullable=True),
    Column("ended_at", UtcDateTime(), nullable=True),
    Column("outcome", String(16), nullable=True),
    Column("response_due", UtcDateTime(), nullable=True),
    Column("resolution_due", UtcDateTime(), nullable=True),
    Index("ix_rm_stints_unit", "unit", "arrived_at"),
)

# 一呼一评 — one row per evaluated round.
rm_evaluations = Table(
    "rm_evaluations",
    metadata,
    Column("call_id", String(36), primary_key=True),
    Column("round", Integer, primary_key=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("contacted", Boolean, nullable=False),
    Column("solved", Boolean, nullable=True),
    Column("satisfaction", String(24), nullable=True),
    Column("resolved_level", String(16), nullable=True),
    Column("community_code", String(64), nullable=False),
    Column("street_code", String(64), nullable=True),  # set when the round reached the street
    Column("reached_community", String(64), nullable=True),  # set when the round had a community stint
    Column("lead_department", String(64), nullable=True),  # the lead order completed in the round
    Column("reopened", Boolean, nullable=False),
    Index("ix_rm_evaluations_at", "at"),
)

# 督办 — one row per supervision flag against a unit.
rm_supervisions = Table(
    "rm_supervisions",
    metadata,
    Column("call_id", String(36), primary_key=True),
    Column("n", Integer, primary_key=True),
    Column("unit", String(64), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("reason", Text, nullable=False),
    Index("ix_rm_supervisions_unit", "unit", "at"),
)

# Every read model's tables: those of calls, then those of directives (reset, backup, replay).
READ_MODEL_TABLES = (
    rm_calls,
    rm_call_text,
    rm_work_orders,
    rm_stints,
    rm_evaluations,
    rm_supervisions,
    *DIRECTIVE_TABLES,
    *MEETING_TABLES,
)
