"""Group commit: one writer commits many requests' events in one transaction.

A commit is what makes events durable, and it costs a flush to disk (SQLite's WAL is synced at
every commit; PostgreSQL flushes its WAL) whatever it holds: on the 2-core test machine about
4 ms. One commit per request caps the whole server at ~250 writes/s and queues every request
behind the previous ones' flushes. Here requests that arrive while a commit is under way wait
and are committed together by the next one:

- **leader and followers**: the first thread to arrive commits everything queued (its own
  events included); threads arriving meanwhile queue, and the first of them leads the next
  group. Alone, a thread commits its own events at once: no thread hop, no added wait.
- **each save apart**: a save that breaks a uniqueness rule (an optimistic-concurrency
  conflict, a repeated idempotent raise) is rolled back alone and its caller gets
  ``IntegrityError``, exactly as with a transaction of its own; the others are committed. A
  group goes in together — one insert, one read of what its saves expect — and, where one of
  them is refused, one by one, each save under a savepoint of its own.
- **answered after the commit**: a save returns its positions only once the transaction that
  holds them has committed — so a 201 still means stored. When the commit fails, every save in
  the group fails with it (nothing of the group was stored).
- **suspended on the event loop**: a save made by code run ``on_loop`` (``huying.onloop``) that
  may suspend never leads — that would block the loop through the commit — and never blocks:
  the queue's own committing thread leads its group, and the save suspends until woken. Only a
  queue made with ``suspends=True`` does this (the event store's); others lead and wait in
  place whoever calls them.

It sits below the application, in the recorders: ``Application.save`` and everything above it
is unchanged. The wiring is ``grouped(env)`` (``bootstrap``): the same settings, with the
group-committing recorders of each backend.

A save may also carry an **expectation** (``Expecting``): another aggregate's last version,
checked in the save's own transaction (or savepoint) before its events go in. Unmet, nothing of
that save is stored and its caller gets ``ExpectationUnmet``. A raise expects the catalog's
edits at the version its process last folded, instead of reading them before every raise.

Rows a request writes beside its events (``GroupedInserts``: a raise's reporter contact, its
record key, who was shown it) are committed in groups too, so that those too cost one
transaction — and one turn at SQLite's write lock, shared with the projector — per group rather
than per request. A save may carry such rows with its events (``RowsBeside``): the events'
leader commits the group's rows first, in their database's transaction, then the events, and
the request waits its turn once rather than twice.
"""

from __future__ import annotations

import asyncio
import copy
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, Protocol, TypeVar
from uuid import UUID

import psycopg
from eventsourcing.persistence import IntegrityError, Notification, PersistenceError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteFactory
from psycopg.sql import SQL, Identifier
from sqlalchemy import Engine, Table

from huying import onloop
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


class Beside(Protocol):
    """What a save stores before its events (``HuyingApplication.save``'s ``beside``), so that
    a stored event never names something that is not there."""

    def store(self) -> None:
        """Stored alone, in a transaction of its own: where the store takes nothing beside its
        events."""
        ...


class StoredBy:
    """A ``Beside`` a function stores: where what is kept beside the events has a store of its
    own kind (the in-memory contacts of unit tests, the synthetic history's batches)."""

    def __init__(self, store: Callable[[], None]) -> None:
        self._store = store

    def store(self) -> None:
        self._store()


class Save(NamedTuple):
    """What one save hands the queue: its events, what it expects, and rows that go before
    them."""

    events: Sequence[StoredEvent]
    expecting: Expecting | None = None
    beside: RowsBeside | None = None


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
        # is not busy) a save leads at once, and nobody has to wake it. A suspended save's is its
        # event loop's (``_Woken``), and it never leads.
        self.wake: threading.Event | _Woken | None = None

    def answer(self) -> R:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]  # set by _settle when there is no error


class GroupCommit(Generic[W, R]):
    """Leader/follower queue around ``commit``, which stores a group of saves in one
    transaction and gives each save's outcome (or raises: then the whole group failed)."""

    def __init__(
        self, commit: Callable[[list[W]], list[R | IntegrityError]], *, suspends: bool = False
    ) -> None:
        self._commit = commit
        self._lock = threading.Lock()
        self._queue: deque[_Save[W, R]] = deque()
        self._leading = False
        self.suspends = suspends  # its saves made on the event loop suspend (``onloop``)
        # Leads the groups of suspended saves (its one thread starts with the first of them).
        self._committer = ThreadPoolExecutor(1, thread_name_prefix="huying-commit") if suspends else None
        self.groups = 0  # transactions committed (or tried): the tests and the benchmark read it

    @property
    def waiting(self) -> int:
        """Saves queued for the next group."""
        return len(self._queue)

    def close(self) -> None:
        """Lets the committing thread go, once the group it leads (if any) is stored: the store
        closes next. Left alone, an idle one outlived every closed application of the process."""
        if self._committer is not None:
            self._committer.shutdown(wait=True)

    def submit(self, work: W) -> R:
        """Writes ``work`` in the next group's transaction; its answer once that has
        committed."""
        if self.suspends and onloop.suspendable():
            return self._suspended(work)
        me: _Save[W, R] = _Save(work)
        with self._lock:
            self._queue.append(me)
            me.lead = not self._leading
            self._leading = True
            if not me.lead:
                me.wake = woken = threading.Event()
        while not me.lead:
            woken.wait()  # made above: this save waits its turn
            woken.clear()
            if me.done:
                return me.answer()
        self._lead()
        return me.answer()

    def _suspended(self, work: W) -> R:
        """``submit`` from code on the event loop: queued, led by the committing thread if no
        one leads, and suspended until its group has committed."""
        me: _Save[W, R] = _Save(work)
        me.wake = woken = _Woken(asyncio.get_running_loop())
        with self._lock:
            self._queue.append(me)
            idle, self._leading = not self._leading, True
        if idle:
            self._lead_in_committer()
        onloop.suspend_until(woken.done)
        return me.answer()

    def _lead_in_committer(self) -> None:
        assert self._committer is not None  # a queue whose saves suspend has one
        self._committer.submit(self._lead)

    def _lead(self) -> None:
        """Commit what is queued (this thread's save first among it), then hand the lead to the
        first save that queued meanwhile — the committing thread, for a suspended one — or give
        it up."""
        with self._lock:
            group = [self._queue.popleft() for _ in range(min(len(self._queue), MAX_GROUP))]
        try:
            self._settle(group)
        finally:
            with self._lock:
                if not self._queue:
                    self._leading = False
                elif isinstance(self._queue[0].wake, _Woken):
                    self._lead_in_committer()
                else:
                    nxt = self._queue[0]
                    nxt.lead = True
                    _wake(nxt)
            for save in group:
                save.done = True
            _wake_all(group)

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


class _Woken:
    """How a suspended save is woken: its future, set on its event loop."""

    __slots__ = ("done", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.done: asyncio.Future[None] = loop.create_future()


def _wake(save: _Save[Any, Any]) -> None:
    if isinstance(save.wake, threading.Event):  # it waits (a save that led from the start never did)
        save.wake.set()
    elif save.wake is not None:
        _wake_all([save])


def _wake_all(group: Iterable[_Save[Any, Any]]) -> None:
    """Wakes the group's saves: threads one by one, suspended ones with one call per loop."""
    on_loops: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for save in group:
        if isinstance(save.wake, _Woken):
            on_loops.setdefault(save.wake.loop, []).append(save.wake.done)
        elif save.wake is not None:
            save.wake.set()
    for loop, futures in on_loops.items():
        with suppress(RuntimeError):  # its loop closed (the server gone): nobody is left to wake
            loop.call_soon_threadsafe(_resolved, futures)


def _resolved(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)


def _copy(error: BaseException) -> BaseException:
    """The group's failure, once for each of its saves (one exception object raised in many
    threads would share, and garble, its traceback) — of its own type, so that a caller catches
    what it would have caught alone: SQLAlchemy's ``IntegrityError`` of a row another process
    inserted first, say, which its constructor cannot make again from its ``args`` (copied as
    pickling would, it can)."""
    try:
        duplicate = copy.copy(error)
    except Exception:
        duplicate = PersistenceError(str(error))
    duplicate.__traceback__ = None
    duplicate.__cause__ = error
    return duplicate


def let_go(recorder: object) -> None:
    """Closes the group commit of ``recorder``, if it is one of this module's."""
    grouped = getattr(recorder, "group_commit", None)
    if isinstance(grouped, GroupCommit):
        grouped.close()


class GroupCommitSQLiteRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder, its saves committed in groups."""

    checks_expectations = True
    stores_beside = True  # takes rows to store before the events (``RowsBeside``)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group_commit: GroupCommit[Save, Sequence[int]] = GroupCommit(self._commit_group, suspends=True)
        self._last_version = (
            f"SELECT MAX(originator_version) FROM {self.events_table_name} WHERE originator_id = ?"
        )
        self._last_versions = (
            f"SELECT originator_id, MAX(originator_version) FROM {self.events_table_name}"
            " WHERE originator_id IN ({marks}) GROUP BY originator_id"
        )

    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        expecting: Expecting | None = None,
        beside: RowsBeside | None = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        return _submitted(self.group_commit, Save(stored_events, expecting, beside))

    def _commit_group(self, saves: list[Save]) -> list[Outcome]:
        store_beside(saves)
        if len(saves) == 1:  # alone, a save's own transaction does what its savepoint would
            try:
                with self.datastore.transaction(commit=True) as c:
                    return [self._save(c, saves[0].events, saves[0].expecting)]
            except IntegrityError as e:
                return [e]
        outcomes: list[Outcome] = []
        with self.datastore.transaction(commit=True) as c:
            together = self._together(c, saves)
            if together is not None:
                return together
            for events, expecting, _ in saves:
                c.execute("SAVEPOINT save")
                try:
                    outcomes.append(self._save(c, events, expecting))
                except (sqlite3.IntegrityError, ExpectationUnmet) as e:
                    c.execute("ROLLBACK TO save")
                    outcomes.append(e if isinstance(e, ExpectationUnmet) else IntegrityError(e))
                c.execute("RELEASE save")
        return outcomes

    def _together(self, c: Any, saves: list[Save]) -> list[Outcome] | None:
        """The group's saves in one go, and one read of what they expect (``together``): the
        inserts first, as in ``_save``."""
        if entangled(saves):
            return None
        c.execute("SAVEPOINT together")
        try:
            ids = list(self._insert_events(c, [event for save in saves for event in save.events]) or [])
            expected = expected_ids(saves)
            if expected:
                marks = ",".join("?" * len(expected))
                c.execute(self._last_versions.format(marks=marks), [e.hex for e in expected])
                met = all_met(saves, {UUID(hex=row[0]): row[1] for row in c.fetchall()})
            else:
                met = True
        except sqlite3.IntegrityError:
            met = False
        if not met:  # one by one, to tell which save is refused (its savepoint's job)
            c.execute("ROLLBACK TO together")
        c.execute("RELEASE together")
        return split(saves, ids) if met else None

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
    NOTIFY per group, and the group's events in one insert (``_together``) — or, where that
    cannot tell its saves apart, each save's insert under a savepoint."""

    checks_expectations = True
    stores_beside = True  # takes rows to store before the events (``RowsBeside``)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group_commit: GroupCommit[Save, Sequence[int]] = GroupCommit(self._commit_group, suspends=True)
        self._last_version = SQL("SELECT MAX(originator_version) FROM {}.{} WHERE originator_id = %s").format(
            Identifier(self.datastore.schema), Identifier(self.events_table_name)
        )
        self._last_versions = SQL(
            "SELECT originator_id, MAX(originator_version) AS max FROM {}.{}"
            " WHERE originator_id = ANY(%s) GROUP BY originator_id"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))

    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        expecting: Expecting | None = None,
        beside: RowsBeside | None = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        return _submitted(self.group_commit, Save(stored_events, expecting, beside))

    def _commit_group(self, saves: list[Save]) -> list[Outcome]:
        store_beside(saves)  # once: not again with the events' one retry
        outcomes: list[Outcome] = self._commit_events(saves)
        return outcomes

    @_ONE_RETRY
    def _commit_events(self, saves: list[Save]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        try:
            with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
                self._lock_table(curs)  # commit order = position order (the library's reason)
                self._notify_channel(curs)
                if len(saves) == 1:  # alone, a save's own transaction does what its savepoint would
                    try:
                        return [self._save(curs, saves[0].events, saves[0].expecting)]
                    except ExpectationUnmet as e:
                        return [e]  # nothing of it was written: the commit stores nothing
                together = self._together(conn, curs, saves)
                if together is not None:
                    return together
                for events, expecting, _ in saves:
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

    def _together(self, conn: Any, curs: Any, saves: list[Save]) -> list[Outcome] | None:
        """The group's saves in one insert and one read of what they expect (``together``)."""
        if entangled(saves):
            return None
        events = [event for save in saves for event in save.events]
        try:
            with conn.transaction():  # a savepoint: going apart leaves the group as it was
                PostgresAggregateRecorder._insert_stored_events(self, curs, events)
                ids = list(self._fetch_ids_after_insert_events(curs, events) or [])
                expected = expected_ids(saves)
                if expected:
                    curs.execute(self._last_versions, (expected,), prepare=True)
                    if not all_met(saves, {row["originator_id"]: row["max"] for row in curs.fetchall()}):
                        raise _GoApart
        except (psycopg.IntegrityError, _GoApart):
            return None
        return split(saves, ids)

    def _save(self, curs: Any, events: Sequence[StoredEvent], expecting: Expecting | None) -> Sequence[int]:
        if expecting is not None:
            curs.execute(self._last_version, (expecting.originator_id,), prepare=True)
            _judge(expecting, curs.fetchone()["max"])
        PostgresAggregateRecorder._insert_stored_events(self, curs, events)
        return self._fetch_ids_after_insert_events(curs, events) or []


def _submitted(queue: GroupCommit[Save, Sequence[int]], save: Save) -> Sequence[int]:
    if save.events:
        return queue.submit(save)
    if save.beside is not None:  # no events to go with
        save.beside.store()
    return []


def store_beside(saves: Sequence[Save]) -> None:
    """The rows a group's saves carry beside their events: each database's in one transaction,
    before the events' (raises, and the group fails whole, if it cannot commit). When a save's
    events are then refused, its caller undoes its rows, as it would had they committed alone
    first (``CommandPath.create``)."""
    into: dict[int, tuple[GroupedInserts, list[tuple[Rows, ...]]]] = {}
    for save in saves:
        if save.beside is not None:
            into.setdefault(id(save.beside.into), (save.beside.into, []))[1].append(save.beside.writes)
    for inserts, writes in into.values():
        inserts.commit(writes)


def _judge(expecting: Expecting, last: int | None) -> None:
    if (last or 0) != expecting.version:
        raise ExpectationUnmet(
            f"{expecting.originator_id} is at version {last or 0}, not {expecting.version}"
        )


# --- a group's saves together --------------------------------------------------------------------
#
# Each save of a group under a savepoint of its own, with its expectation read apart, costs four
# statements a save (on PostgreSQL each a round trip, its parameters dumped in Python). A group
# whose saves break no rule and meet what they expect goes ``together``: its events inserted in
# the saves' order (the positions come back in that order, as the library's insert of one save's
# events takes them), every expectation read in one statement, under one savepoint. Where that
# cannot tell the saves apart, the savepoint is rolled back and they go one by one, as before:
# a save expects what another of the group writes (it must see that write), an insert breaks a
# uniqueness rule, or an expectation is unmet (which save's is found one by one).


class _GoApart(Exception):
    """The group cannot go together (raised inside its savepoint, to roll it back)."""


def entangled(saves: Sequence[Save]) -> bool:
    """Whether a save of the group expects an aggregate that another of them writes."""
    expected = expected_ids(saves)
    return bool(expected) and any(event.originator_id in expected for save in saves for event in save.events)


def expected_ids(saves: Sequence[Save]) -> list[UUID]:
    return list({save.expecting.originator_id for save in saves if save.expecting is not None})


def all_met(saves: Sequence[Save], last: dict[UUID, int]) -> bool:
    """Whether every save's expectation holds, ``last`` giving the expected aggregates' last
    versions (an aggregate with no events is not in it)."""
    return all(
        save.expecting.version == last.get(save.expecting.originator_id, 0)
        for save in saves
        if save.expecting is not None
    )


def split(saves: Sequence[Save], ids: Sequence[int]) -> list[Outcome]:
    """The positions of a group's events, inserted in the saves' order, save by save."""
    if len(ids) != sum(len(save.events) for save in saves):
        raise PersistenceError(f"{len(ids)} positions for {sum(len(s.events) for s in saves)} events")
    outcomes: list[Outcome] = []
    at = 0
    for save in saves:
        outcomes.append(ids[at : at + len(save.events)])
        at += len(save.events)
    return outcomes


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

    def beside(self, *writes: Rows) -> RowsBeside:
        """The rows of one request, to be stored with its events: by the events' leader when
        their store commits in groups too, else alone first (``RowsBeside``)."""
        return RowsBeside(self, writes)

    def commit(self, requests: list[tuple[Rows, ...]]) -> None:
        """Several requests' rows in one transaction, at once (the caller leads a group)."""
        self._commit(requests)

    def _commit(self, requests: list[tuple[Rows, ...]]) -> list[IntegrityError | None]:
        by_table: dict[str, Rows] = {}
        for writes in requests:
            for table, rows in writes:
                by_table.setdefault(table.name, (table, []))[1].extend(rows)
        with write_transaction(self.engine) as conn:
            for table, rows in by_table.values():
                self._writer.insert(conn, table, rows)
        return [None] * len(requests)


@dataclass(frozen=True)
class RowsBeside:
    """A request's rows for ``into``, stored before its events (``Beside``): by the events'
    leader, in the same turn of the queue, when the events' store commits in groups
    (``stores_beside``); else alone, first."""

    into: GroupedInserts
    writes: tuple[Rows, ...]

    def store(self) -> None:
        self.into.insert(*self.writes)


def grouped(env: dict[str, str]) -> dict[str, str]:
    """The library's settings for the same store, with the group-committing recorders."""
    module = env.get("PERSISTENCE_MODULE", "")
    return {**env, "PERSISTENCE_MODULE": _GROUPED.get(module, module)}
