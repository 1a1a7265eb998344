"""huying's one source of business time. Tests and demos use the settable clock."""

from __future__ import annotations

import threading
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

    With a state file it survives a restart of the server, so a demo or a restart test keeps
    its business time.
    """

    def __init__(self, start: datetime | None = None, state_file: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._file = state_file
        saved = self._load()
        self._now = saved or start or datetime.now(UTC).replace(microsecond=0)

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, now: datetime) -> None:
        with self._lock:
            self._now = now.astimezone(UTC)
            self._save()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._save()

    def _load(self) -> datetime | None:
        if self._file is None or not self._file.exists():
            return None
        return datetime.fromisoformat(self._file.read_text().strip())

    def _save(self) -> None:
        if self._file is not None:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            self._file.write_text(self._now.isoformat())
