"""huying's one source of business time. Tests and demos use the settable clock."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to (``POST /api/v1/_clock``).

    With a state file it survives a restart of the server, and it is one clock for every
    process of the deployment on this machine (API workers, `huying watch`, …): each reading
    looks at the file, and a move replaces the file whole, so no reader sees half a time.
    """

    def __init__(self, start: datetime | None = None, state_file: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._file = state_file
        self._moved: list[Callable[[], None]] = []
        self._read: tuple[tuple[int, int, int], datetime] | None = None  # the file as last read
        saved = self._load()
        self._now = saved or start or datetime.now(UTC).replace(microsecond=0)

    def now(self) -> datetime:
        # No lock: every request reads the clock several times, and under load its threads
        # queued on the lock while one looked at the file (P1 on the fake clock: ~400 → ~437
        # requests/s). A reading racing a move gets the time before or after it. It only reads:
        # ``_now`` is written by the moves alone, under the lock, so a reading cannot put back
        # the time a move is about to save.
        return self._load() or self._now  # another process may have moved it

    def set(self, now: datetime) -> None:
        with self._lock:
            self._now = now.astimezone(UTC)
            self._save()
        self._announce()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now = (self._load() or self._now) + timedelta(seconds=seconds)
            self._save()
        self._announce()

    def on_moved(self, listener: Callable[[], None]) -> None:
        """Called after every move (the deployment's other processes are told)."""
        self._moved.append(listener)

    def _announce(self) -> None:
        for listener in self._moved:
            listener()

    def _load(self) -> datetime | None:
        """The file's time, read again only when the file is another: every reading of the
        clock asks, so a bench under load paid an open, read and parse per ``now()``. A move
        replaces the file (a new inode, a new mtime), so its identity says whether it moved."""
        if self._file is None:
            return None
        try:
            seen = os.stat(self._file)
        except FileNotFoundError:
            return None
        stamp = (seen.st_ino, seen.st_mtime_ns, seen.st_size)
        if self._read is not None and self._read[0] == stamp:
            return self._read[1]
        try:
            text = self._file.read_text().strip()
        except FileNotFoundError:
            return None
        if not text:
            return None
        when = datetime.fromisoformat(text)
        self._read = (stamp, when)
        return when

    def _save(self) -> None:
        if self._file is not None:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            scratch = self._file.with_name(f".{self._file.name}.{os.getpid()}.{threading.get_ident()}")
            scratch.write_text(self._now.isoformat())
            os.replace(scratch, self._file)  # atomic: readers see the old time or the new
