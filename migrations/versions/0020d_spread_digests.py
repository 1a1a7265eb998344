"""Each SLA tally spread's digest stored beside it (``response_digest``, ``resolution_digest``).

The dashboard merges the spreads of every block a range covers: a year by month of the district
read 6.7 MB of spreads at a million calls for its totals, and merged them, at every request —
though a past month's spread rarely changes. Named by a digest of its bytes, a spread read once
is known again without reading it (``huying.queries.spread_memo``).

Each digest goes right after its own p90, before both spreads (0019s: on SQLite a column past a
spilled spread is read only by walking its overflow pages), so the table is made anew (Alembic's
batch mode, on both backends: the columns in the order the metadata declares), and every stored
spread's digest is filled in here: 128 bits of BLAKE2b of its bytes, in hex
(``huying.projections.spread.digest``, which the projector writes from now on; a test holds the
two equal). A row per unit and day: ~27,000 at a million calls, read once. A trigger then keeps
an older release's projector from leaving a digest that names bytes its row no longer holds
(``_UNNAMING``, below).

Revision ID: 0020d
Revises: 0019s
Create Date: 2026-12-06
"""

from __future__ import annotations

from hashlib import blake2b

import sqlalchemy as sa
from alembic import op

revision = "0020d"
down_revision = "0019s"
branch_labels = None
depends_on = None

TABLE = "rm_sla_tallies"
KINDS = ("response", "resolution")
KEY = ("level", "scope", "block", "start")
AT_ONCE = 500  # rows whose spreads are read and digested at a time


def upgrade() -> None:
    with op.batch_alter_table(TABLE, recreate="always") as table:
        for kind in KINDS:
            table.add_column(sa.Column(f"{kind}_digest", sa.String(32)), insert_after=f"{kind}_p90")
    _digested()
    for statement in _UNNAMING[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    for statement in _UNNAMED_NO_MORE[op.get_bind().dialect.name]:
        op.execute(statement)
    with op.batch_alter_table(TABLE, recreate="always") as table:
        for kind in KINDS:
            table.drop_column(f"{kind}_digest")


# A writer that sets a spread and leaves its digest as it was — a projector of the release
# before, during a rolling upgrade — leaves it NULL instead: a stale digest would name bytes the
# row no longer holds, and a reader holding those bytes would merge them. A NULL digest is read
# and merged as it is, never kept (``huying.queries.sla_tallies``), and the projector fills it in
# when it next writes the row. Fired only by an UPDATE that sets the spread (``UPDATE OF``): this
# release sets a spread only with its new digest, and no spread's bytes are compared. (A later
# migration that makes the table anew must make these again.)
_UNNAMING = {
    "postgresql": [
        f"""CREATE FUNCTION {TABLE}_unnamed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.response_digest IS NOT DISTINCT FROM OLD.response_digest
               AND NEW.response_spread IS DISTINCT FROM OLD.response_spread THEN
                NEW.response_digest := NULL;
            END IF;
            IF NEW.resolution_digest IS NOT DISTINCT FROM OLD.resolution_digest
               AND NEW.resolution_spread IS DISTINCT FROM OLD.resolution_spread THEN
                NEW.resolution_digest := NULL;
            END IF;
            RETURN NEW;
        END $$""",
        f"""CREATE TRIGGER {TABLE}_unnamed BEFORE UPDATE OF response_spread, resolution_spread
        ON {TABLE} FOR EACH ROW EXECUTE FUNCTION {TABLE}_unnamed()""",
    ],
    "sqlite": [
        f"""CREATE TRIGGER {TABLE}_{kind}_unnamed AFTER UPDATE OF {kind}_spread ON {TABLE}
        WHEN NEW.{kind}_digest IS OLD.{kind}_digest AND NEW.{kind}_spread IS NOT OLD.{kind}_spread
        BEGIN UPDATE {TABLE} SET {kind}_digest = NULL WHERE rowid = NEW.rowid; END"""
        for kind in KINDS
    ],
}
_UNNAMED_NO_MORE = {
    "postgresql": [f"DROP TRIGGER {TABLE}_unnamed ON {TABLE}", f"DROP FUNCTION {TABLE}_unnamed()"],
    "sqlite": [f"DROP TRIGGER {TABLE}_{kind}_unnamed" for kind in KINDS],
}


def _digested() -> None:
    """Every stored spread's digest, read a few hundred rows at a time in key order."""
    bind = op.get_bind()
    t = sa.Table(TABLE, sa.MetaData(), autoload_with=bind)
    key = [t.c[n] for n in KEY]
    spreads = [t.c[f"{kind}_spread"] for kind in KINDS]
    fill = (
        sa.update(t)
        .where(*(c == sa.bindparam(f"k_{c.name}") for c in key))
        .values({f"{kind}_digest": sa.bindparam(f"d_{kind}") for kind in KINDS})
    )
    after: tuple[object, ...] | None = None
    while True:
        query = sa.select(*key, *spreads).order_by(*key).limit(AT_ONCE)
        if after is not None:
            query = query.where(
                sa.tuple_(*key) > sa.tuple_(*(sa.literal(v, c.type) for v, c in zip(after, key, strict=True)))
            )
        rows = bind.execute(query).all()
        if not rows:
            return
        bind.execute(
            fill,
            [
                {f"k_{n}": v for n, v in zip(KEY, row[:4], strict=True)}
                | {f"d_{kind}": _digest(blob) for kind, blob in zip(KINDS, row[4:], strict=True)}
                for row in rows
            ],
        )
        after = tuple(rows[-1][:4])


def _digest(blob: bytes | None) -> str | None:
    return blake2b(bytes(blob), digest_size=16).hexdigest() if blob else None
