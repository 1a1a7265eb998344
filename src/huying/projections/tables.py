"""Read-model tables. Most rows belong to one aggregate — these to a call (``call_id``), those in
``directive_tables`` to a directive — so the runner can replace its rows wholesale whenever it
changes: incremental and rebuilt results are the same function of the same events. The tallies
add the calls' rows up (per unit, level and period) and change by what a batch changed in them.
Schema owned by Alembic (``migrations/versions/``)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    false,
    literal_column,
)

from huying.db import UtcDateTime, metadata
from huying.domain import states
from huying.domain.states import TERMINAL, Status
from huying.projections.directive_tables import DIRECTIVE_TABLES
from huying.projections.meeting_tables import MEETING_TABLES
from huying.projections.publication_tables import PUBLICATION_TABLES
from huying.projections.rating_tables import RATING_TABLES

projection_tracking = Table(
    "projection_tracking",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
)

# Aggregates whose rows were made by an older projection and are to be made again, at the
# version the read models stand at, by the projector before its next batch (``Projector.refill``):
# a migration that adds what the rows derive from the events lists those it cannot fill in SQL.
projection_refills = Table(
    "projection_refills",
    metadata,
    Column("aggregate_id", String(36), primary_key=True),
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
    # The SLA watchdog's index: the earliest due time of the running clocks not yet flagged (督办)
    # of a call still owed an answer — past it, the watchdog has work on the call
    # (``deadlines.watched_due``).
    Column("watch_due", UtcDateTime(), nullable=True),
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
    Index("ix_rm_calls_status", "status", "seq"),
    Index("ix_rm_calls_item", "item_code", "seq"),
    Index("ix_rm_calls_next_due", "next_due"),
    Index("ix_rm_calls_item_raised", "item_code", "raised_at"),  # duplicate hints
    Index("ix_rm_calls_raised", "raised_at"),
    Index("ix_rm_calls_ready_to_resolve", "ready_to_resolve", "seq"),
    Index("ix_rm_calls_pending_extension", "pending_extension", "seq"),
    Index("ix_rm_calls_returned_order", "returned_order", "seq"),
)

# The calls the watchdog has something to do on, by when: its sweep's range (0018w).
WATCHED = rm_calls.c.watch_due.is_not(None)
Index("ix_rm_calls_watch_due", rm_calls.c.watch_due, sqlite_where=WATCHED, postgresql_where=WATCHED)

# 台账 — the calls still on the ledger (every status but closed, withdrawn and merged): a few
# percent of all calls, which the ledger counts and pages through, and most searches filter to.
# Partial indexes hold them per unit, in raise order, with what the ledger's summary counts: a
# query uses them when its WHERE holds ``ON_LEDGER`` as written here (literal values: a bound
# parameter does not match an index's WHERE on SQLite).
LEDGER_STATUSES = tuple(s.value for s in Status if s not in TERMINAL)
ON_LEDGER = rm_calls.c.status.in_([literal_column(f"'{s}'") for s in LEDGER_STATUSES])
_COUNTED_ON_LEDGER = ("seq", "status", "next_due", "ready_to_resolve", "pending_extension", "returned_order")
for _unit in ("", "grid_code", "community_code", "street_code"):
    Index(
        f"ix_rm_calls_ledger{_unit and '_' + _unit.removesuffix('_code')}",
        *([rm_calls.c[_unit]] if _unit else []),
        *(rm_calls.c[name] for name in _COUNTED_ON_LEDGER),
        sqlite_where=ON_LEDGER,
        postgresql_where=ON_LEDGER,
    )
# Still owed an answer: the clocks can run out on these. The ledger summary's "overdue now" is a
# range of their next due instants, per unit (the district's: its streets'), from an index that
# holds what it reads (0014l).
UNSETTLED = tuple(s.value for s in Status if s in states.UNSETTLED)
IS_UNSETTLED = rm_calls.c.status.in_([literal_column(f"'{s}'") for s in UNSETTLED])
for _unit in ("grid_code", "community_code", "street_code"):
    Index(
        f"ix_rm_calls_unsettled_{_unit.removesuffix('_code')}",
        rm_calls.c[_unit],
        rm_calls.c.next_due,
        rm_calls.c.status,
        sqlite_where=IS_UNSETTLED,
        postgresql_where=IS_UNSETTLED,
    )

# 全文检索 — what the search's free text (``q``) looks in: a call's title and description as
# terms (``projections.text``), one row per call. On SQLite an FTS5 index over ``terms`` is kept
# in step by triggers (migration 0008); on PostgreSQL their lexemes, stored
# beside them, under a GIN index (0017t).
rm_call_text = Table(
    "rm_call_text",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),  # rm_calls.seq: the index's rowid
    Column("call_id", String(36), nullable=False, unique=True),
    Column("terms", Text, nullable=False),
)
CALL_TEXT_INDEX = "rm_call_text_index"
LEXEMES = "rm_call_text_index_lexemes"  # PostgreSQL: to_tsvector('simple', terms), stored (0017t)


def is_call_text_index(name: str) -> bool:
    """The FTS5 index and its shadow tables (SQLite); the stored lexemes column of
    ``rm_call_text`` and the GIN index over it (PostgreSQL, ``LEXEMES``): made by their
    migrations, not declared here."""
    return name.startswith(CALL_TEXT_INDEX)


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
    Index("ix_rm_work_orders_dept_status", "department_code", "status", "updated_position"),
    # A settled period's orders answered after its cutoff (queries.settled; migration 0011p).
    Index("ix_rm_work_orders_dept_dispatched", "department_code", "dispatched_at"),
)

# 台账 of a department — the calls on the ledger (``ON_LEDGER``) that it has or had an order on,
# one row per call and department, in raise order: what its ledger and its searches among open
# calls restrict to (``queries.scope``), its open work rather than every order it ever had
# (projections.work_orders.DepartmentLedgers; migration 0016d).
rm_department_ledger = Table(
    "rm_department_ledger",
    metadata,
    Column("call_id", String(36), primary_key=True),
    Column("department_code", String(64), primary_key=True),
    Column("seq", Integer, nullable=False),  # rm_calls.seq
    Index("ix_rm_department_ledger", "department_code", "seq"),
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
    # A settled period's stints answered after its cutoff (queries.settled; migration 0011p).
    Index("ix_rm_stints_unit_arrived", "level", "unit", "arrived_at"),
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
)

# 未了 — one row per obligation that has not ended (an open stint or work order; an order left
# open on a call that moved on, "lapsed"): what the dashboard's backlog and overdue figures and
# the scores' pending responses are judged on, as of "now" (docs/metrics.md §2–§4).
rm_open_obligations = Table(
    "rm_open_obligations",
    metadata,
    Column("call_id", String(36), primary_key=True),
    Column("obligation", String(64), primary_key=True),  # stint<n>, or the work order's id
    Column("level", String(16), nullable=False),
    Column("unit", String(64), nullable=False),
    Column("grid_code", String(64), nullable=False),
    Column("arrived_at", UtcDateTime(), nullable=False),
    Column("arrived_day", Date, nullable=False),  # Asia/Shanghai
    Column("is_open", Boolean, nullable=False),  # False: a lapsed order
    Column("overdue_from", UtcDateTime(), nullable=True),  # the earliest due time of its running clocks
    Column("due_soon_at", UtcDateTime(), nullable=True),  # when a running clock has used 80%
    Column("awaiting_due", UtcDateTime(), nullable=True),  # unanswered, owed: its response due time
    # One index per question asked of "now", each led by the level every question names and
    # ranged on the instant it compares with now, holding every column the question reads: a
    # request walks the backlog that has passed that instant, never the table (migration 0013d).
    Index(
        "ix_rm_open_obligations_overdue",
        "level",
        "overdue_from",
        "unit",
        "grid_code",
        "arrived_day",
        "is_open",
    ),
    Index(
        "ix_rm_open_obligations_due_soon",
        "level",
        "due_soon_at",
        "unit",
        "grid_code",
        "overdue_from",
        "is_open",
    ),
    Index("ix_rm_open_obligations_awaiting", "level", "awaiting_due", "unit", "arrived_at"),
)


# --- tallies: what the rows of every call add up to, kept up to date batch by batch ----------

# What one obligation adds to its tallies (projections.tallies): the dashboard's figures
# (docs/metrics.md §3) and the response classes of the scores (§4) that do not depend on "now".
DASHBOARD_COUNTS = (
    "received",
    "reopened",
    "acknowledged",
    "acknowledged_on_time",
    "response_due_known",
    "resolved",
    "resolved_on_time",
    "resolution_due_known",
    "open_now",
    "escalations_caused",
    "returned",
    "ended_otherwise",
)
SLA_COUNTS = (
    *DASHBOARD_COUNTS,
    "answered_late",  # responded after its due time, or ended unanswered after it
    "untimed",
    "ended_before_due",
    "not_owed",
    "awaiting",  # open (or lapsed) and unanswered, due time recorded: pending or late, by "now"
)
SPREADS = ("response", "resolution")

# SLA 看板 — per level, scope and block (a day, an ISO week, a month, by Asia/Shanghai arrival
# date): the counts of the obligations that arrived in it and the spread of their times. A scope
# is a unit whose series the dashboard shows: the district (every unit at the level), a street
# (its own stints; at community level, its communities'), a community, a grid (its community's
# stints on calls from it), a department.
rm_sla_tallies = Table(
    "rm_sla_tallies",
    metadata,
    Column("level", String(16), primary_key=True),
    Column("scope", String(64), primary_key=True),
    Column("block", String(8), primary_key=True),  # day, week, month
    Column("start", Date, primary_key=True),
    *(Column(name, Integer, nullable=False) for name in SLA_COUNTS),
    *(
        column
        for kind in SPREADS
        for column in (
            Column(f"{kind}_n", Integer, nullable=False),
            Column(f"{kind}_p50", Float, nullable=True),
            Column(f"{kind}_p90", Float, nullable=True),
            # The spread's ``spread.digest`` (0020d): a dashboard holding that spread already
            # does not read it again.
            Column(f"{kind}_digest", String(32), nullable=True),
        )
    ),
    # Last (0019s): on SQLite a column after a spread spilled over overflow pages is read only
    # by walking them, so every figure before the spreads is read without them.
    *(Column(f"{kind}_spread", LargeBinary, nullable=True) for kind in SPREADS),  # projections.spread
)

EVALUATION_COUNTS = (
    "evaluated_rounds",
    "contacted",
    "not_contacted",
    "solved",
    "satisfied",
    "basically_satisfied",
    "dissatisfied",
    "reopened_rounds",
    # Consecutive contacted rounds of one call attributed to the unit, the first evaluated in
    # ``month`` and the next in ``later_month``: distinct calls = contacted − repeats (§4).
    "repeats",
    "supervised",  # 督办 against the unit
)

# 一呼一评 — per unit and month (Asia/Shanghai, by the evaluation's or the 督办's date).
rm_evaluation_tallies = Table(
    "rm_evaluation_tallies",
    metadata,
    Column("unit", String(64), primary_key=True),
    Column("month", Date, primary_key=True),
    Column("later_month", Date, primary_key=True),  # = month, except for repeats across months
    *(Column(name, Integer, nullable=False) for name in EVALUATION_COUNTS),
)

# 台账 — how many calls are on the ledger, per unit (a street, community, grid, or department
# with an order on the call) and what the summary tells apart: status, and the flags of what
# awaits the street (projections.ledger_tallies). The district's are its streets' together.
rm_ledger_tallies = Table(
    "rm_ledger_tallies",
    metadata,
    Column("scope", String(64), primary_key=True),
    Column("status", String(32), primary_key=True),
    Column("ready_to_resolve", Boolean, primary_key=True),
    Column("pending_extension", Boolean, primary_key=True),
    Column("returned_order", Boolean, primary_key=True),
    Column("calls", Integer, nullable=False),
)

TALLY_TABLES = (rm_sla_tallies, rm_evaluation_tallies, rm_ledger_tallies)

# Every read model's tables: those of calls, then those of directives, meetings and published
# 考评, then the calls' tallies (reset, backup, replay).
READ_MODEL_TABLES = (
    rm_calls,
    rm_call_text,
    rm_work_orders,
    rm_department_ledger,
    rm_stints,
    rm_evaluations,
    rm_supervisions,
    rm_open_obligations,
    *DIRECTIVE_TABLES,
    *MEETING_TABLES,
    *PUBLICATION_TABLES,
    *TALLY_TABLES,
    *RATING_TABLES,
)
