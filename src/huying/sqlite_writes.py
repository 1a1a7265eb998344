"""Write transactions on SQLite that take the write lock by trying often, not by SQLite's backoff.

SQLite lets one writer into a database file at a time. A writer that finds the lock taken waits
in SQLite's busy handler, which sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50 and then 100 ms
between tries. Under P1's load on SQLite the API commits raises' contacts to huying.db group after
group, each holding the lock through its fsync, and the projector, which commits the read
models to the same file, lost its turn again and again: a quarter of its time went waiting in
its first write statement, some waits tens of milliseconds long, and P5's lag (a raise committed
→ visible in the read models) had its tail there.

``write_transaction`` takes the lock first (``BEGIN IMMEDIATE``) with SQLite's handler turned
off, trying again after 0.5, 1, 2 and then every 4 ms until the engine's lock timeout: a writer
gets in within a few milliseconds of a gap in the other writers' transactions, whichever process
it is in. (Every 0.5 ms throughout did as well for the lag, but the tries cost the API and the
duties' process ~0.1 ms of CPU a raise each.) On PostgreSQL (row locks, no file lock) it is
``engine.begin()``. The writers that commit while a load runs use it: the contacts' group
commits, the projector's batches and the chain keeper's.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

# How long a writer waits before its second try at the lock, doubled after each try up to the
# last: a wait of a few milliseconds costs a few tries, and a writer gets in within 4 ms of a gap.
_RETRY_SECONDS = 0.0005
_LONGEST_RETRY_SECONDS = 0.004


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """``engine.begin()``; on SQLite with the write lock already taken when the block starts."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            _take_write_lock(conn.connection.dbapi_connection)  # type: ignore[arg-type]
        yield conn


def _take_write_lock(raw: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE``, tried again after a pause that doubles up to
    ``_LONGEST_RETRY_SECONDS``, until the connection's busy timeout (its ``timeout``) has passed;
    then SQLite's "database is locked", as before."""
    patience_ms = int(raw.execute("PRAGMA busy_timeout").fetchone()[0])
    raw.execute("PRAGMA busy_timeout=0")
    try:
        give_up = time.monotonic() + patience_ms / 1000
        pause = _RETRY_SECONDS
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as e:
                if not _locked(e) or time.monotonic() >= give_up:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, _LONGEST_RETRY_SECONDS)
    finally:
        raw.execute(f"PRAGMA busy_timeout={patience_ms}")


def _locked(error: sqlite3.OperationalError) -> bool:
    return getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY or "locked" in str(error)
