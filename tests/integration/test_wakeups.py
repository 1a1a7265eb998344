"""News between processes on PostgreSQL (LISTEN/NOTIFY): what another process of the same
deployment hears, at once and only from its own deployment.

``Wakeups.on_tracked`` is the "position changed" source for requests waiting to read their own
writes in an API worker whose read models are projected by another process.
"""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

import pytest

from backends import Backend
from huying.bootstrap import Services, build_services
from huying.clock import FakeClock
from huying.demo import principal_for_token
from huying.duties import Duties
from huying.migrate import upgrade
from huying.projections.runner import TRACKING_NAME
from huying.service_layer.calls import CallDraft
from huying.service_layer.command_path import Submission
from huying.wakeups import PostgresWakeups, announce_clock

pytestmark = pytest.mark.postgres_only(reason="LISTEN/NOTIFY; SQLite is one process, woken by its own saves")

WAIT = 10.0


def raise_one(services: Services) -> None:
    grid = principal_for_token(services.app.org, "grid_worker", "LW-LN-01-G01")
    draft = CallDraft("C01-01", "LW-LN-01-G01", "井盖缺失", "人行道井盖丢了", "grid_worker")
    services.calls.raise_call(grid, draft, Submission())


def listening(services: Services) -> tuple[Duties, queue.Queue[tuple[str, int]]]:
    heard: queue.Queue[tuple[str, int]] = queue.Queue()
    duties = Duties(services, [])  # an API worker that projects nothing itself
    duties.wakeups.on_events(lambda: heard.put(("events", 0)))
    duties.wakeups.on_tracked(TRACKING_NAME, lambda position: heard.put(("tracked", position)))
    duties.wakeups.on_clock(lambda: heard.put(("clock", 0)))
    duties.start()
    assert isinstance(duties.wakeups, PostgresWakeups)
    assert duties.wakeups.connected.wait(WAIT)
    while not heard.empty():  # what it reads on connecting
        heard.get()
    return duties, heard


def next_news(heard: queue.Queue[tuple[str, int]], kind: str) -> int:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            got, position = heard.get(timeout=0.1)
        except queue.Empty:
            continue
        if got == kind:
            return position
    raise AssertionError(f"no {kind} news within {WAIT} s")


def test_another_process_hears_commits_read_model_moves_and_clock_moves(
    services: Services, elsewhere: Services
) -> None:
    duties, heard = listening(services)
    try:
        raise_one(elsewhere)
        next_news(heard, "events")
        elsewhere.projector.catch_up()
        assert next_news(heard, "tracked") == elsewhere.projector.tracked_position()
        assert services.projector.progress.position == elsewhere.projector.tracked_position()

        Duties(elsewhere, [])  # wires the settable clock to announce its moves
        assert isinstance(elsewhere.clock, FakeClock)
        elsewhere.clock.advance(60)
        next_news(heard, "clock")
    finally:
        duties.stop()


def test_another_deployment_in_the_same_database_is_not_heard(
    services: Services, backend: Backend, tmp_path: Path
) -> None:
    other_district = backend.settings(tmp_path / "other", run_watchdog=False)
    assert other_district.database_schema != services.settings.database_schema
    upgrade(other_district)
    neighbour = build_services(other_district, FakeClock())
    duties, heard = listening(services)
    try:
        for _ in range(3):
            raise_one(neighbour)
        neighbour.projector.catch_up()  # its read models at 3
        raise_one(services)  # then one of ours, at 1: the first position heard must be ours
        services.projector.catch_up()
        assert next_news(heard, "tracked") == services.projector.tracked_position()
    finally:
        duties.stop()
        neighbour.close()


def test_stopping_ends_the_listeners_wait_for_news_at_once(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Told to stop, a listener does not wait out its wait for news (made a minute long here):
    stop() — which would give up on the thread after 10 s — finds it gone well before that."""
    monkeypatch.setattr("huying.wakeups._LISTEN_SECONDS", 60.0)
    duties, heard = listening(services)
    [listener] = [t for t in threading.enumerate() if t.name == "huying-wakeups"]
    announce_clock(services.engine)
    next_news(heard, "clock")  # heard: the listener is in its wait for news, and back in it
    asked = time.monotonic()
    duties.stop()
    assert not listener.is_alive() and time.monotonic() - asked < 5.0, "it waited out its wait"
