"""一呼一评, 考核 and putting a call on a joint meeting's agenda in the console, over real HTTP
(both backends): the street rates a department's order and the community its
street's response from the call page's forms — offered only to them, only once — and the
rating shows on the page; a refused rating (wrong value, stolen form) writes nothing. The 考核
page shows what ``GET /api/v1/scores/assessment`` answers the same principal, and nothing to
whom the API refuses. The holder puts its call on its unit's meeting from the call page."""

from __future__ import annotations

from typing import Any

from httpx import Client

from conftest import Tokens
from e2e.driver import LEAD, Driven, Driver
from huying.bootstrap import Services
from huying.clock import FakeClock
from integration.test_console_directives import _form
from integration.test_console_meetings_search import _convene
from integration.test_console_sessions import _hidden, events, sign_in


def _resolved(client: Client, tokens: Tokens, clock: FakeClock) -> tuple[Driver, Driven]:
    driver = Driver(client, tokens, clock)
    c = driver.drive("completed")
    driver.resolve(c, c.place.street_staff)
    return driver, c


def _rate(client: Client, call: str, move: str, **fields: str) -> Any:
    page = client.get(f"/console/calls/{call}")
    assert page.status_code == 200, page.text
    return client.post("/console/act", data={**_form(page.text, move), **fields}, follow_redirects=False)


def test_the_street_and_the_community_rate_from_the_call_page_once_each(
    client: Client, tokens: Tokens, clock: FakeClock, services: Services
) -> None:
    _, c = _resolved(client, tokens, clock)
    lead = f"rate-work-order@{c.order_id(1)}"
    sign_in(client, tokens.token("department", LEAD))
    assert 'value="rate-' not in client.get(f"/console/calls/{c.id}").text  # the rated unit may not

    sign_in(client, tokens.token("street", c.place.street))
    page = client.get(f"/console/calls/{c.id}").text
    assert f'value="{lead}"' in page and 'value="rate-response' not in page
    before = events(services)
    wrong = _rate(client, c.id, lead, satisfaction="great")
    assert wrong.status_code == 422 and "satisfaction" in wrong.text
    assert events(services) == before
    rated = _rate(client, c.id, lead, satisfaction="basically_satisfied", comment="清运及时但未消杀")
    assert rated.status_code == 303, rated.text
    page = client.get(rated.headers["location"]).text
    assert "街道评价 Street's rating: 基本满意 · 清运及时但未消杀" in page
    assert f'value="{lead}"' not in page  # once per order

    sign_in(client, tokens.token("community", c.place.community))
    page = client.get(f"/console/calls/{c.id}").text
    assert 'value="rate-work-order' not in page
    stolen = {**_form(page, "rate-response#1"), "satisfaction": "satisfied", "csrf": "guess"}
    before = events(services)
    assert client.post("/console/act", data=stolen).status_code == 403
    assert events(services) == before
    assert _rate(client, c.id, "rate-response#1", satisfaction="dissatisfied").status_code == 303
    page = client.get(f"/console/calls/{c.id}").text
    assert "社区评价 Community's rating: 不满意" in page and 'value="rate-response' not in page
    history = client.get(f"/api/v1/calls/{c.id}/history", headers=tokens.headers("supervisor", "LW")).json()
    kinds = [e["type"] for e in history["data"]]
    assert kinds.count("WorkOrderRated") == 1 and kinds.count("StreetResponseRated") == 1


def test_the_assessment_page_shows_what_the_api_answers_and_nothing_to_whom_it_refuses(
    client: Client, tokens: Tokens, clock: FakeClock
) -> None:
    _, c = _resolved(client, tokens, clock)
    sign_in(client, tokens.token("street", c.place.street))
    assert (
        _rate(client, c.id, f"rate-work-order@{c.order_id(1)}", satisfaction="satisfied").status_code == 303
    )
    for role, unit in (("supervisor", "LW"), ("street", c.place.street), ("department", LEAD)):
        sign_in(client, tokens.token(role, unit))
        page = client.get("/console/assessment")
        assert page.status_code == 200, (unit, page.text)
        for kind in ("street", "department"):
            api = client.get(
                "/api/v1/scores/assessment", params={"kind": kind}, headers=tokens.headers(role, unit)
            )
            if api.status_code == 403:
                assert f'id="assessment-{kind}"' not in page.text, (unit, kind)
                continue
            rows = api.json()["data"]
            assert page.text.count("<tr data-unit=") >= len(rows)
            for row in rows:
                assert f'<tr data-unit="{row["unit"]}">' in page.text, (unit, row["unit"])
        shown_all = role == "supervisor"
        assert ("红榜" in page.text) is shown_all, unit
    sign_in(client, tokens.token("department", LEAD))
    page = client.get("/console/assessment").text
    assert f'<tr data-unit="{LEAD}">' in page and '<tr data-unit="ZJ">' not in page
    assert 'data-figure="ratings">1/1<' in page
    sign_in(client, tokens.token("grid_worker", c.place.grid_worker[1]))
    assert client.get("/console/assessment").status_code == 403
    sign_in(client, tokens.token("supervisor", "LW"))
    assert client.get("/console/assessment", params={"period": "2026-13"}).status_code == 422


def test_the_holder_puts_its_call_on_its_units_meeting_from_the_call_page(
    client: Client, tokens: Tokens, clock: FakeClock, services: Services
) -> None:
    driver = Driver(client, tokens, clock)
    c = driver.drive("street_in_progress")
    sign_in(client, tokens.token("street", c.place.street))
    assert 'action="/console/calls/agenda"' not in client.get(f"/console/calls/{c.id}").text  # no meeting yet
    meeting = _convene(client, clock)
    page = client.get(f"/console/calls/{c.id}").text
    assert f'<option value="{meeting}">' in page
    form = {
        "csrf": _hidden(page, "csrf"),
        "call": c.id,
        "meeting": meeting,
        "idempotency_key": "agenda-1",
    }
    before = events(services)
    assert client.post("/console/calls/agenda", data={**form, "csrf": "guess"}).status_code == 403
    assert events(services) == before
    put = client.post("/console/calls/agenda", data=form, follow_redirects=False)
    assert put.status_code == 303, put.text
    page = client.get(put.headers["location"]).text
    assert "提交上会" in page  # the call's timeline shows PutOnAgenda
    assert c.id in client.get(f"/console/meetings/{meeting}").text
    sign_in(client, tokens.token("community", c.place.community))
    assert 'action="/console/calls/agenda"' not in client.get(f"/console/calls/{c.id}").text  # not the holder
