"""时间回溯: ``GET /api/v1/calls/{id}?as_of=`` and ``?version=`` show the call as it stood then.

One call lives a long life over HTTP (raise → respond → 上呼 → 派单 → 退单 → 再派单 → 延期 → 督办
→ 办结 → 不满意 → 重办 → 办结 → 满意 → 销号) on a fake clock. Right after each step, and again
just before the next one, the call is read as it then stands. At the end, ``as_of`` each of
those moments must give exactly what was seen then — every field, clocks included — and
``version`` each version what was seen right after its step. Both, and the history, follow the
call's jurisdiction like any call read.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from httpx import Client

from backends import Backend
from conftest import MONDAY_MORNING
from conftest import Tokens as IssuedTokens
from deployment_templates import Templates, module_services
from huying.api.app import create_app
from huying.clock import FakeClock
from huying.settings import Settings
from in_loop import in_loop

GRID, COMMUNITY, STREET = "LW-LN-01-G01", "LW-LN-01", "LW-LN"
GRID_WORKER = ("grid_worker", GRID)
COMMUNITY_STAFF = ("community", COMMUNITY)
STREET_STAFF = ("street", STREET)
CG, ZJ = ("department", "CG"), ("department", "ZJ")
SUPERVISOR = ("supervisor", "LW")
AUDITOR = ("auditor", "LW")
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)

Who = tuple[str, str]
Seen = tuple[datetime, dict[str, Any]]


class Life:
    """Drives one call through its steps, reading it (as the supervisor) at each moment."""

    def __init__(self, client: Client, tokens: Any, clock: FakeClock) -> None:
        self.client, self.tokens, self.clock = client, tokens, clock
        self.call_id = ""
        self.seen: list[Seen] = []  # (moment, the call as read at that moment)
        self.after_step: dict[int, dict[str, Any]] = {}  # version → the call read right after

    def read(self, path: str, who: Who = SUPERVISOR, **params: str) -> Any:
        return self.client.get(path, params=params, headers=self.tokens.headers(*who))

    def look(self) -> dict[str, Any]:
        response = self.read(f"/api/v1/calls/{self.call_id}")
        assert response.status_code == 200, response.text
        call: dict[str, Any] = response.json()
        self.seen.append((self.clock.now(), call))
        return call

    def step(self, who: Who, action: str, body: dict[str, Any] | None, wait: timedelta) -> None:
        self.clock.advance(wait.total_seconds())
        if self.call_id:
            self.look()  # a moment before the step, after the clock moved
        self.clock.advance(1)
        path = f"/api/v1/calls/{self.call_id}/{action}" if self.call_id else "/api/v1/calls"
        if action.startswith("w"):  # a work order's action: "w3/sign"
            path = f"/api/v1/work-orders/{self.call_id}-{action}"
        response = self.client.post(path, json=body, headers=self.tokens.headers(*who))
        assert response.status_code in (200, 201), response.text
        self.call_id = response.json()["id"]
        call = self.look()
        self.after_step[call["version"]] = call


def live_a_long_life(life: Life, clock: FakeClock) -> None:
    raise_body = {
        "item_code": "C01-01",
        "grid_code": GRID,
        "title": "楼道垃圾堆积",
        "description": "大件垃圾堵塞楼道",
        "channel": "grid_worker",
        "reporter": {"name": "张三", "phone": "13812345678"},
    }
    life.step(GRID_WORKER, "raise", raise_body, 5 * MINUTE)
    life.step(COMMUNITY_STAFF, "acknowledge", {"note": "已到现场"}, 20 * MINUTE)
    life.step(COMMUNITY_STAFF, "escalate", {"reason": "社区无法协调"}, 3 * HOUR)
    life.step(STREET_STAFF, "acknowledge", None, 2 * DAY)  # late: past the street's response clock
    deadline = (clock.now() + 5 * DAY).isoformat()
    dispatch = {"lead_department": "CG", "assisting_departments": ["ZJ"], "deadline": deadline}
    life.step(STREET_STAFF, "dispatch", {**dispatch, "instructions": "清运"}, HOUR)
    life.step(CG, "w1/sign", None, 2 * HOUR)
    life.step(CG, "w1/return", {"reason": "应由住建牵头"}, HOUR)
    deadline = (clock.now() + 4 * DAY).isoformat()
    life.step(STREET_STAFF, "dispatch", {**dispatch, "deadline": deadline, "instructions": "再派"}, HOUR)
    life.step(CG, "w3/sign", None, HOUR)
    until = (clock.now() + 7 * DAY).isoformat()
    life.step(CG, "w3/request-extension", {"until": until, "reason": "需预约清运车"}, DAY)
    life.step(STREET_STAFF, "w3/extension/grant", {"note": "同意"}, 2 * HOUR)
    life.step(SUPERVISOR, "supervise", {"reason": "群众多次反映"}, 3 * DAY)
    life.step(CG, "w3/progress", {"note": "已预约"}, DAY)
    life.step(CG, "w3/complete", {"result": "已清运"}, DAY)
    life.step(STREET_STAFF, "resolve", {"summary": "已解决"}, 2 * HOUR)
    dissatisfied = {"contacted": True, "solved": False, "satisfaction": "dissatisfied"}
    life.step(COMMUNITY_STAFF, "evaluate", dissatisfied, DAY)
    life.step(COMMUNITY_STAFF, "reopen", {"reason": "又堆了"}, 2 * DAY)
    life.step(STREET_STAFF, "resolve", {"summary": "约谈物业"}, 3 * HOUR)
    satisfied = {"contacted": True, "solved": True, "satisfaction": "satisfied"}
    life.step(GRID_WORKER, "evaluate", satisfied, DAY)
    life.step(COMMUNITY_STAFF, "close", {"note": "销号"}, HOUR)
    clock.advance(DAY.total_seconds())
    life.look()


# No watchdog or projector in the background: nothing but the steps below changes the call.
QUIET: dict[str, Any] = {"run_projector": False, "run_watchdog": False}


@pytest.fixture
def settings(backend: Backend, data_dir: Path) -> Settings:
    return backend.settings(data_dir, **QUIET)


@pytest.fixture(scope="module")
def life(backend: Backend, templates: Templates, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Life]:
    """The call's life, lived once per backend on a deployment of its own: the tests that share
    it only read it (GETs, no clock moved), so none can change what another sees."""
    clock = FakeClock(start=MONDAY_MORNING)
    data_dir = tmp_path_factory.mktemp("life") / "var"
    with (
        module_services(backend, templates, data_dir, clock, **QUIET) as services,
        in_loop(create_app(services=services)) as client,
    ):
        lived = Life(client, IssuedTokens(services), clock)
        live_a_long_life(lived, clock)
        yield lived


def test_as_of_each_moment_shows_the_call_as_it_was_seen_then(life: Life) -> None:
    assert len(life.after_step) == 20 and len(life.seen) == 20 + 19 + 1
    statuses = {call["status"] for _, call in life.seen}
    assert {"awaiting_response", "dispatched", "returned", "resolved", "evaluated", "closed"} <= statuses
    assert any(call["deadlines"] != life.seen[0][1]["deadlines"] for _, call in life.seen), "clocks move"
    for moment, then in life.seen:
        response = life.read(f"/api/v1/calls/{life.call_id}", as_of=moment.isoformat())
        assert response.status_code == 200, response.text
        assert response.json() == then, f"as_of {moment.isoformat()}"
        assert response.headers["ETag"] == f'"{then["version"]}"'


def test_as_of_in_another_offset_means_the_same_instant(life: Life) -> None:
    moment, then = life.seen[9]
    shanghai = moment.astimezone(datetime.fromisoformat("2026-01-01T00:00:00+08:00").tzinfo)
    response = life.read(f"/api/v1/calls/{life.call_id}", as_of=shanghai.isoformat())
    assert response.json() == then


def test_each_version_shows_the_call_as_it_was_right_after_its_step(life: Life) -> None:
    for version, then in life.after_step.items():
        response = life.read(f"/api/v1/calls/{life.call_id}", version=str(version))
        assert response.status_code == 200, response.text
        assert response.json() == then, f"version {version}"


def test_before_it_was_raised_the_call_did_not_exist(life: Life) -> None:
    raised = life.after_step[1]
    before = datetime.fromisoformat(raised["raised_at"]) - timedelta(seconds=1)
    response = life.read(f"/api/v1/calls/{life.call_id}", as_of=before.isoformat())
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert life.read(f"/api/v1/calls/{life.call_id}", version="21").status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"as_of": "2026-11-23T09:00:00"},  # no offset
        {"as_of": "yesterday"},
        {"version": "0"},
        {"version": "two"},
        {"as_of": "2026-11-23T09:00:00+08:00", "version": "2"},  # one or the other
    ],
)
def test_a_malformed_past_is_422(life: Life, params: dict[str, str]) -> None:
    response = life.read(f"/api/v1/calls/{life.call_id}", **params)
    assert response.status_code == 422, response.text


def test_the_past_and_the_history_follow_the_calls_jurisdiction(life: Life) -> None:
    """Whoever may read the call now may read its past; others get 404, as for any call."""
    first_moment = life.seen[0][0]  # raised, long before ZJ got an order
    paths_and_params: list[tuple[str, dict[str, str]]] = [
        (f"/api/v1/calls/{life.call_id}", {"as_of": first_moment.isoformat()}),
        (f"/api/v1/calls/{life.call_id}", {"version": "1"}),
        (f"/api/v1/calls/{life.call_id}/history", {}),
    ]
    allowed: list[Who] = [
        GRID_WORKER,
        ("grid_worker", "LW-LN-01-G02"),
        COMMUNITY_STAFF,
        STREET_STAFF,
        CG,
        ZJ,  # held an order later: reads the call as it was before that too
        SUPERVISOR,
        AUDITOR,
        ("admin", "LW"),
    ]
    refused: list[Who] = [
        ("grid_worker", "LW-LN-02-G01"),
        ("community", "LW-LN-02"),
        ("street", "LW-HL"),
        ("department", "SW"),  # never held an order on it
    ]
    got = {
        (who, path, tuple(params)): life.read(path, who, **params).status_code
        for who in allowed + refused
        for path, params in paths_and_params
    }
    want = {
        (who, path, tuple(params)): 200 if who in allowed else 404
        for who in allowed + refused
        for path, params in paths_and_params
    }
    assert got == want


def test_history_lists_every_event_with_its_position(life: Life) -> None:
    history = life.read(f"/api/v1/calls/{life.call_id}/history").json()["data"]
    assert [e["version"] for e in history] == list(range(1, 21))
    assert [e["position"] for e in history] == [life.after_step[v]["position"] for v in range(1, 21)]
    assert history[0]["type"] == "Raised" and history[-1]["type"] == "Closed"
    assert "13812345678" not in str(history) and "张三" not in str(history)
