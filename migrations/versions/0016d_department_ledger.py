"""台账 of a department: the calls on the ledger it has or had an order on, one row per call and
department, in raise order (``rm_department_ledger``, kept by the projector). A department's
ledger, its summary's "overdue now" and its searches among open calls restricted to every call
it ever had an order on — its whole history; they now read its open work. Filled here from the
calls' rows and their orders, as a rebuild would.

Revision ID: 0016d
Revises: 0015v
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016d"
down_revision = "0015v"
branch_labels = None
depends_on = None

TABLE = "rm_department_ledger"
ON_LEDGER = (
    "c.status IN ('awaiting_response', 'in_progress', 'dispatched', 'returned', 'resolved', 'evaluated')"
)


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("call_id", sa.String(36), primary_key=True),
        sa.Column("department_code", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False),
    )
    op.execute(
        f"INSERT INTO {TABLE} (call_id, department_code, seq)"
        " SELECT DISTINCT w.call_id, w.department_code, c.seq"
        f" FROM rm_work_orders w JOIN rm_calls c ON c.call_id = w.call_id WHERE {ON_LEDGER}"
    )
    op.create_index("ix_rm_department_ledger", TABLE, ["department_code", "seq"])


def downgrade() -> None:
    op.drop_index("ix_rm_department_ledger", table_name=TABLE)
    op.drop_table(TABLE)
