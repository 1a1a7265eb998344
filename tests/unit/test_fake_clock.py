"""The demo's settable clock is one clock for every process on the machine: a move by one is
the time every other reads next, however quickly the moves follow each other."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from huying.clock import FakeClock

START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def test_every_move_of_one_clock_is_the_time_the_other_reads_next(tmp_path: Path) -> None:
    state = tmp_path / "fake-clock.txt"
    mover = FakeClock(START, state_file=state)
    mover.set(START)
    reader = FakeClock(state_file=state)

    assert reader.now() == START
    for second in range(1, 50):  # moves far quicker than the file system's time stamps tick
        mover.advance(1)
        assert reader.now() == START.replace(second=second)


def test_a_clock_reads_its_file_again_only_when_the_file_was_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "fake-clock.txt"
    FakeClock(START, state_file=state).set(START)
    reader = FakeClock(state_file=state)
    reads = 0
    read_text = Path.read_text

    def counted(self: Path) -> str:
        nonlocal reads
        reads += 1
        return read_text(self)

    monkeypatch.setattr(Path, "read_text", counted)
    for _ in range(100):
        assert reader.now() == START
    assert reads == 0

    FakeClock(state_file=state).advance(60)
    assert reader.now() == START.replace(minute=1)
    assert reads == 2  # the new clock's first reading, and the reader's after the move


def test_readings_while_the_clock_moves_never_undo_a_move(tmp_path: Path) -> None:
    """Readings take no lock (a server's threads read the clock several times a request): one
    racing a move sees the time before or after it, and never puts the earlier one back."""
    clock = FakeClock(START, state_file=tmp_path / "fake-clock.txt")
    clock.set(START)
    done = threading.Event()
    seen: list[datetime] = []

    def read() -> None:
        while not done.is_set():
            seen.append(clock.now())

    readers = [threading.Thread(target=read) for _ in range(4)]
    for r in readers:
        r.start()
    try:
        for _ in range(300):
            clock.advance(1)
    finally:
        done.set()
        for r in readers:
            r.join()
    assert clock.now() == START + timedelta(seconds=300)
    assert FakeClock(state_file=tmp_path / "fake-clock.txt").now() == START + timedelta(seconds=300)
    assert seen and all(START <= t <= START + timedelta(seconds=300) for t in seen)
