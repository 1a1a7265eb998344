"""联席会议 over HTTP, on each backend: a community's hard call goes on its street's 大工委 agenda
(the call's history shows it), a member unit proposes, the minutes are taken, a decision becomes
a task (a directive) — once, however often it is retried — and once the task is accepted the
call's holder resolves the call citing the decision."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from httpx import Client

from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.domain.principal import Principal, Role
from huying.service_layer.command_path import Submission

GRID, COMMUNITY, STREET, MEMBER = "LW-LN-01-G01", "LW-LN-01", "LW-LN", "LW-LN-M01"
DAY = timedelta(days=1)
TITLE = "十三行路口垃圾长期堆积"


def _call(client: Client, tokens: Any) -> str:
    body = {
        "item_code": "C01-01",
        "grid_code": GRID,
        "title": TITLE,
        "description": "清运责任不清",
        "channel": "grid_worker",
    }
    call_id: str = client.post(
        "/api/v1/calls", json=body, headers=tokens.headers("grid_worker", GRID)
    ).json()["id"]
    client.post(f"/api/v1/calls/{call_id}/acknowledge", headers=tokens.headers("community", COMMUNITY))
    return call_id


def _post(client: Client, path: str, body: dict[str, Any], headers: dict[str, str], status: int = 200) -> Any:
    answer = client.post(path, json=body, headers=headers)
    assert answer.status_code == status, answer.text
    return answer


def test_a_joint_meeting_takes_a_call_decides_and_the_call_is_resolved_citing_the_decision(
    client: Client, tokens: Any, services: Services, clock: FakeClock
) -> None:
    call_id = _call(client, tokens)
    street = tokens.headers("street", STREET, key="convene-1")
    convene = {
        "kind": "working_committee",
        "title": "岭南街道大工委第四季度联席会议",
        "scheduled_for": (clock.now() + 2 * DAY).isoformat(),
        "invited": [MEMBER, COMMUNITY, "CG"],
    }
    made = _post(client, "/api/v1/meetings", convene, street, 201)
    meeting = made.json()
    base = f"/api/v1/meetings/{meeting['id']}"
    assert made.headers["Location"] == base and made.headers["ETag"] == '"1"'
    assert _post(client, "/api/v1/meetings", convene, street, 201).headers["Idempotent-Replayed"] == "true"

    clock.advance((2 * DAY).total_seconds())
    tabled = _post(
        client, f"{base}/agenda/calls", {"call_id": call_id}, tokens.headers("community", COMMUNITY)
    )
    assert tabled.json()["agenda"] == [
        {
            "id": "A1",
            "source": "call",
            "title": TITLE,
            "tabled_by": COMMUNITY,
            "call_id": call_id,
            "note": None,
        }
    ]
    history = client.get(
        f"/api/v1/calls/{call_id}/history", headers=tokens.headers("community", COMMUNITY)
    ).json()
    assert history["data"][-1]["type"] == "PutOnAgenda"
    assert history["data"][-1]["data"] == {"meeting_id": meeting["id"], "convener": STREET}

    _post(client, f"{base}/agenda/proposals", {"title": "院区周边停车秩序"}, tokens.headers("member", MEMBER))
    minutes = {"attended": [STREET, MEMBER, COMMUNITY], "discussion": "逐项研究，形成决议"}
    held = _post(client, f"{base}/minutes", minutes, tokens.headers("street", STREET)).json()
    assert held["stage"] == "held" and held["minutes"]["absent"] == ["CG"]

    decision = {
        "title": "城管牵头清理并设置分类收集点",
        "lead_unit": "CG",
        "assisting_units": [MEMBER, COMMUNITY],
        "responsible": {"name": "李明", "post": "岭南街道党工委副书记"},
        "deadline": (clock.now() + 14 * DAY).isoformat(),
        "agenda_item": "A1",
        "settles_call": True,
    }
    decide = tokens.headers("street", STREET, key="decide-1")
    first = _post(client, f"{base}/decisions", decision, decide)
    again = _post(client, f"{base}/decisions", decision, decide)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    [made_decision] = first.json()["decisions"]
    assert (
        made_decision["settles_call"] == call_id
        and made_decision["responsible"]["post"] == "岭南街道党工委副书记"
    )
    task_id = UUID(made_decision["task_id"])

    # The task follows the directive lifecycle (签收 → 上报 → 验收), through the directives' service.
    street_p = Principal(Role.STREET, STREET)
    for doer in (
        Principal(Role.DEPARTMENT, "CG"),
        Principal(Role.MEMBER, MEMBER),
        Principal(Role.COMMUNITY, COMMUNITY),
    ):
        services.directives.receive(doer, task_id, doer.unit, Submission())
        services.directives.report_done(doer, task_id, doer.unit, Submission(), "已清理，设置分类收集点")
        services.directives.accept(street_p, task_id, doer.unit, Submission())
    tasks = [n for n in services.app.recorder.select_notifications(1, 1000) if "Directive.Issued" in n.topic]
    assert len(tasks) == 1

    cite = {
        "summary": "按联席会议议定事项办结",
        "decision": {"meeting_id": meeting["id"], "decision_id": "D1"},
    }
    resolved = _post(client, f"/api/v1/calls/{call_id}/resolve", cite, tokens.headers("community", COMMUNITY))
    assert resolved.json()["status"] == "resolved"
    history = client.get(
        f"/api/v1/calls/{call_id}/history", headers=tokens.headers("community", COMMUNITY)
    ).json()
    assert history["data"][-1]["type"] == "Resolved"
    assert history["data"][-1]["data"]["decision"] == {"meeting_id": meeting["id"], "decision_id": "D1"}

    # The read side: meetings by unit and period, decisions and their completion (落实率).
    d2 = {
        **decision,
        "title": "停车秩序整治",
        "agenda_item": "A2",
        "settles_call": False,
        "lead_unit": MEMBER,
    }
    d2 |= {"assisting_units": [], "deadline": (clock.now() + 3 * DAY).isoformat()}
    last = _post(client, f"{base}/decisions", d2, tokens.headers("street", STREET)).json()["position"]
    clock.advance((4 * DAY).total_seconds())
    read = f"min_position={last}"
    mine = client.get(f"/api/v1/meetings?{read}", headers=tokens.headers("member", MEMBER)).json()["data"]
    assert [(m["id"], m["convening"], m["attended"], m["decisions"]) for m in mine] == [
        (meeting["id"], False, True, 2)
    ]
    standing = client.get(
        f"/api/v1/meetings/decisions?unit={STREET}&{read}", headers=tokens.headers("street", STREET)
    ).json()
    assert standing["figures"] == {
        "decisions": 2,
        "due": 2,
        "done": 1,
        "done_on_time": 1,
        "overdue": 1,
        "rate": 0.5,
    }
    assert [(d["decision_id"], d["done"], d["due"]) for d in standing["data"]] == [
        ("D1", True, True),
        ("D2", False, True),
    ]
    services.projector.reset()  # rebuilt from the log, the same answer
    services.projector.catch_up()
    rebuilt = client.get(
        f"/api/v1/meetings/decisions?unit={STREET}&{read}", headers=tokens.headers("street", STREET)
    ).json()
    # The same figures; only how far the read models had got may differ (the watchdog may have
    # recorded a late task since the first read, after the clock moved on).
    assert {**rebuilt, "position": None} == {**standing, "position": None}
    assert rebuilt["position"] >= standing["position"]
    theirs = client.get(f"/api/v1/meetings/decisions?{read}", headers=tokens.headers("member", MEMBER)).json()
    assert [d["decision_id"] for d in theirs["data"]] == ["D1", "D2"]  # assists D1, leads D2

    # 审计: the event feed names a meeting's events by qualified type, a call's as always.
    feed = client.get(
        "/api/v1/events?type=Meeting.Convened,Meeting.DecisionRecorded,PutOnAgenda",
        headers=tokens.headers("auditor", "LW"),
    ).json()["data"]
    assert [(e["type"], e["call_id"]) for e in feed] == [
        ("Meeting.Convened", meeting["id"]),
        ("PutOnAgenda", call_id),
        ("Meeting.DecisionRecorded", meeting["id"]),
        ("Meeting.DecisionRecorded", meeting["id"]),
    ]


def test_a_meetings_answers_keep_to_jurisdiction_and_the_contracts_order(
    client: Client, tokens: Any, clock: FakeClock
) -> None:
    body = {
        "kind": "working_committee",
        "title": "大工委",
        "scheduled_for": clock.now().isoformat(),
        "invited": [MEMBER],
    }
    meeting = _post(client, "/api/v1/meetings", body, tokens.headers("street", STREET), 201).json()
    base = f"/api/v1/meetings/{meeting['id']}"
    assert client.get(base, headers=tokens.headers("member", MEMBER)).status_code == 200
    for outsider in (("member", "LW-LN-M02"), ("street", "LW-DB"), ("grid_worker", GRID)):
        refused = client.get(base, headers=tokens.headers(*outsider))
        assert refused.status_code == 404 and refused.headers["content-type"] == "application/problem+json"
    assert (
        client.get("/api/v1/meetings/not-a-uuid", headers=tokens.headers("street", STREET)).status_code == 404
    )

    minutes = {"attended": [STREET], "discussion": "…"}
    assert (
        _post(client, f"{base}/minutes", minutes, tokens.headers("member", MEMBER), 403).json()["status"]
        == 403
    )
    stale = tokens.headers("street", STREET, **{"If-Match": '"9"'})
    assert _post(client, f"{base}/minutes", minutes, stale, 412).json()["status"] == 412
    clock.advance(DAY.total_seconds())
    _post(client, f"{base}/minutes", minutes, tokens.headers("street", STREET))
    late = _post(client, f"{base}/agenda/proposals", {"title": "迟到"}, tokens.headers("member", MEMBER), 409)
    assert "the meeting is held" in late.json()["detail"]

    bad = {
        "title": "t",
        "lead_unit": "CG",
        "responsible": {"name": "李明", "post": "副书记"},
        "deadline": "soon",
    }
    refused = _post(client, f"{base}/decisions", bad, tokens.headers("street", STREET), 422).json()
    assert [e["field"] for e in refused["errors"]] == ["deadline"]
    then = client.get(
        f"{base}?as_of={clock.now() - DAY / 2}".replace("+", "%2B"), headers=tokens.headers("street", STREET)
    )
    assert then.json()["stage"] == "convened"
    kinds = [
        e["type"]
        for e in client.get(f"{base}/history", headers=tokens.headers("member", MEMBER)).json()["data"]
    ]
    assert kinds == ["Convened", "MinutesRecorded"]
