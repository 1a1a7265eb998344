"""联席会议 and 呼叫查询 in the console, over real HTTP (both backends): a street
convenes its 大工委 from the form, a member proposes, the street puts a call on the agenda, takes
the minutes and records a decision whose task the lead department then finds among its
directives; a unit outside the meeting sees nothing of it, an invited member cannot take the
convener's moves, and a form without the session's CSRF token writes nothing. The search page
answers what ``GET /api/v1/calls`` answers the principal, a page at a time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from httpx import Client, Response

from conftest import Tokens
from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.web.pages import search
from integration.test_console_directives import _form
from integration.test_console_sessions import CALL, _hidden, events, sign_in

STREET, COMMUNITY, MEMBER = "LW-LN", "LW-LN-01", "LW-LN-M01"
TITLE = "岭南街道大工委第四季度联席会议"


def _convene(client: Client, clock: FakeClock) -> str:
    page = client.get("/console/meetings")
    assert page.status_code == 200, page.text
    when = (clock.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    form = {
        "csrf": _hidden(page.text, "csrf"),
        "idempotency_key": _hidden(page.text, "idempotency_key"),
        "kind": "working_committee",
        "title": TITLE,
        "scheduled_for": when,
        "invited": [MEMBER, COMMUNITY, "CG"],
    }
    made = client.post("/console/meetings", data=form, follow_redirects=False)
    assert made.status_code == 303, made.text
    return made.headers["location"].split("/")[-1].split("?")[0]


def _act(client: Client, meeting: str, move: str, **fields: str | list[str]) -> Response:
    page = client.get(f"/console/meetings/{meeting}")
    assert page.status_code == 200, page.text
    data = {**_form(page.text, move), **fields}
    return client.post("/console/meetings/act", data=data, follow_redirects=False)


def _raise(client: Client, tokens: Tokens, title: str) -> str:
    made = client.post(
        "/api/v1/calls", json={**CALL, "title": title}, headers=tokens.headers("grid_worker", "LW-LN-01-G01")
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def test_a_meeting_is_convened_minuted_and_decided_through_its_pages(
    client: Client, tokens: Tokens, clock: FakeClock
) -> None:
    call = _raise(client, tokens, "十三行路口垃圾长期堆积")
    client.post(f"/api/v1/calls/{call}/acknowledge", headers=tokens.headers("community", COMMUNITY))
    client.post(
        f"/api/v1/calls/{call}/escalate",
        json={"reason": "清运责任不清"},
        headers=tokens.headers("community", COMMUNITY),
    )
    sign_in(client, tokens.token("street", STREET))
    meeting = _convene(client, clock)
    assert _act(client, meeting, "table-call", call_id=call).status_code == 303

    sign_in(client, tokens.token("member", MEMBER))
    page = client.get(f"/console/meetings/{meeting}").text
    assert 'value="propose"' in page and 'value="minutes"' not in page
    assert _act(client, meeting, "propose", title="共建停车秩序").status_code == 303

    sign_in(client, tokens.token("street", STREET))
    held = _act(client, meeting, "minutes", attended=[STREET, MEMBER, "CG"], discussion="逐项研究")
    assert held.status_code == 303
    deadline = (clock.now() + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M")
    decided = _act(
        client,
        meeting,
        "decide",
        title="十三行路口垃圾清运由城管牵头",
        lead_unit="CG",
        **{"responsible.name": "王五", "responsible.post": "城管执法队队长"},
        deadline=deadline,
        agenda_item="A1",
    )
    assert decided.status_code == 303, decided.text
    shown = client.get(f"/console/meetings/{meeting}").text
    assert (
        "王五" in shown
        and "十三行路口垃圾长期堆积" in shown
        and "逐项研究" in shown
        and "/console/directives/" in shown
    )
    assert TITLE in client.get("/console/meetings").text

    sign_in(client, tokens.token("department", "CG"))
    assert "十三行路口垃圾清运由城管牵头" in client.get("/console/directives").text  # its task, to receive


def test_a_meeting_is_seen_only_within_its_jurisdiction_and_the_conveners_moves_are_refused_to_others(
    client: Client, tokens: Tokens, services: Services, clock: FakeClock
) -> None:
    sign_in(client, tokens.token("street", STREET))
    meeting = _convene(client, clock)
    convener_page = client.get(f"/console/meetings/{meeting}").text
    for role, unit in (("street", "LW-DB"), ("member", "LW-DB-M01"), ("community", "LW-DB-01")):
        sign_in(client, tokens.token(role, unit))
        assert client.get(f"/console/meetings/{meeting}").status_code == 404, unit
        assert TITLE not in client.get("/console/meetings").text, unit
    sign_in(client, tokens.token("member", MEMBER))
    before = events(services)
    csrf = _hidden(client.get("/console/meetings").text, "csrf")
    stolen = {**_form(convener_page, "cancel"), "csrf": csrf, "reason": "改期"}
    assert client.post("/console/meetings/act", data=stolen).status_code == 403
    forged = {**_form(client.get(f"/console/meetings/{meeting}").text, "propose"), "title": "议题"}
    assert client.post("/console/meetings/act", data={**forged, "csrf": "guess"}).status_code == 403
    assert events(services) == before


def test_the_search_page_answers_what_the_api_answers_a_page_at_a_time(
    client: Client, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "PER_PAGE", 2)
    made = [_raise(client, tokens, f"垃圾堆积 第{n}处") for n in range(3)] + [
        _raise(client, tokens, "路灯不亮")
    ]
    sign_in(client, tokens.token("community", COMMUNITY))
    first = client.get(
        "/console/search", params={"q": "垃圾", "status": "awaiting_response", "level": "community"}
    )
    assert first.status_code == 200 and "路灯不亮" not in first.text
    assert sum(f"/console/calls/{c}" in first.text for c in made) == 2
    after = first.text.split("after=")[1].split('"')[0]
    second = client.get(
        "/console/search",
        params={"q": "垃圾", "status": "awaiting_response", "level": "community", "after": after},
    )
    assert sum(f"/console/calls/{c}" in second.text for c in made[:3]) == 1 and "after=" not in second.text
    assert "路灯不亮" in client.get("/console/search", params={"item": CALL["item_code"], "q": "路灯"}).text

    sign_in(client, tokens.token("community", "LW-DB-01"))  # another community: none of them
    assert not any(c in client.get("/console/search").text for c in made)
    for name, bad in (("level", "galaxy"), ("from", "2026-13-45"), ("status", "lost")):
        refused = client.get("/console/search", params={name: bad})
        assert refused.status_code == 422 and f"{name}: " in refused.text, name


def test_a_meeting_is_closed_after_its_minutes_or_cancelled_before_them_from_its_page(
    client: Client, tokens: Tokens, clock: FakeClock
) -> None:
    sign_in(client, tokens.token("street", STREET))
    held, called_off = _convene(client, clock), _convene(client, clock)
    assert _act(client, held, "minutes", attended=[STREET], discussion="无异议").status_code == 303
    assert 'value="cancel"' not in client.get(f"/console/meetings/{held}").text  # held: too late
    assert _act(client, held, "close", note="归档").status_code == 303
    assert _act(client, called_off, "cancel", reason="改期").status_code == 303
    headers = tokens.headers("street", STREET)
    stages = [
        client.get(f"/api/v1/meetings/{m}", headers=headers).json()["stage"] for m in (held, called_off)
    ]
    assert stages == ["closed", "cancelled"]
    assert 'class="move"' not in client.get(f"/console/meetings/{held}").text  # nothing left to do


def test_every_role_opens_each_page_its_navigation_offers(client: Client, tokens: Tokens) -> None:
    from huying.domain.principal import Principal, Role
    from huying.web.nav import entries_for

    for role, unit in (
        ("grid_worker", "LW-LN-01-G01"),
        ("community", COMMUNITY),
        ("street", STREET),
        ("department", "CG"),
        ("member", MEMBER),
        ("supervisor", "LW"),
        ("auditor", "LW"),
        ("admin", "LW"),
    ):
        sign_in(client, tokens.token(role, unit))
        for entry in entries_for(Principal(Role(role), unit)):
            href = entry.href(Principal(Role(role), unit))
            assert client.get(href).status_code == 200, (role, href)


def test_a_member_unit_finds_the_task_it_leads_among_its_directives(
    client: Client, tokens: Tokens, services: Services, clock: FakeClock
) -> None:
    """A member sees the tasks it leads or assists (docs/meetings.md) — in the lists too, not only
    by id: its pending list and the directive list show them (they were 404 and empty)."""
    from huying.domain.directive_states import Responsible
    from huying.domain.meeting_states import DecisionSpec, MeetingKind
    from huying.domain.principal import Principal, Role
    from huying.service_layer.command_path import Submission

    street, m = Principal(Role.STREET, STREET), services.meetings
    when = clock.now() + timedelta(days=1)
    meeting = m.convene(
        street,
        Submission(),
        kind=MeetingKind.WORKING_COMMITTEE,
        title=TITLE,
        scheduled_for=when,
        invited=[MEMBER],
    ).aggregate
    m.record_minutes(street, meeting.id, Submission(), [STREET, MEMBER], "讨论")
    spec = DecisionSpec("共建停车秩序", MEMBER, (), Responsible("李四", "物业经理"), when + timedelta(days=9))
    position = m.decide(street, meeting.id, Submission(), spec).position
    member = tokens.headers("member", MEMBER)
    pending = client.get(f"/api/v1/directives/pending?min_position={position + 1}", headers=member)
    assert pending.status_code == 200, pending.text
    assert [i["title"] for i in pending.json()["data"]] == ["共建停车秩序"]
    assert [d["title"] for d in client.get("/api/v1/directives", headers=member).json()["data"]] == [
        "共建停车秩序"
    ]
    other = tokens.headers("member", "LW-LN-M02")
    assert client.get("/api/v1/directives", headers=other).json()["data"] == []
