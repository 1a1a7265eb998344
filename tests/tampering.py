"""Tampering with the stored event log behind huying's back, as someone holding the database would.

Every test that edits stored events does it through ``events_of(settings)``, so that each
backend needs only these few methods: ``SqliteEvents`` edits the SQLite events file (table
``stored_events``, rowid = log position); a PostgreSQL variant does the same to its
``stored_events`` table (``notification_id`` = log position) and is returned for a
``postgresql`` events URL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from huying.settings import Settings


@dataclass(frozen=True)
class StoredEvent:
    position: int
    originator_id: str
    version: int
    topic: str
    state: bytes


class SqliteEvents:
    """The event store's SQLite file, opened behind huying's back."""

    def __init__(self, settings: Settings) -> None:
        self.path = Path(settings.events_url.removeprefix("sqlite:///"))

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path)
        try:
            with db:
                yield db
        finally:
            db.close()

    def head(self) -> int:
        with self._db() as db:
            return int(db.execute("SELECT COALESCE(MAX(rowid), 0) FROM stored_events").fetchone()[0])

    def at(self, position: int) -> StoredEvent:
        with self._db() as db:
            row = db.execute(
                "SELECT rowid, originator_id, originator_version, topic, state "
                "FROM stored_events WHERE rowid = ?",
                (position,),
            ).fetchone()
        assert row is not None, f"no event at position {position}"
        return StoredEvent(*row)

    def first(self, topic_ending: str, after: int = 0) -> int:
        """The first position after ``after`` whose event's topic ends so (e.g. ``Acknowledged``)."""
        with self._db() as db:
            row = db.execute(
                "SELECT rowid FROM stored_events WHERE topic LIKE ? AND rowid > ? ORDER BY rowid LIMIT 1",
                (f"%{topic_ending}", after),
            ).fetchone()
        assert row is not None, f"no {topic_ending} event after position {after}"
        return int(row[0])

    def last_version(self, originator_id: str) -> int:
        with self._db() as db:
            row = db.execute(
                "SELECT MAX(originator_version) FROM stored_events WHERE originator_id = ?", (originator_id,)
            ).fetchone()
        return int(row[0])

    def rewrite(
        self,
        position: int,
        *,
        originator_id: str | None = None,
        version: int | None = None,
        topic: str | None = None,
        state: bytes | None = None,
    ) -> None:
        """Overwrite some columns of the stored event at ``position`` (the others stay)."""
        was = self.at(position)
        with self._db() as db:
            db.execute(
                "UPDATE stored_events SET originator_id = ?, originator_version = ?, topic = ?, state = ? "
                "WHERE rowid = ?",
                (
                    was.originator_id if originator_id is None else originator_id,
                    was.version if version is None else version,
                    was.topic if topic is None else topic,
                    was.state if state is None else state,
                    position,
                ),
            )

    def state_as_text(self, position: int) -> None:
        """SQLite only: the same bytes plus one, stored as TEXT rather than a BLOB."""
        with self._db() as db:
            db.execute("UPDATE stored_events SET state = state || X'20' WHERE rowid = ?", (position,))

    def delete(self, *positions: int) -> None:
        with self._db() as db:
            db.executemany("DELETE FROM stored_events WHERE rowid = ?", [(p,) for p in positions])

    def cut_after(self, position: int) -> None:
        """Remove the log's tail beyond ``position``."""
        with self._db() as db:
            db.execute("DELETE FROM stored_events WHERE rowid > ?", (position,))

    def move(self, position: int, to: int) -> None:
        """Move an event to a free position."""
        with self._db() as db:
            db.execute("UPDATE stored_events SET rowid = ? WHERE rowid = ?", (to, position))

    def swap(self, a: int, b: int) -> None:
        """Swap the positions of two events."""
        with self._db() as db:
            db.execute("UPDATE stored_events SET rowid = -1 WHERE rowid = ?", (a,))
            db.execute("UPDATE stored_events SET rowid = ? WHERE rowid = ?", (a, b))
            db.execute("UPDATE stored_events SET rowid = ? WHERE rowid = -1", (b,))

    def insert(
        self, originator_id: str, version: int, topic: str, state: bytes, at: int | None = None
    ) -> int:
        """Add an event: after the head, or at ``at`` with every later event moved up by one
        (the log's positions have no holes). Returns its position."""
        with self._db() as db:
            if at is not None:
                db.execute("UPDATE stored_events SET rowid = -(rowid + 1) WHERE rowid >= ?", (at,))
                db.execute("UPDATE stored_events SET rowid = -rowid WHERE rowid < 0")
            cursor = db.execute(
                "INSERT INTO stored_events (rowid, originator_id, originator_version, topic, state) "
                "VALUES (?, ?, ?, ?, ?)",
                (at, originator_id, version, topic, state),
            )
            return int(cursor.lastrowid or 0)


def events_of(settings: Settings) -> SqliteEvents:
    """The tampering tool for this deployment's event store."""
    if settings.events_url.startswith("sqlite:///"):
        return SqliteEvents(settings)
    raise TypeError(f"no tampering tool for {settings.events_url.split(':')[0]} yet")
