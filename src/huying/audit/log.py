"""The event log as stored, byte for byte: what the 防篡改 chain hashes.

Read straight from the recorder's table, without decoding, so that an altered originator id,
topic or state is seen exactly as it lies in the store (the library would normalise the id or
fail to decode). One indexed range query per page; positions are the notification ids.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder

from huying.eventlog import EventTable


@dataclass(frozen=True, slots=True)
class StoredRow:
    """One stored event: its log position and the four columns the store keeps."""

    position: int
    originator_id: str
    version: int
    topic: str
    state: bytes


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    # A state rewritten as another SQL type is not the state that was stored: mark it so.
    return b"\x00not-a-blob:" + str(value).encode()


class StoredLog:
    """Pages of stored events by position, and where a given event now lies."""

    def __init__(self, recorder: ApplicationRecorder) -> None:
        self._recorder: Any = recorder
        self._table = table = EventTable.of(recorder)
        self._page_sql = table.sql(
            "SELECT {position} AS position, originator_id, originator_version, topic, state FROM {events} "
            "WHERE {position} > ? AND {position} <= ? ORDER BY {position} LIMIT ?"
        )
        self._locate_sql = table.sql(
            "SELECT {position} AS position FROM {events} WHERE originator_id = ? AND originator_version = ?"
        )

    def head(self) -> int:
        """The highest position in the log (0 when empty)."""
        return int(self._recorder.max_notification_id() or 0)

    def page(self, after: int, upto: int, limit: int) -> list[StoredRow]:
        """Up to ``limit`` stored events with ``after < position <= upto``, in log order."""
        return [
            StoredRow(
                int(position),
                originator_id.hex if isinstance(originator_id, UUID) else str(originator_id),
                int(version),
                str(topic),
                _bytes(state),
            )
            for position, originator_id, version, topic, state in self._table.rows(
                self._recorder, self._page_sql, (after, upto, limit)
            )
        ]

    def rows(self, after: int, upto: int, batch: int = 5000) -> Iterator[list[StoredRow]]:
        """Every stored event in ``(after, upto]``, a page at a time (constant memory)."""
        while after < upto:
            page = self.page(after, upto, batch)
            if not page:
                return
            yield page
            after = page[-1].position

    def locate(self, originator_id: str, version: int) -> int | None:
        """Where the event (originator id as stored, version) now lies; None if nowhere."""
        key: Any = originator_id
        if self._table.uuid_ids:
            try:
                key = UUID(originator_id)
            except ValueError:
                return None
        found = self._table.rows(self._recorder, self._locate_sql, (key, version))
        return int(found[0][0]) if found else None
