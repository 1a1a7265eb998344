"""Reads at a million calls: the open obligations are indexed as the dashboard and the scores
ask of them. Each question of "now" (overdue, due soon, unanswered and past due) names a level
and compares one instant with now; its index leads with both and covers what it reads, so a
request walks only the obligations past that instant, not every open obligation and its row.
The scores' question had no index at all (a scan of the table per request).

Revision ID: 0013d
Revises: 0012f
Create Date: 2026-12-02
"""

from __future__ import annotations

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
BEFORE = {
    "ix_rm_open_obligations_overdue": ["overdue_from"],
    "ix_rm_open_obligations_due_soon": ["due_soon_at"],
}


def upgrade() -> None:
    for name in BEFORE:
        op.drop_index(name, table_name=TABLE)
    for name, columns in INDEXES.items():
        op.create_index(name, TABLE, columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name=TABLE)
    for name, columns in BEFORE.items():
        op.create_index(name, TABLE, columns)
