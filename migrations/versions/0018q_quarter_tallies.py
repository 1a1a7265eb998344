"""The SLA tallies are kept per quarter too, beside each day, ISO week and month: a dashboard for
a year by month reads three quarters' spreads where it read nine months', and merges fewer of
them for its totals (at a million calls on PostgreSQL the months' spreads were ~7 MB a request).

Each quarter's rows are made here from its three months' rows — what a recount makes of the same
obligations: a quarter holds exactly its months' days, so its counts are their sums and its
spreads their bins merged (counts added, each bin's largest time the largest of them). From now
on the projector keeps them with the other blocks.

Revision ID: 0018q
Revises: 0017t
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from alembic import op

from huying.projections import spread

revision = "0018q"
down_revision = "0017t"
branch_labels = None
depends_on = None

TABLE = "rm_sla_tallies"
KEY = ("level", "scope", "block", "start")
SPREADS = ("response", "resolution")
SPREAD_COLUMNS = {f"{kind}_{part}" for kind in SPREADS for part in ("n", "p50", "p90", "spread")}
CHUNK = 1_000  # quarter rows per INSERT


def upgrade() -> None:
    bind = op.get_bind()
    table = sa.Table(TABLE, sa.MetaData(), autoload_with=bind)
    counts = [c.name for c in table.columns if c.name not in KEY and c.name not in SPREAD_COLUMNS]
    bind.execute(table.delete().where(table.c.block == "quarter"))
    months = (
        sa.select(table)
        .where(table.c.block == "month")
        .order_by(table.c.level, table.c.scope, table.c.start)
        .execution_options(yield_per=CHUNK)
    )
    batch: list[dict[str, Any]] = []
    for row in _quarters(bind.execute(months).mappings(), counts):
        batch.append(row)
        if len(batch) == CHUNK:
            bind.execute(table.insert(), batch)
            batch = []
    if batch:
        bind.execute(table.insert(), batch)


def _quarters(months: Any, counts: Sequence[str]) -> Iterator[dict[str, Any]]:
    def quarter(r: Any) -> tuple[str, str, date]:
        start: date = r["start"]
        return r["level"], r["scope"], date(start.year, 3 * ((start.month - 1) // 3) + 1, 1)

    for (level, scope, start), rows in groupby(months, key=quarter):
        parts = list(rows)
        row: dict[str, Any] = {"level": level, "scope": scope, "block": "quarter", "start": start}
        row |= {name: sum(int(r[name]) for r in parts) for name in counts}
        for kind in SPREADS:
            merged: dict[int, tuple[int, float]] = {}
            for r in parts:
                for b, (n, top) in spread.decode(r[f"{kind}_spread"]).counts().items():
                    had, high = merged.get(b, (0, top))
                    merged[b] = (had + n, max(high, top))
            blob = spread.encode(merged)
            summary = spread.summary([spread.decode(blob)])
            row |= {
                f"{kind}_n": summary["n"],
                f"{kind}_p50": summary["p50"],
                f"{kind}_p90": summary["p90"],
                f"{kind}_spread": blob,
            }
        yield row


def downgrade() -> None:
    op.execute(f"DELETE FROM {TABLE} WHERE block = 'quarter'")
