"""Log positions of stored events: what the notification log calls an event's id.

The library's repository gives events but not their positions, so each backend's recorder is
asked directly — one indexed query per call. ``EventTable`` is the one place that knows how each
backend's recorder lays out its table (its name, schema, position column and placeholder).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder


@dataclass(frozen=True)
class EventTable:
    """The recorder's events table as SQL sees it."""

    name: str  # qualified where the backend has schemas
    position: str  # the column holding the log position (the notification id)
    param: str  # the driver's placeholder
    uuid_ids: bool  # originator ids are native UUIDs (else 32 hex digits as text)

    @classmethod
    def of(cls, recorder: ApplicationRecorder) -> EventTable:
        from eventsourcing.postgres import PostgresApplicationRecorder
        from eventsourcing.sqlite import SQLiteApplicationRecorder

        table = getattr(recorder, "events_table_name", "stored_events")
        if isinstance(recorder, SQLiteApplicationRecorder):
            return cls(table, "rowid", "?", uuid_ids=False)
        if isinstance(recorder, PostgresApplicationRecorder):  # huying's bounded one too
            schema = recorder.datastore.schema
            return cls(f'"{schema}"."{table}"', "notification_id", "%s", uuid_ids=True)
        raise TypeError(f"no SQL for the events of recorder {type(recorder).__name__}")

    def sql(self, text: str) -> str:
        """``text`` with ``{events}``, ``{position}`` and ``?`` filled in for this backend."""
        return text.format(events=self.name, position=self.position).replace("?", self.param)

    def key(self, originator_id: UUID) -> Any:
        """An originator id as the store's parameter."""
        return originator_id if self.uuid_ids else originator_id.hex


class EventPositions:
    def __init__(self, recorder: ApplicationRecorder) -> None:
        self._recorder: Any = recorder
        self._table = EventTable.of(recorder)
        self._sql = self._table.sql(
            "SELECT originator_version AS version, {position} AS position FROM {events} WHERE originator_id=?"
        )

    def of_call(self, call_id: UUID) -> dict[int, int]:
        """Version → log position for every event of one call."""
        with self._recorder.datastore.transaction(commit=False) as curs:
            curs.execute(self._sql, (self._table.key(call_id),))
            # By name: SQLite's rows are sqlite3.Row, PostgreSQL's are dicts.
            return {int(row["version"]): int(row["position"]) for row in curs.fetchall()}
