"""Locks that at most one process of a deployment holds: one per duty (``huying.duties``), and
one for migrating the schema.

On PostgreSQL a lock is a session-level advisory lock on a connection of its own, keyed by name
and schema: the server drops it the moment that session ends, however its process died. On
SQLite (one machine) it is an ``flock`` on a file beside the database, which the kernel drops
when the process dies. Neither ever blocks; ``exclusively`` waits by trying again.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, text

from huying.settings import Settings

log = logging.getLogger(__name__)


class DutyLock(Protocol):
    """At most one holder in the deployment. Never blocks."""

    # Why the last ``acquire`` could not ask (the database did not answer); None when it could.
    failure: Exception | None

    def acquire(self) -> bool:
        """Take the lock, or confirm it is still held; False while someone else holds it (or the
        database cannot be reached: whoever cannot confirm the lock stops the duty)."""
        ...

    def release(self) -> None: ...


def lock_key(schema: str, name: str) -> int:
    """The advisory lock's 64-bit key: the same in every process of the deployment, different
    for every schema and duty."""
    digest = hashlib.sha256(f"huying:{schema}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLock:
    """``pg_try_advisory_lock`` on a connection that does nothing else."""

    def __init__(self, settings: Settings, name: str) -> None:
        from huying.postgres import schema_of

        self._settings = settings
        self.name = name
        self.key = lock_key(schema_of(settings), name)
        self.failure: Exception | None = None
        self._conn: Any = None
        self._held = False

    def acquire(self) -> bool:
        import psycopg

        try:
            if self._conn is None:
                self._conn = self._connect()
            if self._held:
                self._conn.execute("SELECT 1")  # the session lives, so the lock is still ours
            else:
                row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
                self._held = bool(row and row[0])
        except psycopg.Error as e:
            if self.failure is None:  # said once, not at every retry while the database is away
                log.warning("lock %s: the database does not answer: %s", self.name, _first_line(e))
            self.failure = e
            self._drop()
            return False
        self.failure = None
        return self._held

    def release(self) -> None:
        self._drop()  # closing the session releases its advisory locks

    def _connect(self) -> Any:
        from huying.postgres import connect

        return connect(self._settings)

    def _drop(self) -> None:
        conn, self._conn, self._held = self._conn, None, False
        if conn is not None:
            conn.close()


def _first_line(e: Exception) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__


class FileLock:
    """``flock`` on a file: one holder among the processes of one machine."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.failure: Exception | None = None  # a local file: it always answers
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the last descriptor releases the lock

    def held_anywhere(self) -> bool:
        """Whether any process (this one included) holds it now: a shared lock is refused."""
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # a shared lock taken only to look is gone with its descriptor
        return False

    def _open(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)


def duty_lock(settings: Settings, name: str) -> DutyLock:
    """The deployment's lock called ``name`` (a duty, or ``migrate``)."""
    if settings.on_postgres:
        return AdvisoryLock(settings, name)
    return FileLock(_lock_file(settings, name))


def _lock_file(settings: Settings, name: str) -> Path:
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    return database.with_name(f"{database.name}.{name}.lock")


def held(settings: Settings, engine: Engine, names: Iterable[str]) -> dict[str, bool]:
    """Which of the locks ``names`` some process of the deployment holds now (for monitoring).
    PostgreSQL shows a bigint advisory key in pg_locks as its high half (classid) and low half
    (objid)."""
    if not settings.on_postgres:
        return {name: FileLock(_lock_file(settings, name)).held_anywhere() for name in names}
    from huying.postgres import schema_of

    halves = {name: _halves(lock_key(schema_of(settings), name)) for name in names}
    with engine.connect() as conn:
        taken = {
            (int(row.classid), int(row.objid))
            for row in conn.execute(
                text(
                    "SELECT classid, objid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND objsubid = 1 AND database = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database())"
                )
            )
        }
    return {name: key in taken for name, key in halves.items()}


def _halves(key: int) -> tuple[int, int]:
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    return unsigned >> 32, unsigned & 0xFFFF_FFFF


@contextmanager
def exclusively(settings: Settings, name: str, timeout: float = 600.0) -> Iterator[None]:
    """Hold the deployment's lock ``name`` for a block, waiting for it at most ``timeout``
    seconds (processes started together must not migrate one schema at once)."""
    lock = duty_lock(settings, name)
    deadline = time.monotonic() + timeout
    while not lock.acquire():
        if lock.failure is not None:
            raise lock.failure  # no database: nothing to wait for
        if time.monotonic() > deadline:
            raise TimeoutError(f"another process held the {name} lock for more than {timeout:.0f} s")
        time.sleep(0.1)
    try:
        yield
    finally:
        lock.release()
