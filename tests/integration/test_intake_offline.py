"""离线采集 — offline capture, on real SQLite files: a grid worker's phone records the problem in
an alley without signal and sends it hours later. The device's capture time is kept and shown;
one in the future (beyond clock drift) or older than the configured bound is refused; and the
phone's retries under one Idempotency-Key — across a restart of the server — make one call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Client

from backends import raw_events
from huying.api.app import create_app
from huying.bootstrap import Services, build_services
from huying.clock import FakeClock
from huying.migrate import upgrade
from huying.settings import Settings

GRID = "LW-LN-01-G01"
GRID_WORKER = ("grid_worker", GRID)
HOUR, DAY, MINUTE = timedelta(hours=1), timedelta(days=1), timedelta(minutes=1)


def body(occurred_at: datetime | None, **more: Any) -> dict[str, Any]:
    return {
        "item_code": "C02-02",  # 井盖缺失
        "grid_code": GRID,
        "title": "巷口井盖缺失",
        "description": "恩宁路 3 巷口井盖缺失，夜间危险",
        "channel": "grid_worker",
        "occurred_at": occurred_at.isoformat() if occurred_at else None,
        "location": {"address": "恩宁路 3 巷", "lat": 23.1215, "lon": 113.2461},
        **more,
    }


def raise_call(client: Client, tokens: Any, payload: dict[str, Any], key: str | None = None) -> Any:
    return client.post("/api/v1/calls", json=payload, headers=tokens.headers(*GRID_WORKER, key=key))


def calls_and_events(settings: Settings) -> tuple[int, int]:
    """Straight from the event store's table."""
    with raw_events(settings) as store:
        return store.counts()


def refused_for_occurred_at(response: Any) -> str:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert [e["field"] for e in problem["errors"]] == ["occurred_at"]
    return str(problem["detail"])


# --- the capture time is kept -----------------------------------------------------------------


def test_the_devices_capture_time_is_kept_and_shown(client: Client, tokens: Any, clock: FakeClock) -> None:
    captured = datetime.fromisoformat("2026-11-22T21:40:00+08:00")  # last night, in Guangzhou
    assert clock.now() - captured > 3 * HOUR
    response = raise_call(client, tokens, body(captured))
    assert response.status_code == 201, response.text
    call = response.json()
    assert datetime.fromisoformat(call["occurred_at"]) == captured
    assert datetime.fromisoformat(call["raised_at"]) == clock.now(), "raised when it arrived"
    shown = client.get(f"/api/v1/calls/{call['id']}", headers=tokens.headers("community", "LW-LN-01")).json()
    assert datetime.fromisoformat(shown["occurred_at"]) == captured
    history = client.get(f"/api/v1/calls/{call['id']}/history", headers=tokens.headers(*GRID_WORKER)).json()
    assert datetime.fromisoformat(history["data"][0]["data"]["occurred_at"]) == captured


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (-7 * DAY + MINUTE, True),  # within the default bound of 7 days
        (-7 * DAY - MINUTE, False),
        (-30 * DAY, False),
        (2 * MINUTE, True),  # a phone's clock running a little fast
        (10 * MINUTE, False),
        (2 * DAY, False),
    ],
    ids=["6d23h59m-ago", "7d1m-ago", "30d-ago", "2m-ahead", "10m-ahead", "2d-ahead"],
)
def test_a_capture_time_in_the_future_or_too_old_is_422(
    client: Client, tokens: Any, clock: FakeClock, offset: timedelta, accepted: bool
) -> None:
    response = raise_call(client, tokens, body(clock.now() + offset))
    if accepted:
        assert response.status_code == 201, response.text
    else:
        detail = refused_for_occurred_at(response)
        assert ("future" in detail) if offset > timedelta(0) else ("7 days" in detail)


@pytest.fixture
def strict(settings: Settings, clock: FakeClock) -> Iterator[Client]:
    """The same data directory, run with HUYING_MAX_CAPTURE_AGE_DAYS=2."""
    two_days = settings.model_copy(update={"max_capture_age_days": 2})
    upgrade(two_days)
    services = build_services(two_days, clock)
    try:
        with TestClient(create_app(services=services)) as c:
            yield c
    finally:
        services.close()


def test_the_bound_on_a_captures_age_is_configurable(strict: Client, tokens: Any, clock: FakeClock) -> None:
    assert raise_call(strict, tokens, body(clock.now() - 47 * HOUR)).status_code == 201
    assert "2 days" in refused_for_occurred_at(raise_call(strict, tokens, body(clock.now() - 49 * HOUR)))


def test_the_bound_reads_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUYING_MAX_CAPTURE_AGE_DAYS", "3")
    assert Settings().max_capture_age_days == 3


# --- retries after hours offline, across a restart ------------------------------------------------


@pytest.fixture
def restart(settings: Settings, clock: FakeClock) -> Iterator[Callable[[Services, timedelta], Client]]:
    """Closes the running services and starts brand-new ones on the same files, ``later``."""
    built: list[Services] = []

    def again(old: Services, later: timedelta) -> Client:
        old.close()
        services = build_services(
            settings,
            FakeClock(start=clock.now() + later),
        )
        built.append(services)
        return TestClient(create_app(services=services))

    yield again
    for services in built:
        services.close()


def test_a_retry_after_hours_offline_and_a_restart_makes_one_call(
    settings: Settings, services: Services, client: Client, tokens: Any, clock: FakeClock, restart: Any
) -> None:
    """The phone sent the raise; the answer never reached it. The server restarts; hours later,
    with signal again, the phone sends the very same request under the same key: it gets the
    call it made — 201, the same body — and the store holds one call with one event."""
    payload = body(clock.now() - 2 * HOUR)
    first = raise_call(client, tokens, payload, key="phone-7f3a-capture-0042")
    assert first.status_code == 201, first.text
    assert calls_and_events(settings) == (1, 1)

    with restart(services, 6 * HOUR) as later:
        retried = raise_call(later, tokens, payload, key="phone-7f3a-capture-0042")
        assert retried.status_code == 201, retried.text
        assert retried.json() == first.json()
        assert retried.headers["Location"] == first.headers["Location"]
        assert retried.headers.get("Idempotent-Replayed") == "true"
        other = raise_call(later, tokens, body(clock.now()), key="phone-7f3a-capture-0042")
        assert other.status_code == 422, "the same key with another body"
    assert calls_and_events(settings) == (1, 1)


def test_a_retry_after_the_capture_bound_has_passed_still_gets_its_call(
    settings: Settings, services: Services, client: Client, tokens: Any, clock: FakeClock, restart: Any
) -> None:
    """Judged once, when it was first recorded: a retry days later is answered from the record,
    not refused because the capture has meanwhile grown old."""
    payload = body(clock.now() - 6 * DAY)
    first = raise_call(client, tokens, payload, key="phone-1b2c-capture-0007")
    assert first.status_code == 201, first.text
    with restart(services, 3 * DAY) as later:
        retried = raise_call(later, tokens, payload, key="phone-1b2c-capture-0007")
        assert retried.status_code == 201 and retried.json()["id"] == first.json()["id"]
        fresh = raise_call(later, tokens, payload, key="phone-1b2c-capture-0008")
        refused_for_occurred_at(fresh)  # the same capture sent as a new request is too old now
    assert calls_and_events(settings) == (1, 1)
