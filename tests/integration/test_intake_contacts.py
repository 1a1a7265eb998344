"""Reporters' contacts, on a real SQLite file over HTTP: shown in full only to the origin community
and the supervisors' 回访 staff, masked for everyone else (a department sees ``138****5678``),
erasable on request by a supervisor or admin while the call's history and scores stay exactly as
they were — and never in history, the event feed or any export.
"""

from __future__ import annotations

from typing import Any

import pytest
from httpx import Client
from sqlalchemy import select

from huying.bootstrap import Services
from huying.db import reporter_contacts

Who = tuple[str, str]

GRID, COMMUNITY, STREET = "LW-LN-01-G01", "LW-LN-01", "LW-LN"
GRID_WORKER: Who = ("grid_worker", GRID)
COMMUNITY_STAFF: Who = ("community", COMMUNITY)
STREET_STAFF: Who = ("street", STREET)
CG: Who = ("department", "CG")
SUPERVISOR: Who = ("supervisor", "LW")
AUDITOR: Who = ("auditor", "LW")
ADMIN: Who = ("admin", "LW")
NAME, PHONE = "张三丰", "13812345678"
FULL = {"name": NAME, "phone": PHONE}
MASKED = {"name": "张**", "phone": "138****5678"}
# Every spelling of the contact a response might leak (masked ones included: they too say who).
TRACES = (NAME, PHONE, "138****5678", "张**", "12345678")

RAISE: dict[str, Any] = {
    "item_code": "C01-01",
    "grid_code": GRID,
    "title": "楼道垃圾堆积",
    "description": "三楼楼道垃圾无人清运",
    "channel": "grid_worker",
    "reporter": {"name": NAME, "phone": "+86 138 1234 5678"},
}


class Http:
    def __init__(self, client: Client, tokens: Any) -> None:
        self.client, self.tokens = client, tokens

    def post(self, path: str, who: Who, body: dict[str, Any] | None = None, key: str | None = None) -> Any:
        response = self.client.post(path, json=body, headers=self.tokens.headers(*who, key=key))
        assert response.status_code in (200, 201), response.text
        return response.json()

    def get(self, path: str, who: Who = SUPERVISOR, **params: Any) -> Any:
        response = self.client.get(path, params=params, headers=self.tokens.headers(*who))
        assert response.status_code == 200, f"{path} as {who}: {response.text}"
        return response

    def erase(self, call_id: str, who: Who) -> Any:
        return self.client.delete(f"/api/v1/calls/{call_id}/reporter", headers=self.tokens.headers(*who))

    def dispatched(self) -> str:
        """A call with a reporter, up at the street and dispatched to CG."""
        call_id: str = self.post("/api/v1/calls", GRID_WORKER, RAISE)["id"]
        calls = f"/api/v1/calls/{call_id}"
        self.post(f"{calls}/escalate", COMMUNITY_STAFF, {"reason": "需街道协调"})
        self.post(f"{calls}/acknowledge", STREET_STAFF, {"note": "收到"})
        self.post(
            f"{calls}/dispatch",
            STREET_STAFF,
            {"lead_department": "CG", "deadline": "2026-11-27T09:00:00+08:00", "instructions": "清运"},
        )
        return call_id

    def closed(self, key: str) -> str:
        """A call with a reporter, resolved by its community, evaluated satisfied, struck off."""
        call_id: str = self.post("/api/v1/calls", GRID_WORKER, RAISE, key=key)["id"]
        calls = f"/api/v1/calls/{call_id}"
        self.post(f"{calls}/acknowledge", COMMUNITY_STAFF, {"note": "已响应"})
        self.post(f"{calls}/resolve", COMMUNITY_STAFF, {"summary": "已清运"})
        evaluation = {"contacted": True, "solved": True, "satisfaction": "satisfied", "comment": "很快"}
        self.post(f"{calls}/evaluate", COMMUNITY_STAFF, evaluation)
        closed = self.post(f"{calls}/close", COMMUNITY_STAFF, {"note": "销号"})
        self.get("/api/v1/calls", min_position=closed["position"])  # read models caught up
        return call_id


@pytest.fixture
def http(client: Client, tokens: Any) -> Http:
    return Http(client, tokens)


# --- masking per role ------------------------------------------------------------------------------

SHOWN = [
    pytest.param(COMMUNITY_STAFF, FULL, id="origin-community-in-full"),
    pytest.param(SUPERVISOR, FULL, id="supervisor-in-full"),
    pytest.param(CG, MASKED, id="department-masked"),
    pytest.param(STREET_STAFF, MASKED, id="street-masked"),
    pytest.param(GRID_WORKER, MASKED, id="grid-worker-masked"),
    pytest.param(AUDITOR, MASKED, id="auditor-masked"),
    pytest.param(ADMIN, MASKED, id="admin-masked"),
]


@pytest.mark.parametrize(("who", "shown"), SHOWN)
def test_each_role_sees_the_reporter_as_the_contract_says(
    http: Http, who: Who, shown: dict[str, str]
) -> None:
    call_id = http.dispatched()
    assert http.get(f"/api/v1/calls/{call_id}", who).json()["reporter"] == shown


def test_a_department_sees_the_number_masked_and_the_origin_community_sees_it(http: Http) -> None:
    call_id = http.dispatched()
    order = f"{call_id}-w1"
    signed = http.post(f"/api/v1/work-orders/{order}/sign", CG, {"note": "签收"})
    assert signed["reporter"]["phone"] == "138****5678"
    assert http.get(f"/api/v1/calls/{call_id}", CG).json()["reporter"]["phone"] == "138****5678"
    assert http.get(f"/api/v1/calls/{call_id}", COMMUNITY_STAFF).json()["reporter"]["phone"] == PHONE


# --- erasure on request ----------------------------------------------------------------------------


def contact_row(services: Services) -> Any:
    with services.contacts.engine.connect() as conn:
        (row,) = conn.execute(select(reporter_contacts)).all()
    return row


def test_a_supervisor_erases_a_reporter_and_history_and_scores_stay_intact(
    http: Http, services: Services
) -> None:
    call_id = http.closed(key="raise-erase")
    history_before = http.get(f"/api/v1/calls/{call_id}/history").json()
    score_before = http.get(f"/api/v1/scores/calls/{call_id}").json()
    street_scores_before = http.get("/api/v1/scores/units", kind="street", period="2026-11").json()
    assert http.get(f"/api/v1/calls/{call_id}", COMMUNITY_STAFF).json()["reporter"] == FULL

    erased = http.erase(call_id, SUPERVISOR)
    assert erased.status_code == 200, erased.text
    assert erased.json()["reporter"] is None and erased.json()["status"] == "closed"
    for who in (COMMUNITY_STAFF, SUPERVISOR, GRID_WORKER):
        assert http.get(f"/api/v1/calls/{call_id}", who).json()["reporter"] is None

    assert http.get(f"/api/v1/calls/{call_id}/history").json() == history_before
    score_after = http.get(f"/api/v1/scores/calls/{call_id}").json()
    assert {k: v for k, v in score_after.items() if k != "position"} == {
        k: v for k, v in score_before.items() if k != "position"
    }
    street_scores_after = http.get("/api/v1/scores/units", kind="street", period="2026-11").json()
    assert street_scores_after["data"] == street_scores_before["data"]

    row = contact_row(services)
    assert row.name_enc is None and row.phone_enc is None
    assert row.erased_at is not None and row.erased_by == "supervisor:LW"

    # Asked again: nothing left, still 200. The raise retried under its key brings nothing back.
    assert http.erase(call_id, SUPERVISOR).status_code == 200
    again = http.post("/api/v1/calls", GRID_WORKER, RAISE, key="raise-erase")
    assert again["id"] == call_id and again["reporter"] is None
    assert contact_row(services).name_enc is None


def test_an_admin_may_erase_too_and_a_call_without_a_reporter_is_answered_alike(http: Http) -> None:
    call_id = http.dispatched()
    assert http.erase(call_id, ADMIN).json()["reporter"] is None
    bare = http.post("/api/v1/calls", GRID_WORKER, {k: v for k, v in RAISE.items() if k != "reporter"})
    answered = http.erase(bare["id"], SUPERVISOR)
    assert answered.status_code == 200 and answered.json()["reporter"] is None


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (COMMUNITY_STAFF, 403),
        (GRID_WORKER, 403),
        (STREET_STAFF, 403),
        (CG, 403),
        (AUDITOR, 403),
        (("community", "LW-LN-02"), 404),
        (("department", "SW"), 404),
    ],
    ids=lambda v: v if isinstance(v, int) else f"{v[0]}@{v[1]}",
)
def test_only_a_supervisor_or_admin_may_erase(http: Http, services: Services, who: Who, status: int) -> None:
    call_id = http.dispatched()
    refused = http.erase(call_id, who)
    assert refused.status_code == status, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert contact_row(services).phone_enc is not None, "nothing was erased"
    assert http.get(f"/api/v1/calls/{call_id}", COMMUNITY_STAFF).json()["reporter"] == FULL


# --- never in history, feed or exports ----------------------------------------------------------


def test_contacts_never_appear_in_history_feed_exports_or_lists(http: Http) -> None:
    closed = http.closed(key="raise-sweep")
    open_call = http.dispatched()
    reads = [
        http.get(f"/api/v1/calls/{closed}/history", SUPERVISOR),
        http.get(f"/api/v1/calls/{open_call}/history", COMMUNITY_STAFF),
        http.get("/api/v1/events", AUDITOR, limit=500),
        http.get("/api/v1/exports/events", AUDITOR),
        http.get("/api/v1/exports/scores", AUDITOR, period="2026-11"),
        http.get("/api/v1/calls", SUPERVISOR),
        http.get("/api/v1/ledger", COMMUNITY_STAFF, unit=COMMUNITY),
        http.get(f"/api/v1/calls/{open_call}/possible-duplicates", COMMUNITY_STAFF),
        http.get("/api/v1/departments/CG/work-orders", CG),
    ]
    for response in reads:
        text = response.text
        assert not [t for t in TRACES if t in text], f"{response.request.url.path} shows the reporter"
    feed = reads[2].json()["data"]
    raised = [e for e in feed if e["type"] == "Raised"]
    assert raised and all(len(e["data"]["reporter_ref"]) == 36 for e in raised), "only the opaque ref"
