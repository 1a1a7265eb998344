"""What huying answers as stored is on disk: every database it writes syncs each commit. A raise's
201 covers its reporter's contact, that contact's record key and the record of who was shown
it, all in huying's own databases beside the event store; a power cut must not take them back
while the event stays."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from huying.bootstrap import Services

FULL = 2  # SQLite's PRAGMA synchronous: each commit's WAL frames synced before it returns

# Where a PostgreSQL setting comes from when huying itself set it for its connections.
SET_BY_HUYING = {"client", "session"}


def test_every_database_huying_writes_syncs_each_commit(services: Services) -> None:
    engines = {"huying.db": services.engine, "record keys": services.contacts.keys.engine}
    if services.settings.on_postgres:
        for name, engine in engines.items():
            assert _commit_setting_source(engine) not in SET_BY_HUYING, name
        return
    for name, engine in engines.items():
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == FULL, name
    recorder: Any = services.app.recorder
    with recorder.datastore.transaction(commit=False) as curs:
        curs.execute("PRAGMA synchronous")
        assert curs.fetchone()[0] == FULL, "the event store"


def _commit_setting_source(engine: Engine) -> str:
    """Where this connection's ``synchronous_commit`` comes from (the server's configuration,
    unless a connection or session set it)."""
    with engine.connect() as conn:
        source = conn.exec_driver_sql(
            "SELECT source FROM pg_settings WHERE name = 'synchronous_commit'"
        ).scalar()
    assert isinstance(source, str)
    return source
