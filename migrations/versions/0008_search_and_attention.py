"""Search and what needs attention: a call's text for free-text search (with an FTS5 index on
SQLite), the due times of its running clocks, the flags a street works from (ready to resolve,
extension pending, order returned), and the community a round reached (community scores).

Calls projected before this revision are found by none of these until `huying rebuild`.

Revision ID: 0008
Revises: 0007i
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007i"
branch_labels = None
depends_on = None

_FLAGS = ("ready_to_resolve", "pending_extension", "returned_order")

# SQLite: an external-content FTS5 index over rm_call_text.terms, rowid = seq. The terms are
# already cut into pairs of characters (huying.projections.text), so unicode61 only splits them
# at the spaces; the triggers keep the index equal to the table whoever writes it. (A later
# batch_alter_table on rm_call_text copies the table and loses the triggers: make them again.)
_FORGET = (
    "INSERT INTO rm_call_text_index(rm_call_text_index, rowid, terms) VALUES ('delete', old.seq, old.terms);"
)
_LEARN = "INSERT INTO rm_call_text_index(rowid, terms) VALUES (new.seq, new.terms);"
_SQLITE_INDEX = (
    "CREATE VIRTUAL TABLE rm_call_text_index USING fts5("
    "terms, content='rm_call_text', content_rowid='seq', tokenize='unicode61 remove_diacritics 0')",
    f"CREATE TRIGGER rm_call_text_inserted AFTER INSERT ON rm_call_text BEGIN {_LEARN} END",
    f"CREATE TRIGGER rm_call_text_deleted AFTER DELETE ON rm_call_text BEGIN {_FORGET} END",
    f"CREATE TRIGGER rm_call_text_updated AFTER UPDATE ON rm_call_text BEGIN {_FORGET} {_LEARN} END",
)


def upgrade() -> None:
    op.create_table(
        "rm_call_text",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("call_id", sa.String(36), nullable=False, unique=True),
        sa.Column("terms", sa.Text, nullable=False),
    )
    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_INDEX:
            op.execute(statement)
    with op.batch_alter_table("rm_calls") as t:
        t.add_column(sa.Column("running_dues", sa.Text, nullable=True))
        for flag in _FLAGS:
            t.add_column(sa.Column(flag, sa.Boolean, nullable=False, server_default=sa.false()))
            t.create_index(f"ix_rm_calls_{flag}", [flag, "seq"])
        t.create_index("ix_rm_calls_raised", ["raised_at"])
    with op.batch_alter_table("rm_work_orders") as t:
        t.add_column(sa.Column("running_dues", sa.Text, nullable=True))
    with op.batch_alter_table("rm_evaluations") as t:
        t.add_column(sa.Column("reached_community", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rm_evaluations") as t:
        t.drop_column("reached_community")
    with op.batch_alter_table("rm_work_orders") as t:
        t.drop_column("running_dues")
    with op.batch_alter_table("rm_calls") as t:
        t.drop_index("ix_rm_calls_raised")
        for flag in reversed(_FLAGS):
            t.drop_index(f"ix_rm_calls_{flag}")
            t.drop_column(flag)
        t.drop_column("running_dues")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE rm_call_text_index")  # its triggers go with rm_call_text
    op.drop_table("rm_call_text")
