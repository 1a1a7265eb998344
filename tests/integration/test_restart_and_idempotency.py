"""Restarts and retries on a real SQLite file.

The event store is the truth: a brand-new process on the same data directory finds every call
as it was, and answers a retried request (same Idempotency-Key, same principal, same path) from
the record — the original status and body, nothing written. Concurrent duplicates yield one
write; concurrent conflicting moves yield one success — within one process, and in lockstep
across several processes on the same files.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from backends import raw_events
from huying.api.app import create_app
from huying.bootstrap import Services, build_services
from huying.clock import FakeClock
from huying.settings import Settings

from .together import run_together

GRID = "LW-LN-01-G01"
COMMUNITY = "LW-LN-01"
STREET = "LW-LN"
DISTRICT = "LW"
CALLS = "/api/v1/calls"
ORDERS = "/api/v1/work-orders"

RAISE: dict[str, Any] = {
    "item_code": "C01-01",
    "grid_code": GRID,
    "title": "十三行路口井盖松动",
    "description": "井盖一侧翘起，行人易绊倒，请尽快处理。",
    "channel": "grid_worker",
    "urgency": "urgent",
    "location": {"address": "十三行路 12 号对面", "lat": 23.118, "lon": 113.252},
    "reporter": {"name": "张三丰", "phone": "13812345678"},
}


# --- helpers -----------------------------------------------------------------------------------


def store_counts(settings: Settings) -> tuple[int, int]:
    """(distinct calls, events) in the event store, read straight from its table."""
    with raw_events(settings) as store:
        return store.counts()


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


LIVE_CLOCK_FIELDS = ("overdue", "due_soon", "remaining_seconds")


def snapshot(client: httpx.Client, headers: dict[str, str], call_id: str) -> dict[str, Any]:
    """What a reader can know of a call from the record: its state, ETag and full history.
    (How much time its clocks have left depends on when you ask, so that part is left out.)"""
    got = client.get(f"{CALLS}/{call_id}", headers=headers)
    history = client.get(f"{CALLS}/{call_id}/history", headers=headers)
    call = ok(got)
    deadlines = call["deadlines"]
    for field in LIVE_CLOCK_FIELDS:
        deadlines.pop(field, None)
        for clock in deadlines["clocks"]:
            clock.pop(field, None)
    assert all("due" in clock for clock in deadlines["clocks"])
    return {"call": call, "etag": got.headers["ETag"], "history": ok(history)}


@pytest.fixture
def restart(settings: Settings, clock: FakeClock) -> Iterator[Callable[[Services], httpx.Client]]:
    """Closes the services it is given and builds brand-new ones (and a new app) on the same
    data directory, as a restarted process would; the clock resumes an hour later."""
    built: list[Services] = []

    def again(old: Services) -> httpx.Client:
        old.close()
        new_clock = FakeClock(start=clock.now() + timedelta(hours=1))
        services = build_services(settings.model_copy(update={"run_watchdog": True}), new_clock)
        built.append(services)
        return TestClient(create_app(services=services))

    yield again
    for services in built:
        services.close()


# --- everything survives a restart -----------------------------------------------------------


def test_every_call_is_intact_after_a_restart(
    settings: Settings, services: Services, client: httpx.Client, tokens: Any, clock: FakeClock, restart: Any
) -> None:
    grid = tokens.headers("grid_worker", GRID)
    community = tokens.headers("community", COMMUNITY)
    street = tokens.headers("street", STREET)
    cg = tokens.headers("department", "CG")
    supervisor = tokens.headers("supervisor", DISTRICT)

    def step(path: str, headers: dict[str, str], body: dict[str, Any] | None = None) -> dict[str, Any]:
        clock.advance(600)
        return ok(client.post(path, headers=headers, json=body))

    # A: the whole ladder, community → street → departments → resolved, evaluated, closed.
    a = ok(client.post(CALLS, headers={**grid, "Idempotency-Key": "a-raise"}, json=RAISE), 201)
    a_id = a["id"]
    step(f"{CALLS}/{a_id}/acknowledge", {**community, "Idempotency-Key": "a-ack"}, {"note": "已响应"})
    step(f"{CALLS}/{a_id}/escalate", community, {"reason": "需街道协调城管"})
    step(f"{CALLS}/{a_id}/acknowledge", street)
    dispatched = step(
        f"{CALLS}/{a_id}/dispatch",
        street,
        {
            "lead_department": "CG",
            "assisting_departments": ["ZJ"],
            "deadline": "2026-11-25T18:00:00+08:00",
            "instructions": "请于两日内修复井盖",
        },
    )
    lead = next(o["id"] for o in dispatched["work_orders"] if o["department_code"] == "CG")
    step(f"{ORDERS}/{lead}/sign", {**cg, "Idempotency-Key": "cg-sign"})
    step(f"{ORDERS}/{lead}/complete", cg, {"result": "已更换井盖"})
    step(f"{CALLS}/{a_id}/resolve", street, {"summary": "井盖已修复"})
    step(
        f"{CALLS}/{a_id}/evaluate",
        community,
        {"contacted": True, "solved": True, "satisfaction": "satisfied"},
    )
    step(f"{CALLS}/{a_id}/close", community, {"note": "销号"})

    # B: resolved at the community, found wanting, reopened.
    b_id = ok(client.post(CALLS, headers=community, json={**RAISE, "channel": "walk_in"}), 201)["id"]
    step(f"{CALLS}/{b_id}/acknowledge", community)
    step(f"{CALLS}/{b_id}/resolve", community, {"summary": "已处理"})
    step(
        f"{CALLS}/{b_id}/evaluate",
        community,
        {"contacted": True, "solved": False, "satisfaction": "dissatisfied"},
    )
    step(f"{CALLS}/{b_id}/reopen", community, {"reason": "群众反映仍未解决"})

    # C: withdrawn by the grid worker; D: untouched.
    c_id = ok(client.post(CALLS, headers={**grid, "Idempotency-Key": "c-raise"}, json=RAISE), 201)["id"]
    step(f"{CALLS}/{c_id}/withdraw", grid, {"reason": "群众已自行解决"})
    d_id = ok(client.post(CALLS, headers=grid, json={**RAISE, "title": "路灯不亮"}), 201)["id"]

    ids = [a_id, b_id, c_id, d_id]
    before = {i: snapshot(client, supervisor, i) for i in ids}
    assert [before[i]["call"]["status"] for i in ids] == [
        "closed",
        "in_progress",
        "withdrawn",
        "awaiting_response",
    ]
    counts = store_counts(settings)
    assert counts == (4, 10 + 5 + 2 + 1)

    client = restart(services)

    for i in ids:
        after = snapshot(client, supervisor, i)
        assert after == before[i]
        history = after["history"]["data"]
        positions = [e["position"] for e in history]
        assert positions == sorted(positions) and len(set(positions)) == len(positions)
        assert [e["version"] for e in history] == list(range(1, len(history) + 1))
        assert after["call"]["position"] == positions[-1]
        assert after["call"]["version"] == history[-1]["version"]
        assert after["etag"] == f'"{after["call"]["version"]}"'
    assert store_counts(settings) == counts

    # The restarted service goes on writing where the first left off.
    moved = ok(client.post(f"{CALLS}/{d_id}/acknowledge", headers=community))
    assert moved["version"] == 2
    assert moved["position"] > max(e["position"] for s in before.values() for e in s["history"]["data"])


# --- retries answered from the record ---------------------------------------------------------


def test_replays_after_a_restart_return_the_original_answers(
    settings: Settings, services: Services, client: httpx.Client, tokens: Any, clock: FakeClock, restart: Any
) -> None:
    grid = tokens.headers("grid_worker", GRID, key="raise-1")
    community = tokens.headers("community", COMMUNITY, key="ack-1")
    supervisor = tokens.headers("supervisor", DISTRICT)

    raised = client.post(CALLS, headers=grid, json=RAISE)
    first_raise = ok(raised, 201)
    call_id = first_raise["id"]
    clock.advance(300)
    acked = client.post(f"{CALLS}/{call_id}/acknowledge", headers=community, json={"note": "收到"})
    first_ack = ok(acked)
    clock.advance(300)
    # The call moves on, so a replay must answer as the call then stood, not as it stands now.
    ok(
        client.post(
            f"{CALLS}/{call_id}/escalate",
            headers=tokens.headers("community", COMMUNITY),
            json={"reason": "上呼"},
        )
    )
    history_before = ok(client.get(f"{CALLS}/{call_id}/history", headers=supervisor))["data"]
    counts = store_counts(settings)

    client = restart(services)

    # Same key, JSON-equal body (other key order, other whitespace): the first answer again.
    reordered = json.dumps(dict(reversed(list(RAISE.items()))), ensure_ascii=False, indent=2)
    again = client.post(
        CALLS, headers={**grid, "Content-Type": "application/json"}, content=reordered.encode()
    )
    assert again.status_code == 201, again.text
    assert again.json() == first_raise
    assert again.headers["Location"] == raised.headers["Location"] == f"{CALLS}/{call_id}"
    assert again.headers["ETag"] == raised.headers["ETag"] == '"1"'

    ack_again = client.post(f"{CALLS}/{call_id}/acknowledge", headers=community, json={"note": "收到"})
    assert ack_again.status_code == 200, ack_again.text
    assert ack_again.json() == first_ack
    assert (ack_again.json()["id"], ack_again.json()["version"], ack_again.json()["position"]) == (
        call_id,
        2,
        first_ack["position"],
    )
    assert ack_again.headers["ETag"] == acked.headers["ETag"] == '"2"'

    # Same key, another body: refused, and nothing is written.
    other_raise = client.post(CALLS, headers=grid, json={**RAISE, "title": "另一件事"})
    assert other_raise.status_code == 422, other_raise.text
    assert other_raise.headers["content-type"].startswith("application/problem+json")
    other_ack = client.post(f"{CALLS}/{call_id}/acknowledge", headers=community, json={"note": "另一个备注"})
    assert other_ack.status_code == 422, other_ack.text
    assert other_ack.headers["content-type"].startswith("application/problem+json")
    no_body_ack = client.post(f"{CALLS}/{call_id}/acknowledge", headers=community)
    assert no_body_ack.status_code == 422, no_body_ack.text

    assert ok(client.get(f"{CALLS}/{call_id}/history", headers=supervisor))["data"] == history_before
    assert store_counts(settings) == counts


def test_keys_are_scoped_by_principal_and_path(
    settings: Settings, client: httpx.Client, tokens: Any, clock: FakeClock
) -> None:
    key = "same-key"
    grid = tokens.headers("grid_worker", GRID, key=key)
    other_grid = tokens.headers("grid_worker", "LW-LN-01-G02", key=key)
    community = tokens.headers("community", COMMUNITY, key=key)
    supervisor = tokens.headers("supervisor", DISTRICT, key=key)

    ids = [
        ok(client.post(CALLS, headers=grid, json=RAISE), 201)["id"],
        ok(client.post(CALLS, headers=other_grid, json={**RAISE, "grid_code": "LW-LN-01-G02"}), 201)["id"],
        ok(client.post(CALLS, headers=community, json=RAISE), 201)["id"],
        ok(client.post(CALLS, headers=supervisor, json=RAISE), 201)["id"],
    ]
    assert len(set(ids)) == 4, "the same key from four principals is four requests"
    assert store_counts(settings) == (4, 4)

    x, y = ids[0], ids[2]
    # The community uses the key it raised with on actions: each path is its own request.
    acked = ok(client.post(f"{CALLS}/{x}/acknowledge", headers=community))
    assert acked["version"] == 2 and acked["status"] == "in_progress"
    escalated = ok(client.post(f"{CALLS}/{x}/escalate", headers=community, json={"reason": "上呼"}))
    assert escalated["version"] == 3 and escalated["level"] == "street"
    acked_y = ok(client.post(f"{CALLS}/{y}/acknowledge", headers=community))
    assert acked_y["version"] == 2
    # The street's acknowledge on x with the same key is the street's own request.
    street_ack = ok(
        client.post(f"{CALLS}/{x}/acknowledge", headers=tokens.headers("street", STREET, key=key))
    )
    assert street_ack["version"] == 4

    # And a true repeat is still answered from the record.
    repeat = client.post(f"{CALLS}/{x}/acknowledge", headers=community)
    assert repeat.status_code == 200
    assert repeat.json() == acked
    history = ok(client.get(f"{CALLS}/{x}/history", headers=supervisor))["data"]
    assert [(e["type"], e["actor"]["role"], e["idempotency_key"]) for e in history] == [
        ("Raised", "grid_worker", key),
        ("Acknowledged", "community", key),
        ("Escalated", "community", key),
        ("Acknowledged", "street", key),
    ]
    assert store_counts(settings) == (4, 4 + 3 + 1)


# --- concurrency -------------------------------------------------------------------------------


LOCKSTEP = pytest.mark.parametrize("lockstep", [False, True], ids=["free", "lockstep"])


@LOCKSTEP
def test_twenty_concurrent_raises_with_one_key_make_one_call(
    settings: Settings,
    services: Services,
    client: httpx.Client,
    tokens: Any,
    lockstep: bool,
) -> None:
    headers = tokens.headers("grid_worker", GRID, key="burst-1")
    answers = run_together(
        20, lambda c: c.post(CALLS, headers=headers, json=RAISE), services, client.app, lockstep
    )

    assert [a.status_code for a in answers] == [201] * 20, [a.text for a in answers if a.status_code != 201]
    bodies = [a.json() for a in answers]
    assert all(b == bodies[0] for b in bodies)
    assert {a.headers["Location"] for a in answers} == {f"{CALLS}/{bodies[0]['id']}"}
    assert store_counts(settings) == (1, 1)
    assert sum(1 for a in answers if a.headers.get("Idempotent-Replayed") != "true") == 1


@LOCKSTEP
@pytest.mark.parametrize("if_match", [False, True], ids=["no-if-match", "if-match"])
def test_twenty_concurrent_duplicates_of_a_keyed_action_make_one_write(
    settings: Settings,
    services: Services,
    client: httpx.Client,
    tokens: Any,
    lockstep: bool,
    if_match: bool,
) -> None:
    """A retried request (same key, same body) gets the original answer, however it is timed:
    If-Match guards against others' changes, not against the request's own first copy."""
    raised = client.post(CALLS, headers=tokens.headers("grid_worker", GRID), json=RAISE)
    call_id = ok(raised, 201)["id"]
    headers = tokens.headers("community", COMMUNITY, key="ack-burst")
    if if_match:
        headers["If-Match"] = raised.headers["ETag"]

    answers = run_together(
        20,
        lambda c: c.post(f"{CALLS}/{call_id}/acknowledge", headers=headers, json={"note": "收到"}),
        services,
        client.app,
        lockstep,
    )

    assert [a.status_code for a in answers] == [200] * 20, sorted(
        {(a.status_code, a.text) for a in answers if a.status_code != 200}
    )
    bodies = [a.json() for a in answers]
    assert all(b == bodies[0] for b in bodies) and bodies[0]["version"] == 2
    assert store_counts(settings) == (1, 2)


@LOCKSTEP
@pytest.mark.parametrize("if_match", [False, True], ids=["no-if-match", "if-match"])
@pytest.mark.parametrize(
    ("action", "role", "unit", "body"),
    [
        ("acknowledge", "community", COMMUNITY, None),
        ("withdraw", "grid_worker", GRID, {"reason": "群众已自行解决"}),
    ],
)
def test_twenty_concurrent_conflicting_actions_one_succeeds(
    settings: Settings,
    services: Services,
    client: httpx.Client,
    tokens: Any,
    action: str,
    role: str,
    unit: str,
    body: dict[str, Any] | None,
    if_match: bool,
    lockstep: bool,
) -> None:
    raised = client.post(CALLS, headers=tokens.headers("grid_worker", GRID), json=RAISE)
    call_id = ok(raised, 201)["id"]
    headers = tokens.headers(role, unit)
    if if_match:
        headers["If-Match"] = raised.headers["ETag"]

    answers = run_together(
        20,
        lambda c: c.post(f"{CALLS}/{call_id}/{action}", headers=headers, json=body),
        services,
        client.app,
        lockstep,
    )

    statuses = sorted(a.status_code for a in answers)
    loser = 412 if if_match else 409
    assert statuses == [200] + [loser] * 19, [a.text for a in answers if a.status_code >= 500]
    for a in answers:
        if a.status_code != 200:
            assert a.headers["content-type"].startswith("application/problem+json")
    history = ok(client.get(f"{CALLS}/{call_id}/history", headers=tokens.headers("supervisor", DISTRICT)))
    assert len(history["data"]) == 2
    assert store_counts(settings) == (1, 2)
