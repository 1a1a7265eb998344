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

On SQLite they are seen in the shared files (``huying.wakeups_sqlite``). A save still wakes the
projector of its own process directly (``on_saved``); a process that runs every duty itself (the
one-process deployment, the tests' apps) has nobody to hear from and starts no listener.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable
from typing import Any
from uuid import uuid4

from sqlalchemy import Connection, Engine, func, select

from huying.settings import Settings

log = logging.getLogger(__name__)

EVENTS, TRACKED, CLOCK = "events", "tracked", "clock"
_LISTEN_SECONDS = 0.25  # how long one wait for news lasts before the thread looks at stop()
_STOP = "stop"  # a listener's own channel: ``stop`` says so there, not after the wait ends
MAX_BACKOFF = 2.0


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


class Listener(Wakeups, ABC):
    """A thread of its own hearing the news (``_session``); when it loses the database it says
    so once, waits (backing off) and starts a new session, which wakes everyone once."""

    delivers = True

    def __init__(self) -> None:
        super().__init__()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()  # hearing now (tests wait for it)

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
        """Ends a session's wait for news now (when it waits longer than a moment)."""

    @abstractmethod
    def _session(self) -> None:
        """Connect, set ``connected``, wake everyone once, then hear news until ``_stop``."""

    @abstractmethod
    def _lost(self) -> tuple[type[Exception], ...]:
        """The errors that mean the database is away."""

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                self._session()
            except self._lost() as e:
                if self.connected.is_set():  # said once, not at every retry
                    log.warning("wake-ups: lost the database (%s); listening again when it is back", e)
                    backoff = 0.1
                self.connected.clear()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
        self.connected.clear()

    def _safely(self, topic: str, payload: str) -> None:
        try:
            self._heard(topic, payload)
        except Exception:  # a stray message or one callback's failure must not silence the listener
            log.exception("wake-ups: cannot act on %s %r", topic, payload)


class PostgresWakeups(Listener):
    """One listener thread on a connection of its own."""

    def __init__(self, settings: Settings) -> None:
        from huying.postgres import channel, schema_of

        super().__init__()
        self._settings = settings
        schema = schema_of(settings)
        self._topics = {channel(schema, topic): topic for topic in (EVENTS, TRACKED, CLOCK)}
        self._own = channel(schema, f"{_STOP}.{uuid4().hex[:12]}")  # no other listener's

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

    def _lost(self) -> tuple[type[Exception], ...]:
        import psycopg

        return (psycopg.Error,)

    def _session(self) -> None:
        with self._connect() as conn:
            self._caught_up(conn)
            self._listen(conn)

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
                if topic is not None:
                    self._safely(topic, note.payload)


def wakeups_for(settings: Settings, apart: bool = True) -> Wakeups:
    """The listener for a process of the deployment: on SQLite, one only where some duty is
    done ``apart``, by another process (there is news to hear)."""
    from huying.wakeups_sqlite import SqliteWakeups

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
