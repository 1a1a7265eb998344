"""Group commit: one writer commits many requests' events in one transaction.

A commit is what makes events durable, and it costs a flush to disk (SQLite's WAL is synced at
every commit; PostgreSQL flushes its WAL) whatever it holds: on the 2-core test machine about
4 ms. One commit per request caps the whole server at ~250 writes/s and queues every request
behind the previous ones' flushes. Here requests that arrive while a commit is under way wait
and are committed together by the next one:

- **leader and followers**: the first thread to arrive commits everything queued (its own
  events included); threads arriving meanwhile queue, and the first of them leads the next
  group. Alone, a thread commits its own events at once: no thread hop, no added wait.
- **each save apart**: every save's events go in under a savepoint of their own, so one that
  breaks a uniqueness rule (an optimistic-concurrency conflict, a repeated idempotent raise)
  is rolled back alone and its caller gets ``IntegrityError``, exactly as with a transaction
  of its own; the others are committed.
- **answered after the commit**: a save returns its positions only once the transaction that
  holds them has committed — so a 201 still means stored. When the commit fails, every save in
  the group fails with it (nothing of the group was stored).

It sits below the application, in the recorders: ``Application.save`` and everything above it
is unchanged. The wiring is ``grouped(env)`` (``bootstrap``): the same settings, with the
group-committing recorders of each backend.

A save may also carry an **expectation** (``Expecting``): another aggregate's last version,
checked in the save's own transaction (or savepoint) before its events go in. Unmet, nothing of
that save is stored and its caller gets ``ExpectationUnmet``. A raise expects the catalog's
edits at the version its process last folded, instead of reading them before every raise.

The same queue commits the few rows a request writes beside its events (``GroupedInserts``: a
raise's reporter contact, its record key, who was shown it), so that those too cost one
transaction — and one turn at SQLite's write lock, shared with the projector — per group
rather than per request.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from uuid import UUID

import psycopg
from eventsourcing.persistence import IntegrityError, Notification, PersistenceError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteFactory
from psycopg.sql import SQL, Identifier
from sqlalchemy import Engine, Table

from huying.postgres import _ONE_RETRY, BoundedPostgresRecorder, TimedPostgresFactory
from huying.projections.writer import RowWriter
from huying.sqlite_reads import OneStatementReads
from huying.sqlite_writes import write_transaction

# One transaction holds at most this many saves (a bound on how long it keeps the write lock).
MAX_GROUP = 256

W = TypeVar("W")  # what one save writes
R = TypeVar("R")  # what it is answered once committed

# A group's outcome, save by save: its notification ids, or why it alone was refused.
Outcome = Sequence[int] | IntegrityError


@dataclass(frozen=True)
class Expecting:
    """A save's condition: aggregate ``originator_id``'s last stored version is ``version`` (0:
    it has none), as the store has it when the save's events go in."""

    originator_id: UUID
    version: int


class ExpectationUnmet(IntegrityError):
    """The aggregate a save expected at a version had moved on: nothing of the save was stored."""


# What one save hands the queue: its events, and what it expects.
Work = tuple[Sequence[StoredEvent], Expecting | None]


class _Save(Generic[W, R]):
    """One save waiting in the queue: what it writes, then its outcome."""

    __slots__ = ("done", "error", "lead", "result", "wake", "work")

    def __init__(self, work: W) -> None:
        self.work = work
        self.result: R | None = None
        self.error: BaseException | None = None
        self.done = False
        self.lead = False
        # Made only for a save that has to wait its turn: alone (the usual case when the server
        # is not busy) a save leads at once, and nobody has to wake it.
        self.wake: threading.Event | None = None

    def answer(self) -> R:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]  # set by _settle when there is no error


class GroupCommit(Generic[W, R]):
    """Leader/follower queue around ``commit``, which stores a group of saves in one
    transaction and gives each save's outcome (or raises: then the whole group failed)."""

    def __init__(self, commit: Callable[[list[W]], list[R | IntegrityError]]) -> None:
        self._commit = commit
        self._lock = threading.Lock()
        self._queue: deque[_Save[W, R]] = deque()
        self._leading = False
        self.groups = 0  # transactions committed (or tried): the tests and the benchmark read it

    @property
    def waiting(self) -> int:
        """Saves queued for the next group."""
        return len(self._queue)

    def submit(self, work: W) -> R:
        """Writes ``work`` in the next group's transaction; its answer once that has
        committed."""
        me: _Save[W, R] = _Save(work)
        with self._lock:
            self._queue.append(me)
            me.lead = not self._leading
            self._leading = True
            if not me.lead:
                me.wake = threading.Event()
        while not me.lead:
            assert me.wake is not None  # made above: this save waits its turn
            me.wake.wait()
            me.wake.clear()
            if me.done:
                return me.answer()
        self._lead()
        return me.answer()

    def _lead(self) -> None:
        """Commit what is queued (this thread's save first among it), then hand the lead to the
        first save that queued meanwhile, or give it up."""
        with self._lock:
            group = [self._queue.popleft() for _ in range(min(len(self._queue), MAX_GROUP))]
        try:
            self._settle(group)
        finally:
            with self._lock:
                if self._queue:
                    nxt = self._queue[0]
                    nxt.lead = True
                    _wake(nxt)
                else:
                    self._leading = False
            for save in group:
                save.done = True
                _wake(save)

    def _settle(self, group: list[_Save[W, R]]) -> None:
        self.groups += 1
        try:
            outcomes = self._commit([save.work for save in group])
        except BaseException as e:
            for save in group:
                save.error = _copy(e)
            return
        for save, outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, IntegrityError):
                save.error = outcome
            else:
                save.result = outcome


def _wake(save: _Save[Any, Any]) -> None:
    if save.wake is not None:  # it waits (a save that led from the start never did)
        save.wake.set()


def _copy(error: BaseException) -> BaseException:
    """The group's failure, once for each of its saves (one exception object raised in many
    threads would share, and garble, its traceback)."""
    try:
        copy = type(error)(*error.args)
    except Exception:
        copy = PersistenceError(str(error))
    copy.__cause__ = error
    return copy


class GroupCommitSQLiteRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder, its saves committed in groups."""

    checks_expectations = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group_commit: GroupCommit[Work, Sequence[int]] = GroupCommit(self._commit_group)
        self._last_version = (
            f"SELECT MAX(originator_version) FROM {self.events_table_name} WHERE originator_id = ?"
        )

    def insert_events(
        self, stored_events: Sequence[StoredEvent], *, expecting: Expecting | None = None, **kwargs: Any
    ) -> Sequence[int] | None:
        return self.group_commit.submit((stored_events, expecting)) if stored_events else []

    def _commit_group(self, saves: list[Work]) -> list[Outcome]:
        if len(saves) == 1:  # alone, a save's own transaction does what its savepoint would
            try:
                with self.datastore.transaction(commit=True) as c:
                    return [self._save(c, *saves[0])]
            except IntegrityError as e:
                return [e]
        outcomes: list[Outcome] = []
        with self.datastore.transaction(commit=True) as c:
            for events, expecting in saves:
                c.execute("SAVEPOINT save")
                try:
                    outcomes.append(self._save(c, events, expecting))
                except (sqlite3.IntegrityError, ExpectationUnmet) as e:
                    c.execute("ROLLBACK TO save")
                    outcomes.append(e if isinstance(e, ExpectationUnmet) else IntegrityError(e))
                c.execute("RELEASE save")
        return outcomes

    def _save(self, c: Any, events: Sequence[StoredEvent], expecting: Expecting | None) -> Sequence[int]:
        # The insert first: a transaction whose first statement reads cannot take the write lock
        # once another connection has committed meanwhile (SQLITE_BUSY_SNAPSHOT, no waiting).
        # Unmet, the caller rolls back what this save inserted.
        ids = self._insert_events(c, events) or []
        if expecting is not None:
            c.execute(self._last_version, (expecting.originator_id.hex,))
            _judge(expecting, c.fetchone()[0])
        return ids

    def select_notifications_of_part(
        self, start: int, limit: int, stop: int, index: int, of: int
    ) -> Sequence[Notification]:
        """The notifications after ``start`` up to ``stop`` of the aggregates whose id's last
        hexadecimal digit leaves ``index`` divided by ``of`` (a rebuild's part, ``Part``): the
        others' are not read."""
        statement = (
            f"SELECT rowid, * FROM {self.events_table_name} WHERE rowid>? AND rowid<=? "
            "AND (instr('0123456789abcdef', substr(originator_id, -1)) - 1) % ? = ? ORDER BY rowid LIMIT ?"
        )
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, (start, stop, of, index, limit))
            return [
                Notification(
                    id=row["rowid"],
                    originator_id=self.convert_originator_id(row["originator_id"]),
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=row["state"],
                )
                for row in c.fetchall()
            ]


class GroupCommitSQLiteFactory(SQLiteFactory):
    application_recorder_class = GroupCommitSQLiteRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.datastore = OneStatementReads.like(self.datastore)


class GroupCommitPostgresRecorder(BoundedPostgresRecorder):
    """huying's PostgreSQL recorder, its saves committed in groups: one table lock and one
    NOTIFY per group, each save's insert under a savepoint."""

    checks_expectations = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group_commit: GroupCommit[Work, Sequence[int]] = GroupCommit(self._commit_group)
        self._last_version = SQL("SELECT MAX(originator_version) FROM {}.{} WHERE originator_id = %s").format(
            Identifier(self.datastore.schema), Identifier(self.events_table_name)
        )

    def insert_events(
        self, stored_events: Sequence[StoredEvent], *, expecting: Expecting | None = None, **kwargs: Any
    ) -> Sequence[int] | None:
        return self.group_commit.submit((stored_events, expecting)) if stored_events else []

    @_ONE_RETRY
    def _commit_group(self, saves: list[Work]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        try:
            with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
                self._lock_table(curs)  # commit order = position order (the library's reason)
                self._notify_channel(curs)
                if len(saves) == 1:  # alone, a save's own transaction does what its savepoint would
                    try:
                        return [self._save(curs, *saves[0])]
                    except ExpectationUnmet as e:
                        return [e]  # nothing of it was written: the commit stores nothing
                for events, expecting in saves:
                    try:
                        with conn.transaction():  # a savepoint
                            outcomes.append(self._save(curs, events, expecting))
                    except psycopg.IntegrityError as e:
                        outcomes.append(IntegrityError(str(e)))
                    except ExpectationUnmet as e:
                        outcomes.append(e)
        except (psycopg.IntegrityError, IntegrityError) as e:  # the datastore translates psycopg's
            if len(saves) != 1:
                raise
            return [e if isinstance(e, IntegrityError) else IntegrityError(str(e))]
        return outcomes

    def _save(self, curs: Any, events: Sequence[StoredEvent], expecting: Expecting | None) -> Sequence[int]:
        if expecting is not None:
            curs.execute(self._last_version, (expecting.originator_id,), prepare=True)
            _judge(expecting, curs.fetchone()["max"])
        PostgresAggregateRecorder._insert_stored_events(self, curs, events)
        return self._fetch_ids_after_insert_events(curs, events) or []


def _judge(expecting: Expecting, last: int | None) -> None:
    if (last or 0) != expecting.version:
        raise ExpectationUnmet(
            f"{expecting.originator_id} is at version {last or 0}, not {expecting.version}"
        )


class GroupCommitPostgresFactory(TimedPostgresFactory):
    application_recorder_class = GroupCommitPostgresRecorder


_GROUPED = {
    "eventsourcing.sqlite": f"{__name__}:{GroupCommitSQLiteFactory.__name__}",
    f"huying.postgres:{TimedPostgresFactory.__name__}": f"{__name__}:{GroupCommitPostgresFactory.__name__}",
}


# Rows for one table: the table and the rows inserted into it (all with the same columns).
Rows = tuple[Table, list[dict[str, Any]]]


class GroupedInserts:
    """Rows inserted into a database's tables, many requests' in one transaction: each
    ``insert`` returns once the transaction holding its rows has committed (or raises with the
    whole group, which then stored nothing). For fresh rows that break no rule (random keys,
    new ids): no savepoint per request, one statement per table for the whole group."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.group_commit: GroupCommit[tuple[Rows, ...], None] = GroupCommit(self._commit)
        # The read models' bulk writer: on SQLite straight to the driver, without Core's
        # per-value binding (~67k instructions a raise less, docs/benchmarks.md).
        self._writer = RowWriter(engine)

    def insert(self, *writes: Rows) -> None:
        """The rows of one request — of one table or several — stored together."""
        if any(rows for _, rows in writes):
            self.group_commit.submit(writes)

    def _commit(self, requests: list[tuple[Rows, ...]]) -> list[IntegrityError | None]:
        by_table: dict[str, Rows] = {}
        for writes in requests:
            for table, rows in writes:
                by_table.setdefault(table.name, (table, []))[1].extend(rows)
        with write_transaction(self.engine) as conn:
            for table, rows in by_table.values():
                self._writer.insert(conn, table, rows)
        return [None] * len(requests)


def grouped(env: dict[str, str]) -> dict[str, str]:
    """The library's settings for the same store, with the group-committing recorders."""
    module = env.get("PERSISTENCE_MODULE", "")
    return {**env, "PERSISTENCE_MODULE": _GROUPED.get(module, module)}
