"""The SLA tallies' spreads after every other column of ``rm_sla_tallies``.

A row held ``response_spread`` (a month's is ~15 kB at a million calls, spilled over four or more
overflow pages on SQLite) before ``resolution_n``, ``resolution_p50`` and ``resolution_p90``. SQLite
finds a column past a spilled one by walking the overflow pages before it, so every read of a
row's resolution figures — the dashboard reads them for every block it shows, merged or not — read
the whole response spread from disk. Placed last, a spread is read only when asked for. On
PostgreSQL a large value is stored apart whatever its place (TOAST): the table is made again there
too, so that every database has the columns in the order the metadata declares.

The table is made anew (SQLite cannot move a column): renamed, created in the new order, its rows
copied by name, the old one dropped. It holds a few rows per unit and day (27,000 at a million
calls), so this takes seconds.

Revision ID: 0019s
Revises: 0018w
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision = "0019s"
down_revision = "0018w"
branch_labels = None
depends_on = None

TABLE = "rm_sla_tallies"
BEFORE = "rm_sla_tallies_before_0019s"
SPREADS = ("response_spread", "resolution_spread")


def upgrade() -> None:
    _made_again(lambda names: [*(n for n in names if n not in SPREADS), *SPREADS])


def downgrade() -> None:
    def as_before(names: Sequence[str]) -> list[str]:  # each spread right after its own p90
        kept = [n for n in names if n not in SPREADS]
        for spread in SPREADS:
            kept.insert(kept.index(spread.replace("_spread", "_p90")) + 1, spread)
        return kept

    _made_again(as_before)


def _made_again(order: Callable[[Sequence[str]], list[str]]) -> None:
    """The table made again with its columns in ``order`` (of their present order), rows kept."""
    bind = op.get_bind()
    table = sa.Table(TABLE, sa.MetaData(), autoload_with=bind)
    names = order([c.name for c in table.columns])
    op.rename_table(TABLE, BEFORE)
    if bind.dialect.name == "postgresql":  # the primary key's index keeps its name: free it
        op.execute(f"ALTER INDEX {TABLE}_pkey RENAME TO {BEFORE}_pkey")
    op.create_table(
        TABLE,
        *(
            sa.Column(c.name, c.type, nullable=c.nullable, primary_key=c.primary_key)
            for c in (table.c[name] for name in names)
        ),
    )
    listed = ", ".join(names)
    op.execute(f"INSERT INTO {TABLE} ({listed}) SELECT {listed} FROM {BEFORE}")
    op.drop_table(BEFORE)
