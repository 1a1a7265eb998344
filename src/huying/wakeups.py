"""News between the processes of one deployment, so that nobody waits for a polling interval.

Three things happen in one process that others are waiting for:

- **events committed** — the projector and the chain keeper, wherever they run, start a batch;
- **a tracked projection moved** (``name:position``) — requests waiting to read their own writes,
  and long-polls, in every API worker, see the new position;
- **the settable clock moved** (demos and tests) — the SLA watchdog sweeps.

On PostgreSQL they travel by LISTEN/NOTIFY on the deployment's own channels
(``huying.<schema>.<topic>``). The NOTIFY is sent inside the transaction that makes the news —
the library's insert of the events, ``tracking.move`` of a batch — so it is delivered exactly
when, and only if, that transaction commits. Each long-running process has one listener thread
on a connection of its own; when that connection is lost it reconnects, and then wakes everyone
once with the positions as stored, since news may have been missed meanwhile.

On SQLite the processes of a deployment share files, and SQLite says when another connection
committed to one: ``PRAGMA data_version``. One listener thread per process looks at it, for the
event store and for huying.db, every ``_LOOK_SECONDS`` (a few milliseconds), and reads the tracked
positions only when huying.db changed. Looking costs a few microseconds of the interpreter each
time (docs/benchmarks.md, 2026-12-02: under half a percent of a core, idle); a message over a
socket would save that and need a registry of who listens. A save still wakes the projector of
its own process directly (``on_saved``); a process that runs every duty itself (the one-process
deployment, the tests' apps) has nobody to hear from and starts no listener (``Wakeups``).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

from sqlalchemy import Connection, Engine, func, select

from huying.settings import Settings

log = logging.getLogger(__name__)

EVENTS, TRACKED, CLOCK = "events", "tracked", "clock"
_LISTEN_SECONDS = 0.25  # how long one wait for news lasts before the thread looks at stop()
_STOP = "stop"  # a listener's own channel: ``stop`` says so there, not after the wait ends
_MAX_BACKOFF = 2.0
# SQLite: how often the listener looks whether another connection committed. P5's target is
# 200 ms at p99; a few milliseconds here are lost in the projector's own gathering of saves.
_LOOK_SECONDS = 0.005


class Wakeups:
    """Callbacks for news from other processes. This base never calls them (a SQLite process
    that does every duty itself)."""

    delivers = False  # whether news of other processes reaches the callbacks

    def __init__(self) -> None:
        self._events: list[Callable[[], None]] = []
        self._tracked: dict[str, list[Callable[[int], None]]] = defaultdict(list)
        self._clock: list[Callable[[], None]] = []

    def on_events(self, callback: Callable[[], None]) -> None:
        """``callback()`` after any process committed events."""
        self._events.append(callback)

    def on_tracked(self, name: str, callback: Callable[[int], None]) -> None:
        """``callback(position)`` after any process moved the tracked projection ``name``:
        the "position changed" source for read-your-writes waiters."""
        self._tracked[name].append(callback)

    def on_clock(self, callback: Callable[[], None]) -> None:
        """``callback()`` after any process moved the settable clock."""
        self._clock.append(callback)

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def _heard(self, topic: str, payload: str) -> None:
        if topic == EVENTS:
            callbacks: list[Callable[[], None]] = self._events
        elif topic == CLOCK:
            callbacks = self._clock
        else:
            name, _, position = payload.rpartition(":")
            for tracked in self._tracked.get(name, ()):
                tracked(int(position))
            return
        for callback in callbacks:
            callback()


class PostgresWakeups(Wakeups):
    """One listener thread on a connection of its own."""

    delivers = True

    def __init__(self, settings: Settings) -> None:
        from huying.postgres import channel, schema_of

        super().__init__()
        self._settings = settings
        schema = schema_of(settings)
        self._topics = {channel(schema, topic): topic for topic in (EVENTS, TRACKED, CLOCK)}
        self._own = channel(schema, f"{_STOP}.{uuid4().hex[:12]}")  # no other listener's
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()  # listening now (tests wait for it)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="huying-wakeups", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            if self.connected.is_set():
                self._interrupt()
            self._thread.join(timeout=10)
            self._thread = None

    def _interrupt(self) -> None:
        """Ends the listener's wait for news now (a stopping test or process would otherwise
        wait out ``_LISTEN_SECONDS`` of it)."""
        import psycopg
        from psycopg import sql

        from huying.postgres import connect

        try:
            with connect(self._settings) as conn:
                conn.execute(sql.SQL("NOTIFY {}").format(sql.Identifier(self._own)))
        except psycopg.Error:
            pass  # the listener sees stop() when its wait ends

    def _run(self) -> None:
        import psycopg

        backoff = 0.1
        while not self._stop.is_set():
            try:
                with self._connect() as conn:
                    self._caught_up(conn)
                    backoff = 0.1
                    self._listen(conn)
            except psycopg.Error as e:
                if self.connected.is_set():  # said once, not at every retry
                    log.warning("wake-ups: lost the database (%s); listening again when it is back", e)
                self.connected.clear()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
        self.connected.clear()

    def _connect(self) -> Any:
        from psycopg import sql

        from huying.postgres import connect

        conn = connect(self._settings)
        for name in (*self._topics, self._own):
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(name)))
        return conn

    def _caught_up(self, conn: Any) -> None:
        """Listening (again): whatever happened while nobody listened, everyone looks now."""
        self.connected.set()
        self._heard(EVENTS, "")
        self._heard(CLOCK, "")
        for name, position in conn.execute("SELECT name, position FROM projection_tracking"):
            self._heard(TRACKED, f"{name}:{position}")

    def _listen(self, conn: Any) -> None:
        while not self._stop.is_set():
            for note in conn.notifies(timeout=_LISTEN_SECONDS):
                if note.channel == self._own:
                    break  # stop() is asking
                topic = self._topics.get(note.channel)
                try:
                    if topic is not None:
                        self._heard(topic, note.payload)
                except Exception:  # a stray NOTIFY must not silence the listener
                    log.exception("wake-ups: cannot act on %s %r", note.channel, note.payload)


class SqliteWakeups(Wakeups):
    """One thread looking at ``PRAGMA data_version`` of the event store and of huying.db."""

    delivers = True

    def __init__(self, settings: Settings, look_seconds: float = _LOOK_SECONDS) -> None:
        from huying.migrate import sqlite_file

        super().__init__()
        self._files = (sqlite_file(settings.events_url), sqlite_file(settings.database_url))
        self._look_seconds = look_seconds
        self._positions: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()  # looking now (tests wait for it)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="huying-wakeups", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                self._look()
            except sqlite3.Error as e:
                if self.connected.is_set():
                    log.warning("wake-ups: cannot read the database (%s); looking again", e)
                self.connected.clear()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
        self.connected.clear()

    def _look(self) -> None:
        events, database = (_autocommitting(f) for f in self._files)
        try:
            seen = (_version(events), _version(database))
            self.connected.set()
            self._safely(EVENTS, "")  # looking (again): whatever happened meanwhile, look now
            self._moved(database)
            while not self._stop.wait(self._look_seconds):
                now = (_version(events), _version(database))
                if now[0] != seen[0]:
                    self._safely(EVENTS, "")
                if now[1] != seen[1]:
                    self._moved(database)
                seen = now
        finally:
            events.close()
            database.close()

    def _moved(self, database: sqlite3.Connection) -> None:
        """huying.db changed: news of each tracked projection whose position moved."""
        for name, position in database.execute("SELECT name, position FROM projection_tracking").fetchall():
            if self._positions.get(name) != position:
                self._positions[name] = position
                self._safely(TRACKED, f"{name}:{position}")

    def _safely(self, topic: str, payload: str) -> None:
        try:
            self._heard(topic, payload)
        except Exception:  # one callback's failure must not silence the listener
            log.exception("wake-ups: cannot act on %s %r", topic, payload)


def _autocommitting(path: Path | None) -> sqlite3.Connection:
    """A connection that holds no transaction between looks (it would keep WAL from being
    checkpointed)."""
    if path is None:
        raise ValueError("SqliteWakeups needs sqlite:/// URLs")
    return sqlite3.connect(path, isolation_level=None, check_same_thread=False)


def _version(conn: sqlite3.Connection) -> int:
    """Changes whenever another connection, of any process, committed to the file."""
    row = conn.execute("PRAGMA data_version").fetchone()
    return int(row[0])


def wakeups_for(settings: Settings, apart: bool = True) -> Wakeups:
    """The listener for a process of the deployment: on SQLite, one only where some duty is
    done ``apart``, by another process (there is news to hear)."""
    if settings.on_postgres:
        return PostgresWakeups(settings)
    return SqliteWakeups(settings) if apart else Wakeups()


def announce_tracked(conn: Connection, name: str, position: int) -> None:
    """Inside the transaction that moves ``name`` to ``position``: tell the other processes
    when it commits (PostgreSQL; nothing to tell on SQLite)."""
    _notify(conn, TRACKED, f"{name}:{position}")


def announce_clock(engine: Engine) -> None:
    """The settable clock moved: the watchdogs of other processes look now."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            _notify(conn, CLOCK, "")


def _notify(conn: Connection, topic: str, payload: str) -> None:
    if conn.dialect.name != "postgresql":
        return
    from huying.postgres import channel

    # The connection's own schema (its search_path) is the deployment's.
    schema = conn.dialect.default_schema_name or "public"
    conn.execute(select(func.pg_notify(channel(schema, topic), payload)))
