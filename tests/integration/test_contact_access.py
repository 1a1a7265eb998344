"""个人信息访问记录: every answer that shows a reporter's contact in full — to the origin community or
a supervisor, on a read or an action — is recorded (who, which call, when, which details); an
auditor, and only an auditor, reads the record page by page. Masked views are not accesses, and
the record itself holds no contact detail.
"""

from __future__ import annotations

from typing import Any

import pytest
from httpx import Client

from huying.api.routers.calls import draft_of
from huying.api.schemas.requests import CallCreate
from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.demo import principal_for_token
from huying.service_layer.command_path import Submission

from .reporters import AUDITOR, CALLS, COMMUNITY, STREET, SUPERVISOR, Http, raise_body

LOG = "/api/v1/audit/contact-access"


@pytest.fixture
def http(client: Client, tokens: Any) -> Http:
    return Http(client, tokens)


def access_log(http: Http, **params: Any) -> Any:
    return http.get(LOG, AUDITOR, **params).json()


def test_who_saw_a_contact_in_full_is_recorded_and_masked_views_are_not(
    http: Http, client: Client, tokens: Any, clock: FakeClock
) -> None:
    call_id = http.raise_call(raise_body())["id"]  # the grid worker's answer is masked
    http.get(f"{CALLS}/{call_id}", STREET)  # masked
    clock.advance(300)
    http.get(f"{CALLS}/{call_id}", COMMUNITY)  # in full
    acknowledged = client.post(
        f"{CALLS}/{call_id}/acknowledge", json={"note": "收到"}, headers=tokens.headers(*COMMUNITY)
    )
    assert acknowledged.json()["reporter"]["phone"] == "13812345678"  # an action's answer, in full
    clock.advance(300)
    http.get(f"{CALLS}/{call_id}", SUPERVISOR, version=1)  # the past, in full

    log = access_log(http)
    assert [(e["actor"], e["call_id"], e["shown"]) for e in log["data"]] == [
        ({"role": "community", "unit": "LW-LN-01"}, call_id, ["name", "phone"]),
        ({"role": "community", "unit": "LW-LN-01"}, call_id, ["name", "phone"]),
        ({"role": "supervisor", "unit": "LW"}, call_id, ["name", "phone"]),
    ]
    assert [e["at"] for e in log["data"]] == ["2026-11-23T01:05:00Z"] * 2 + ["2026-11-23T01:10:00Z"]
    assert log["next"] is None
    assert "张三" not in str(log) and "5678" not in str(log), "the record holds no contact detail"


def test_only_the_details_shown_are_recorded_and_an_erased_contact_is_shown_no_more(
    http: Http, client: Client, tokens: Any
) -> None:
    phone_only = http.raise_call(raise_body(reporter={"phone": "020-81234567"}))["id"]
    http.get(f"{CALLS}/{phone_only}", COMMUNITY)
    erased = http.raise_call(raise_body())["id"]
    http.erase(erased)
    assert http.reporter(erased) is None

    assert [(e["call_id"], e["shown"]) for e in access_log(http)["data"]] == [(phone_only, ["phone"])]


def test_a_raise_answered_in_full_is_recorded_with_its_contact_in_one_write(
    client: Client, tokens: Any, services: Services, clock: FakeClock
) -> None:
    """A hotline supervisor's raise: its answer shows the reporter back in full. That showing is
    recorded once, with the contact, in the raise's one turn of the group commit (the contacts'
    own queue takes none); a retry's answer, read back from the store, is a showing of its own."""
    contacts, events = services.contacts._writes.group_commit, services.app.recorder.group_commit
    headers = tokens.headers(*SUPERVISOR, key="hotline-1")
    before = (contacts.groups, events.groups)
    raised = client.post(CALLS, json=raise_body(channel="hotline"), headers=headers)
    assert raised.status_code == 201, raised.text
    assert raised.json()["reporter"] == {"name": "张三", "phone": "13812345678"}
    assert (contacts.groups, events.groups) == (before[0], before[1] + 1), "more than one write for the raise"
    clock.advance(60)
    again = client.post(CALLS, json=raise_body(channel="hotline"), headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"

    log = access_log(Http(client, tokens))["data"]
    call_id = raised.json()["id"]
    assert [(e["actor"]["role"], e["call_id"], e["shown"], e["at"]) for e in log] == [
        ("supervisor", call_id, ["name", "phone"], "2026-11-23T01:00:00Z"),
        ("supervisor", call_id, ["name", "phone"], "2026-11-23T01:01:00Z"),
    ]


def test_a_raise_whose_answer_does_not_show_the_reporter_records_no_showing(
    services: Services, client: Client, tokens: Any
) -> None:
    """Open311's answer and the synthetic history's raises show no reporter back: nothing to
    record, whoever raised them."""
    draft = draft_of(CallCreate.model_validate(raise_body(channel="hotline")))
    supervisor = principal_for_token(services.app.org, *SUPERVISOR)
    outcome = services.calls.raise_call(supervisor, draft, Submission())
    assert outcome.shown_back is None and outcome.call.reporter_ref is not None
    assert access_log(Http(client, tokens))["data"] == []


def test_the_access_log_pages_like_the_other_lists(http: Http) -> None:
    call_id = http.raise_call(raise_body())["id"]
    for _ in range(5):
        http.get(f"{CALLS}/{call_id}", COMMUNITY)
    first = access_log(http, limit=2)
    second = access_log(http, limit=2, after=first["next"])
    third = access_log(http, limit=2, after=second["next"])
    ids = [e["id"] for page in (first, second, third) for e in page["data"]]
    assert len(ids) == 5 == len(set(ids)) and ids == sorted(ids)
    assert third["next"] is None
    assert access_log(http, after=ids[-1])["data"] == []


@pytest.mark.parametrize("who", [COMMUNITY, STREET, SUPERVISOR, ("admin", "LW"), ("department", "CG")])
def test_only_an_auditor_reads_the_access_log(client: Client, tokens: Any, who: tuple[str, str]) -> None:
    refused = client.get(LOG, headers=tokens.headers(*who))
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert client.get(LOG).status_code == 401


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 501}, {"after": -1}, {"after": "x"}, {"limit": "1e9"}]
)
def test_a_bad_page_is_422_naming_the_parameter(client: Client, tokens: Any, params: dict[str, Any]) -> None:
    refused = client.get(LOG, params=params, headers=tokens.headers(*AUDITOR))
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == list(params)
