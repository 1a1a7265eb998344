"""The read models' bulk writer stores on SQLite exactly what SQLAlchemy Core would.

``RowWriter`` renders its own INSERT and converts instants itself (``db.sqlite_datetime``) to
skip SQLAlchemy's per-value bind processing. Queries compare those columns with instants that
SQLAlchemy binds (``next_due < now``), so the stored text must be byte for byte what Core stores:
the same rows are written both ways into real SQLite files and read back raw.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import StatementError

from huying.db import make_engine, sqlite_datetime, sqlite_engine
from huying.migrate import upgrade
from huying.projections.tables import rm_calls, rm_stints
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


def test_naive_instants_are_refused_like_core_refuses_them() -> None:
    with pytest.raises(ValueError, match="naive"):
        sqlite_datetime(datetime(2026, 11, 23, 9, 0))


def test_each_backend_reads_back_the_instants_it_was_given(settings: Settings) -> None:
    """SQLite's direct path and PostgreSQL's Core path alike: the same instants, compared as such."""
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
    # SQLite's direct path finds the gap itself; Core (PostgreSQL) names the missing parameter.
    with pytest.raises((KeyError, StatementError)), engine.begin() as conn:
        RowWriter(engine).insert(conn, rm_calls, [row, broken])
    with engine.connect() as conn:
        assert conn.execute(select(rm_calls.c.seq)).scalars().all() == []  # rolled back whole
    engine.dispose()


def _every_call(conn: Any) -> list[Any]:
    return list(conn.execute(select(rm_calls).order_by(rm_calls.c.seq)).all())


def test_many_rows_at_once_read_back_as_core_wrote_them(settings: Settings) -> None:
    """PostgreSQL takes ``COPY_FROM`` rows or more by COPY: they read back as Core's insert's, text
    with a tab, a line break, a backslash and COPY's own null marker among them."""
    upgrade(settings)
    engine = make_engine(settings)
    rows = [
        _call_row(n, INSTANTS[n % len(INSTANTS)], title=f"第{n}行\t占道\n经营 \\N \\\\ {n}", lat=None)
        for n in range(1, COPY_FROM + 3)
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


def test_many_naive_instants_are_refused_too(settings: Settings) -> None:
    upgrade(settings)
    engine = make_engine(settings)
    naive = [_call_row(n, datetime(2026, 11, 23, 9, 0)) for n in range(1, COPY_FROM + 1)]
    with pytest.raises((ValueError, StatementError), match="naive"), engine.begin() as conn:
        RowWriter(engine).insert(conn, rm_calls, naive)
    with engine.connect() as conn:
        assert _every_call(conn) == []
    engine.dispose()
