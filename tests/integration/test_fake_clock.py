"""The settable clock (HUYING_FAKE_CLOCK) never goes back before the log's last business time:
set earlier, the dashboards would show responses that came before their calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import Client

from huying.bootstrap import Services, build_services
from huying.clock import FakeClock
from huying.settings import Settings

RAISE = {
    "item_code": "C01-01",
    "grid_code": "LW-LN-01-G01",
    "title": "垃圾堆积",
    "description": "十三行路口垃圾三天无人清运",
    "channel": "grid_worker",
}


def raise_call(client: Client, tokens: Any) -> datetime:
    """A call raised now; the business time it was recorded at."""
    answer = client.post("/api/v1/calls", json=RAISE, headers=tokens.headers("grid_worker", "LW-LN-01-G01"))
    assert answer.status_code == 201, answer.text
    history = client.get(
        f"/api/v1/calls/{answer.json()['id']}/history", headers=tokens.headers("admin", "LW")
    )
    return datetime.fromisoformat(history.json()["data"][-1]["at"])


def move(client: Client, tokens: Any, **body: Any) -> Any:
    return client.post("/api/v1/_clock", json=body, headers=tokens.headers("admin", "LW"))


def test_a_clock_set_before_the_last_recorded_event_is_refused(
    client: Client, tokens: Any, clock: FakeClock
) -> None:
    last = raise_call(client, tokens)
    refused = move(client, tokens, now=(last - timedelta(seconds=1)).isoformat())
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["errors"][0]["field"] == "now"
    assert last.isoformat() in problem["detail"]
    assert clock.now() == last, "a refused move leaves the clock where it was"


def test_the_clock_may_go_back_as_far_as_the_last_recorded_event(
    client: Client, tokens: Any, clock: FakeClock
) -> None:
    last = raise_call(client, tokens)
    for when in (last + timedelta(hours=2), last + timedelta(minutes=1), last):
        moved = move(client, tokens, now=when.isoformat())
        assert moved.status_code == 200, moved.text
        assert datetime.fromisoformat(moved.json()["now"]) == when == clock.now()


def test_advancing_a_clock_still_behind_the_log_is_refused(
    client: Client, tokens: Any, clock: FakeClock
) -> None:
    last = raise_call(client, tokens)
    clock.set(last - timedelta(hours=1))  # as a clock started without its saved time would be
    refused = move(client, tokens, advance_seconds=60)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "advance_seconds"
    assert move(client, tokens, advance_seconds=3600).status_code == 200
    assert clock.now() == last


def test_with_nothing_recorded_the_clock_goes_anywhere(client: Client, tokens: Any) -> None:
    assert move(client, tokens, now="2001-01-01T00:00:00+08:00").status_code == 200


@pytest.mark.parametrize("saved", [True, False], ids=["saved time kept", "saved time lost"])
def test_a_fake_clock_starts_no_earlier_than_the_log(
    settings: Settings, services: Services, clock: FakeClock, client: Client, tokens: Any, saved: bool
) -> None:
    """Started from HUYING_FAKE_CLOCK: at its saved time, or — when that file is gone — at the
    log's last business time if the wall clock is behind it."""
    clock.set(datetime.now(UTC) + timedelta(days=400))
    last = raise_call(client, tokens)
    state = settings.data_dir / "fake-clock.txt"
    if saved:
        state.write_text((last + timedelta(hours=1)).isoformat())
    else:
        state.unlink(missing_ok=True)
    again = build_services(settings)
    try:
        assert again.clock.now() == (last + timedelta(hours=1) if saved else last)
    finally:
        again.close()
