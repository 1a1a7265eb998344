"""The demo's settable clock is one clock for every process on the machine: a move by one is
the time every other reads next, however quickly the moves follow each other."""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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


def test_a_clock_reads_its_file_again_only_when_the_clock_was_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reading between moves makes no system call: it reads the move count in memory."""
    state = tmp_path / "fake-clock.txt"
    FakeClock(START, state_file=state).set(START)
    reader = FakeClock(state_file=state)
    reads = stats = 0
    read_text, stat = Path.read_text, os.stat

    def counted(self: Path) -> str:
        nonlocal reads
        reads += 1
        return read_text(self)

    def stat_counted(*args: Any, **kwargs: Any) -> os.stat_result:
        nonlocal stats
        stats += 1
        return stat(*args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counted)
    monkeypatch.setattr(os, "stat", stat_counted)
    for _ in range(100):
        assert reader.now() == START
    assert (reads, stats) == (0, 0)

    FakeClock(state_file=state).advance(60)
    assert reader.now() == START.replace(minute=1)
    assert reads == 2  # the new clock's first reading, and the reader's after the move


def test_readings_while_the_clock_moves_never_undo_a_move(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Readings take no lock (a server's threads read the clock several times a request): one
    racing a move sees the time before or after it, and never puts the earlier one back."""
    # Readings make no system call, so readers spinning on them give up the interpreter only
    # when made to: two of them, handing it over every 10 µs rather than every 5 ms — more
    # interleavings, and the mover (each of whose moves makes system calls) is not starved.
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    request.addfinalizer(lambda: sys.setswitchinterval(switch))
    clock = FakeClock(START, state_file=tmp_path / "fake-clock.txt")
    clock.set(START)
    done = threading.Event()
    seen: list[datetime] = []

    def read() -> None:
        while not done.is_set():
            seen.append(clock.now())

    readers = [threading.Thread(target=read) for _ in range(2)]
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


def _advance(state: Path, moves: int) -> None:
    clock = FakeClock(state_file=state)
    for _ in range(moves):
        clock.advance(1)


def test_a_move_in_another_process_is_the_time_read_next_and_no_move_is_lost(tmp_path: Path) -> None:
    """Processes moving one clock at once each read the time and save it moved under one lock
    of the machine's: every move counts; a clock that only reads sees the last of them."""
    state = tmp_path / "fake-clock.txt"
    FakeClock(START, state_file=state).set(START)
    reader = FakeClock(state_file=state)
    assert reader.now() == START
    fork = multiprocessing.get_context("fork")
    movers = [fork.Process(target=_advance, args=(state, 100)) for _ in range(3)]
    for m in movers:
        m.start()
    for m in movers:
        m.join()
    assert [m.exitcode for m in movers] == [0, 0, 0]
    assert reader.now() == START + timedelta(seconds=300)
