"""Write transactions on SQLite take the write lock at their start, at the first gap another
writer leaves, trying often rather than in SQLite's widening sleeps."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from huying import sqlite_writes
from huying.db import sqlite_engine
from huying.sqlite_writes import write_transaction


def _engine(tmp_path: Path, lock_timeout: float = 10) -> Engine:
    engine = sqlite_engine(f"sqlite:///{tmp_path / 'huying.db'}", lock_timeout=lock_timeout)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS t (n INTEGER)"))
    return engine


def _other_writer(tmp_path: Path) -> sqlite3.Connection:
    """Another connection (another process, as far as SQLite can tell), never waiting."""
    return sqlite3.connect(tmp_path / "huying.db", timeout=0, isolation_level=None)


def test_the_lock_is_held_from_the_start_of_the_block(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    other = _other_writer(tmp_path)
    with write_transaction(engine) as conn:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        conn.execute(text("INSERT INTO t VALUES (1)"))
    other.execute("BEGIN IMMEDIATE")  # free once the block committed
    assert other.execute("SELECT n FROM t").fetchall() == [(1,)]
    other.execute("ROLLBACK")


def test_a_writer_gets_in_at_the_first_gap_and_keeps_its_patience(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _engine(tmp_path, lock_timeout=7)
    holder = _other_writer(tmp_path)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES (1)")
    pauses: list[float] = []

    def pause(seconds: float) -> None:  # the holder commits while the writer waits its turn
        pauses.append(seconds)
        if len(pauses) == 5:
            holder.execute("COMMIT")

    monkeypatch.setattr(sqlite_writes.time, "sleep", pause)
    with write_transaction(engine) as conn:
        conn.execute(text("INSERT INTO t VALUES (2)"))
        patience = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
    assert pauses == [0.0005, 0.001, 0.002, 0.004, 0.004], "tried again soon, not in SQLite's sleeps"
    assert patience == 7000, "the connection's own timeout is back for its other statements"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM t ORDER BY n")).scalars().all() == [1, 2]


def test_a_lock_held_past_the_timeout_is_refused_as_sqlite_refuses_it(tmp_path: Path) -> None:
    engine = _engine(tmp_path, lock_timeout=0)
    holder = _other_writer(tmp_path)
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError, match="database is locked"), write_transaction(engine):
        pass
    holder.execute("ROLLBACK")
    with write_transaction(engine) as conn:  # the engine's connections are none the worse
        conn.execute(text("INSERT INTO t VALUES (3)"))
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 0
