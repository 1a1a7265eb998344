"""A raise runs on the event loop's thread and suspends while its commit is under way
(``huying.onloop``): however long the event store makes it wait, the loop goes on serving
others, the raises that queue meanwhile are committed together, and each is answered 201 only
once stored.

The event store is held by another connection (as a slow disk or a long transaction would
hold it) while raises arrive."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi.testclient import TestClient

from e2e.inprocess import until
from huying.bootstrap import Services

from .reporters import CALLS, SUPERVISOR, raise_body


@contextmanager
def event_store_held(services: Services) -> Iterator[None]:
    """Another connection holds what a group's commit needs until the block is left: SQLite's
    write lock on the events' file, PostgreSQL's lock on the events' table."""
    recorder: Any = services.app.recorder
    if services.settings.on_postgres:
        table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
        with services.engine.connect() as conn:
            conn.exec_driver_sql(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
            try:
                yield
            finally:
                conn.rollback()
        return
    raw = sqlite3.connect(recorder.datastore.pool.db_name, uri=True)
    try:
        raw.execute("BEGIN IMMEDIATE")
        yield
    finally:
        raw.rollback()
        raw.close()


class InThread:
    """A request made from a thread of its own: its answer, once it has one."""

    def __init__(self, send: Any) -> None:
        self.answer: httpx.Response | None = None
        self._thread = threading.Thread(target=self._run, args=(send,))
        self._thread.start()

    def _run(self, send: Any) -> None:
        self.answer = send()

    def done(self) -> bool:
        return self.answer is not None

    def join(self) -> httpx.Response:
        until(self.done, "an answer")
        self._thread.join()
        assert self.answer is not None
        return self.answer


def test_raises_waiting_for_the_event_store_leave_the_loop_serving_and_commit_together(
    client: TestClient, tokens: Any, services: Services
) -> None:
    events = services.app.recorder.group_commit  # type: ignore[attr-defined]
    headers = [tokens.headers(*SUPERVISOR, key=f"on-loop-{i}") for i in range(12)]
    before = events.groups
    with event_store_held(services):
        first = InThread(lambda: client.post(CALLS, json=raise_body(), headers=headers[0]))
        until(lambda: events.groups == before + 1, "the first raise's commit waiting for the event store")
        others = [InThread(lambda h=h: client.post(CALLS, json=raise_body(), headers=h)) for h in headers[1:]]
        until(lambda: events.waiting == 11, "eleven raises queued behind it")

        served = InThread(lambda: client.get("/healthz"))
        served.join()  # the loop answers while twelve raises wait for their commits
        assert served.answer is not None and served.answer.status_code == 200, served.answer
        assert not first.done() and not any(o.done() for o in others), "a raise was answered unstored"

    answers = [r.join() for r in (first, *others)]
    assert [a.status_code for a in answers] == [201] * 12, [a.text for a in answers if a.status_code != 201]
    assert len({a.json()["id"] for a in answers}) == 12
    assert events.groups == before + 2, "the eleven queued raises were not committed together"
    for a in answers:
        stored = client.get(f"{CALLS}/{a.json()['id']}", headers=tokens.headers(*SUPERVISOR))
        assert stored.status_code == 200 and stored.json()["reporter"]["name"] == "张三"
