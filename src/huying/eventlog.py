"""Log positions of stored events: what the notification log calls an event's id.

The library's repository gives events but not their positions, so each backend's recorder is
asked directly — one indexed query per aggregate. ``EventTable`` is the one place that knows how
each backend's recorder lays out its table (its name, schema, position column and placeholder).

An event's position is fixed when it is stored, so ``Positions`` remembers the positions it has
read or been told of (``saved``) for the aggregates lately in play, and ``at`` answers from
them without asking the store. What audits the log — a history, a verification — reads the
rows themselves (``logged``) every time.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification
from psycopg.rows import tuple_row

from huying.recently_used import RecentlyUsed

# Aggregates whose positions are remembered at once, the least lately used forgotten first (as
# ``known_events``): a few hundred calls are in play in a district at any moment.
KNOWN_AGGREGATES = 1024


@dataclass(frozen=True)
class EventTable:
    """The recorder's events table as SQL sees it."""

    name: str  # qualified where the backend has schemas
    position: str  # the column holding the log position (the notification id)
    param: str  # the driver's placeholder
    uuid_ids: bool  # originator ids are native UUIDs (else 32 hex digits as text)
    autocommit: bool  # a read needs no transaction of its own: one round trip (PostgreSQL)

    @classmethod
    def of(cls, recorder: ApplicationRecorder) -> EventTable:
        from eventsourcing.postgres import PostgresApplicationRecorder
        from eventsourcing.sqlite import SQLiteApplicationRecorder

        table = getattr(recorder, "events_table_name", "stored_events")
        if isinstance(recorder, SQLiteApplicationRecorder):
            return cls(table, "rowid", "?", uuid_ids=False, autocommit=False)
        if isinstance(recorder, PostgresApplicationRecorder):  # huying's bounded one too
            schema = recorder.datastore.schema
            return cls(f'"{schema}"."{table}"', "notification_id", "%s", uuid_ids=True, autocommit=True)
        raise TypeError(f"no SQL for the events of recorder {type(recorder).__name__}")

    def sql(self, text: str) -> str:
        """``text`` with ``{events}``, ``{position}`` and ``?`` filled in for this backend."""
        return text.format(events=self.name, position=self.position).replace("?", self.param)

    def key(self, originator_id: UUID) -> Any:
        """An originator id as the store's parameter."""
        return originator_id if self.uuid_ids else originator_id.hex

    def rows(self, recorder: Any, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """The rows a read-only statement answers, by the backend's cheapest way: on PostgreSQL
        a prepared statement on an autocommit connection (as the library's own ``select_events``),
        on SQLite the statement alone, in its own snapshot (``sqlite_reads``). Each row is read by
        the position of its column in the statement: on PostgreSQL a tuple, in the binary format
        (a state's bytes as they are, not as hex text to decode; no dict made per row), on SQLite
        a ``sqlite3.Row``."""
        if self.autocommit:
            with (
                recorder.datastore.get_connection() as conn,
                conn.cursor(row_factory=tuple_row, binary=True) as curs,
            ):
                curs.execute(sql, params, prepare=True)
                return list(curs.fetchall())
        with recorder.datastore.transaction(commit=False) as curs:
            curs.execute(sql, params)
            return list(curs.fetchall())


class Positions(ABC):
    """Where an aggregate's events lie in the log: asked of the store, remembered once known."""

    def __init__(self, size: int = KNOWN_AGGREGATES) -> None:
        self._known: RecentlyUsed[UUID, dict[int, int]] = RecentlyUsed(size)
        self._lock = threading.Lock()

    @abstractmethod
    def of_call(self, call_id: UUID) -> dict[int, int]:
        """Version → log position for every stored event of one aggregate, read now."""

    @abstractmethod
    def _logged(self, aggregate_id: UUID) -> list[Notification]: ...

    def logged(self, aggregate_id: UUID) -> list[Notification]:
        """Every stored event of the aggregate with its log position, in version order, read now
        (one query): the rows as they lie, for the mapper to vouch for where they lie."""
        found = self._logged(aggregate_id)
        self._remember(aggregate_id, ((n.originator_version, n.id) for n in found))
        return found

    def at(self, aggregate_id: UUID, version: int) -> int:
        """The log position of the aggregate's event at ``version``; KeyError if none is stored."""
        with self._lock:
            known = self._known.get(aggregate_id)
            position = known.get(version) if known is not None else None
        if position is not None:
            return position
        positions = self.of_call(aggregate_id)
        self._remember(aggregate_id, positions.items())
        return positions[version]

    def saved(self, stored: Iterable[tuple[UUID, int, int]]) -> None:
        """Events this process just stored: (aggregate, version, the position the store gave)."""
        with self._lock:
            for aggregate_id, version, position in stored:
                self._keep(aggregate_id, ((version, position),))

    def _remember(self, aggregate_id: UUID, positions: Iterable[tuple[int, int]]) -> None:
        with self._lock:
            self._keep(aggregate_id, positions)

    def _keep(self, aggregate_id: UUID, positions: Iterable[tuple[int, int]]) -> None:
        known = self._known.get(aggregate_id)
        if known is None:
            known = {}
            self._known.put(aggregate_id, known)
        known.update(positions)


class EventPositions(Positions):
    """Positions in a SQL store: one indexed query per aggregate."""

    def __init__(self, recorder: ApplicationRecorder) -> None:
        super().__init__()
        self._recorder: Any = recorder
        self._table = table = EventTable.of(recorder)
        self._positions_sql = table.sql(
            "SELECT originator_version AS version, {position} AS position FROM {events} WHERE originator_id=?"
        )
        self._logged_sql = table.sql(
            "SELECT originator_version AS version, {position} AS position, topic, state FROM {events} "
            "WHERE originator_id=? ORDER BY originator_version"
        )

    def of_call(self, call_id: UUID) -> dict[int, int]:
        rows = self._table.rows(self._recorder, self._positions_sql, (self._table.key(call_id),))
        return {int(version): int(position) for version, position in rows}

    def _logged(self, aggregate_id: UUID) -> list[Notification]:
        rows = self._table.rows(self._recorder, self._logged_sql, (self._table.key(aggregate_id),))
        return [
            Notification(
                id=int(position),
                originator_id=aggregate_id,
                originator_version=int(version),
                topic=str(topic),
                state=bytes(state),
            )
            for version, position, topic, state in rows
        ]
