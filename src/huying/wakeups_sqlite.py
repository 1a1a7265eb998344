"""News between the processes of a SQLite deployment (``huying.wakeups``): they share files,
and SQLite says when another connection committed to one — ``PRAGMA data_version``.

One listener thread per process looks at it, for the event store and for huying.db, every 5 ms
while commits come and every 40 ms when idle, and reads the tracked positions only when
huying.db changed. It needs nothing of the writers: a commit by any process — huying's CLI, a
script — is seen. Its cost is the thread's waking (docs/benchmarks.md, 2026-12-02: 0.8 % of a
core idle, 2.7 % while busy, on this machine); a message over a socket would cost nothing idle,
but every writer would have to send it and every listener be found.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

from huying.settings import Settings
from huying.wakeups import EVENTS, TRACKED, Listener

log = logging.getLogger(__name__)

# SQLite: how often the listener looks whether another connection committed — while news came
# within the last ``_BUSY_SECONDS`` (P5's target is 200 ms at p99: a few milliseconds here are
# lost in the projector's own gathering of saves), and when idle (the first commit after a quiet
# spell waits that long at most). Each look wakes a thread: ~0.1-0.2 ms of CPU on this machine.
_LOOK_SECONDS = 0.005
_LOOK_IDLE_SECONDS = 0.04
_BUSY_SECONDS = 1.0


class SqliteWakeups(Listener):
    """One thread looking at ``PRAGMA data_version`` of the event store and of huying.db."""

    def __init__(
        self,
        settings: Settings,
        look_seconds: float = _LOOK_SECONDS,
        idle_seconds: float = _LOOK_IDLE_SECONDS,
    ) -> None:
        from huying.migrate import sqlite_file

        super().__init__()
        self._files = (sqlite_file(settings.events_url), sqlite_file(settings.database_url))
        self._look_seconds = look_seconds
        self._idle_seconds = idle_seconds
        self._positions: dict[str, int] = {}

    def _lost(self) -> tuple[type[Exception], ...]:
        return (sqlite3.Error,)

    def _session(self) -> None:
        events, database = (_autocommitting(f) for f in self._files)
        try:
            seen = (_version(events), _version(database))
            self.connected.set()
            self._safely(EVENTS, "")  # looking (again): whatever happened meanwhile, look now
            self._moved(database)
            news = time.monotonic()
            while not self._stop.is_set():
                busy = time.monotonic() - news < _BUSY_SECONDS
                time.sleep(self._look_seconds if busy else self._idle_seconds)  # cheaper than a wait
                now = (_version(events), _version(database))
                if now[0] != seen[0]:
                    self._safely(EVENTS, "")
                if now[1] != seen[1]:
                    self._moved(database)
                if now != seen:
                    seen, news = now, time.monotonic()
        finally:
            events.close()
            database.close()

    def _moved(self, database: sqlite3.Connection) -> None:
        """huying.db changed: news of each tracked projection whose position moved."""
        for name, position in database.execute("SELECT name, position FROM projection_tracking").fetchall():
            if self._positions.get(name) != position:
                self._positions[name] = position
                self._safely(TRACKED, f"{name}:{position}")


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
