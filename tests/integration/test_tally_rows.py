"""A batch's stored tally rows are read by their whole keys — on SQLite as one JSON array of keys,
on PostgreSQL as one array per key column: any number of keys, and a count that spans several
reads, finds exactly the rows asked for, typed as Core reads them — on each backend, in the real
table, each key looked up in the primary key's index."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert, literal_column, select, update

from backends import Backend
from huying.db import make_engine
from huying.migrate import upgrade
from huying.projections import spread
from huying.projections.tables import SLA_COUNTS, SPREADS, rm_sla_tallies
from huying.projections.tally_rows import KEYS_AT_ONCE, of_keys, rewrite_of
from huying.projections.writer import RowWriter

FIRST_DAY = date(2026, 1, 1)
STORED = 2_500  # enough for every third key of the largest read


def key(n: int) -> tuple[str, str, str, date]:
    return ("community", f"U{n % 7}", "day", FIRST_DAY + timedelta(days=n // 7))


@pytest.fixture
def engine(backend: Backend, tmp_path: Path) -> Iterator[Engine]:
    settings = backend.settings(tmp_path)
    upgrade(settings)
    engine = make_engine(settings)
    rows: list[dict[str, Any]] = []
    for n in range(STORED):
        level, scope, block, start = key(n)
        rows.append(
            {"level": level, "scope": scope, "block": block, "start": start}
            | dict.fromkeys(SLA_COUNTS, 0)
            | {f"{kind}_n": 0 for kind in SPREADS}
            | {"received": n + 1}
        )
    with engine.begin() as conn:
        conn.execute(insert(rm_sla_tallies), rows)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.mark.parametrize("asked", [1, 2, 33, KEYS_AT_ONCE, KEYS_AT_ONCE + 1, KEYS_AT_ONCE * 2 + 3])
def test_each_read_finds_exactly_the_rows_of_the_keys_asked(engine: Engine, asked: int) -> None:
    # Every third key asked has no row: it must come back as not stored, not as a padded one.
    wanted = [key(n * 3 if n % 3 else STORED + n) for n in range(asked)]
    seen: dict[Any, Any] = {}

    def changed(k: Any, stored: Any, change: int) -> dict[str, Any] | None:
        seen[k] = stored["received"] if stored else None
        return None

    with engine.connect() as conn:
        rewrite = rewrite_of(conn, rm_sla_tallies, dict.fromkeys(wanted, 0), changed)
    expected = {k: (n * 3 + 1 if n % 3 else None) for n, k in enumerate(wanted)}
    assert seen == expected
    assert all(isinstance(k[3], date) for k in rewrite.replaced)
    assert sorted(rewrite.replaced) == sorted(k for k, v in expected.items() if v is not None)


def test_a_read_of_many_keys_looks_each_up_in_the_index(engine: Engine) -> None:
    """Each key is looked up in the primary key's index, never by a scan of the table, which grows
    with the district's history. (PostgreSQL plans a table this small as a scan whatever the
    statement: there, scans are turned off to see that the index can serve it.)"""
    with engine.connect() as conn:
        statement, params = of_keys(rm_sla_tallies, [key(n) for n in range(50)], conn.dialect)
        compiled = statement.compile(dialect=conn.dialect)
        values = compiled.construct_params(params)
        if conn.dialect.name == "sqlite":
            bound: Any = tuple(values[name] for name in compiled.positiontup or ())
            plan = [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", bound)]
            assert any(step.startswith("SEARCH t USING INDEX") for step in plan), plan
        else:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = [row[0] for row in conn.exec_driver_sql(f"EXPLAIN {compiled}", values)]
            assert any("Index Scan using rm_sla_tallies_pkey" in step for step in plan), plan
        assert not any(step.startswith("SCAN t") or "Seq Scan on rm_sla_tallies" in step for step in plan), (
            plan
        )


def test_a_rewrite_updates_what_is_left_deletes_what_is_not_and_adds_the_new(engine: Engine) -> None:
    """Rows still there are changed in place (their rowid kept: the key's index entry stays
    put), rows with nothing left go, new keys are added; every other row is as it was."""
    updated, emptied, added = key(3), key(4), key(STORED + 5)

    def changed(k: Any, stored: Any, change: int) -> dict[str, Any] | None:
        if k == emptied:
            return None
        level, scope, block, start = k
        return (
            {"level": level, "scope": scope, "block": block, "start": start}
            | dict.fromkeys(SLA_COUNTS, 0)
            | {f"{kind}_n": 0 for kind in SPREADS}
            | {"received": (stored["received"] if stored else 0) + change}
        )

    with engine.connect() as conn:
        before = _received_by_key(conn)
        rowid_before = _rowid_of(conn, updated)
        rewrite = rewrite_of(conn, rm_sla_tallies, {updated: 100, emptied: 1, added: 7}, changed)
    with engine.begin() as conn:
        rewrite.write(conn, RowWriter(engine))
    with engine.connect() as conn:
        after = _received_by_key(conn)
        assert _rowid_of(conn, updated) == rowid_before
    expected = {k: v for k, v in before.items() if k != emptied} | {updated: 3 + 1 + 100, added: 7}
    assert after == expected


def test_a_rewrite_sets_again_only_the_spreads_that_changed(engine: Engine) -> None:
    """A row whose counts changed but not a spread is updated without that spread: set again, even
    to the same bytes, PostgreSQL stores a large value anew out of line (TOAST), and a raise
    changes a month's counts, not its spreads. A spread that changed is written, and every
    value reads back as the rewrite made it."""
    t = rm_sla_tallies
    kept, remade = key(3), key(10)
    month = spread.encode(spread.of_times(float(s) for s in range(1, 40_000, 7)))  # ~1,000 bins
    other = spread.encode(spread.of_times([5.0, 9.0]))
    assert month is not None and len(month) > 8_000
    with engine.begin() as conn:
        for k in (kept, remade):
            conn.execute(
                update(t)
                .where(t.c.level == k[0], t.c.scope == k[1], t.c.block == k[2], t.c.start == k[3])
                .values(response_spread=month, resolution_spread=month)
            )

    def changed(k: Any, stored: Any, change: int) -> dict[str, Any]:
        row = dict(stored) | {"received": stored["received"] + change}
        return row | ({"resolution_spread": other} if k == remade else {})

    with engine.connect() as conn:
        rewrite = rewrite_of(conn, t, {kept: 1, remade: 2}, changed)
    updates: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            updates.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        with engine.begin() as conn:
            rewrite.write(conn, RowWriter(engine))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert updates and not any("response_spread" in u for u in updates), updates
    assert sum("resolution_spread" in u for u in updates) == 1, updates
    shown = (t.c.received, t.c.response_spread, t.c.resolution_spread)
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.level, t.c.scope, t.c.block, t.c.start, *shown))
        stored = {tuple(r[:4]): tuple(r[4:]) for r in rows}
    assert stored[kept] == (3 + 1 + 1, month, month)
    assert stored[remade] == (10 + 1 + 2, month, other)


def _received_by_key(conn: Any) -> dict[Any, int]:
    t = rm_sla_tallies
    rows = conn.execute(select(t.c.level, t.c.scope, t.c.block, t.c.start, t.c.received))
    return {(level, scope, block, start): received for level, scope, block, start, received in rows}


def _rowid_of(conn: Any, k: tuple[str, str, str, date]) -> Any:
    """The row's SQLite rowid, which the key's index points at (None on PostgreSQL, where an
    update writes a new version of the row and an index entry only if an indexed column changed)."""
    if conn.dialect.name != "sqlite":
        return None
    t = rm_sla_tallies
    found = conn.execute(
        select(literal_column("rowid")).where(
            t.c.level == k[0], t.c.scope == k[1], t.c.block == k[2], t.c.start == k[3]
        )
    )
    return found.scalar_one()
