"""Bad input, over HTTP: every refusal is RFC 9457 problem+json with the right status, a stable
``type``, a ``detail`` that says which rule, and for 422 the offending field — in the order
401 → 422 → 404 → 403 → 412 → 409 — and never a 500."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from httpx import Client, Response

from huying.api.app import create_app
from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.demo import principal_for_token
from huying.domain.transitions import Action
from in_loop import in_loop

from . import edges
from .driver import COMMUNITY, GRID, STREET, Driven, Driver, Place

GRID_WORKER = ("grid_worker", GRID)
COMMUNITY_STAFF = ("community", COMMUNITY)
STREET_STAFF = ("street", STREET)
SUPERVISOR = ("supervisor", "LW")
AUDITOR = ("auditor", "LW")
ADMIN = ("admin", "LW")
CG = ("department", "CG")

PROBLEM = "application/problem+json"
INVALID_REQUEST = "/problems/invalid-request"  # the body does not fit its schema
INVALID_COMMAND = "/problems/invalid-request"  # one kind for every 422: schema or reference checks


@pytest.fixture
def http(services: Services) -> Iterator[Client]:
    """Like the shared ``client``, but a server error comes back as a response (so a 500 is
    an assertion failure with the status in it, not an exception from inside the app)."""
    with in_loop(create_app(services=services), raise_app_exceptions=False) as c:
        yield c


@pytest.fixture
def driver(http: Client, tokens: Any, clock: FakeClock) -> Driver:
    return Driver(http, tokens, clock)


def problem_of(response: Response, status: int, kind: str | None = None) -> dict[str, Any]:
    """The response is a problem+json of this status (and type), with a detail."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers["content-type"]
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("/problems/") and body["title"] and body["detail"]
    if kind is not None:
        assert body["type"] == kind
    return body


def fields_of(body: dict[str, Any]) -> list[str]:
    assert body["errors"], "a 422 lists its errors"
    assert all(e["message"] for e in body["errors"])
    return [e["field"] for e in body["errors"]]


def raise_body(**changes: Any) -> dict[str, Any]:
    body = {
        "item_code": "C01-01",
        "grid_code": GRID,
        "title": "楼道垃圾堆积",
        "description": "大件垃圾堆放超过24小时",
        "channel": "photo",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


# --- 401 ------------------------------------------------------------------------------------

NOT_TOKENS = {
    "missing": None,
    "empty": "",
    "scheme-only": "Bearer",
    "scheme-and-space": "Bearer ",
    "unknown": "Bearer hy_not-a-token",
    "basic": "Basic Z3JpZDpwdw==",
    "other-scheme": "Token hy_x",
}
UNAUTHORISED = [
    ("malformed-raise", "POST", "/api/v1/calls", b'{"item_code": '),
    ("good-raise", "POST", "/api/v1/calls", json.dumps(raise_body()).encode()),
    ("malformed-action", "POST", "/api/v1/calls/not-a-call/acknowledge", b"[[["),
    ("non-utf8-order-action", "POST", "/api/v1/work-orders/x-w1/sign", b"\xff\xfe"),
    ("oversized", "POST", "/api/v1/calls", b"{" + b" " * 70_000 + b"}"),
    ("catalog", "GET", "/api/v1/catalog", None),
    ("org", "GET", "/api/v1/org", None),
    ("call", "GET", f"/api/v1/calls/{uuid4()}", None),
    ("clock", "POST", "/api/v1/_clock", b'{"advance_seconds": 60}'),
]


@pytest.mark.parametrize(
    ("method", "path", "content"), [u[1:] for u in UNAUTHORISED], ids=[u[0] for u in UNAUTHORISED]
)
def test_without_a_valid_token_everything_under_api_is_401_whatever_the_body(
    http: Client, method: str, path: str, content: bytes | None
) -> None:
    for name, authorization in NOT_TOKENS.items():
        headers = {"Content-Type": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization
        response = http.request(method, path, content=content, headers=headers)
        assert response.status_code == 401, f"{name}: {response.text}"
        problem_of(response, 401, "/problems/unauthorized")
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_revoked_token_is_401_at_once(http: Client, services: Services) -> None:
    token_id, token = services.tokens.create(principal_for_token(services.app.org, *COMMUNITY_STAFF))
    headers = {"Authorization": f"Bearer {token}"}
    assert http.get("/api/v1/catalog", headers=headers).status_code == 200
    assert services.tokens.revoke(token_id)
    problem_of(http.get("/api/v1/catalog", headers=headers), 401, "/problems/unauthorized")
    problem_of(http.post("/api/v1/calls", content=b"{", headers=headers), 401, "/problems/unauthorized")


# --- 422 ------------------------------------------------------------------------------------


# Each action is tried by the principal who may take it, on a call in a state that allows it,
# so the only thing wrong is the body.
WHERE: dict[str, tuple[str | None, tuple[str, str]]] = {
    "raise": (None, GRID_WORKER),
    "acknowledge": ("awaiting_response", COMMUNITY_STAFF),
    "escalate": ("in_progress", COMMUNITY_STAFF),
    "dispatch": ("street_in_progress", STREET_STAFF),
    "evaluate": ("resolved_community", COMMUNITY_STAFF),
    "merge": ("in_progress", COMMUNITY_STAFF),
    "supervise": ("in_progress", SUPERVISOR),
    "request-extension": ("signed", CG),
    "complete": ("signed", CG),
}
ON_ORDERS = {"request-extension", "complete"}

Body = Callable[[Driver, Driven | None], Any]


@dataclass(frozen=True)
class Bad:
    """One invalid request and the field its 422 must name."""

    name: str
    action: str
    body: Body
    field: str
    kind: str = INVALID_REQUEST
    raw: bool = False  # body() gives bytes, sent as they are
    headers: tuple[tuple[str, str], ...] = ()


def raising(**changes: Any) -> Body:
    return lambda d, c: raise_body(**changes)


def dispatching(**changes: Any) -> Body:
    return lambda d, c: {k: v for k, v in {**d.dispatch_body(), **changes}.items() if v is not ...}


def sending(body: Any) -> Body:
    return lambda d, c: body


def in_hours(hours: float) -> Callable[[Driver], str]:
    return lambda d: (d.clock.now() + timedelta(hours=hours)).isoformat()


def until_deadline(hours: float) -> Body:
    def body(d: Driver, c: Driven | None) -> dict[str, Any]:
        assert c is not None
        deadline = datetime.fromisoformat(c.call["work_orders"][0]["deadline"])
        return {"until": (deadline + timedelta(hours=hours)).isoformat(), "reason": "需时"}

    return body


def into_itself(d: Driver, c: Driven | None) -> dict[str, Any]:
    assert c is not None
    return {"into": c.id, "reason": "重复"}


CMD = INVALID_COMMAND
BAD = [
    Bad("raise-malformed-json", "raise", sending(b'{"item_code": "C01-01",'), "body", raw=True),
    Bad("raise-not-an-object", "raise", sending(b"[1, 2]"), "body", raw=True),
    Bad("raise-unknown-item", "raise", raising(item_code="C99-99"), "item_code", CMD),
    Bad("raise-unknown-grid", "raise", raising(grid_code="LW-LN-01-G09"), "grid_code", CMD),
    Bad("raise-grid-is-a-community", "raise", raising(grid_code=COMMUNITY), "grid_code", CMD),
    Bad("raise-missing-item", "raise", raising(item_code=...), "item_code"),
    Bad("raise-wrong-channel", "raise", raising(channel="email"), "channel"),
    Bad("raise-wrong-urgency", "raise", raising(urgency="critical"), "urgency"),
    Bad("raise-title-201-chars", "raise", raising(title="垃" * 201), "title"),
    Bad("raise-title-blank", "raise", raising(title="   "), "title"),
    Bad("raise-description-5001-chars", "raise", raising(description="圾" * 5001), "description"),
    Bad("raise-title-not-text", "raise", raising(title=["垃圾"]), "title"),
    Bad("raise-unknown-field", "raise", raising(priority="high"), "priority"),
    Bad("raise-bad-phone", "raise", raising(reporter={"phone": "12345"}), "reporter.phone"),
    Bad("raise-lat-without-lon", "raise", raising(location={"lat": 23.1}), "location"),
    Bad("raise-naive-occurred-at", "raise", raising(occurred_at="2026-11-23T08:00:00"), "occurred_at"),
    Bad(
        "raise-future-occurred-at",
        "raise",
        lambda d, c: raise_body(occurred_at=in_hours(48)(d)),
        "occurred_at",
        CMD,
    ),
    Bad("acknowledge-malformed-json", "acknowledge", sending(b'{"note": '), "body", raw=True),
    Bad("escalate-no-reason", "escalate", sending({}), "reason"),
    Bad("escalate-blank-reason", "escalate", sending({"reason": " \n "}), "reason"),
    Bad("evaluate-contacted-without-satisfaction", "evaluate", sending({"solved": True}), "satisfaction"),
    Bad(
        "evaluate-unreachable-with-satisfaction",
        "evaluate",
        sending({"contacted": False, "satisfaction": "satisfied"}),
        "satisfaction",
    ),
    Bad(
        "evaluate-wrong-satisfaction",
        "evaluate",
        sending({"solved": True, "satisfaction": "ok"}),
        "satisfaction",
    ),
    Bad(
        "dispatch-deadline-in-the-past",
        "dispatch",
        lambda d, c: dispatching(deadline=in_hours(-1)(d))(d, c),
        "deadline",
        CMD,
    ),
    Bad(
        "dispatch-deadline-now",
        "dispatch",
        lambda d, c: dispatching(deadline=in_hours(0)(d))(d, c),
        "deadline",
        CMD,
    ),
    Bad(
        "dispatch-deadline-without-offset",
        "dispatch",
        dispatching(deadline="2026-12-01T17:00:00"),
        "deadline",
    ),
    Bad("dispatch-unknown-lead", "dispatch", dispatching(lead_department="XX"), "lead_department", CMD),
    Bad("dispatch-lead-is-a-street", "dispatch", dispatching(lead_department=STREET), "lead_department", CMD),
    Bad(
        "dispatch-unknown-assisting",
        "dispatch",
        dispatching(assisting_departments=["ZJ", "XX"]),
        "assisting_departments.1",
        CMD,
    ),
    Bad(
        "dispatch-assisting-is-lead",
        "dispatch",
        dispatching(assisting_departments=["CG"]),
        "assisting_departments",
        CMD,
    ),
    Bad("dispatch-no-instructions", "dispatch", dispatching(instructions=...), "instructions"),
    Bad("merge-into-not-a-uuid", "merge", sending({"into": COMMUNITY, "reason": "重复"}), "into"),
    Bad("merge-into-itself", "merge", into_itself, "into", CMD),
    Bad("merge-into-unknown-call", "merge", sending({"into": str(uuid4()), "reason": "重复"}), "into", CMD),
    Bad("supervise-unknown-unit", "supervise", sending({"reason": "超时", "unit": "LW-XX"}), "unit", CMD),
    Bad(
        "extension-until-without-offset",
        "request-extension",
        sending({"until": "2026-12-30T17:00:00", "reason": "x"}),
        "until",
    ),
    Bad("complete-no-result", "complete", sending({}), "result"),
    Bad("extension-until-before-the-deadline", "request-extension", until_deadline(-1), "until", CMD),
    Bad("extension-until-at-the-deadline", "request-extension", until_deadline(0), "until", CMD),
    Bad("if-match-not-an-etag", "acknowledge", sending({}), "If-Match", CMD, headers=(("If-Match", "abc"),)),
]


@pytest.mark.parametrize("bad", BAD, ids=[b.name for b in BAD])
def test_invalid_input_is_422_naming_the_field(driver: Driver, bad: Bad) -> None:
    state, who = WHERE[bad.action]
    c = driver.drive(state) if state else None
    if c is None:
        path = "/api/v1/calls"
    elif bad.action in ON_ORDERS:
        path = f"/api/v1/work-orders/{c.order_id()}/{bad.action}"
    else:
        path = f"/api/v1/calls/{c.id}/{bad.action}"
    body = bad.body(driver, c)
    headers = driver.tokens.headers(*who, **dict(bad.headers))
    if bad.raw:
        response = driver.client.post(
            path, content=body, headers={**headers, "Content-Type": "application/json"}
        )
    else:
        response = driver.client.post(path, json=body, headers=headers)
    problem = problem_of(response, 422, bad.kind)
    assert bad.field in fields_of(problem), problem
    if c is not None:
        assert driver.read(c.id)["version"] == c.version, "a 422 writes nothing"


def test_a_body_over_64_kib_is_413_and_one_under_it_is_read(driver: Driver) -> None:
    headers = {**driver.tokens.headers(*GRID_WORKER), "Content-Type": "application/json"}
    big = json.dumps(raise_body(description="垃" * 22_000), ensure_ascii=False).encode()  # ~66 KB
    assert len(big) > 64 * 1024
    problem_of(
        driver.client.post("/api/v1/calls", content=big, headers=headers), 413, "/problems/payload-too-large"
    )
    c = driver.drive("in_progress")
    padded = json.dumps({"reason": "x" * (64 * 1024)}).encode()
    response = driver.client.post(f"/api/v1/calls/{c.id}/escalate", content=padded, headers=headers)
    problem_of(response, 413, "/problems/payload-too-large")
    fits = json.dumps(raise_body(description="垃" * 4000), ensure_ascii=False).encode()
    assert 8 * 1024 < len(fits) < 64 * 1024
    assert driver.client.post("/api/v1/calls", content=fits, headers=headers).status_code == 201


# --- 404 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call_id",
    [str(uuid4()), "not-a-uuid", "123", "LW-LN-01", "00000000-0000-0000-0000-000000000000", "%E5%9E%83"],
    ids=["unknown-uuid", "words", "number", "unit-code", "nil-uuid", "chinese"],
)
def test_an_unknown_or_malformed_call_id_is_404(driver: Driver, call_id: str) -> None:
    for method, path, body in [
        ("GET", f"/api/v1/calls/{call_id}", None),
        ("GET", f"/api/v1/calls/{call_id}/history", None),
        ("POST", f"/api/v1/calls/{call_id}/acknowledge", {}),
        ("POST", f"/api/v1/calls/{call_id}/escalate", {"reason": "上呼"}),
        ("POST", f"/api/v1/calls/{call_id}/supervise", {"reason": "督办"}),
        ("GET", f"/api/v1/work-orders/{call_id}-w1", None),
        ("POST", f"/api/v1/work-orders/{call_id}-w1/sign", {}),
    ]:
        response = driver.client.request(method, path, json=body, headers=driver.tokens.headers(*SUPERVISOR))
        problem_of(response, 404, "/problems/not-found")


def test_an_unknown_work_order_on_a_visible_call_is_404(driver: Driver) -> None:
    c = driver.drive("dispatched")
    for order_id in (f"{c.id}-w3", f"{c.id}-w0", f"{c.id}-wx", f"{c.id}-w", c.id, "w1", "-w1"):
        for who in (SUPERVISOR, CG):
            response = driver.client.get(
                f"/api/v1/work-orders/{order_id}", headers=driver.tokens.headers(*who)
            )
            problem_of(response, 404, "/problems/not-found")
            response = driver.post(f"/api/v1/work-orders/{order_id}/sign", who, {}, expect=None)
            problem_of(response, 404, "/problems/not-found")


def test_a_department_cannot_read_another_departments_work_order(driver: Driver) -> None:
    c = driver.drive("dispatched")
    lead = c.order_id(1)
    assert driver.get(f"/api/v1/work-orders/{lead}", CG).json()["department_code"] == "CG"
    for outsider in ("SW", "GA", "XF"):
        who = ("department", outsider)
        problem_of(driver.get(f"/api/v1/work-orders/{lead}", who, expect=None), 404, "/problems/not-found")
        problem_of(driver.get(f"/api/v1/calls/{c.id}", who, expect=None), 404, "/problems/not-found")
        problem_of(driver.get(f"/api/v1/calls/{c.id}/history", who, expect=None), 404, "/problems/not-found")


def test_a_hidden_call_looks_exactly_like_a_missing_one(driver: Driver) -> None:
    """Existence does not leak: the same problem, word for word, but for the id."""
    c = driver.drive("dispatched")
    missing = str(uuid4())
    for who in (
        ("department", "SW"),
        ("community", "LW-HL-01"),
        ("street", "LW-HL"),
        ("grid_worker", "LW-HL-01-G01"),
    ):
        for template in ("/api/v1/calls/{}", "/api/v1/calls/{}/history", "/api/v1/work-orders/{}-w1"):
            hidden = driver.get(template.format(c.id), who, expect=None)
            absent = driver.get(template.format(missing), who, expect=None)
            assert hidden.status_code == absent.status_code == 404
            assert hidden.text.replace(c.id, "ID") == absent.text.replace(missing, "ID")
        hidden = driver.post(f"/api/v1/calls/{c.id}/acknowledge", who, {}, expect=None)
        absent = driver.post(f"/api/v1/calls/{missing}/acknowledge", who, {}, expect=None)
        assert hidden.status_code == absent.status_code == 404
        assert hidden.text.replace(c.id, "ID") == absent.text.replace(missing, "ID")


READERS = [
    (GRID_WORKER, 200),
    (("grid_worker", "LW-LN-01-G02"), 200),  # same community, another grid
    (("grid_worker", "LW-LN-02-G01"), 404),
    (COMMUNITY_STAFF, 200),
    (("community", "LW-LN-02"), 404),
    (STREET_STAFF, 200),
    (("street", "LW-HL"), 404),
    (CG, 200),
    (("department", "ZJ"), 200),  # holds the assisting order: the call is in its jurisdiction
    (("department", "SW"), 404),
    (SUPERVISOR, 200),
    (AUDITOR, 200),
    (ADMIN, 200),
]


@pytest.mark.parametrize(("who", "status"), READERS, ids=[f"{r}@{u}={s}" for (r, u), s in READERS])
def test_reads_follow_jurisdiction(driver: Driver, who: tuple[str, str], status: int) -> None:
    c = driver.drive("dispatched")
    for path in (
        f"/api/v1/calls/{c.id}",
        f"/api/v1/calls/{c.id}/history",
        f"/api/v1/work-orders/{c.order_id(1)}",
    ):
        response = driver.get(path, who, expect=None)
        assert response.status_code == status, f"GET {path} as {who}: {response.text}"
        if status == 404:
            problem_of(response, 404, "/problems/not-found")


@pytest.mark.parametrize(
    ("who", "in_full"),
    [
        (COMMUNITY_STAFF, True),
        (SUPERVISOR, True),
        (GRID_WORKER, False),
        (STREET_STAFF, False),
        (AUDITOR, False),
        (ADMIN, False),
    ],
    ids=["origin-community", "supervisor", "grid-worker", "street", "auditor", "admin"],
)
def test_the_reporters_contact_is_shown_in_full_only_to_origin_community_and_supervisors(
    driver: Driver, who: tuple[str, str], in_full: bool
) -> None:
    c = driver.raise_call(reporter={"name": "欧阳娜娜", "phone": "+86 138 1234 5678"})
    body = driver.get(f"/api/v1/calls/{c.id}", who).json()
    if in_full:
        assert body["reporter"] == {"name": "欧阳娜娜", "phone": "13812345678"}
    else:
        assert body["reporter"] == {"name": "欧***", "phone": "138****5678"}
    history = driver.get(f"/api/v1/calls/{c.id}/history", who)
    assert "12345678" not in history.text and "娜娜" not in history.text, "events never carry contact details"


# --- 412 and the order of checks ----------------------------------------------------------


def test_a_stale_if_match_is_412_and_a_matching_one_goes_through(driver: Driver) -> None:
    c = driver.drive("supervised")  # version 2
    etag = driver.get(f"/api/v1/calls/{c.id}").headers["ETag"]
    assert etag == '"2"'
    stale = driver.post(
        f"/api/v1/calls/{c.id}/acknowledge", COMMUNITY_STAFF, {}, expect=None, **{"If-Match": '"1"'}
    )
    problem_of(stale, 412, "/problems/stale-version")
    assert driver.read(c.id)["status"] == "awaiting_response"
    fresh = driver.post(f"/api/v1/calls/{c.id}/acknowledge", COMMUNITY_STAFF, {}, **{"If-Match": etag})
    assert fresh.json()["status"] == "in_progress" and fresh.headers["ETag"] == '"3"'

    d = driver.drive("dispatched")  # version 4; work orders carry the call's ETag
    order_etag = driver.get(f"/api/v1/work-orders/{d.order_id(1)}", CG).headers["ETag"]
    assert order_etag == '"4"'
    stale = driver.post(
        f"/api/v1/work-orders/{d.order_id(1)}/sign", CG, {}, expect=None, **{"If-Match": '"3"'}
    )
    problem_of(stale, 412, "/problems/stale-version")
    driver.post(f"/api/v1/work-orders/{d.order_id(1)}/sign", CG, {}, **{"If-Match": order_etag})


def test_the_checks_come_in_the_contract_order(driver: Driver) -> None:
    c = driver.drive("in_progress")  # version 2
    stale = {"If-Match": '"1"'}
    missing = str(uuid4())
    # 401 before 413.
    problem_of(driver.client.post("/api/v1/calls", content=b"x" * 70_000), 401)
    # 422 before 404: a bad body to a call that does not exist, or is not yours.
    problem_of(driver.post(f"/api/v1/calls/{missing}/escalate", COMMUNITY_STAFF, {}, expect=None), 422)
    problem_of(driver.post(f"/api/v1/calls/{c.id}/escalate", ("community", "LW-HL-01"), {}, expect=None), 422)
    # 422 before 403: an auditor's bad body.
    problem_of(driver.post(f"/api/v1/calls/{c.id}/escalate", AUDITOR, {}, expect=None), 422)
    # 404 before 403 and 412: another street's community, stale If-Match and all.
    outsider = driver.post(
        f"/api/v1/calls/{c.id}/escalate", ("community", "LW-HL-01"), {"reason": "x"}, expect=None, **stale
    )
    problem_of(outsider, 404, "/problems/not-found")
    # 403 before 412: an auditor, with a stale If-Match.
    problem_of(
        driver.post(f"/api/v1/calls/{c.id}/escalate", AUDITOR, {"reason": "x"}, expect=None, **stale), 403
    )
    # 412 before 409: the holder acknowledging again (a 409), but with a stale If-Match.
    problem_of(
        driver.post(f"/api/v1/calls/{c.id}/acknowledge", COMMUNITY_STAFF, {}, expect=None, **stale), 412
    )
    # 409, with the rule in the detail.
    conflict = problem_of(
        driver.post(f"/api/v1/calls/{c.id}/acknowledge", COMMUNITY_STAFF, {}, expect=None), 409
    )
    assert (
        conflict["type"] == "/problems/transition-not-allowed" and "awaiting_response" in conflict["detail"]
    )
    assert driver.read(c.id)["version"] == c.version, "no refusal wrote anything"


# --- 409s the matrix does not reach ---------------------------------------------------------


def test_reopening_is_refused_once_the_window_has_passed(driver: Driver, clock: FakeClock) -> None:
    early, late = driver.drive("evaluated_dissatisfied"), driver.drive("evaluated_dissatisfied")
    clock.advance(timedelta(days=7, minutes=-1).total_seconds())
    driver.act(early, "reopen", COMMUNITY_STAFF, {"reason": "仍未解决"})
    clock.advance(timedelta(minutes=2).total_seconds())
    refused = driver.post(
        f"/api/v1/calls/{late.id}/reopen", COMMUNITY_STAFF, {"reason": "仍未解决"}, expect=None
    )
    assert "window" in problem_of(refused, 409, "/problems/transition-not-allowed")["detail"]


def test_an_unreachable_reporters_call_can_be_closed_but_not_reopened(driver: Driver) -> None:
    c = driver.drive("resolved_community")
    call = driver.act(c, "evaluate", GRID_WORKER, {"contacted": False})
    assert call["evaluation"]["contacted"] is False and call["evaluation"]["satisfaction"] is None
    refused = driver.post(f"/api/v1/calls/{c.id}/reopen", SUPERVISOR, {"reason": "回访不到"}, expect=None)
    problem_of(refused, 409, "/problems/transition-not-allowed")
    assert driver.act(c, "close", SUPERVISOR, {"note": "无效回访，销号"})["status"] == "closed"


def test_a_call_cannot_be_merged_into_a_closed_one_nor_into_one_its_holder_cannot_see(driver: Driver) -> None:
    c = driver.drive("in_progress")
    closed = driver.drive("closed")
    refused = driver.post(
        f"/api/v1/calls/{c.id}/merge", COMMUNITY_STAFF, {"into": closed.id, "reason": "重复"}, expect=None
    )
    problem_of(refused, 409, "/problems/transition-not-allowed")
    elsewhere = driver.raise_call(Place("LW-HL-01-G01"))
    refused = driver.post(
        f"/api/v1/calls/{c.id}/merge", COMMUNITY_STAFF, {"into": elsewhere.id, "reason": "重复"}, expect=None
    )
    assert "into" in fields_of(problem_of(refused, 422))
    assert driver.read(c.id)["version"] == c.version and driver.read(elsewhere.id)["version"] == 1


# --- idempotency ----------------------------------------------------------------------------


def test_the_identity_headers_are_documented_where_taken_and_refused_as_documented(driver: Driver) -> None:
    """Idempotency-Key and If-Match are read by huying, not declared to FastAPI: the document
    still lists them on the operations that take them, with the shape the server enforces."""
    spec = driver.client.get("/openapi.json").json()

    def headers_of(path: str, method: str) -> dict[str, Any]:
        parameters = spec["paths"][path][method].get("parameters", [])
        return {p["name"]: p["schema"]["anyOf"][0] for p in parameters if p["in"] == "header"}

    for path in ("/api/v1/calls", "/api/v1/calls/{call_id}/acknowledge"):
        assert set(headers_of(path, "post")) == {"idempotency-key", "if-match"}, path
    assert headers_of("/api/v1/calls", "get") == {}, "a read takes neither"
    key_shape = re.compile(headers_of("/api/v1/calls", "post")["idempotency-key"]["pattern"])
    c = driver.drive("awaiting_response")
    path = f"/api/v1/calls/{c.id}/acknowledge"
    for key in ("k" * 201, "two\x01parts"):
        assert key_shape.fullmatch(key) is None
        refused = driver.post(path, COMMUNITY_STAFF, {}, key=key, expect=None)
        assert fields_of(problem_of(refused, 422)) == ["Idempotency-Key"], key
    assert key_shape.fullmatch("k" * 200) is not None
    driver.post(path, COMMUNITY_STAFF, {}, key="k" * 200)


def test_a_repeated_idempotency_key_answers_from_the_record(driver: Driver) -> None:
    c = driver.drive("awaiting_response")
    path = f"/api/v1/calls/{c.id}/acknowledge"
    first = driver.post(path, COMMUNITY_STAFF, {"note": "已响应", "extra": 1}, key="ack-1", expect=None)
    assert first.status_code == 422  # an unknown field: refused before anything is recorded
    first = driver.post(path, COMMUNITY_STAFF, {"note": "已响应"}, key="ack-1")
    driver.escalate(c)  # the call moves on
    again = driver.post(path, COMMUNITY_STAFF, {"note": "已响应"}, key="ack-1")
    assert again.json() == first.json() and again.json()["status"] == "in_progress"
    assert again.headers["ETag"] == first.headers["ETag"]
    # JSON-equal, though spelled differently on the wire.
    respelled = driver.client.post(
        path,
        content=b'{ "note" :\n"\\u5df2\\u54cd\\u5e94" }',
        headers={**driver.tokens.headers(*COMMUNITY_STAFF, key="ack-1"), "Content-Type": "application/json"},
    )
    assert respelled.status_code == 200 and respelled.json() == first.json()
    other = driver.post(path, COMMUNITY_STAFF, {"note": "另一个"}, key="ack-1", expect=None)
    assert "Idempotency-Key" in fields_of(problem_of(other, 422))
    history = driver.get(f"/api/v1/calls/{c.id}/history").json()["data"]
    assert [e["type"] for e in history] == ["Raised", "Acknowledged", "Escalated"], "recorded once"


def test_a_repeated_raise_returns_the_same_call_once(driver: Driver) -> None:
    body = raise_body(title="同一事项")
    first = driver.post("/api/v1/calls", GRID_WORKER, body, key="raise-1", expect=201)
    again = driver.post("/api/v1/calls", GRID_WORKER, body, key="raise-1", expect=201)
    assert again.json() == first.json() and again.headers["Location"] == first.headers["Location"]
    other = driver.post(
        "/api/v1/calls", GRID_WORKER, raise_body(title="另一事项"), key="raise-1", expect=None
    )
    assert "Idempotency-Key" in fields_of(problem_of(other, 422))
    # The key is scoped to the principal: the same key from someone else is a new call.
    elsewhere = driver.post("/api/v1/calls", COMMUNITY_STAFF, body, key="raise-1", expect=201)
    assert elsewhere.json()["id"] != first.json()["id"]
    assert len(driver.get(f"/api/v1/calls/{first.json()['id']}/history").json()["data"]) == 1


# --- the service's own endpoints ----------------------------------------------------------


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"])
def test_operational_endpoints_answer_without_a_token(http: Client, path: str) -> None:
    response = http.get(path)
    assert response.status_code == 200, response.text
    if path == "/openapi.json":
        paths = response.json()["paths"]
        assert "/api/v1/calls" in paths and "/api/v1/calls/{call_id}/dispatch" in paths
    if path == "/metrics":
        assert "huying_http_requests_total" in response.text


@pytest.mark.parametrize("who", [GRID_WORKER, CG, AUDITOR, ADMIN], ids=lambda w: w[0])
def test_reference_data_is_served_to_any_token(driver: Driver, who: tuple[str, str]) -> None:
    catalog = driver.get("/api/v1/catalog", who)
    org = driver.get("/api/v1/org", who)
    assert catalog.json()["version"] and org.json()["version"]
    assert "C01-01" in catalog.text and "垃圾堆积" in catalog.text
    assert "LW-LN-01-G01" in org.text and "岭南街道" in org.text


@pytest.mark.parametrize(
    "who", [GRID_WORKER, COMMUNITY_STAFF, STREET_STAFF, CG, SUPERVISOR, AUDITOR], ids=lambda w: w[0]
)
def test_only_an_admin_may_move_the_clock(driver: Driver, clock: FakeClock, who: tuple[str, str]) -> None:
    before = clock.now()
    refused = driver.post("/api/v1/_clock", who, {"advance_seconds": 3600}, expect=None)
    problem_of(refused, 403, "/problems/not-permitted")
    assert clock.now() == before
    moved = driver.post("/api/v1/_clock", ADMIN, {"advance_seconds": 3600})
    assert datetime.fromisoformat(moved.json()["now"]) == before + timedelta(hours=1) == clock.now()


# --- never a 500 -----------------------------------------------------------------------------

GARBAGE: list[bytes] = [
    b"",
    b"{",
    b"null",
    b"[]",
    b"42",
    b'"text"',
    b"\xff\xfe\x00",
    b'{"reason": "\\ud800"}',
    b'{"reason": "a\\u0000b", "note": "a\\u0000b"}',
    b'{"reason": 1e400, "note": -1e400, "result": 1e999}',
    b'{"reason": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    b'{"reason": {"$gt": ""}, "note": [], "summary": true, "result": null}',
    b'{"contacted": "yes", "solved": "no", "satisfaction": 1}',
    b'{"into": "00000000-0000-0000-0000-000000000000", "reason": "x"}',
    b'{"lead_department": ["CG"], "assisting_departments": "ZJ", "deadline": 1, "instructions": "x"}',
    b'{"until": "not a date", "reason": "x"}',
    b'{"item_code": "C01-01", "grid_code": "LW-LN-01-G01", "title": 1, "description": {}, "channel": null}',
    b'{"now": "2026-13-45T99:99:99+08:00"}',
    b'{"advance_seconds": -1}',
    b'{"advance_seconds": 1e308}',
]
# The ends of business time, still accepted (BAD_INSTANTS lie beyond them).
EXTREME_TIMES = ["1970-01-01T00:00:00+00:00", "2200-12-31T23:59:59-14:00"]

ORDER_ACTIONS = (
    "sign",
    "return",
    "request-extension",
    "progress",
    "complete",
    "extension/grant",
    "extension/deny",
)
CALL_ACTIONS = [a.value for a in Action if a is not Action.RAISE and a.value not in ORDER_ACTIONS]
GARBAGE_QUERY = ["zzz", "-1", "", "99999999999999999999999", "\x00", "1e999", "2026-13-45", "LW-XX", "垃圾"]
BLOCKING = {"wait", "min_position"}  # a large number here legitimately waits (≤ 5 s): not tried
# Sent to every query parameter, whatever it is declared to be; edges.py adds the values at and
# beyond the edges of the kind it is declared to be.
ANYWHERE = ["0001-01-01", "9999-12-31", "9999", "9223372036854775808", "9" * 5000, "²", "٢٠٢٦"]


def _targets(c: Driven) -> list[tuple[str, tuple[str, str]]]:
    return (
        [("/api/v1/calls", GRID_WORKER), ("/api/v1/_clock", ADMIN)]
        + [(f"/api/v1/calls/{c.id}/{a}", STREET_STAFF) for a in CALL_ACTIONS]
        + [(f"/api/v1/work-orders/{c.order_id()}/{a}", CG) for a in ORDER_ACTIONS]
    )


def test_no_garbage_body_makes_a_500(driver: Driver) -> None:
    c = driver.drive("extension_pending")
    failures = []
    for path, who in _targets(c):
        for body in GARBAGE:
            headers = {**driver.tokens.headers(*who), "Content-Type": "application/json"}
            response = driver.client.post(path, content=body, headers=headers)
            if response.status_code >= 500 or (
                response.status_code >= 400 and not response.headers["content-type"].startswith(PROBLEM)
            ):
                failures.append((path.replace(c.id, "<call>"), body[:60], response.status_code))
    assert failures == []


def test_a_body_that_is_not_even_text_is_422_naming_the_body(driver: Driver) -> None:
    """Bytes that are not UTF-8 never reach JSON parsing; FastAPI would answer 400. The contract
    says 422 with the field, like any other body that is not valid JSON."""
    headers = {**driver.tokens.headers(*GRID_WORKER), "Content-Type": "application/json"}
    response = driver.client.post("/api/v1/calls", content=b"\xff\x0c\xfe)", headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["type"] == "/problems/invalid-request"
    assert problem["errors"] == [
        {"field": "body", "message": "not valid JSON: the body could not be decoded"}
    ]


def _reader(path: str) -> tuple[str, str]:
    """Who may read this path, so that a value gets past authorisation to what lies behind it."""
    return AUDITOR if path.startswith(("/api/v1/events", "/api/v1/exports", "/api/v1/audit")) else SUPERVISOR


def test_no_query_value_makes_a_500_nor_cuts_a_stream_short(
    client: Client, tokens: Any, clock: FakeClock
) -> None:
    """Every query parameter of every GET the OpenAPI document lists, given junk and the values
    at and beyond the edges of its kind, by a principal allowed to read it. The client here
    raises whatever the server raised, so an export cut off after its first byte fails too."""
    driver = Driver(client, tokens, clock)
    c = driver.drive("signed")
    spec = client.get("/openapi.json").json()
    failures = []
    for template, operations in spec["paths"].items():
        if "get" not in operations or not template.startswith("/api/"):
            continue
        path = template.replace("{call_id}", c.id).replace("{order_id}", c.order_id()).replace("{code}", "CG")
        path = path.replace("{item_code}", "C01-01")
        parameters = operations["get"].get("parameters", [])
        required = {
            p["name"]: _first_value(p["schema"], spec)
            for p in parameters
            if p["in"] == "query" and p.get("required")
        }
        for parameter in parameters:
            if parameter["in"] != "query" or _closed(parameter["schema"], spec):
                continue
            for junk in dict.fromkeys(GARBAGE_QUERY + ANYWHERE + edges.values_of(parameter["schema"], spec)):
                if parameter["name"] in BLOCKING and junk.isascii() and junk.isdigit():
                    continue
                try:
                    response = client.get(
                        path,
                        params={**required, parameter["name"]: junk},
                        headers=tokens.headers(*_reader(path)),
                    )
                except Exception as error:  # what the server raised, reported with its input
                    failures.append((template, parameter["name"], junk[:40], repr(error)[:200]))
                    continue
                if response.status_code >= 500:
                    failures.append((template, parameter["name"], junk[:40], response.status_code))
    assert failures == [], "\n".join(map(str, failures))


def _options(schema: dict[str, Any], spec: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for option in schema.get("anyOf", [schema]):
        if "$ref" in option:
            option = spec["components"]["schemas"][option["$ref"].rsplit("/", 1)[-1]]
        found.append(option)
    return found


def _closed(schema: dict[str, Any], spec: dict[str, Any]) -> bool:
    """An enum or a boolean: whatever is sent, it is one of a few values or refused."""
    return all(o.get("type") in ("boolean", "null") or "enum" in o for o in _options(schema, spec))


def _first_value(schema: dict[str, Any], spec: dict[str, Any]) -> Any:
    """A valid value for a required parameter (each is an enum), so the others are reached."""
    [option] = _options(schema, spec)
    return option["enum"][0]


def _instants(driver: Driver, when: str) -> list[tuple[str, str, tuple[str, str], dict[str, Any]]]:
    """Each body field that takes an instant, as (field, path, who, body); the clock last, as it
    moves the clock."""
    signed, ready = driver.drive("signed"), driver.drive("street_in_progress")
    return [
        ("occurred_at", "/api/v1/calls", GRID_WORKER, raise_body(occurred_at=when)),
        (
            "deadline",
            f"/api/v1/calls/{ready.id}/dispatch",
            STREET_STAFF,
            {**driver.dispatch_body(), "deadline": when},
        ),
        (
            "until",
            f"/api/v1/work-orders/{signed.order_id()}/request-extension",
            CG,
            {"until": when, "reason": "需时"},
        ),
        ("now", "/api/v1/_clock", ADMIN, {"now": when}),
    ]


@pytest.mark.parametrize("when", EXTREME_TIMES, ids=["epoch", "last-instant-west"])
def test_no_extreme_time_makes_a_500(driver: Driver, when: str) -> None:
    outcomes = {
        field: driver.post(path, who, body, expect=None).status_code
        for field, path, who, body in _instants(driver, when)
    }
    assert all(status < 500 for status in outcomes.values()), outcomes


# --- bounded where it is parsed -------------------------------------------------------------
# Dates, periods, instants, positions and versions reach arithmetic behind the endpoints: a day
# added, a month's end, a calendar walk, a 64-bit column, int(). Each is refused where it is
# parsed, naming the parameter and the range it accepts.

FIRST_DAY, LAST_DAY = "1970-01-01", "2200-12-31"

# Each was a 500, or a 200 whose streamed body stopped after the headers (issue 10).
REPORTED = [
    ("unit-scores-period-year-1", "/api/v1/scores/units?kind=street&period=0001-01", SUPERVISOR, ["period"]),
    ("score-export-period-year-1", "/api/v1/exports/scores?period=0001-01", AUDITOR, ["period"]),
    (
        "score-export-year-1-to-9999",
        "/api/v1/exports/scores?from=0001-01-01&to=9999-12-31",
        AUDITOR,
        ["from", "to"],
    ),
    ("event-feed-to-9999", "/api/v1/events?to=9999-12-31", AUDITOR, ["to"]),
    ("event-export-to-9999", "/api/v1/exports/events?to=9999-12-31", AUDITOR, ["to"]),
    (
        "event-export-from-year-1",
        "/api/v1/exports/events?from=0001-01-01T00:00:00%2B14:00",
        AUDITOR,
        ["from"],
    ),
    ("dashboard-to-year-1", "/api/v1/dashboards/sla?to=0001-01-01", SUPERVISOR, ["to"]),
]


@pytest.mark.parametrize(("url", "who", "named"), [r[1:] for r in REPORTED], ids=[r[0] for r in REPORTED])
def test_a_date_beyond_business_time_is_a_422_naming_the_parameter_and_the_range(
    http: Client, tokens: Any, url: str, who: tuple[str, str], named: list[str]
) -> None:
    problem = problem_of(http.get(url, headers=tokens.headers(*who)), 422, INVALID_REQUEST)
    messages = {e["field"]: e["message"] for e in problem["errors"]}
    assert sorted(messages) == sorted(named), problem
    assert all(FIRST_DAY in m and LAST_DAY in m for m in messages.values()), problem


@pytest.mark.parametrize(
    "period", ["0001-01", "9999", "1969-Q4", "2201-01", "٢٠٢٦-٠١", "2026-13", "2026-Q0", "²⁰²⁶"]
)
def test_a_period_is_ascii_digits_within_business_time(http: Client, tokens: Any, period: str) -> None:
    for path, who, params in [
        ("/api/v1/scores/units", SUPERVISOR, {"kind": "street"}),
        ("/api/v1/exports/scores", AUDITOR, {}),
    ]:
        response = http.get(path, params={**params, "period": period}, headers=tokens.headers(*who))
        assert fields_of(problem_of(response, 422, INVALID_REQUEST)) == ["period"]


NOT_VERSIONS = {
    "5000-digits": '"' + "9" * 5000 + '"',
    "past-int32": '"2147483648"',
    "zero": '"0"',
    "negative": '"-1"',
    "decimal": '"3.0"',
    "hex": '"0x3"',
    "list": '"1", "2"',
}


@pytest.mark.parametrize("tag", NOT_VERSIONS.values(), ids=NOT_VERSIONS.keys())
def test_an_if_match_that_names_no_possible_version_is_a_422_and_writes_nothing(
    driver: Driver, tag: str
) -> None:
    c = driver.drive("awaiting_response")
    for path, who in [(f"/api/v1/calls/{c.id}/acknowledge", COMMUNITY_STAFF), ("/api/v1/calls", GRID_WORKER)]:
        body = {} if who == COMMUNITY_STAFF else raise_body()
        response = driver.post(path, who, body, expect=None, **{"If-Match": tag})
        problem = problem_of(response, 422, INVALID_REQUEST)
        assert fields_of(problem) == ["If-Match"]
        assert "2147483647" in problem["detail"], "the accepted range is named"
    assert driver.read(c.id)["version"] == c.version


INT32, INT64 = 2**31 - 1, 2**63 - 1
POSITIONS = [
    ("/api/v1/calls", "min_position", INT64),
    ("/api/v1/events", "after", INT64),  # the event log's BIGINT
    ("/api/v1/calls", "after", INT32),  # the read models' and the chain's INTEGER (PostgreSQL)
    ("/api/v1/ledger", "after", INT32),
    ("/api/v1/departments/CG/work-orders", "after", INT32),
    ("/api/v1/audit/checkpoints", "after", INT32),
]


@pytest.mark.parametrize(("path", "name", "most"), POSITIONS, ids=[f"{p}?{n}" for p, n, _ in POSITIONS])
def test_a_position_past_its_column_is_a_422_naming_it_and_the_limit(
    http: Client, tokens: Any, path: str, name: str, most: int
) -> None:
    """A position one past what its column holds never reaches the database nor waits."""
    for value in (str(most + 1), "9" * 5000, "²"):
        response = http.get(path, params={name: value}, headers=tokens.headers(*_reader(path)))
        problem = problem_of(response, 422, INVALID_REQUEST)
        assert fields_of(problem) == [name], problem
        if value == str(most + 1):
            assert str(most) in problem["detail"]


BAD_INSTANTS = {
    "year-1": "0001-01-01T00:00:00+14:00",
    "year-9999": "9999-12-31T23:59:59-14:00",
    "before-1970": "1969-12-31T23:59:59+00:00",
    "after-2200": "2201-01-01T00:00:00+08:00",
    "leap-second": "2016-12-31T23:59:60Z",
    "offset-25h": "2026-11-23T09:00:00+25:00",
    "no-offset": "2026-11-23T09:00:00",
    "arabic-digits": "٢٠٢٦-١١-٢٣T09:00:00+08:00",
}


@pytest.mark.parametrize("when", BAD_INSTANTS.values(), ids=BAD_INSTANTS.keys())
def test_an_instant_in_a_body_beyond_business_time_is_a_422_naming_it(driver: Driver, when: str) -> None:
    for field, path, who, body in _instants(driver, when):
        problem = problem_of(driver.post(path, who, body, expect=None), 422, INVALID_REQUEST)
        assert fields_of(problem) == [field], problem


NOT_FINITE = [b"NaN", b"Infinity", b"-Infinity", b"1e400"]


@pytest.mark.parametrize("number", NOT_FINITE, ids=[n.decode() for n in NOT_FINITE])
def test_a_number_that_is_not_finite_is_a_422_naming_it(driver: Driver, number: bytes) -> None:
    place = b'{"lat": %s, "lon": 113.24}' % number
    bodies = [
        (
            "location.lat",
            "/api/v1/calls",
            GRID_WORKER,
            json.dumps(raise_body()).encode()[:-1] + b', "location": ' + place + b"}",
        ),
        ("advance_seconds", "/api/v1/_clock", ADMIN, b'{"advance_seconds": %s}' % number),
    ]
    for field, path, who, body in bodies:
        headers = {**driver.tokens.headers(*who), "Content-Type": "application/json"}
        problem = problem_of(driver.client.post(path, content=body, headers=headers), 422, INVALID_REQUEST)
        assert fields_of(problem) == [field], problem


def test_a_nul_in_any_query_or_path_parameter_is_a_422_naming_it(http: Client, tokens: Any) -> None:
    """PostgreSQL refuses NUL in text; it is refused at the door, like a NUL in a body."""
    for url, name in [
        ("/api/v1/calls?item=C01%00", "item"),
        ("/api/v1/ledger?unit=LW%00", "unit"),
        ("/api/v1/attachments/a%00b", "attachment_id"),
    ]:
        problem = problem_of(http.get(url, headers=tokens.headers(*SUPERVISOR)), 422, INVALID_REQUEST)
        assert fields_of(problem) == [name], problem


def test_every_read_answers_at_the_far_end_of_business_time(
    client: Client, tokens: Any, clock: FakeClock
) -> None:
    """With the clock at the last accepted instant, every default that is worked out from now
    (this month, the last 30 days, a period's end) still lies where arithmetic can reach."""
    driver = Driver(client, tokens, clock)
    c = driver.drive("signed")
    driver.post("/api/v1/_clock", ADMIN, {"now": f"{LAST_DAY}T23:59:59-14:00"})
    spec = client.get("/openapi.json").json()
    answers = {}
    for template, operations in spec["paths"].items():
        # no attachment, webhook subscription, directive, meeting or publication exists here; reads of one
        # work out nothing from now that a call's reads do not (their own tests cover them)
        absent = ("{attachment_id}", "{webhook_id}", "{directive_id}", "{meeting_id}", "{publication_id}")
        no_such = any(name in template for name in absent)
        if "get" in operations and template.startswith("/api/") and not no_such:
            path = (
                template.replace("{call_id}", c.id)
                .replace("{order_id}", c.order_id())
                .replace("{code}", "CG")
                .replace("{item_code}", "C01-01")
            )
            by_kind = template in ("/api/v1/scores/units", "/api/v1/scores/assessment")
            params = {"kind": "street"} if by_kind else {}
            answers[template] = client.get(path, params=params, headers=tokens.headers(*_reader(path)))
    assert {t: (r.status_code, r.text) for t, r in answers.items() if r.status_code != 200} == {}


ODD_CONTENT_TYPES = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/json; charset=utf-16",
    "application/json; charset=nonsense",
    "*/*",
    "",
]
ODD_ACCEPTS = ["application/xml", "text/csv;q=NaN", "*/*;q=" + "9" * 5000, "\x01"]


def test_an_odd_content_type_or_accept_gets_an_answer_not_a_500(http: Client, tokens: Any) -> None:
    body = json.dumps(raise_body()).encode()
    for content_type in ODD_CONTENT_TYPES:
        headers = {**tokens.headers(*GRID_WORKER), "Content-Type": content_type}
        response = http.post("/api/v1/calls", content=body, headers=headers)
        assert response.status_code in (201, 422), (content_type, response.text)
        if response.status_code == 422:
            assert fields_of(problem_of(response, 422, INVALID_REQUEST)) == ["body"]
    for accept in ODD_ACCEPTS:
        for path in ("/api/v1/events", "/api/v1/exports/events", "/api/v1/exports/scores"):
            response = http.get(path, headers={**tokens.headers(*AUDITOR), "Accept": accept})
            assert response.status_code == 200, (accept, path, response.text)
