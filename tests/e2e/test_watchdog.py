"""The SLA watchdog over HTTP: a silent call climbs by itself across a holiday, exactly once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from httpx import Client

from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.domain.worktime import SHANGHAI
from huying.watchdog import Watchdog

CALLS = "/api/v1/calls"
GRID, COMMUNITY, STREET, DISTRICT = "LW-LN-01-G01", "LW-LN-01", "LW-LN", "LW"


def cst(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI)  # type: ignore[misc]


def iso(value: str) -> datetime:
    return datetime.fromisoformat(value)


class World:
    def __init__(self, client: Client, tokens: Any, services: Services, clock: FakeClock) -> None:
        self.client, self.tokens, self.services, self.clock = client, tokens, services, clock
        # Three watchdogs at once, as if started twice by mistake and once by `huying watch`.
        self.dogs = [services.watchdog] + [
            Watchdog(services.calls, services.engine, clock, directives=services.directives) for _ in range(2)
        ]

    def move_to(self, when: datetime) -> None:
        got = self.client.post(
            "/api/v1/_clock", json={"now": when.isoformat()}, headers=self.tokens.headers("admin", DISTRICT)
        )
        assert got.status_code == 200, got.text

    def sweep(self) -> list[Any]:
        self.services.projector.catch_up()
        moves = [m for dog in self.dogs for m in dog.sweep()]
        self.services.projector.catch_up()
        return moves

    def call(self, call_id: str) -> dict[str, Any]:
        got = self.client.get(f"{CALLS}/{call_id}", headers=self.tokens.headers("supervisor", DISTRICT))
        assert got.status_code == 200
        return got.json()

    def history(self, call_id: str) -> list[dict[str, Any]]:
        got = self.client.get(f"{CALLS}/{call_id}/history", headers=self.tokens.headers("auditor", DISTRICT))
        return got.json()["data"]

    def post(self, path: str, who: tuple[str, str], body: dict[str, Any] | None = None) -> dict[str, Any]:
        got = self.client.post(path, json=body, headers=self.tokens.headers(*who))
        assert got.status_code in (200, 201), got.text
        return got.json()


def test_a_silent_call_climbs_from_community_to_street_to_department_supervision(
    client: Client, tokens: Any, services: Services, clock: FakeClock
) -> None:
    w = World(client, tokens, services, clock)
    # Thursday 24 Sep 2026, 16:00 — the eve of 中秋 (25–27 Sep), a week before 国庆.
    w.move_to(cst(2026, 9, 24, 16))
    raised = w.post(
        CALLS,
        ("grid_worker", GRID),
        {
            "item_code": "C01-01",
            "grid_code": GRID,
            "title": "巷口垃圾",
            "description": "三天未清运",
            "channel": "grid_worker",
        },
    )
    call_id = raised["id"]
    # C01-01: community must respond within 2 working hours — 1.5 h on Thursday, then the
    # holiday weekend, then 0.5 h on Monday 28 Sep: due 09:00. A clerk computes the same.
    community = raised["deadlines"]["clocks"][0]
    assert (community["clock"], iso(community["due"])) == ("stint1:response", cst(2026, 9, 28, 9))

    w.move_to(cst(2026, 9, 27, 18))  # Sunday evening, still the holiday: nothing is late
    assert w.sweep() == []
    w.move_to(cst(2026, 9, 28, 8, 59))
    assert w.sweep() == []

    w.move_to(cst(2026, 9, 28, 9, 1))  # 社区有呼未应 → 街道必应
    moves = w.sweep()
    assert [(m.action, m.clock) for m in moves] == [("escalate", "stint1:response")]
    call = w.call(call_id)
    assert (call["level"], call["holder"], call["status"]) == ("street", STREET, "awaiting_response")
    # The street's clocks start at the escalation: respond within 4 working hours → 15:01.
    street = {c["clock"]: c for c in call["deadlines"]["clocks"]}
    assert iso(street["stint2:response"]["due"]) == cst(2026, 9, 28, 15, 1)
    assert street["stint1:response"]["late"] and street["stint1:response"]["stopped_at"]
    assert w.sweep() == [], "nothing is done twice"

    w.move_to(cst(2026, 9, 28, 16))  # the street has not answered either: 督办 the street
    assert [(m.action, m.clock, m.unit) for m in w.sweep()] == [("supervise", "stint2:response", STREET)]
    assert w.sweep() == []

    # The street wakes up and dispatches to 城管 without a deadline: the item's department SLA
    # gives one; signing is due within 1 working day (Tue 10:00 → Wed 30 Sep 10:00).
    w.move_to(cst(2026, 9, 29, 10))
    w.post(f"{CALLS}/{call_id}/acknowledge", ("street", STREET))
    dispatched = w.post(
        f"{CALLS}/{call_id}/dispatch",
        ("street", STREET),
        {"lead_department": "CG", "instructions": "清运并设分类收集点"},
    )
    order = dispatched["work_orders"][0]
    assert iso(order["deadline"]) > cst(2026, 10, 8)  # five working days, across 国庆

    # 国庆 1 Oct: CG never signed; the street never resolved in its 2 working days.
    w.move_to(cst(2026, 10, 1, 10))
    flagged = {(m.clock, m.unit) for m in w.sweep()}
    assert flagged == {(f"{order['id']}:sign", "CG"), ("stint2:resolution", STREET)}
    assert w.sweep() == []

    history = w.history(call_id)
    watchdog_steps = [(e["type"], e["data"].get("clock")) for e in history if e["actor"]["role"] == "system"]
    assert watchdog_steps == [
        ("Escalated", None),
        ("Supervised", "stint2:response"),
        ("Supervised", "stint2:resolution"),  # a call's own clocks are looked at before its orders'
        ("Supervised", f"{order['id']}:sign"),
    ]
    assert [e["type"] for e in history].count("Escalated") == 1
    call = w.call(call_id)
    assert call["supervised"] == 3 and call["deadlines"]["ever_breached"]


def test_a_call_answered_in_time_is_left_alone(
    client: Client, tokens: Any, services: Services, clock: FakeClock
) -> None:
    w = World(client, tokens, services, clock)
    w.move_to(cst(2026, 11, 23, 9))
    raised = w.post(
        CALLS,
        ("grid_worker", GRID),
        {
            "item_code": "C01-01",
            "grid_code": GRID,
            "title": "路灯",
            "description": "不亮",
            "channel": "grid_worker",
        },
    )
    w.move_to(cst(2026, 11, 23, 10))
    w.post(f"{CALLS}/{raised['id']}/acknowledge", ("community", COMMUNITY))
    w.move_to(cst(2026, 11, 23, 11, 30))  # past the response due time, but it was answered
    assert w.sweep() == []
    listed = client.get(f"{CALLS}?overdue=true", headers=tokens.headers("supervisor", DISTRICT)).json()
    assert listed["data"] == []


def test_due_soon_and_remaining_time_show_in_lists_before_the_deadline(
    client: Client, tokens: Any, services: Services, clock: FakeClock
) -> None:
    w = World(client, tokens, services, clock)
    w.move_to(cst(2026, 11, 23, 9))
    raised = w.post(
        CALLS,
        ("grid_worker", GRID),
        {
            "item_code": "C01-01",
            "grid_code": GRID,
            "title": "井盖",
            "description": "松动",
            "channel": "grid_worker",
        },
    )
    # Response due 11:00; 80% of 2 working hours used at 10:36.
    w.move_to(cst(2026, 11, 23, 10, 40))
    services.projector.catch_up()
    row = client.get(CALLS, headers=tokens.headers("community", COMMUNITY)).json()["data"][0]
    assert row["id"] == raised["id"]
    assert (row["due_soon"], row["overdue"]) == (True, False)
    assert row["remaining_seconds"] == timedelta(minutes=20).total_seconds()
    assert iso(row["next_due"]) == cst(2026, 11, 23, 11)


def test_calls_already_flagged_do_not_hide_a_newly_late_one_from_the_watchdog(
    client: Client, tokens: Any, services: Services, clock: FakeClock
) -> None:
    """A call whose late clock was flagged (督办) stays late — its street has still not answered —
    and stays due in the read model, oldest first. More of them than a sweep takes at once must
    not keep the watchdog from a call that is late now; nor is a flagged call's own later clock
    missed once it runs out."""
    w = World(client, tokens, services, clock)
    w.dogs = [Watchdog(services.calls, services.engine, clock, batch=2)]
    w.move_to(cst(2026, 11, 23, 9))  # Monday
    body = {
        "item_code": "C01-01",
        "grid_code": GRID,
        "title": "路灯",
        "description": "不亮",
        "channel": "hotline",
    }
    stuck = [w.post(CALLS, ("grid_worker", GRID), body)["id"] for _ in range(3)]
    w.move_to(cst(2026, 11, 23, 11, 1))  # community response due 11:00: the three climb
    assert sorted(m.aggregate_id for m in _until_quiet(w) if m.action == "escalate") == sorted(
        map(UUID, stuck)
    )
    w.move_to(cst(2026, 11, 23, 17, 10))  # the street's 4 working hours ran out at 17:01: 督办, each once
    assert sorted(m.aggregate_id for m in _until_quiet(w) if m.action == "supervise") == sorted(
        map(UUID, stuck)
    )
    assert w.sweep() == []

    w.move_to(cst(2026, 11, 24, 9))  # Tuesday
    late = w.post(CALLS, ("grid_worker", GRID), body)["id"]
    w.move_to(cst(2026, 11, 24, 11, 1))
    assert [(m.aggregate_id, m.action) for m in _until_quiet(w)] == [(UUID(late), "escalate")]
    assert w.call(late)["level"] == "street"

    w.move_to(cst(2026, 11, 27, 12))  # Friday: the three streets' 2 working days to resolve ran out
    resolution = {(m.aggregate_id, m.action, m.clock) for m in _until_quiet(w)}
    assert {(UUID(c), "supervise", "stint2:resolution") for c in stuck} <= resolution


def _until_quiet(w: World, most: int = 5) -> list[Any]:
    """The moves of sweeps repeated until one makes none (a sweep may take ``batch`` at a time)."""
    moves: list[Any] = []
    for _ in range(most):
        made = w.sweep()
        if not made:
            break
        moves += made
    return moves
