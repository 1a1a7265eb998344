"""审计 over HTTP: the global event feed and the exports are the auditor's alone; the
tamper-evidence check is for auditors, supervisors and admins; none of them ever shows a
reporter's contact details.

The server runs without its background projector, chain keeper and watchdog here, so each test
decides when the read models and the hash chain catch up: no waiting, no sleeps.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from httpx import Client

from backends import Backend
from conftest import MONDAY_MORNING
from conftest import Tokens as IssuedTokens
from deployment_templates import Templates, module_services
from huying.api.app import create_app
from huying.audit.tables import audit_chain, audit_checkpoints
from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.domain.org import UnitKind
from huying.projections.chain import TRACKING_NAME
from huying.projections.tables import projection_tracking
from huying.settings import Settings
from in_loop import in_loop
from tampering import events_of

from .driver import Driver, Place

AUDITOR = ("auditor", "LW")
SUPERVISOR = ("supervisor", "LW")
ADMIN = ("admin", "LW")
OTHERS = [
    ("grid_worker", "LW-LN-01-G01"),
    ("community", "LW-LN-01"),
    ("street", "LW-LN"),
    ("department", "CG"),
]
NAME, PHONE = "李四", "13987654321"

Who = tuple[str, str]


# No background projector, chain keeper or watchdog: each test decides when they catch up.
QUIET: dict[str, Any] = {"run_projector": False, "run_chain": False, "run_watchdog": False}


@pytest.fixture
def settings(backend: Backend, data_dir: Path) -> Settings:
    return backend.settings(data_dir, **QUIET)


class Audit:
    """A few calls' lives, then reads as the auditor (or whoever)."""

    def __init__(self, client: Client, tokens: Any, clock: FakeClock, services: Services) -> None:
        self.client, self.tokens, self.clock, self.services = client, tokens, clock, services
        self.driver = Driver(client, tokens, clock)
        self.calls = []
        for state, place in [
            ("closed", Place()),
            ("dispatched", Place("LW-HL-01-G01")),
            ("resolved_community", Place("LW-LN-02-G01")),
        ]:
            clock.advance(3600)
            self.calls.append(self.driver.drive(state, place).id)
        clock.advance(3600)
        self.calls.append(self.driver.raise_call(reporter={"name": NAME, "phone": PHONE}).id)
        services.projector.catch_up()
        services.chain.catch_up()
        self.head = int(services.app.recorder.max_notification_id())

    def get(self, path: str, who: Who = AUDITOR, **params: Any) -> Any:
        return self.client.get(path, params=params, headers=self.tokens.headers(*who))

    def feed(self, **params: Any) -> list[dict[str, Any]]:
        """The whole feed, page by page."""
        entries: list[dict[str, Any]] = []
        after = 0
        while True:
            page = self.get("/api/v1/events", after=after, **params)
            assert page.status_code == 200, page.text
            body = page.json()
            entries += body["data"]
            if body["next"] is None:
                return entries
            after = body["next"]


@pytest.fixture(scope="module")
def audit(
    backend: Backend, templates: Templates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Audit]:
    """The calls' lives, lived once per backend on a deployment of the module's own: the tests
    that share them only read (the feed, the exports, the check), so none can change what
    another sees. A test that tampers, rechains or writes has an ``own_audit``."""
    clock = FakeClock(start=MONDAY_MORNING)
    data_dir = tmp_path_factory.mktemp("audit") / "var"
    with (
        module_services(backend, templates, data_dir, clock, **QUIET) as services,
        in_loop(create_app(services=services)) as client,
    ):
        yield Audit(client, IssuedTokens(services), clock, services)


@pytest.fixture
def own_audit(client: Client, tokens: Any, clock: FakeClock, services: Services) -> Audit:
    """The calls' lives on the test's own deployment, for a test that writes to it."""
    return Audit(client, tokens, clock, services)


# --- who may read what -------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/api/v1/events", "/api/v1/exports/events", "/api/v1/exports/scores"],
)
def test_the_feed_and_the_exports_are_for_auditors_only(audit: Audit, path: str) -> None:
    got = {who: audit.get(path, who).status_code for who in [AUDITOR, SUPERVISOR, ADMIN, *OTHERS]}
    assert got == {AUDITOR: 200, SUPERVISOR: 403, ADMIN: 403, **dict.fromkeys(OTHERS, 403)}
    refused = audit.get(path, SUPERVISOR)
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert audit.client.get(path).status_code == 401


@pytest.mark.parametrize("path", ["/api/v1/audit/verify", "/api/v1/audit/checkpoints"])
def test_the_tamper_check_is_for_auditors_supervisors_and_admins(audit: Audit, path: str) -> None:
    got = {who: audit.get(path, who).status_code for who in [AUDITOR, SUPERVISOR, ADMIN, *OTHERS]}
    assert got == {AUDITOR: 200, SUPERVISOR: 200, ADMIN: 200, **dict.fromkeys(OTHERS, 403)}
    assert audit.client.get(path).status_code == 401


# --- the feed --------------------------------------------------------------------------------


def test_the_feed_is_the_whole_log_in_order(audit: Audit) -> None:
    entries = audit.feed(limit=7)
    assert [e["position"] for e in entries] == list(range(1, audit.head + 1))
    for call_id in audit.calls:
        history = audit.get(f"/api/v1/calls/{call_id}/history").json()["data"]
        mine = [e for e in entries if e["call_id"] == call_id]
        assert [{k: v for k, v in e.items() if k != "call_id"} for e in mine] == history
    raised = entries[0]
    assert raised["type"] == "Raised" and raised["version"] == 1
    assert raised["actor"] == {"role": "grid_worker", "unit": "LW-LN-01-G01"}
    assert {"at", "recorded_at", "data"} <= set(raised)
    assert raised["data"]["title"] == "十三行路口垃圾堆积"


def test_a_page_says_where_the_next_begins(audit: Audit) -> None:
    first = audit.get("/api/v1/events", limit=5).json()
    assert [e["position"] for e in first["data"]] == [1, 2, 3, 4, 5]
    assert first["next"] == first["position"] == 5
    rest = audit.get("/api/v1/events", after=5, limit=500).json()
    assert rest["data"][0]["position"] == 6 and rest["next"] is None
    assert rest["position"] == audit.head
    assert audit.get("/api/v1/events", after=audit.head).json() == {
        "data": [],
        "next": None,
        "position": audit.head,
        "unvouched": [],
    }


def test_the_feed_filters_by_event_type(audit: Audit) -> None:
    everything = audit.feed()
    raised = audit.feed(type="Raised", limit=2)
    assert raised == [e for e in everything if e["type"] == "Raised"]
    assert len(raised) == len(audit.calls)
    several = audit.feed(type="Dispatched,Closed")
    assert several == [e for e in everything if e["type"] in ("Dispatched", "Closed")]


def test_the_feed_filters_by_business_time(audit: Audit) -> None:
    everything = audit.feed()
    times = sorted({e["at"] for e in everything})  # each call's life has its own hour
    assert len(times) == 4
    start, end = times[1], times[3]
    window = audit.feed(**{"from": start, "to": end, "limit": 3})
    assert window == [e for e in everything if start <= e["at"] < end]
    assert len(window) > 3
    # A date is a whole Asia/Shanghai day: 2026-11-23 runs from 16:00Z on the 22nd.
    assert audit.feed(**{"from": "2026-11-23", "to": "2026-11-23"}) == everything
    assert audit.feed(**{"from": "2026-11-24"}) == []
    assert audit.feed(to="2026-11-22T16:00:00Z") == []


@pytest.mark.parametrize(
    "params",
    [
        {"type": "Raised,Exploded"},
        {"limit": 0},
        {"limit": 501},
        {"after": -1},
        {"after": 2**63},
        {"from": "2026-11-23T09:00:00"},  # no offset
        {"from": "last week"},
        {"from": "2026-11-24", "to": "2026-11-23"},
    ],
)
def test_a_malformed_feed_request_is_422(audit: Audit, params: dict[str, Any]) -> None:
    response = audit.get("/api/v1/events", **params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_malformed_request_is_422_even_for_the_wrong_role(audit: Audit) -> None:
    assert audit.get("/api/v1/events", SUPERVISOR, type="Nope").status_code == 422


# --- exports ---------------------------------------------------------------------------------


def test_the_event_export_streams_the_feed_as_json_lines(audit: Audit) -> None:
    response = audit.get("/api/v1/exports/events")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in response.headers["content-disposition"]
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines == audit.feed()
    assert "十三行路口垃圾堆积".encode() in response.content, "UTF-8, not \\u escapes"


def test_the_event_export_covers_a_period(audit: Audit) -> None:
    everything = audit.feed()
    times = sorted({e["at"] for e in everything})
    start, end = times[1], times[3]
    response = audit.get("/api/v1/exports/events", **{"from": start, "to": end})
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines == [e for e in everything if start <= e["at"] < end]


def test_the_score_export_is_csv_of_every_street_and_department(audit: Audit) -> None:
    response = audit.get("/api/v1/exports/scores", period="2026-11", headers="en")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    org = audit.services.app.org
    expected = {u.code for u in org.of_kind(UnitKind.STREET)} | {
        u.code for u in org.of_kind(UnitKind.DEPARTMENT)
    }
    assert {r["unit"] for r in rows} == expected
    assert {r["period"] for r in rows} == {"2026-11"}
    assert {
        "kind",
        "response_rate",
        "solve_rate",
        "satisfaction_rate",
        "composite",
        "rank",
        "received",
    } <= set(rows[0])
    scores = audit.get("/api/v1/scores/units", kind="street", period="2026-11").json()["data"]
    by_unit = {r["unit"]: r for r in rows}
    for s in scores:
        assert by_unit[s["unit"]]["received"] == str(s["counts"]["received"])
        assert by_unit[s["unit"]]["response_rate"] == (
            "" if s["response_rate"] is None else str(s["response_rate"])
        )


def test_the_score_export_takes_one_kind_and_refuses_a_bad_period(audit: Audit) -> None:
    streets = audit.get("/api/v1/exports/scores", kind="street", period="2026-Q4", headers="en")
    assert {r["kind"] for r in csv.DictReader(io.StringIO(streets.text))} == {"street"}
    assert audit.get("/api/v1/exports/scores", period="2026-13").status_code == 422
    assert audit.get("/api/v1/exports/scores", kind="grid").status_code == 422


def test_reporter_contact_details_never_appear_in_the_feed_or_exports(audit: Audit) -> None:
    """Events carry only the reporter's opaque reference."""
    shown = audit.get(f"/api/v1/calls/{audit.calls[-1]}", SUPERVISOR).json()["reporter"]
    assert shown == {"name": NAME, "phone": PHONE}, "supervisors see it in full"
    bodies = [
        audit.get("/api/v1/events", limit=500).content,
        audit.get("/api/v1/exports/events").content,
        audit.get("/api/v1/exports/scores").content,
    ]
    for body in bodies:
        assert PHONE.encode() not in body and NAME.encode() not in body
        assert f"{PHONE[:3]}****{PHONE[-4:]}".encode() not in body, "not even masked"
    raised = [e for e in audit.feed(type="Raised") if e["call_id"] == audit.calls[-1]]
    assert raised[0]["data"]["reporter_ref"], "the opaque reference is there"


# --- tamper evidence -------------------------------------------------------------------------


def test_a_clean_log_verifies_ok(audit: Audit) -> None:
    verdict = audit.get("/api/v1/audit/verify", SUPERVISOR).json()
    assert verdict["ok"] is True and verdict["break"] is None
    assert verdict["checked"] == verdict["log_head"] == verdict["chained_through"] == audit.head
    assert verdict["unchained"] == 0


def test_verify_names_the_first_break(own_audit: Audit, settings: Settings) -> None:
    stored = events_of(settings)
    stored.rewrite(9, state=stored.at(9).state + b" ")
    verdict = own_audit.get("/api/v1/audit/verify").json()
    assert verdict["ok"] is False
    assert verdict["break"] == {**verdict["break"], "position": 9, "kind": "altered", "intact_through": 8}


def test_checkpoints_can_be_kept_and_given_back(audit: Audit, clock: FakeClock) -> None:
    page = audit.get("/api/v1/audit/checkpoints").json()
    head = page["head"]
    assert head["position"] == audit.head and len(head["link"]) == 64
    kept = f"{head['position']}:{head['link']}"
    verdict = audit.get("/api/v1/audit/verify", checkpoint=[kept]).json()
    assert verdict["ok"] and verdict["checkpoints_checked"] >= 1
    forged = f"{head['position']}:{'0' * 64}"
    verdict = audit.get("/api/v1/audit/verify", checkpoint=[forged]).json()
    assert verdict["break"]["kind"] == "altered" and verdict["break"]["position"] == audit.head
    beyond = f"{audit.head + 10}:{head['link']}"
    verdict = audit.get("/api/v1/audit/verify", checkpoint=[beyond]).json()
    assert verdict["break"]["kind"] == "truncated" and verdict["break"]["position"] == audit.head + 1
    assert audit.get("/api/v1/audit/verify", checkpoint=["12:nothex"]).status_code == 422


def test_stored_checkpoints_page_by_position(own_audit: Audit, services: Services) -> None:
    services.chain.checkpoint_every = 3
    services.chain.batch_size = 3
    with services.engine.begin() as conn:  # the chain from nothing, with a checkpoint every 3
        conn.execute(audit_chain.delete())
        conn.execute(audit_checkpoints.delete())
        conn.execute(projection_tracking.delete().where(projection_tracking.c.name == TRACKING_NAME))
    services.chain.catch_up()
    first = own_audit.get("/api/v1/audit/checkpoints", limit=2).json()
    assert [c["position"] for c in first["data"]] == [3, 6] and first["next"] == 6
    rest = own_audit.get("/api/v1/audit/checkpoints", after=6, limit=500).json()
    assert rest["data"][0]["position"] == 9 and rest["next"] is None
    assert rest["data"][-1]["position"] == own_audit.head - own_audit.head % 3
    assert all(c["at"] for c in first["data"] + rest["data"])


def test_events_not_yet_chained_are_reported_not_refused(own_audit: Audit, clock: FakeClock) -> None:
    clock.advance(timedelta(hours=1).total_seconds())
    own_audit.driver.raise_call()
    verdict = own_audit.get("/api/v1/audit/verify").json()
    assert verdict["ok"], verdict
    assert (verdict["unchained"], verdict["chained_through"]) == (1, own_audit.head), verdict
