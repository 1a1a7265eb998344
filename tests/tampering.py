"""Tampering with the stored event log behind huying's back, as someone holding the database would.

Every test that edits stored events does it through ``events_of(settings)``: the few edits an
attacker makes, in SQL both SQLite and PostgreSQL speak, through the store's own table
(``backends.raw_events``: ``{events}``, ``{position}``, ``?``). Only ``state_as_text`` is
SQLite's alone (a type PostgreSQL's ``bytea`` column cannot hold).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from backends import raw_events
from huying.settings import Settings


@dataclass(frozen=True)
class StoredEvent:
    position: int
    originator_id: str  # as huying's seal and chain see it: 32 lowercase hex digits for a UUID
    version: int
    topic: str
    state: bytes


def _hex(originator_id: Any) -> str:
    return originator_id.hex if isinstance(originator_id, UUID) else str(originator_id)


class StoredEvents:
    """The event store's table, edited behind huying's back."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with raw_events(self.settings) as store:
            return store.execute(sql, params)

    def head(self) -> int:
        return int(self._run("SELECT COALESCE(MAX({position}), 0) FROM {events}")[0][0])

    def at(self, position: int) -> StoredEvent:
        rows = self._run(
            "SELECT {position}, originator_id, originator_version, topic, state FROM {events} "
            "WHERE {position} = ?",
            (position,),
        )
        assert rows, f"no event at position {position}"
        (p, oid, version, topic, state) = rows[0]
        return StoredEvent(int(p), _hex(oid), int(version), topic, bytes(state))

    def first(self, topic_ending: str, after: int = 0) -> int:
        """The first position after ``after`` whose event's topic ends so (e.g. ``Acknowledged``)."""
        rows = self._run(
            "SELECT MIN({position}) FROM {events} WHERE topic LIKE ? AND {position} > ?",
            (f"%{topic_ending}", after),
        )
        assert rows[0][0] is not None, f"no {topic_ending} event after position {after}"
        return int(rows[0][0])

    def last_version(self, originator_id: str) -> int:
        rows = self._run(
            "SELECT MAX(originator_version) FROM {events} WHERE originator_id = ?", (originator_id,)
        )
        return int(rows[0][0])

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
        self._run(
            "UPDATE {events} SET originator_id = ?, originator_version = ?, topic = ?, state = ? "
            "WHERE {position} = ?",
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
        assert not self.settings.on_postgres, "PostgreSQL's bytea holds bytes only"
        self._run("UPDATE {events} SET state = state || X'20' WHERE {position} = ?", (position,))

    def delete(self, *positions: int) -> None:
        for p in positions:
            self._run("DELETE FROM {events} WHERE {position} = ?", (p,))

    def cut_after(self, position: int) -> None:
        """Remove the log's tail beyond ``position``."""
        self._run("DELETE FROM {events} WHERE {position} > ?", (position,))

    def move(self, position: int, to: int) -> None:
        """Move an event to a free position."""
        self._run("UPDATE {events} SET {position} = ? WHERE {position} = ?", (to, position))

    def swap(self, a: int, b: int) -> None:
        """Swap the positions of two events."""
        self.move(a, -1)
        self.move(b, a)
        self.move(-1, b)

    def insert(
        self, originator_id: str, version: int, topic: str, state: bytes, at: int | None = None
    ) -> int:
        """Add an event: after the head, or at ``at`` with every later event moved up by one
        (the log's positions have no holes). Returns its position."""
        if at is None:  # where the store puts it: the next position
            rows = self._run(
                "INSERT INTO {events} (originator_id, originator_version, topic, state) "
                "VALUES (?, ?, ?, ?) RETURNING {position}",
                (originator_id, version, topic, state),
            )
            return int(rows[0][0])
        self._run("UPDATE {events} SET {position} = -({position} + 1) WHERE {position} >= ?", (at,))
        self._run("UPDATE {events} SET {position} = -{position} WHERE {position} < 0")
        self._run(
            "INSERT INTO {events} ({position}, originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?, ?)",
            (at, originator_id, version, topic, state),
        )
        return at


def events_of(settings: Settings) -> StoredEvents:
    """The tampering tool for this deployment's event store."""
    return StoredEvents(settings)
