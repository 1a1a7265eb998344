"""Log positions of stored events: what the notification log calls an event's id.

The library's repository gives events but not their positions, so each backend's recorder is
asked directly — one indexed query per call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder


class EventPositions:
    def __init__(self, recorder: ApplicationRecorder) -> None:
        self._recorder: Any = recorder
        table = getattr(recorder, "events_table_name", "stored_events")
        self._id: Callable[[UUID], Any]
        if type(recorder).__module__ == "eventsourcing.sqlite":
            self._sql = (
                f"SELECT originator_version AS version, rowid AS position FROM {table} WHERE originator_id=?"
            )
            self._id = self._sqlite_id
        elif type(recorder).__module__ == "eventsourcing.postgres":
            self._sql = (
                f"SELECT originator_version AS version, notification_id AS position FROM {table} "
                "WHERE originator_id=%s"
            )
            self._id = self._postgres_id
        else:
            raise TypeError(f"no position query for recorder {type(recorder).__name__}")

    def of_call(self, call_id: UUID) -> dict[int, int]:
        """Version → log position for every event of one call."""
        with self._recorder.datastore.transaction(commit=False) as curs:
            curs.execute(self._sql, (self._id(call_id),))
            # By name: SQLite's rows are sqlite3.Row, PostgreSQL's are dicts.
            return {int(row["version"]): int(row["position"]) for row in curs.fetchall()}

    @staticmethod
    def _sqlite_id(call_id: UUID) -> str:
        return call_id.hex

    @staticmethod
    def _postgres_id(call_id: UUID) -> UUID:
        return call_id
