"""The read models' bulk writer stores on SQLite exactly what SQLAlchemy Core would.

``RowWriter`` renders its own INSERT (and the tallies' UPDATE) and converts instants itself
(``db.sqlite_datetime``) to skip SQLAlchemy's per-value bind processing. Queries compare those
columns with instants that SQLAlchemy binds (``next_due < now``), so the stored text must be
byte for byte what Core stores: the same rows are written both ways into real SQLite files and
read back raw.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, StatementError

from huying.db import make_engine, sqlite_datetime, sqlite_engine
from huying.migrate import upgrade
from huying.projections import spread
from huying.projections.tables import (
    SLA_COUNTS,
    SPREADS,
    rm_calls,
    rm_ledger_tallies,
    rm_sla_tallies,
    rm_stints,
)
from huying.projections.writer import COPY_FROM, RowWriter
from huying.settings import Settings

GUANGZHOU = timezone(timedelta(hours=8))


def _call_row(n: int, raised: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "call_id": f"00000000-0000-0000-0000-{n:012d}",
        "seq": n,
        "position": n + 10,
        "version": 3,
        "item_code": "CG-01",
        "grid_code": "G1",
        "community_code": "C1",
        "street_code": "S1",
        "level": "community",
        "holder": "C1",
        "status": "in_progress",
        "round": 1,
        "urgency": "normal",
        "channel": "grid",
        "title": "占道经营 '引号' 与 \"双引号\"",
        "raised_at": raised,
        "updated_at": raised + timedelta(hours=1, microseconds=7),
        "resolved_at": None,
        "closed_at": None,
        "supervised": 0,
        "response_due": raised + timedelta(hours=2),
        "resolution_due": None,
        "next_due": raised + timedelta(hours=2),
        "due_soon_at": raised + timedelta(hours=1, minutes=36),
        "ever_breached": n % 2 == 0,
        "clock_time": False,
        "lat": 23.125 if n % 2 else None,
        "lon": 113.25 if n % 2 else None,
        **extra,
    }


INSTANTS = [
    datetime(2026, 11, 23, 1, 0, tzinfo=UTC),  # no microseconds: still written with .000000
    datetime(2026, 11, 23, 9, 0, 0, 123456, tzinfo=GUANGZHOU),  # an offset: stored as UTC
    datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),  # a three-digit year, zero-padded like Core's
]


def _raw(path: Path, table: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(f'SELECT * FROM "{table}" ORDER BY 1, 2').fetchall()


def _database(root: Path) -> Path:
    settings = Settings(data_dir=root, demo=True, fake_clock=True)
    upgrade(settings)
    return root / "huying.db"


def test_the_direct_sqlite_insert_stores_what_core_stores(tmp_path: Path) -> None:
    ours, core = _database(tmp_path / "writer"), _database(tmp_path / "core")
    calls = [_call_row(n, at) for n, at in enumerate(INSTANTS, start=1)]
    stints = [
        {
            "call_id": row["call_id"],
            "n": 1,
            "unit": "C1",
            "level": "community",
            "round": 1,
            "arrived_at": row["raised_at"],
            "acknowledged_at": None,
            "ended_at": row["updated_at"],
            "outcome": "resolved",
            "response_due": row["response_due"],
            "resolution_due": None,
        }
        for row in calls
    ]
    writer_engine, core_engine = sqlite_engine(f"sqlite:///{ours}"), sqlite_engine(f"sqlite:///{core}")
    writer = RowWriter(writer_engine)
    with writer_engine.begin() as conn:
        writer.insert(conn, rm_calls, calls)
        writer.insert(conn, rm_stints, stints)
        writer.insert(conn, rm_stints, [])  # nothing to write is not an error
    with core_engine.begin() as conn:
        conn.execute(insert(rm_calls), calls)
        conn.execute(insert(rm_stints), stints)

    for table in ("rm_calls", "rm_stints"):
        assert _raw(ours, table) == _raw(core, table)
    assert _raw(ours, "rm_calls")[1][15] == "2026-11-23 01:00:00.123456"  # 09:00 +08:00, as UTC

    # What SQLAlchemy reads back is test_each_backend_reads_back_the_instants_it_was_given.
    writer_engine.dispose()
    core_engine.dispose()


def _sla_row(n: int, received: int) -> dict[str, Any]:
    return (
        {
            "level": "community",
            "scope": f"C{n % 3}",
            "block": "day",
            "start": date(2026, 1, 1) + timedelta(days=n),
        }
        | dict.fromkeys(SLA_COUNTS, n)
        | {f"{kind}_n": n for kind in SPREADS}
        | {f"{kind}_p50": n / 3 if n % 2 else None for kind in SPREADS}
        | {f"{kind}_p90": n * 1.5 for kind in SPREADS}
        | {f"{kind}_spread": bytes([n, 0, 255]) if n % 2 else None for kind in SPREADS}
        | {f"{kind}_digest": spread.digest(bytes([n, 0, 255])) if n % 2 else None for kind in SPREADS}
        | {"received": received}
    )


def _ledger_row(n: int, calls: int) -> dict[str, Any]:
    flags = {"ready_to_resolve": n % 2 == 0, "pending_extension": n % 3 == 0, "returned_order": False}
    return {"scope": f"S{n}", "status": "in_progress"} | flags | {"calls": calls}


def test_the_direct_sqlite_update_stores_what_core_stores(tmp_path: Path) -> None:
    """The tallies' rows changed in place, found by their whole key (a date, booleans): only the
    rows asked for, byte for byte as Core's UPDATE leaves them, each keeping its rowid."""
    ours, core = _database(tmp_path / "writer"), _database(tmp_path / "core")
    engines = sqlite_engine(f"sqlite:///{ours}"), sqlite_engine(f"sqlite:///{core}")
    for engine in engines:
        with engine.begin() as conn:
            conn.execute(insert(rm_sla_tallies), [_sla_row(n, n) for n in range(6)])
            conn.execute(insert(rm_ledger_tallies), [_ledger_row(n, n) for n in range(6)])
    rowids = _raw_with_rowid(ours, "rm_sla_tallies")
    changed = {
        "rm_sla_tallies": [_sla_row(n, 100 + n) for n in (1, 4)],
        "rm_ledger_tallies": [_ledger_row(2, 9)],
    }
    with engines[0].begin() as conn:
        writer = RowWriter(engines[0])
        writer.update(conn, rm_sla_tallies, changed["rm_sla_tallies"])
        writer.update(conn, rm_ledger_tallies, changed["rm_ledger_tallies"])
        writer.update(conn, rm_ledger_tallies, [])  # nothing to write is not an error
    with engines[1].begin() as conn:
        for table in (rm_sla_tallies, rm_ledger_tallies):
            for row in changed[table.name]:
                key = and_(*(c == row[c.name] for c in table.primary_key.columns))
                conn.execute(update(table).where(key).values(row))

    for table in ("rm_sla_tallies", "rm_ledger_tallies"):
        assert _raw(ours, table) == _raw(core, table)
    after = _raw_with_rowid(ours, "rm_sla_tallies")
    assert [r[0] for r in after] == [r[0] for r in rowids]  # in place: no row moved
    assert sum(a != b for a, b in zip(after, rowids, strict=True)) == 2
    for engine in engines:
        engine.dispose()


def _raw_with_rowid(path: Path, table: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(f'SELECT rowid, * FROM "{table}" ORDER BY rowid').fetchall()


def test_each_backend_updates_rows_in_place_as_given(settings: Settings) -> None:
    """SQLite's direct UPDATE and PostgreSQL's Core one alike: the rows read back as given."""
    upgrade(settings)
    engine = make_engine(settings)
    writer = RowWriter(engine)
    with engine.begin() as conn:
        writer.insert(conn, rm_sla_tallies, [_sla_row(n, n) for n in range(4)])
        writer.update(conn, rm_sla_tallies, [_sla_row(2, 77)])
    with engine.connect() as conn:
        back = conn.execute(select(rm_sla_tallies).order_by(rm_sla_tallies.c.start)).mappings().all()
    assert [dict(r) for r in back] == [_sla_row(n, 77 if n == 2 else n) for n in range(4)]
    engine.dispose()


def test_naive_instants_are_refused_like_core_refuses_them() -> None:
    with pytest.raises(ValueError, match="naive"):
        sqlite_datetime(datetime(2026, 11, 23, 9, 0))


def test_each_backend_reads_back_the_instants_it_was_given(settings: Settings) -> None:
    """SQLite's direct path and PostgreSQL's INSERT alike: the same instants, compared as such."""
    upgrade(settings)
    engine = make_engine(settings)
    with engine.begin() as conn:
        RowWriter(engine).insert(conn, rm_calls, [_call_row(n, at) for n, at in enumerate(INSTANTS, start=1)])
    with engine.connect() as conn:
        back = conn.execute(select(rm_calls.c.raised_at).order_by(rm_calls.c.seq)).scalars().all()
        assert back == INSTANTS
        just_after = INSTANTS[0] + timedelta(hours=2, microseconds=1)
        due = conn.execute(select(rm_calls.c.seq).where(rm_calls.c.next_due < just_after)).scalars()
        assert sorted(due) == [1, 4]
    engine.dispose()


def test_a_row_missing_a_column_fails_loudly(settings: Settings) -> None:
    upgrade(settings)
    engine = make_engine(settings)
    row = _call_row(1, INSTANTS[0])
    broken = {k: v for k, v in _call_row(2, INSTANTS[0]).items() if k != "title"}
    # Each backend's writer finds the gap itself, picking the row's values by column.
    with pytest.raises((KeyError, StatementError)), engine.begin() as conn:
        RowWriter(engine).insert(conn, rm_calls, [row, broken])
    with engine.connect() as conn:
        assert conn.execute(select(rm_calls.c.seq)).scalars().all() == []  # rolled back whole
    engine.dispose()


def _every_call(conn: Any) -> list[Any]:
    return list(conn.execute(select(rm_calls).order_by(rm_calls.c.seq)).all())


@pytest.mark.parametrize("count", [3, COPY_FROM + 2], ids=["few", "many"])
def test_rows_read_back_as_core_wrote_them(settings: Settings, count: int) -> None:
    """PostgreSQL takes ``COPY_FROM`` rows or more by COPY, fewer by its own INSERT handed to
    psycopg: either way they read back as Core's insert's, text with a tab, a line break, a
    backslash and COPY's own null marker among them."""
    upgrade(settings)
    engine = make_engine(settings)
    rows = [
        _call_row(n, INSTANTS[n % len(INSTANTS)], title=f"第{n}行\t占道\n经营 \\N \\\\ {n}", lat=None)
        for n in range(1, count + 1)
    ]
    with engine.begin() as conn:
        RowWriter(engine).insert(conn, rm_calls, rows)
    with engine.connect() as conn:
        written = _every_call(conn)
    with engine.begin() as conn:
        conn.execute(delete(rm_calls))
        conn.execute(insert(rm_calls), rows)
    with engine.connect() as conn:
        assert _every_call(conn) == written
    assert written[0].title == rows[0]["title"] and written[0].lat is None
    engine.dispose()


@pytest.mark.parametrize("count", [2, COPY_FROM], ids=["few", "many"])
def test_a_row_already_there_is_refused_as_core_refuses_it(settings: Settings, count: int) -> None:
    """Callers catch SQLAlchemy's IntegrityError (a key another process stored first): the
    writer raises it whichever way its rows went in, and stores none of them."""
    upgrade(settings)
    engine = make_engine(settings)
    rows = [_call_row(n, INSTANTS[0]) for n in range(1, count + 1)]
    with engine.begin() as conn:
        RowWriter(engine).insert(conn, rm_calls, rows[-1:])
    with pytest.raises(IntegrityError), engine.begin() as conn:
        RowWriter(engine).insert(conn, rm_calls, rows)
    with engine.connect() as conn:
        assert [r.seq for r in _every_call(conn)] == [count]
    engine.dispose()


@pytest.mark.parametrize("count", [2, COPY_FROM], ids=["few", "many"])
def test_naive_instants_are_refused_however_many(settings: Settings, count: int) -> None:
    upgrade(settings)
    engine = make_engine(settings)
    naive = [_call_row(n, datetime(2026, 11, 23, 9, 0)) for n in range(1, count + 1)]
    with pytest.raises((ValueError, StatementError), match="naive"), engine.begin() as conn:
        RowWriter(engine).insert(conn, rm_calls, naive)
    with engine.connect() as conn:
        assert _every_call(conn) == []
    engine.dispose()
