"""One call's whole life over HTTP: 群众有呼 → 社区必应 → 上呼 → 街道必应 → 派单 → 退单 → 再派单
→ 延期 → 部门办结 → 办结 → 不满意 → 重办 → 办结 → 满意 → 销号.

Each step moves the fake clock first, so every event's business time ``at`` is the clock's
time at that step, and sends an Idempotency-Key, so the history shows each one. Every write
answers with ``ETag`` = the call's new version and a ``position`` that only grows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from httpx import Client, Response

from huying.clock import FakeClock

from .driver import Driver

GRID, COMMUNITY, STREET = "LW-LN-01-G01", "LW-LN-01", "LW-LN"
GRID_WORKER = ("grid_worker", GRID)
COMMUNITY_STAFF = ("community", COMMUNITY)
STREET_STAFF = ("street", STREET)
CG = ("department", "CG")
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)

# Full-width digits and punctuation, an em dash, an emoji and a character outside the BMP.
TITLE = "荔湾区十三行路３号楼道垃圾堆积——已超48小时无人清运！😷𠮷"
DESCRIPTION = "居民反映：\n1. 楼道堆放大件垃圾「沙发、床垫」；\n2. 气味难闻，影响通行。\n联系人：张先生"
ADDRESS = "广州市荔湾区十三行路３号"

Who = tuple[str, str]
Call = dict[str, Any]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def raw(text: str) -> bytes:
    """The text as a JSON string in UTF-8, unescaped: how it must appear on the wire."""
    return json.dumps(text, ensure_ascii=False).encode("utf-8")


def shape(call: Call) -> tuple[str, str, str, int]:
    return call["status"], call["level"], call["holder"], call["round"]


def orders(call: Call) -> dict[str, tuple[str, str, str, datetime]]:
    """Work orders by number ("w1"…): department, role, status, deadline."""
    return {
        o["id"].rsplit("-", 1)[1]: (o["department_code"], o["role"], o["status"], at(o["deadline"]))
        for o in call["work_orders"]
    }


def order(call: Call, number: int) -> dict[str, Any]:
    (found,) = (o for o in call["work_orders"] if o["id"].endswith(f"-w{number}"))
    return found


@dataclass
class Story:
    """Walks one call through its life, checking every answer, and keeps what the call's
    history must show at the end."""

    driver: Driver
    clock: FakeClock
    call_id: str = ""
    position: int = 0
    version: int = 0
    last: Response | None = None
    expected_history: list[tuple[str, Who, str, datetime]] = field(default_factory=list)
    chinese_sent: list[str] = field(default_factory=list)
    deadlines: dict[str, datetime] = field(default_factory=dict)

    def step(
        self, event: str, who: Who, path: str, body: Call | None, after: timedelta, expect: int = 200
    ) -> Call:
        self.clock.advance(after.total_seconds())
        key = f"step-{len(self.expected_history) + 1:02d}-{event}"
        self.last = response = self.driver.post(path, who, body, key=key, expect=expect)
        call: Call = response.json()
        assert response.headers["ETag"] == f'"{call["version"]}"'
        assert call["version"] == self.version + 1, f"{event} adds exactly one event"
        assert call["position"] > self.position, f"{event}: position grows"
        assert call["title"] == TITLE and call["description"] == DESCRIPTION
        self.version, self.position, self.call_id = call["version"], call["position"], call["id"]
        self.expected_history.append((event, who, key, self.clock.now()))
        self.chinese_sent += [v for v in (body or {}).values() if isinstance(v, str) and not v.isascii()]
        return call

    def on_call(self, event: str, who: Who, action: str, body: Call | None, after: timedelta) -> Call:
        return self.step(event, who, f"/api/v1/calls/{self.call_id}/{action}", body, after)

    def on_order(
        self, event: str, number: int, action: str, body: Call | None, after: timedelta, who: Who = CG
    ) -> Call:
        return self.step(event, who, f"/api/v1/work-orders/{self.call_id}-w{number}/{action}", body, after)

    def read(self, path: str, who: Who) -> Response:
        response = self.driver.client.get(path, headers=self.driver.tokens.headers(*who))
        assert response.status_code == 200, response.text
        return response


def test_a_call_lives_from_raise_to_close_over_http(client: Client, tokens: Any, clock: FakeClock) -> None:
    story = Story(Driver(client, tokens, clock), clock)
    a_grid_worker_raises_it(story)
    the_community_responds_and_calls_up_to_its_street(story)
    the_street_dispatches_and_the_lead_department_returns_its_order(story)
    the_street_dispatches_again_and_grants_an_extension(story)
    the_department_completes_and_the_street_resolves(story)
    the_reporter_is_dissatisfied_and_the_call_is_reopened(story)
    the_street_resolves_it_the_reporter_is_satisfied_and_it_is_closed(story)
    the_history_shows_every_step_as_it_happened(story)


def a_grid_worker_raises_it(story: Story) -> None:
    """群众有呼: 201 with Location, at the origin community; Chinese text comes back as sent."""
    body = {
        "item_code": "C01-01",
        "grid_code": GRID,
        "title": TITLE,
        "description": DESCRIPTION,
        "channel": "grid_worker",
        "urgency": "urgent",
        "location": {"address": ADDRESS, "lat": 23.1167, "lon": 113.25},
        "reporter": {"name": "张三", "phone": "13812345678"},
    }
    call = story.step("Raised", GRID_WORKER, "/api/v1/calls", body, 5 * MINUTE, expect=201)
    assert shape(call) == ("awaiting_response", "community", COMMUNITY, 1)
    assert (call["grid_code"], call["community_code"], call["street_code"]) == (GRID, COMMUNITY, STREET)
    assert (call["item_code"], call["channel"], call["urgency"]) == ("C01-01", "grid_worker", "urgent")
    assert at(call["raised_at"]) == story.clock.now()
    assert call["location"]["address"] == ADDRESS
    assert call["reporter"] == {"name": "张*", "phone": "138****5678"}, "the grid worker sees it masked"
    assert call["work_orders"] == [] and call["evaluation"] is None

    assert story.last is not None
    location = story.last.headers["Location"]
    assert location == f"/api/v1/calls/{story.call_id}"
    located = story.read(location, COMMUNITY_STAFF)
    assert located.json()["id"] == story.call_id and located.headers["ETag"] == '"1"'
    assert raw(TITLE) in located.content and raw(DESCRIPTION) in located.content, "raw UTF-8, no \\u escapes"
    assert located.json()["reporter"] == {"name": "张三", "phone": "13812345678"}, "origin community: in full"


def the_community_responds_and_calls_up_to_its_street(story: Story) -> None:
    """社区必应, then 上呼 (社区有呼，街道必应)."""
    call = story.on_call(
        "Acknowledged", COMMUNITY_STAFF, "acknowledge", {"note": "已到现场查看"}, 15 * MINUTE
    )
    assert shape(call) == ("in_progress", "community", COMMUNITY, 1)
    call = story.on_call(
        "Escalated", COMMUNITY_STAFF, "escalate", {"reason": "涉及物业撤场，社区无法协调"}, HOUR
    )
    assert shape(call) == ("awaiting_response", "street", STREET, 1)
    call = story.on_call("Acknowledged", STREET_STAFF, "acknowledge", None, 30 * MINUTE)
    assert shape(call) == ("in_progress", "street", STREET, 1)


def the_street_dispatches_and_the_lead_department_returns_its_order(story: Story) -> None:
    """派单 to CG (lead) and ZJ (assisting); CG signs, then 退单: the call is returned."""
    first = story.deadlines["first"] = story.clock.now() + HOUR + 5 * DAY
    body = {
        "lead_department": "CG",
        "assisting_departments": ["ZJ"],
        "deadline": first.isoformat(),
        "instructions": "清运楼道垃圾并联系物业落实保洁",
    }
    call = story.on_call("Dispatched", STREET_STAFF, "dispatch", body, HOUR)
    assert shape(call) == ("dispatched", "department", STREET, 1), "the street still holds the call"
    assert orders(call) == {
        "w1": ("CG", "lead", "dispatched", first),
        "w2": ("ZJ", "assist", "dispatched", first),
    }
    assert {o["instructions"] for o in call["work_orders"]} == {"清运楼道垃圾并联系物业落实保洁"}

    call = story.on_order("WorkOrderSigned", 1, "sign", {"note": "已签收"}, 2 * HOUR)
    assert order(call, 1)["status"] == "signed" and at(order(call, 1)["signed_at"]) == story.clock.now()
    call = story.on_order(
        "WorkOrderReturned", 1, "return", {"reason": "楼道属物业管理区域，应由住建牵头"}, HOUR / 2
    )
    assert shape(call) == ("returned", "department", STREET, 1)
    assert orders(call) == {
        "w1": ("CG", "lead", "returned", first),
        "w2": ("ZJ", "assist", "dispatched", first),
    }


def the_street_dispatches_again_and_grants_an_extension(story: Story) -> None:
    """再派单 cancels the first dispatch's open order; CG signs, asks for two more days, gets them."""
    first = story.deadlines["first"]
    second = story.deadlines["second"] = story.clock.now() + HOUR + 4 * DAY
    body = {
        "lead_department": "CG",
        "assisting_departments": ["ZJ"],
        "deadline": second.isoformat(),
        "instructions": "城管牵头清运，住建督促物业",
    }
    call = story.on_call("Dispatched", STREET_STAFF, "dispatch", body, HOUR)
    assert shape(call) == ("dispatched", "department", STREET, 1)
    assert orders(call) == {
        "w1": ("CG", "lead", "returned", first),
        "w2": ("ZJ", "assist", "cancelled", first),
        "w3": ("CG", "lead", "dispatched", second),
        "w4": ("ZJ", "assist", "dispatched", second),
    }
    call = story.on_order("WorkOrderSigned", 3, "sign", None, HOUR)
    assert order(call, 3)["status"] == "signed"

    until = story.deadlines["extended"] = second + 2 * DAY
    body = {"until": until.isoformat(), "reason": "大件垃圾需预约清运车"}
    call = story.on_order("ExtensionRequested", 3, "request-extension", body, DAY)
    extension = order(call, 3)["extension"]
    assert at(extension["until"]) == until and extension["reason"] == "大件垃圾需预约清运车"
    assert at(extension["requested_at"]) == story.clock.now()
    assert at(order(call, 3)["deadline"]) == second, "not moved until granted"
    call = story.on_order(
        "ExtensionGranted", 3, "extension/grant", {"note": "同意延期"}, 2 * HOUR, who=STREET_STAFF
    )
    assert order(call, 3)["extension"] is None and at(order(call, 3)["deadline"]) == until

    read = story.read(f"/api/v1/work-orders/{story.call_id}-w3", CG)
    assert read.headers["ETag"] == f'"{story.version}"', "a work order's ETag is its call's version"
    assert read.json()["call_id"] == story.call_id and at(read.json()["deadline"]) == until


def the_department_completes_and_the_street_resolves(story: Story) -> None:
    """进展, 部门办结, then 办结 by the street at department level; nothing stays open."""
    story.on_order("ProgressNoted", 3, "progress", {"note": "已预约周四清运"}, DAY)
    call = story.on_order(
        "WorkOrderCompleted", 3, "complete", {"result": "大件垃圾已清运，楼道已冲洗消杀"}, DAY
    )
    w3 = order(call, 3)
    assert w3["status"] == "completed" and w3["result"] == "大件垃圾已清运，楼道已冲洗消杀"
    assert at(w3["completed_at"]) == story.clock.now()
    call = story.on_call(
        "Resolved", STREET_STAFF, "resolve", {"summary": "城管清运完毕，物业承诺每日保洁"}, 2 * HOUR
    )
    assert shape(call) == ("resolved", "department", STREET, 1)
    assert orders(call)["w4"] == ("ZJ", "assist", "cancelled", story.deadlines["second"])


def the_reporter_is_dissatisfied_and_the_call_is_reopened(story: Story) -> None:
    """回访: 不满意; 重办 starts round 2 at the street, which resolved it last time."""
    body = {"contacted": True, "solved": False, "satisfaction": "dissatisfied", "comment": "第二天又堆了"}
    call = story.on_call("Evaluated", COMMUNITY_STAFF, "evaluate", body, DAY)
    assert shape(call) == ("evaluated", "department", STREET, 1)
    evaluation = call["evaluation"]
    assert (evaluation["round"], evaluation["contacted"], evaluation["solved"]) == (1, True, False)
    assert evaluation["satisfaction"] == "dissatisfied" and evaluation["comment"] == "第二天又堆了"
    assert at(evaluation["at"]) == story.clock.now()
    call = story.on_call(
        "Reopened", COMMUNITY_STAFF, "reopen", {"reason": "居民不满意：垃圾再次堆积"}, 2 * DAY
    )
    assert shape(call) == ("in_progress", "street", STREET, 2)


def the_street_resolves_it_the_reporter_is_satisfied_and_it_is_closed(story: Story) -> None:
    """Round 2: the street resolves it itself, the grid worker records 满意, the community 销号."""
    call = story.on_call(
        "Resolved", STREET_STAFF, "resolve", {"summary": "街道约谈物业，落实每日清运"}, 3 * HOUR
    )
    assert shape(call) == ("resolved", "street", STREET, 2)
    body = {"contacted": True, "solved": True, "satisfaction": "satisfied", "comment": "现在很干净"}
    call = story.on_call("Evaluated", GRID_WORKER, "evaluate", body, DAY)
    assert shape(call) == ("evaluated", "street", STREET, 2)
    assert call["evaluation"]["round"] == 2 and call["evaluation"]["satisfaction"] == "satisfied"
    call = story.on_call("Closed", COMMUNITY_STAFF, "close", {"note": "销号"}, HOUR)
    assert shape(call) == ("closed", "street", STREET, 2)
    d = story.deadlines
    assert orders(call) == {
        "w1": ("CG", "lead", "returned", d["first"]),
        "w2": ("ZJ", "assist", "cancelled", d["first"]),
        "w3": ("CG", "lead", "completed", d["extended"]),
        "w4": ("ZJ", "assist", "cancelled", d["second"]),
    }


def the_history_shows_every_step_as_it_happened(story: Story) -> None:
    """Every event in order: its actor, its Idempotency-Key and its business time."""
    response = story.read(f"/api/v1/calls/{story.call_id}/history", GRID_WORKER)
    history = response.json()["data"]
    seen = [
        (e["type"], (e["actor"]["role"], e["actor"]["unit"]), e["idempotency_key"], at(e["at"]))
        for e in history
    ]
    assert seen == story.expected_history
    assert [e["version"] for e in history] == list(range(1, len(story.expected_history) + 1))
    positions = [e["position"] for e in history]
    assert positions == sorted(set(positions)) and positions[-1] == story.position
    assert history[0]["data"]["title"] == TITLE and history[0]["data"]["description"] == DESCRIPTION
    assert len(story.chinese_sent) > 15
    for text in story.chinese_sent:
        assert raw(text) in response.content, f"history keeps {text!r} as it was sent"

    final = story.read(f"/api/v1/calls/{story.call_id}", STREET_STAFF)
    assert final.headers["ETag"] == f'"{story.version}"' == f'"{len(history)}"'
