"""huying's one source of business time. Tests and demos use the settable clock."""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
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
    process of the deployment on this machine (API workers, `huying watch`, …): a move replaces
    the file whole, so no reader sees half a time, and then counts itself in the file's move
    counter (``MoveCount``), which every process holds mapped in memory. A reading compares
    that count with the one it last read the file at — a read of memory, no system call — and
    reads the file again only when the clock has moved since.
    """

    def __init__(self, start: datetime | None = None, state_file: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._file = state_file
        self._moves = MoveCount(state_file.with_name(f".{state_file.name}.moves")) if state_file else None
        self._moved: list[Callable[[], None]] = []
        self._read: tuple[int, datetime | None] | None = None  # the move count and the file's time
        saved = self._load()
        self._now = saved or start or datetime.now(UTC).replace(microsecond=0)

    def now(self) -> datetime:
        # No lock: every request reads the clock several times, and under load its threads
        # queued on the lock (P1 on the fake clock: ~400 → ~437 requests/s). Nor a system call:
        # a ``stat`` of the file at each reading, three a raise, each letting the loop's thread
        # give up the interpreter mid-request, held P1 on SQLite at 0.35× bare against 0.41×
        # without (six alternating pairs; docs/benchmarks.md). A reading racing a move gets the
        # time before or after it. It only reads: ``_now`` is written by the moves alone, under
        # the lock, so a reading cannot put back the time a move is about to save.
        return self._load() or self._now  # another process may have moved it

    def set(self, now: datetime) -> None:
        with self._moving():
            self._now = now.astimezone(UTC)
            self._save()
        self._announce()

    def advance(self, seconds: float) -> None:
        with self._moving():
            self._now = (self._load() or self._now) + timedelta(seconds=seconds)
            self._save()
        self._announce()

    def on_moved(self, listener: Callable[[], None]) -> None:
        """Called after every move (the deployment's other processes are told)."""
        self._moved.append(listener)

    def _announce(self) -> None:
        for listener in self._moved:
            listener()

    @contextmanager
    def _moving(self) -> Iterator[None]:
        """One move at a time: of this process's threads, and of every process on the machine
        (an advance reads the time and saves it moved, and no other move comes between)."""
        with self._lock, self._moves.held() if self._moves is not None else nullcontext():
            yield

    def _load(self) -> datetime | None:
        """The file's time, read again only when the clock has moved since it was last read."""
        if self._file is None or self._moves is None:
            return None
        count = self._moves.value()
        if self._read is not None and self._read[0] == count:
            return self._read[1]
        try:
            text = self._file.read_text().strip()
        except FileNotFoundError:
            text = ""
        when = datetime.fromisoformat(text) if text else None
        self._read = (count, when)
        return when

    def _save(self) -> None:
        if self._file is not None and self._moves is not None:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            scratch = self._file.with_name(f".{self._file.name}.{os.getpid()}.{threading.get_ident()}")
            scratch.write_text(self._now.isoformat())
            os.replace(scratch, self._file)  # atomic: readers see the old time or the new
            self._moves.bump()  # after the file: a reader that sees the count reads the new time


class MoveCount:
    """How many times a settable clock's file has been replaced: eight bytes of a file of its
    own, mapped shared into every process that reads the clock, so that a reading costs a read
    of memory. Bumped under an exclusive ``flock`` of the file (``held``). A reading that races a
    bump reads a count that is neither the one before nor the one after at worst — it differs
    from the one last read, so the reader reads the file again, which is always right."""

    SIZE = 8

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < self.SIZE:
                os.ftruncate(fd, self.SIZE)  # zeros; never shortens a count another wrote
            self._map = mmap.mmap(fd, self.SIZE)  # shared: every process sees every bump
        finally:
            os.close(fd)  # the map keeps the file

    def value(self) -> int:
        count: int = _COUNT.unpack_from(self._map)[0]
        return count

    @contextmanager
    def held(self) -> Iterator[None]:
        """The machine-wide lock of the clock's moves."""
        fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # lets go of the lock

    def bump(self) -> None:
        """One more move (under ``held``)."""
        _COUNT.pack_into(self._map, 0, self.value() + 1)


_COUNT = struct.Struct("<Q")
