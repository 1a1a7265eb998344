"""A raise runs on the event loop's thread and suspends while its commit is under way
(``huying.onloop``): however long the event store makes it wait, the loop goes on serving
others, the raises that queue meanwhile are committed together, and each is answered 201 only
once stored.

The event store is held by another connection (as a slow disk or a long transaction would
hold it) while raises arrive."""

from __future__ import annotations

import io
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from e2e.inprocess import until
from huying.api.app import create_app
from huying.api.routers.calls import draft_of
from huying.api.schemas.requests import CallCreate
from huying.bootstrap import Services, build_services
from huying.demo import principal_for_token
from huying.onloop import suspendable
from huying.service_layer.command_path import Submission

from .reporters import CALLS, SUPERVISOR, raise_body

POTHOLE = "C02-01"  # 道路破损: not the item raise_body raises


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    """Starlette's, not the shared in-loop client: these tests ask from several threads at once,
    and the app's loop must go on serving while the test's thread waits."""
    with TestClient(create_app(services=services)) as c:
        yield c


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


class OnTheLoop:
    """Records, each time ``name`` of ``owner`` is called, whether it was called by code the
    event loop runs (``onloop``): what waits on the database must never be."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> None:
        self.calls: list[bool] = []
        real = getattr(owner, name)

        def recorded(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(suspendable())
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, recorded)


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(out, "PNG")
    return out.getvalue()


def test_what_a_raise_reads_and_writes_beside_its_commit_is_not_done_on_the_loop(
    client: TestClient, tokens: Any, services: Services, elsewhere: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three things a raise may wait for besides its commit: the log read for its duplicate
    hints (another process saved since this one last looked), record keys made ahead when none
    is left, and its photos looked up and named in their index."""
    other = client.post(CALLS, json=raise_body(item_code=POTHOLE), headers=tokens.headers(*SUPERVISOR))
    assert other.status_code == 201, other.text  # this process's recent raises are loaded now
    draft = draft_of(CallCreate.model_validate(raise_body()))
    supervisor = principal_for_token(services.app.org, *SUPERVISOR)
    twin = elsewhere.calls.raise_call(supervisor, draft, Submission()).call  # saved by another process
    log_read = OnTheLoop(monkeypatch, services.recent, "_take")  # a notification read from the log
    keys_made = OnTheLoop(monkeypatch, services.contacts.keys, "make_many")
    photos_named = OnTheLoop(monkeypatch, services.photos.index, "refer")
    services.contacts.keys._ahead.clear()  # none left: this raise makes the next ones

    upload = client.post(
        "/api/v1/attachments", headers=tokens.headers(*SUPERVISOR), files={"file": ("p.png", png())}
    )
    assert upload.status_code == 201, upload.text
    body = raise_body(attachments=[upload.json()["id"]])
    raised = client.post(CALLS, json=body, headers=tokens.headers(*SUPERVISOR))

    assert raised.status_code == 201, raised.text
    assert [h["id"] for h in raised.json()["possible_duplicates"]] == [str(twin.id)]
    assert raised.json()["attachments"] == [upload.json()["id"]]
    assert log_read.calls and keys_made.calls and photos_named.calls
    assert not any(log_read.calls + keys_made.calls + photos_named.calls), "waited on the event loop"


def test_an_open311_raise_runs_on_the_loop_and_reads_its_key_and_the_catalog_in_a_thread(
    client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Open311's POST goes down the same raise, on the event loop's thread as the API's; the
    api_key looked up (a key not seen lately) and the catalog read for the form's service_code
    are each done in a thread."""
    _, api_key = services.tokens.create(principal_for_token(services.app.org, *SUPERVISOR))
    raising = OnTheLoop(monkeypatch, services.calls, "raise_call")
    key_looked_up = OnTheLoop(monkeypatch, services.tokens, "principal_for")
    catalog_read = OnTheLoop(monkeypatch, services.app, "_refolded")
    form = {"service_code": "C01-01", "lat": "23.1216", "long": "113.2559", "description": "巷口垃圾没人清运"}

    answer = client.post("/open311/v2/requests.json", data={**form, "api_key": api_key})

    assert answer.status_code == 200, answer.text
    assert raising.calls == [True], "the raise did not run on the event loop"
    assert key_looked_up.calls == [False], "the api_key was looked up on the event loop"
    assert catalog_read.calls and not any(catalog_read.calls), "the catalog was read on the event loop"


def test_closing_the_services_lets_their_committing_thread_go(services: Services, tokens: Any) -> None:
    """The thread that leads the suspended raises' groups ends with the services that made it:
    idle, it used to outlive them (dozens of them at the end of a test session)."""

    def committing() -> int:
        return sum(t.name.startswith("huying-commit") for t in threading.enumerate())

    before = committing()
    other = build_services(services.settings, services.clock)  # as another process would open it
    try:
        with TestClient(create_app(services=other)) as c:
            raised = c.post(CALLS, json=raise_body(), headers=tokens.headers(*SUPERVISOR, key="k-commit"))
        assert raised.status_code == 201, raised.text
        assert committing() == before + 1, "the raise was committed by its group commit's thread"
    finally:
        other.close()
    assert committing() == before
