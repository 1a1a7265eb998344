"""Reads and writes of the event store (``sqlite_reads``): on SQLite each read is its one
``SELECT`` — no ``BEGIN`` … ``ROLLBACK`` around it — and lets its snapshot go when done, so a
checkpoint can empty the WAL, and the writes take turns on one connection of their own; on both
backends a read sees what was committed, a failed read raises the library's persistence error,
as the library's own reads do, and a failed write stores nothing and leaves the store
writable."""

from __future__ import annotations

import gc
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError, PersistenceError, StoredEvent
from sqlalchemy import text

from backends import Backend
from huying.bootstrap import Services
from huying.domain.principal import Principal, Role
from huying.eventlog import EventTable
from huying.service_layer.calls import CallDraft
from huying.service_layer.command_path import Submission
from huying.settings import Settings

GRID = Principal(Role.GRID_WORKER, "LW-LN-01-G01")


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every statement run on an event store connection opened from now on."""
    seen: list[str] = []
    connect = sqlite3.connect

    def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = connect(*args, **kwargs)
        if "events" in str(kwargs.get("database", args[0] if args else "")):
            conn.set_trace_callback(seen.append)
        return conn

    monkeypatch.setattr(sqlite3, "connect", traced)
    yield seen


def raised(services: Services) -> UUID:
    draft = CallDraft("C01-01", "LW-LN-01-G01", "井盖缺失", "人行道井盖丢了", "grid_worker")
    return services.calls.raise_call(GRID, draft, Submission()).call.id


def test_a_read_is_one_statement_and_sees_what_was_committed(
    statements: list[str], services: Services, backend: Backend
) -> None:
    call_id = raised(services)
    recorder = services.app.recorder
    statements.clear()
    events = recorder.select_events(call_id)
    last = recorder.max_notification_id()
    page = recorder.select_notifications(start=0, limit=1_000)
    assert [e.originator_version for e in events] == [1]
    assert last == page[-1].id and page[-1].originator_id == call_id
    if backend.name == "sqlite":
        assert [s.split()[0] for s in statements] == ["SELECT", "SELECT", "SELECT"]


def test_a_read_lets_its_snapshot_go(services: Services, settings: Settings, backend: Backend) -> None:
    raised(services)
    recorder = services.app.recorder
    assert recorder.max_notification_id()  # one row fetched of its statement, the cursor closed
    if backend.name == "sqlite":
        path = settings.events_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as other:
            busy, _, _ = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0  # no reader holds a snapshot the checkpoint must wait for
    else:
        with services.engine.connect() as conn:
            open_transactions = conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'")
            ).scalar()
        assert open_transactions == 0


def test_a_failed_read_raises_the_librarys_error(services: Services) -> None:
    raised(services)
    recorder = services.app.recorder
    table = EventTable.of(recorder)
    with pytest.raises(PersistenceError):
        table.rows(recorder, table.sql("SELECT no_such_column FROM {events}"), ())
    assert recorder.max_notification_id() == 1  # the connection still serves


@pytest.mark.sqlite_only(reason="PostgreSQL's saves take a connection of its pool, as its reads do")
def test_saves_take_turns_on_one_connection_of_their_own(services: Services) -> None:
    recorder = services.app.recorder
    raised(services)  # the first save opens the writers' connection
    with _traced_by_connection() as seen:
        for _ in range(3):
            recorder.select_events(raised(services))
    writers = {conn for conn, statement in seen if statement.split()[0] in {"BEGIN", "INSERT", "COMMIT"}}
    assert len(writers) == 1  # no connection opened, none taken from the pool
    (writer,) = writers
    on_it = [statement.split()[0] for conn, statement in seen if conn == writer]
    assert on_it == ["BEGIN", "INSERT", "SELECT", "COMMIT"] * 3  # the SELECT: the catalog expected
    assert any(conn != writer and statement.startswith("SELECT") for conn, statement in seen)


@contextmanager
def _traced_by_connection() -> Iterator[list[tuple[int, str]]]:
    """Every statement run on the event store's connections meanwhile, with whose it was."""
    seen: list[tuple[int, str]] = []
    traced: list[sqlite3.Connection] = []

    def trace(conn: sqlite3.Connection) -> None:
        conn.set_trace_callback(lambda statement: seen.append((id(conn), statement)))
        traced.append(conn)

    for conn in gc.get_objects():
        if isinstance(conn, sqlite3.Connection) and _on_the_event_store(conn):
            trace(conn)
    try:
        yield seen
    finally:
        for conn in traced:
            conn.set_trace_callback(None)


def _on_the_event_store(conn: sqlite3.Connection) -> bool:
    try:
        return any(
            name == "main" and "events" in path for _, name, path in conn.execute("PRAGMA database_list")
        )
    except sqlite3.ProgrammingError:  # closed
        return False


def test_a_failed_save_stores_nothing_and_the_store_stays_writable(services: Services) -> None:
    first = raised(services)
    recorder = services.app.recorder
    stored = recorder.select_events(first)[0]
    again = StoredEvent(stored.originator_id, stored.originator_version, stored.topic, stored.state)
    with pytest.raises(IntegrityError):
        recorder.insert_events([again])
    second = raised(services)  # the writer is not left inside the failed transaction
    assert [e.originator_version for e in recorder.select_events(first)] == [1]
    log = recorder.select_notifications(start=0, limit=10)
    assert [n.originator_id for n in log] == [first, second]
