"""The SLA watchdog's own index: ``rm_calls.watch_due``, the earliest due time of a call's
running clocks not yet flagged (督办). The watchdog read every call with a running clock past due
(``next_due``), flagged or not, and folded each from the log to find out: in a million-call
district 6,273 calls, nearly all of them already flagged and waiting on their unit — seconds of
work after every start, and more rows to read in every sweep.

A call never flagged has the same two instants: filled here in SQL. For a flagged call with a
clock still running, which of its clocks were flagged is in its events alone: it gets the
earlier instant for now (the watchdog looks at it, as before, and finds nothing to do) and is
listed in ``projection_refills``, whose rows the projector makes again before its next batch.

Revision ID: 0018w
Revises: 0017t
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018w"
down_revision = "0017t"
branch_labels = None
depends_on = None

INDEX = "ix_rm_calls_watch_due"
# Still owed an answer (huying.domain.states.UNSETTLED): the calls the watchdog watches.
UNSETTLED = "status IN ('awaiting_response', 'in_progress', 'dispatched', 'returned')"
REFILLS = "projection_refills"


def upgrade() -> None:
    op.create_table(REFILLS, sa.Column("aggregate_id", sa.String(36), primary_key=True))
    op.add_column("rm_calls", sa.Column("watch_due", sa.DateTime(timezone=True), nullable=True))
    op.execute(f"UPDATE rm_calls SET watch_due = next_due WHERE next_due IS NOT NULL AND {UNSETTLED}")
    op.execute(
        f"INSERT INTO {REFILLS} (aggregate_id) SELECT call_id FROM rm_calls"
        f" WHERE supervised > 0 AND next_due IS NOT NULL AND {UNSETTLED}"
    )
    where = sa.text("watch_due IS NOT NULL")
    op.create_index(INDEX, "rm_calls", ["watch_due"], sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="rm_calls")
    with op.batch_alter_table("rm_calls") as batch:
        batch.drop_column("watch_due")
    op.drop_table(REFILLS)
