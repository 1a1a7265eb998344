"""A database that keeps a request waiting past its lock timeout is a 503, not a 500.

Another session holds the event store locked (SQLite: the file's write lock, as a careless
`sqlite3` shell would; PostgreSQL: the events table, as a long migration would). A write waits
HUYING_DATABASE_LOCK_TIMEOUT, then is answered 503 problem+json with Retry-After — and once the
lock is gone the same request, sent again with its key, is recorded once.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from backends import Backend
from huying.settings import Settings

CALLS = "/api/v1/calls"
RAISE = {
    "item_code": "C01-01",
    "grid_code": "LW-LN-01-G01",
    "title": "路灯不亮",
    "description": "整条巷子黑着",
    "channel": "grid_worker",
}


@pytest.fixture
def settings(backend: Backend, data_dir: Path) -> Settings:
    return backend.settings(data_dir, run_watchdog=False, database_lock_timeout=1)


@contextmanager
def events_locked(settings: Settings) -> Iterator[None]:
    if settings.on_postgres:
        url = make_url(settings.database_url).set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
            conn.execute(f'LOCK TABLE "{settings.database_schema}".huying_events IN EXCLUSIVE MODE')
            yield
        return
    conn = sqlite3.connect(settings.events_url.removeprefix("sqlite:///"), isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        conn.rollback()
        conn.close()


def test_a_write_kept_waiting_past_the_lock_timeout_is_503_and_recorded_once_when_sent_again(
    client: TestClient, tokens: Any, settings: Settings
) -> None:
    headers = tokens.headers("grid_worker", "LW-LN-01-G01", key="while-locked")
    with events_locked(settings):
        started = time.monotonic()
        refused = client.post(CALLS, headers=headers, json=RAISE)
        waited = time.monotonic() - started
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "/problems/database-unavailable" and refused.headers["Retry-After"]
    assert waited < 10 * settings.database_lock_timeout, f"waited {waited:.1f} s"

    again = client.post(CALLS, headers=headers, json=RAISE)
    assert again.status_code == 201, again.text
    history = client.get(f"{CALLS}/{again.json()['id']}/history", headers=tokens.headers("supervisor", "LW"))
    assert [e["type"] for e in history.json()["data"]] == ["Raised"]
