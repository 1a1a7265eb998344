"""SQLite's news between processes: a commit by any other connection to the event store, or a
move of a tracked projection in huying.db, reaches the callbacks within milliseconds; a commit
that moves no position tells the read-your-writes waiters nothing."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from huying.migrate import sqlite_file
from huying.settings import Settings
from huying.wakeups import wakeups_for
from huying.wakeups_sqlite import SqliteWakeups

WAIT = 10.0


class Files:
    """The deployment's two files, written by connections of their own (as another process)."""

    def __init__(self, settings: Settings) -> None:
        self.events = sqlite3.connect(_file(settings.events_url), isolation_level=None)
        self.database = sqlite3.connect(_file(settings.database_url), isolation_level=None)
        for conn in (self.events, self.database):
            conn.execute("PRAGMA journal_mode=WAL")
        self.events.execute("CREATE TABLE stored_events (id INTEGER PRIMARY KEY)")
        self.database.execute("CREATE TABLE projection_tracking (name TEXT PRIMARY KEY, position INTEGER)")
        self.database.execute("CREATE TABLE other (x INTEGER)")
        self.database.execute("INSERT INTO projection_tracking VALUES ('read_models', 7), ('chain', 3)")

    def move(self, name: str, position: int) -> None:
        self.database.execute("UPDATE projection_tracking SET position = ? WHERE name = ?", (position, name))


def _file(url: str) -> Path:
    path = sqlite_file(url)
    assert path is not None
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


@pytest.fixture
def files(settings: Settings) -> Files:
    return Files(settings)


@pytest.fixture
def wakeups(settings: Settings, files: Files) -> Iterator[SqliteWakeups]:
    w = SqliteWakeups(settings)
    yield w
    w.stop()


def eventually(check: threading.Event) -> None:
    assert check.wait(WAIT), "no news within the deadline"


def test_a_commit_to_the_event_store_by_another_connection_is_news(
    wakeups: SqliteWakeups, files: Files
) -> None:
    woken = threading.Event()
    wakeups.on_events(woken.set)
    wakeups.start()
    assert wakeups.connected.wait(WAIT)
    eventually(woken)  # looking for the first time: whatever happened before, look now
    woken.clear()
    started = time.monotonic()
    files.events.execute("INSERT INTO stored_events VALUES (1)")
    eventually(woken)
    print(f"commit → news: {(time.monotonic() - started) * 1000:.1f} ms")


def test_a_moved_tracked_projection_is_news_with_its_position_and_nothing_else_is(
    wakeups: SqliteWakeups, files: Files
) -> None:
    heard: list[int] = []
    moved = threading.Event()

    def on_read_models(position: int) -> None:
        heard.append(position)
        moved.set()

    wakeups.on_tracked("read_models", on_read_models)
    wakeups.start()
    eventually(moved)
    assert heard == [7]  # the stored position, when it starts looking
    moved.clear()
    files.database.execute("INSERT INTO other VALUES (1)")  # a commit that moves no position
    files.move("chain", 4)  # another projection's move
    files.move("read_models", 12)
    eventually(moved)
    assert heard == [7, 12]


def test_stop_ends_the_listener(wakeups: SqliteWakeups) -> None:
    wakeups.start()
    assert wakeups.connected.wait(WAIT)
    wakeups.stop()
    assert not wakeups.connected.is_set()
    assert not any(t.name == "huying-wakeups" and t.is_alive() for t in threading.enumerate())


def test_only_a_process_that_leaves_some_duty_to_another_listens(settings: Settings) -> None:
    assert isinstance(wakeups_for(settings, apart=True), SqliteWakeups)
    assert not wakeups_for(settings, apart=False).delivers
