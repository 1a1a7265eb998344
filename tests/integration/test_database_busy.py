"""A database that keeps a request waiting past its lock timeout is a 503, not a 500.

Another session holds the event store locked (SQLite: the file's write lock, as a careless
`sqlite3` shell would; PostgreSQL: the events table, as a long migration would). A write waits
HUYING_DATABASE_LOCK_TIMEOUT, then is answered 503 problem+json with Retry-After — and once the
lock is gone the same request, sent again with its key, is recorded once.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from httpx import Client

from backends import Backend, writes_blocked
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


def test_a_write_kept_waiting_past_the_lock_timeout_is_503_and_recorded_once_when_sent_again(
    client: Client, tokens: Any, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    headers = tokens.headers("grid_worker", "LW-LN-01-G01", key="while-locked")
    with writes_blocked(settings, events=True):
        started = time.monotonic()
        refused = client.post(CALLS, headers=headers, json=RAISE)
        waited = time.monotonic() - started
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "/problems/database-unavailable" and refused.headers["Retry-After"]
    assert waited < 10 * settings.database_lock_timeout, f"waited {waited:.1f} s"
    # The log says which kind of "busy" it was, by the driver's own code, and where huying met it.
    [logged] = [r.getMessage() for r in caplog.records if "database unavailable" in r.getMessage()]
    code = "SQLITE_BUSY" if not settings.on_postgres else "55P03"  # lock_not_available
    assert f"({code}, at " in logged and ".py:" in logged, logged

    again = client.post(CALLS, headers=headers, json=RAISE)
    assert again.status_code == 201, again.text
    history = client.get(f"{CALLS}/{again.json()['id']}/history", headers=tokens.headers("supervisor", "LW"))
    assert [e["type"] for e in history.json()["data"]] == ["Raised"]
