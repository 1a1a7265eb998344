"""The 台账 ledger's summary from tallies: per unit (street, community, grid, department), the calls
on the ledger by status and by what awaits the street, kept by the projector — the summary read
every call on the ledger, whose number grows with what a district takes in. Filled here from the
calls' rows, as a recount would (projections.ledger_tallies).

"Overdue now" stays a question of the time: the unsettled calls get an index per unit of their
next due instant (the district's: its streets'), so it walks only the calls past due. The
district summary's own index (0013d) is read no more.

Revision ID: 0014l
Revises: 0013d
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014l"
down_revision = "0013d"
branch_labels = None
depends_on = None

TABLE = "rm_ledger_tallies"
FLAGS = ("ready_to_resolve", "pending_extension", "returned_order")
ON_LEDGER = (
    "c.status IN ('awaiting_response', 'in_progress', 'dispatched', 'returned', 'resolved', 'evaluated')"
)
UNSETTLED = "status IN ('awaiting_response', 'in_progress', 'dispatched', 'returned')"
UNITS = ("grid", "community", "street")
SUMMARY = "ix_rm_calls_ledger_summary"
SUMMARY_COLUMNS = ["status", "next_due", *FLAGS]


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("scope", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(32), primary_key=True),
        *(sa.Column(flag, sa.Boolean, primary_key=True) for flag in FLAGS),
        sa.Column("calls", sa.Integer, nullable=False),
    )
    flags = ", ".join(f"c.{flag}" for flag in FLAGS)
    counted = f"c.status, {flags}, COUNT(*) FROM rm_calls c"
    into = f"INSERT INTO {TABLE} (scope, status, {', '.join(FLAGS)}, calls)"
    for unit in ("street_code", "community_code", "grid_code"):
        op.execute(
            f"{into} SELECT c.{unit}, {counted} WHERE {ON_LEDGER} GROUP BY c.{unit}, c.status, {flags}"
        )
    orders = "(SELECT DISTINCT call_id, department_code FROM rm_work_orders) w ON w.call_id = c.call_id"
    op.execute(
        f"{into} SELECT w.department_code, {counted} JOIN {orders}"
        f" WHERE {ON_LEDGER} GROUP BY w.department_code, c.status, {flags}"
    )
    where = sa.text(UNSETTLED)
    for unit in UNITS:
        name = f"ix_rm_calls_unsettled_{unit}"
        columns = [f"{unit}_code", "next_due", "status"]
        op.create_index(name, "rm_calls", columns, sqlite_where=where, postgresql_where=where)
    op.drop_index(SUMMARY, table_name="rm_calls")


def downgrade() -> None:
    where = sa.text(ON_LEDGER.removeprefix("c."))
    op.create_index(SUMMARY, "rm_calls", SUMMARY_COLUMNS, sqlite_where=where, postgresql_where=where)
    for unit in UNITS:
        op.drop_index(f"ix_rm_calls_unsettled_{unit}", table_name="rm_calls")
    op.drop_table(TABLE)
