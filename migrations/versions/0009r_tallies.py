"""Reads at a million calls: the tallies the SLA dashboard and the unit scores read (per unit,
level and period, kept by the projector), the obligations that have not ended (what "now" is
judged on), indexes matching the call search's and the ledger's filters, and on PostgreSQL a GIN
index for the free-text search.

The tallies and open obligations of calls projected before this revision are made by
`huying rebuild`; until then the dashboard and the scores count nothing.

Revision ID: 0009r
Revises: 0010m
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009r"
down_revision = "0010m"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
TEXT_INDEX = "rm_call_text_index_terms"  # named like SQLite's FTS5 index: made here, not declared
SLA_COUNTS = (
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
    "answered_late",
    "untimed",
    "ended_before_due",
    "not_owed",
    "awaiting",
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
    "repeats",
    "supervised",
)
# Indexes nothing reads any more: (table, index, columns).
_UNUSED = (
    ("rm_calls", "ix_rm_calls_holder_status", ("holder", "status")),
    ("rm_stints", "ix_rm_stints_unit", ("unit", "arrived_at")),
    ("rm_evaluations", "ix_rm_evaluations_at", ("at",)),
    ("rm_supervisions", "ix_rm_supervisions_unit", ("unit", "at")),
    ("rm_work_orders", "ix_rm_work_orders_next_due", ("next_due",)),
)
# The calls on the ledger, per unit (huying.projections.tables.ON_LEDGER).
_ON_LEDGER = (
    "status IN ('awaiting_response', 'in_progress', 'dispatched', 'returned', 'resolved', 'evaluated')"
)
_COUNTED_ON_LEDGER = ("seq", "status", "next_due", "ready_to_resolve", "pending_extension", "returned_order")
_LEDGER_INDEXES = (
    ("ix_rm_calls_ledger", ()),
    ("ix_rm_calls_ledger_grid", ("grid_code",)),
    ("ix_rm_calls_ledger_community", ("community_code",)),
    ("ix_rm_calls_ledger_street", ("street_code",)),
)


def upgrade() -> None:
    op.create_table(
        "rm_open_obligations",
        sa.Column("call_id", sa.String(36), primary_key=True),
        sa.Column("obligation", sa.String(64), primary_key=True),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("grid_code", sa.String(64), nullable=False),
        sa.Column("arrived_at", TZ, nullable=False),
        sa.Column("arrived_day", sa.Date, nullable=False),
        sa.Column("is_open", sa.Boolean, nullable=False),
        sa.Column("overdue_from", TZ, nullable=True),
        sa.Column("due_soon_at", TZ, nullable=True),
        sa.Column("awaiting_due", TZ, nullable=True),
    )
    op.create_index("ix_rm_open_obligations_overdue", "rm_open_obligations", ["overdue_from"])
    op.create_index("ix_rm_open_obligations_due_soon", "rm_open_obligations", ["due_soon_at"])
    op.create_table(
        "rm_sla_tallies",
        sa.Column("level", sa.String(16), primary_key=True),
        sa.Column("scope", sa.String(64), primary_key=True),
        sa.Column("block", sa.String(8), primary_key=True),
        sa.Column("start", sa.Date, primary_key=True),
        *(sa.Column(name, sa.Integer, nullable=False) for name in SLA_COUNTS),
        *(
            column
            for kind in ("response", "resolution")
            for column in (
                sa.Column(f"{kind}_n", sa.Integer, nullable=False),
                sa.Column(f"{kind}_p50", sa.Float, nullable=True),
                sa.Column(f"{kind}_p90", sa.Float, nullable=True),
                sa.Column(f"{kind}_spread", sa.LargeBinary, nullable=True),
            )
        ),
    )
    op.create_table(
        "rm_evaluation_tallies",
        sa.Column("unit", sa.String(64), primary_key=True),
        sa.Column("month", sa.Date, primary_key=True),
        sa.Column("later_month", sa.Date, primary_key=True),
        *(sa.Column(name, sa.Integer, nullable=False) for name in EVALUATION_COUNTS),
    )

    # The dashboard and the scores no longer read stints, evaluations, 督办 or orders by unit and
    # time, nor calls by holder; the department queue pages by status in order of change.
    for table, index, _ in _UNUSED:
        op.drop_index(index, table_name=table)
    op.drop_index("ix_rm_work_orders_dept_status", table_name="rm_work_orders")
    op.create_index(
        "ix_rm_work_orders_dept_status", "rm_work_orders", ["department_code", "status", "updated_position"]
    )
    for name, unit in _LEDGER_INDEXES:
        op.create_index(
            name,
            "rm_calls",
            [*unit, *_COUNTED_ON_LEDGER],
            sqlite_where=sa.text(_ON_LEDGER),
            postgresql_where=sa.text(_ON_LEDGER),
        )
    if op.get_bind().dialect.name == "postgresql":
        # The search's free text (huying.projections.text, TSVECTOR): the stored pairs of
        # characters as lexemes, found by phrase and prefix queries.
        op.execute(f"CREATE INDEX {TEXT_INDEX} ON rm_call_text USING gin (to_tsvector('simple', terms))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX {TEXT_INDEX}")
    for name, _ in _LEDGER_INDEXES:
        op.drop_index(name, table_name="rm_calls")
    op.drop_index("ix_rm_work_orders_dept_status", table_name="rm_work_orders")
    op.create_index(
        "ix_rm_work_orders_dept_status", "rm_work_orders", ["department_code", "status", "deadline"]
    )
    for table, index, columns in _UNUSED:
        op.create_index(index, table, list(columns))
    op.drop_table("rm_evaluation_tallies")
    op.drop_table("rm_sla_tallies")
    op.drop_table("rm_open_obligations")
