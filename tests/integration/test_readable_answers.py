"""Answers a person can read: compact dashboards, names beside codes, the true next deadline.

A new user found the default SLA dashboard to be ~250 KB for ten calls (mostly buckets where
nothing arrived), lists that showed ``LW-LN-01`` and ``C01-01`` but never 十三行社区 or 垃圾堆积,
and a ``next_due`` in the past on every overdue call.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from httpx import Client

from huying.clock import FakeClock

from .test_figures import Tokens, Week, play
from .test_search import Desk

CST = timezone(timedelta(hours=8))
SUPERVISOR = ("supervisor", "LW")
COMMUNITY = ("community", "LW-LN-01")


# --- compact dashboards ------------------------------------------------------------------------


def test_the_default_dashboard_leaves_out_periods_where_nothing_arrived(
    client: Client, tokens: Tokens, clock: FakeClock
) -> None:
    week = Week(client, tokens, clock)
    play(week)  # ten calls, 23 November – 1 December; "now" is 2 December
    compact = week.get("/api/v1/dashboards/sla")  # the district, the last 30 days by day
    full = week.get("/api/v1/dashboards/sla", empty_buckets="true")
    assert len(json.dumps(compact)) < 60_000 < len(json.dumps(full))
    everything = zip(
        [*compact["series"], *compact["children"]], [*full["series"], *full["children"]], strict=True
    )
    for shown, whole in everything:
        assert len(whole["buckets"]) == 30
        assert all(b["received"] > 0 for b in shown["buckets"])
        assert shown["buckets"] == [b for b in whole["buckets"] if b["received"] > 0]
        assert (shown["totals"], shown["backlog"]) == (whole["totals"], whole["backlog"])
    assert [b["period"] for b in compact["series"][0]["buckets"]] == [
        "2026-11-23",
        "2026-11-24",
        "2026-11-26",
    ]


def test_dashboards_name_their_units(client: Client, tokens: Tokens, clock: FakeClock) -> None:
    week = Week(client, tokens, clock)
    play(week)
    body = week.get("/api/v1/dashboards/sla", ("street", "LW-LN"))
    assert (body["unit"], body["unit_name"]) == ("LW-LN", "岭南街道")
    assert [(s["unit"], s["unit_name"]) for s in body["children"]] == [
        ("LW-LN-01", "十三行社区"),
        ("LW-LN-02", "冼基社区"),
        ("LW-LN-03", "和平社区"),
    ]


# --- names in lists, and the true next deadline ----------------------------------------------


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=CST)  # Guangzhou time


def utc(instant: str) -> datetime:
    return datetime.fromisoformat(instant).astimezone(UTC)


def dispatch_one(desk: Desk) -> None:
    """A call of item C01-01 in grid LW-LN-01-G01, called up to the street and dispatched to CG."""
    body = {"item_code": "C01-01", "grid_code": "LW-LN-01-G01", "title": "垃圾", "description": "垃圾"}
    call = desk.post("/api/v1/calls", ("grid_worker", "LW-LN-01-G01"), {**body, "channel": "photo"})
    desk.post(f"/api/v1/calls/{call['id']}/escalate", COMMUNITY, {"reason": "上呼"})
    desk.post(f"/api/v1/calls/{call['id']}/acknowledge", ("street", "LW-LN"))
    order = {"lead_department": "CG", "instructions": "清运"}
    desk.post(f"/api/v1/calls/{call['id']}/dispatch", ("street", "LW-LN"), order)


def test_lists_show_names_beside_codes(client: Client, tokens: Tokens, clock: FakeClock) -> None:
    desk = Desk(client, tokens, clock)
    dispatch_one(desk)

    (found,) = desk.read("/api/v1/calls")["data"]
    named = {k: found[k] for k in ("item_name", "grid_name", "community_name", "street_name", "holder_name")}
    assert named == {
        "item_name": "垃圾堆积",
        "grid_name": "第一网格",
        "community_name": "十三行社区",
        "street_name": "岭南街道",
        "holder_name": "岭南街道",
    }
    ledger = desk.read("/api/v1/ledger", ("street", "LW-LN"))
    assert (ledger["summary"]["unit_name"], ledger["data"][0]["community_name"]) == ("岭南街道", "十三行社区")
    (queued,) = desk.read("/api/v1/departments/CG/work-orders")["data"]
    assert {k: queued[k] for k in ("item_name", "department_name", "street_name")} == {
        "item_name": "垃圾堆积",
        "department_name": "广州市荔湾区城市管理和综合执法局",
        "street_name": "岭南街道",
    }


def test_a_renamed_item_is_shown_by_its_new_name_at_once(
    client: Client, tokens: Tokens, clock: FakeClock
) -> None:
    """The names are the catalog in effect when the list is read, in every list: the sync
    routes' and the department queue's, which reads them in its worker thread."""
    desk = Desk(client, tokens, clock)
    dispatch_one(desk)
    lists = (
        ("/api/v1/calls", SUPERVISOR),
        ("/api/v1/ledger", ("street", "LW-LN")),
        ("/api/v1/departments/CG/work-orders", ("department", "CG")),
    )
    assert [desk.read(path, who)["data"][0]["item_name"] for path, who in lists] == ["垃圾堆积"] * 3

    renamed = client.patch(
        "/api/v1/catalog/items/C01-01", headers=tokens.headers("admin", "LW"), json={"name": "垃圾乱堆"}
    )
    assert renamed.status_code == 200, renamed.text
    assert [desk.read(path, who)["data"][0]["item_name"] for path, who in lists] == ["垃圾乱堆"] * 3


def test_an_overdue_call_shows_its_next_deadline_ahead_and_how_overdue_it_is(
    client: Client, tokens: Tokens, clock: FakeClock
) -> None:
    """Raised Monday 09:00: the community owes a response by 11:00 and a resolution by Tuesday
    09:00 (item C01-01: 2 working hours, 1 working day; working time 08:30–12:00, 14:00–17:30)."""
    desk = Desk(client, tokens, clock)
    clock.set(at(11, 23, 9))
    body = {"item_code": "C01-01", "grid_code": "LW-LN-01-G01", "title": "垃圾", "description": "垃圾"}
    call = desk.post("/api/v1/calls", ("grid_worker", "LW-LN-01-G01"), {**body, "channel": "photo"})

    def listed() -> dict[str, Any]:
        (row,) = desk.read("/api/v1/calls")["data"]
        detail = desk.read(f"/api/v1/calls/{call['id']}")["deadlines"]
        assert (detail["next_due"], detail["overdue_since"]) == (row["next_due"], row["overdue_since"])
        return row

    clock.set(at(11, 23, 10))  # nothing missed yet: the response is next, 1 working hour away
    row = listed()
    assert (utc(row["next_due"]), row["remaining_seconds"], row["overdue"]) == (at(11, 23, 11), 3600, False)
    assert (row["overdue_since"], row["overdue_seconds"]) == (None, None)

    clock.set(at(11, 23, 12))  # the response was missed at 11:00; the resolution is next
    row = listed()
    assert (row["overdue"], utc(row["overdue_since"]), row["overdue_seconds"]) == (True, at(11, 23, 11), 3600)
    assert (utc(row["next_due"]), row["remaining_seconds"]) == (at(11, 24, 9), 4 * 3600)  # 3.5 h + 0.5 h

    clock.set(at(11, 24, 10))  # both missed: nothing ahead, overdue since Monday 11:00
    row = listed()
    assert (row["next_due"], row["remaining_seconds"]) == (None, None)
    assert (utc(row["overdue_since"]), row["overdue_seconds"]) == (
        at(11, 23, 11),
        6 * 3600,
    )  # 1 + 3.5 + 1.5 h


def test_an_emergency_orders_time_is_clock_time_in_the_queue(
    client: Client, tokens: Tokens, clock: FakeClock
) -> None:
    """应急处置 items count minutes day and night: item C11-02 (排水内涝) gives a department 30
    minutes to sign. Dispatched Monday 20:00, outside working time, it is due at 20:30."""
    desk = Desk(client, tokens, clock)
    clock.set(at(11, 23, 19, 30))
    body = {"item_code": "C11-02", "grid_code": "LW-LN-01-G01", "title": "内涝", "description": "路面积水"}
    call = desk.post("/api/v1/calls", ("grid_worker", "LW-LN-01-G01"), {**body, "channel": "hotline"})
    desk.post(f"/api/v1/calls/{call['id']}/escalate", COMMUNITY, {"reason": "上呼"})
    desk.post(f"/api/v1/calls/{call['id']}/acknowledge", ("street", "LW-LN"))
    clock.set(at(11, 23, 20))
    desk.post(
        f"/api/v1/calls/{call['id']}/dispatch",
        ("street", "LW-LN"),
        {"lead_department": "SW", "instructions": "排水"},
    )
    clock.set(at(11, 23, 20, 10))
    (order,) = desk.read("/api/v1/departments/SW/work-orders")["data"]
    assert (utc(order["next_due"]), order["remaining_seconds"]) == (at(11, 23, 20, 30), 20 * 60)
    clock.set(at(11, 23, 20, 40))
    (order,) = desk.read("/api/v1/departments/SW/work-orders")["data"]
    assert (utc(order["overdue_since"]), order["overdue_seconds"]) == (at(11, 23, 20, 30), 10 * 60)
