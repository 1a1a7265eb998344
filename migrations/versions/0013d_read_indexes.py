"""Reads at a million calls: the open obligations are indexed as the dashboard and the scores
ask of them. Each question of "now" (overdue, due soon, unanswered and past due) names a level
and compares one instant with now; its index leads with both and covers what it reads, so a
request walks only the obligations past that instant, not every open obligation and its row.
The scores' question had no index at all (a scan of the table per request).

And the district's ledger summary (counts by status of the calls on the ledger) gets a partial
index holding what it counts: it read every ledger call's row.

Revision ID: 0013d
Revises: 0012f
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013d"
down_revision = "0012f"
branch_labels = None
depends_on = None

TABLE = "rm_open_obligations"
INDEXES = {
    "ix_rm_open_obligations_overdue": [
        "level",
        "overdue_from",
        "unit",
        "grid_code",
        "arrived_day",
        "is_open",
    ],
    "ix_rm_open_obligations_due_soon": [
        "level",
        "due_soon_at",
        "unit",
        "grid_code",
        "overdue_from",
        "is_open",
    ],
    "ix_rm_open_obligations_awaiting": ["level", "awaiting_due", "unit", "arrived_at"],
}
# The calls on the ledger (huying.projections.tables.ON_LEDGER) and what its summary counts.
ON_LEDGER = (
    "status IN ('awaiting_response', 'in_progress', 'dispatched', 'returned', 'resolved', 'evaluated')"
)
SUMMARY = "ix_rm_calls_ledger_summary"
COUNTED = ["status", "next_due", "ready_to_resolve", "pending_extension", "returned_order"]
BEFORE = {
    "ix_rm_open_obligations_overdue": ["overdue_from"],
    "ix_rm_open_obligations_due_soon": ["due_soon_at"],
}


def upgrade() -> None:
    for name in BEFORE:
        op.drop_index(name, table_name=TABLE)
    for name, columns in INDEXES.items():
        op.create_index(name, TABLE, columns)
    where = sa.text(ON_LEDGER)
    op.create_index(SUMMARY, "rm_calls", COUNTED, sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    op.drop_index(SUMMARY, table_name="rm_calls")
    for name in INDEXES:
        op.drop_index(name, table_name=TABLE)
    for name, columns in BEFORE.items():
        op.create_index(name, TABLE, columns)
