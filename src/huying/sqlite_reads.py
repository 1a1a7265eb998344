"""Reads of the SQLite event store as one statement each.

The library wraps every read of its SQLite store in ``BEGIN`` … ``ROLLBACK``: three statements
where one does. Each of its reads (an aggregate's events, a page of the log, the last position)
is a single ``SELECT``, and SQLite runs a statement outside a transaction in one of its own — one
snapshot of the database, from the statement's first step to its reset — so the wrapping buys
nothing. It costs: every statement releases the interpreter's lock for SQLite's work and takes it
back, and under load each release hands the lock to another request's thread and back again.
A raise read the store twice (its earlier answer, and the recent raises since the last one): 4 of
its 19 statements were these wrappers.

A read's cursor is closed when its block ends, whatever it fetched: a statement left mid-step
(``fetchone`` of an aggregate) would otherwise keep its snapshot open, and with it the WAL from
being checkpointed. A read that needs several statements to agree needs a transaction of its own:
open one with ``BEGIN`` on the cursor.

Writes go through one connection of their own, kept open and taken in turn (a lock), rather
than the library's pool: SQLite lets one writer in at a time anyway, and the pool's turn for a
writer (its semaphore, its writer lock, its clock checks, a cursor wrapped in two context
managers) cost more than the insert it carried. Same statements: ``BEGIN``, the writes, ``COMMIT``
(or ``ROLLBACK`` on any error), SQLite's errors raised as the library's. An in-memory database
keeps the pool (another connection would be another database).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from eventsourcing import persistence
from eventsourcing.sqlite import SQLITE3_DEFAULT_LOCK_TIMEOUT, SQLiteCursor, SQLiteDatastore

# SQLite's errors as the library's persistence errors, as its own transactions raise them: the
# most specific first (they subclass one another).
_AS_PERSISTENCE_ERRORS: tuple[tuple[type[sqlite3.Error], type[persistence.PersistenceError]], ...] = (
    (sqlite3.InterfaceError, persistence.InterfaceError),
    (sqlite3.DataError, persistence.DataError),
    (sqlite3.OperationalError, persistence.OperationalError),
    (sqlite3.IntegrityError, persistence.IntegrityError),
    (sqlite3.InternalError, persistence.InternalError),
    (sqlite3.ProgrammingError, persistence.ProgrammingError),
    (sqlite3.NotSupportedError, persistence.NotSupportedError),
    (sqlite3.DatabaseError, persistence.DatabaseError),
    (sqlite3.Error, persistence.PersistenceError),
)


class OneStatementReads(SQLiteDatastore):
    """The library's SQLite datastore, its reads each one statement and its writes on a connection
    of their own (module docstring)."""

    def __init__(self, db_name: str, **kwargs: Any) -> None:
        super().__init__(db_name, **kwargs)
        self._writer: sqlite3.Connection | None = None
        self._writing = threading.Lock()

    @classmethod
    def like(cls, made: SQLiteDatastore) -> OneStatementReads:
        """One configured as ``made`` was (which is closed)."""
        pool = made.pool
        datastore = cls(
            pool.db_name,
            lock_timeout=pool.lock_timeout,
            single_row_tracking=made.single_row_tracking,
            originator_id_type=made.originator_id_type,
        )
        made.close()
        return datastore

    @contextmanager
    def transaction(self, *, commit: bool) -> Iterator[SQLiteCursor]:
        if commit and self.pool.is_sqlite_memory_mode:
            with super().transaction(commit=True) as curs:
                yield curs
            return
        if commit:
            with self._written() as curs:
                yield curs
            return
        with self.get_connection(commit=False) as conn, _translated():
            curs = conn.cursor()
            with curs:  # closed: its statement reset, its snapshot let go
                yield curs

    @contextmanager
    def _written(self) -> Iterator[SQLiteCursor]:
        """A transaction on the writers' connection, committed when the block ends."""
        with self._writing, _translated():
            writer = self._writer or self._open_writer()
            raw = writer.cursor()
            try:
                raw.execute("BEGIN")
                yield SQLiteCursor(raw)
                writer.commit()
            except BaseException:
                if writer.in_transaction:  # the block failed, or the commit did
                    writer.rollback()
                raise
            finally:
                raw.close()

    def _open_writer(self) -> sqlite3.Connection:
        pool = self.pool
        conn = sqlite3.connect(
            pool.db_name,
            uri=True,
            check_same_thread=False,  # taken in turn by whichever thread writes
            isolation_level=None,  # BEGIN and COMMIT said here, as the library says them
            timeout=pool.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT,
        )
        conn.execute("PRAGMA journal_mode=WAL")  # as the library's pool sets it
        conn.row_factory = sqlite3.Row
        self._writer = conn
        return conn

    def close(self) -> None:
        with self._writing:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        super().close()


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as e:
        wanted = next(ours for theirs, ours in _AS_PERSISTENCE_ERRORS if isinstance(e, theirs))
        raise wanted(e) from e
