"""The storage backends every integration and e2e test runs on: one fixture parameter.

``sqlite`` is the embedded default (two files under the test's data directory); ``postgres`` a
schema of its own in the session's throwaway cluster (``postgres_cluster``), events and read
models alike. Like the eventsourcing library's own test_application_with_{popo,sqlite,postgres},
the tests are written once and the backend is the only thing that changes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from bench.postgres_cluster import Cluster
from sqlalchemy.engine import make_url

from huying.eventlog import EventTable
from huying.settings import Settings

BACKENDS = ("sqlite", "postgres")
GUARD_SECONDS = 60


@dataclass(frozen=True)
class Backend:
    name: str
    cluster: Cluster | None = None

    def __str__(self) -> str:
        return self.name

    def settings(self, data_dir: Path, **overrides: Any) -> Settings:
        """Settings for one fresh, empty deployment (demo mode, fake clock unless overridden)."""
        fields: dict[str, Any] = {
            "data_dir": data_dir,
            "demo": True,
            "fake_clock": True,
            # Guards against a hang, not latency checks (the benchmarks do those): a CI machine
            # stalled past the 10 s defaults. Tests of the timeouts themselves set their own.
            "database_connect_timeout": GUARD_SECONDS,
            "database_lock_timeout": GUARD_SECONDS,
        }
        if self.cluster is not None:
            fields.update(
                database_url=self.cluster.url(),
                database_schema=self.cluster.new_schema(),
                # Tests open many short-lived services; the pools need not be warm. But no
                # request may wait for a connection: a test sends one process at most 30 at
                # once, and a wait is timed (in CI a stalled machine ran one out). Opened only
                # as needed, so the cluster's max_connections bounds what is open at once.
                database_pool_size=1,
                database_max_overflow=29,
            )
        return Settings(**{**fields, **overrides})


def settings_env(settings: Settings) -> dict[str, str]:
    """The HUYING_* variables that give a child process (``huying …``) the same deployment."""
    env = {
        "HUYING_DATA_DIR": str(settings.data_dir),
        "HUYING_DATABASE_URL": settings.database_url,
        "HUYING_EVENTS_URL": settings.events_url,
        "HUYING_KEYS_URL": settings.keys_url,
        "HUYING_CONTACTS_URL": settings.contacts_url,
        "HUYING_DEMO": "1" if settings.demo else "0",
        "HUYING_DATABASE_CONNECT_TIMEOUT": str(settings.database_connect_timeout),
        "HUYING_DATABASE_LOCK_TIMEOUT": str(settings.database_lock_timeout),
    }
    if settings.on_postgres:
        env.update(
            HUYING_DATABASE_SCHEMA=settings.database_schema,
            HUYING_DATABASE_POOL_SIZE=str(settings.database_pool_size),
            HUYING_DATABASE_MAX_OVERFLOW=str(settings.database_max_overflow),
        )
    return env


def use_in_env(monkeypatch: Any, settings: Settings) -> None:
    """The in-process CLI (``huying.cli``, reading ``Settings()``) on the test's deployment."""
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)


class RawEvents:
    """The event store's table as stored, beside huying (tests that read or tamper with it).
    SQL is written once with ``{events}``, ``{position}`` and ``?`` (``EventTable.sql``)."""

    def __init__(self, conn: Any, table: EventTable) -> None:
        self._conn = conn
        self.table = table

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cursor = self._conn.execute(self.table.sql(sql), params)
        rows = cursor.fetchall() if cursor.description else []
        self._conn.commit()
        return [tuple(r) for r in rows]

    def counts(self) -> tuple[int, int]:
        """(distinct originators, events)."""
        [(originators, events)] = self.execute("SELECT COUNT(DISTINCT originator_id), COUNT(*) FROM {events}")
        return int(originators), int(events)

    def originator_ids(self) -> set[UUID]:
        return {UUID(str(r[0])) for r in self.execute("SELECT DISTINCT originator_id FROM {events}")}


@contextmanager
def raw_events(settings: Settings) -> Iterator[RawEvents]:
    if settings.on_postgres:
        schema = settings.database_schema or "public"
        url = make_url(settings.events_url).set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
            yield RawEvents(
                conn,
                EventTable(
                    f'"{schema}"."huying_events"', "notification_id", "%s", uuid_ids=True, autocommit=True
                ),
            )
        return
    path = settings.events_url.removeprefix("sqlite:///")
    conn = sqlite3.connect(path, timeout=10)
    try:
        yield RawEvents(conn, EventTable("stored_events", "rowid", "?", uuid_ids=False, autocommit=False))
    finally:
        conn.close()


def stored_rows(settings: Settings) -> bytes:
    """Every value of every row of every table of the deployment (events, read models, service
    tables), as the store returns it: bytes as they are, anything else as UTF-8 text."""
    if settings.on_postgres:
        url = make_url(settings.database_url).set(drivername="postgresql")
        schema = settings.database_schema or "public"
        with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
                )
            ]
            rows = [row for t in tables for row in conn.execute(f'SELECT * FROM "{schema}"."{t}"')]
    else:
        rows = []
        for url in {settings.database_url, settings.events_url}:
            with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
                names = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
                rows += [row for (t,) in names for row in conn.execute(f'SELECT * FROM "{t}"')]
    return b"\n".join(v if isinstance(v, bytes) else str(v).encode() for row in rows for v in row)


@contextmanager
def writes_blocked(settings: Settings, *, events: bool) -> Iterator[None]:
    """Another session keeps writers out — of the event store (``events``), or of the read
    models' tracking — until the block ends, as a careless `sqlite3` shell in a transaction or a
    long migration would. SQLite: the write lock of the whole file; PostgreSQL: the table."""
    if settings.on_postgres:
        table = "huying_events" if events else "projection_tracking"
        url = make_url(settings.database_url).set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
            conn.execute(f'LOCK TABLE "{settings.database_schema or "public"}"."{table}" IN EXCLUSIVE MODE')
            yield
        return
    path = (settings.events_url if events else settings.database_url).removeprefix("sqlite:///")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        conn.rollback()
        conn.close()
