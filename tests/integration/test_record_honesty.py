"""The record tells the truth, and only what it may.

Every history entry says who acted, under which request, at what business time. A reporter's
name and phone never reach the immutable event store (not even its WAL), are encrypted at rest
in the service database, and are shown in full only to those who need them. The docs load
nothing from outside. Tokens are kept as hashes and die the moment they are revoked.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from backends import settings_env
from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.db import reporter_contacts
from huying.domain.principal import Principal, Role
from huying.settings import Settings

GRID = "LW-LN-01-G01"
COMMUNITY = "LW-LN-01"
STREET = "LW-LN"
DISTRICT = "LW"
CALLS = "/api/v1/calls"
ORDERS = "/api/v1/work-orders"

NAME = "张三丰"
PHONE = "13812345678"
MASKED_NAME = "张**"
MASKED_PHONE = "138****5678"

RAISE: dict[str, Any] = {
    "item_code": "C01-01",
    "grid_code": GRID,
    "title": "小区门口垃圾堆放",
    "description": "垃圾已堆放三天无人清运，气味很大。",
    "channel": "hotline",
    "reporter": {"name": NAME, "phone": PHONE},
}

# The reporter's details in every spelling a store might hold them in (compared lower-case).
SECRETS = [
    PHONE.encode(),
    NAME.encode("utf-8"),
    NAME.encode("utf-16-le"),
    NAME.encode("unicode_escape"),  # \u5f20\u4e09\u4e30, as JSON with ensure_ascii would write it
]


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def file_bytes(db: Path) -> bytes:
    """The database file and whatever of it still sits in its write-ahead log."""
    return b"".join(p.read_bytes() for p in (db, db.with_name(db.name + "-wal")) if p.exists())


def checkpoint(db: Path) -> None:
    """Moves the WAL into the main file, as SQLite eventually does by itself."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(FULL)").fetchone()
    finally:
        conn.close()


def leaked(blob: bytes) -> list[bytes]:
    return [s for s in SECRETS if s in blob or s in blob.lower()]


def raise_and_dispatch(client: httpx.Client, tokens: Any, clock: FakeClock) -> dict[str, Any]:
    """A call with a reporter, taken up to the street and dispatched to CG (lead) and ZJ."""
    raised = ok(client.post(CALLS, headers=tokens.headers("grid_worker", GRID, key="r-1"), json=RAISE), 201)
    call = raised["id"]
    community = tokens.headers("community", COMMUNITY)
    street = tokens.headers("street", STREET)
    for path, headers, body in [
        (f"{CALLS}/{call}/escalate", community, {"reason": "需街道统筹"}),
        (f"{CALLS}/{call}/acknowledge", street, None),
        (
            f"{CALLS}/{call}/dispatch",
            street,
            {
                "lead_department": "CG",
                "assisting_departments": ["ZJ"],
                "deadline": "2026-11-26T18:00:00+08:00",
                "instructions": "请联系报告人核实后清运",
            },
        ),
    ]:
        clock.advance(900)
        ok(client.post(path, headers=headers, json=body))
    return raised


# --- history: who, under which request, when ----------------------------------------------


def test_every_history_entry_names_actor_key_and_business_time(
    client: httpx.Client, tokens: Any, clock: FakeClock
) -> None:
    admin = tokens.headers("admin", DISTRICT)
    grid = tokens.headers("grid_worker", GRID)
    community = tokens.headers("community", COMMUNITY)
    street = tokens.headers("street", STREET)
    cg = tokens.headers("department", "CG")
    expected: list[tuple[str, dict[str, str], str | None, datetime]] = []

    def at(when: datetime) -> datetime:
        # Half the steps move the clock through the API, half directly: both are business time.
        if len(expected) % 2:
            moved = ok(client.post("/api/v1/_clock", headers=admin, json={"now": when.isoformat()}))
            assert datetime.fromisoformat(moved["now"]) == when
        else:
            clock.set(when)
        return clock.now()

    def step(
        event: str,
        path: str,
        headers: dict[str, str],
        role: str,
        unit: str,
        when: datetime,
        key: str | None = None,
        body: dict[str, Any] | None = None,
        status: int = 200,
    ) -> dict[str, Any]:
        now = at(when)
        sent = {**headers, "Idempotency-Key": key} if key else headers
        answer = ok(client.post(path, headers=sent, json=body), status)
        expected.append((event, {"role": role, "unit": unit}, key, now))
        return answer

    monday = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 17:00 in Guangzhou
    raised = step("Raised", CALLS, grid, "grid_worker", GRID, monday, "k-raise", RAISE, 201)
    call = raised["id"]
    assert datetime.fromisoformat(raised["raised_at"]) == monday
    c = f"{CALLS}/{call}"
    step("Acknowledged", f"{c}/acknowledge", community, "community", COMMUNITY, monday + timedelta(minutes=7))
    step(
        "Escalated",
        f"{c}/escalate",
        community,
        "community",
        COMMUNITY,
        monday + timedelta(hours=2, seconds=13),
        "k-esc",
        {"reason": "社区无法独立解决"},
    )
    step("Acknowledged", f"{c}/acknowledge", street, "street", STREET, monday + timedelta(days=1), "k-ack")
    dispatched = step(
        "Dispatched",
        f"{c}/dispatch",
        street,
        "street",
        STREET,
        monday + timedelta(days=1, hours=1),
        "k-disp",
        {
            "lead_department": "CG",
            "assisting_departments": [],
            "deadline": "2026-11-27T18:00:00+08:00",
            "instructions": "清运",
        },
    )
    order = dispatched["work_orders"][0]["id"]
    step(
        "WorkOrderSigned",
        f"{ORDERS}/{order}/sign",
        cg,
        "department",
        "CG",
        monday + timedelta(days=1, hours=3),
    )
    step(
        "ProgressNoted",
        f"{ORDERS}/{order}/progress",
        cg,
        "department",
        "CG",
        monday + timedelta(days=2, microseconds=250_000),
        "k-prog",
        {"note": "已安排车辆"},
    )
    step(
        "WorkOrderCompleted",
        f"{ORDERS}/{order}/complete",
        cg,
        "department",
        "CG",
        monday + timedelta(days=2, hours=5),
        "k-done",
        {"result": "已清运"},
    )
    step(
        "Resolved",
        f"{c}/resolve",
        street,
        "street",
        STREET,
        monday + timedelta(days=3),
        None,
        {"summary": "垃圾已清运"},
    )
    step(
        "Evaluated",
        f"{c}/evaluate",
        tokens.headers("supervisor", DISTRICT),
        "supervisor",
        DISTRICT,
        monday + timedelta(days=4),
        "k-eval",
        {"contacted": True, "solved": True, "satisfaction": "basically_satisfied"},
    )
    # The clock moves on: history keeps the time each step was taken, not the time it is read.
    clock.advance(86400 * 30)

    for viewer in (community, tokens.headers("auditor", DISTRICT)):
        history = ok(client.get(f"{c}/history", headers=viewer))["data"]
        assert len(history) == len(expected)
        for entry, (event, actor, key, when) in zip(history, expected, strict=True):
            assert entry["type"] == event
            assert entry["actor"] == actor
            assert entry["idempotency_key"] == key
            at_ = datetime.fromisoformat(entry["at"])
            assert at_.utcoffset() is not None, f"{entry['at']} has no offset"
            assert at_ == when, f"{event}: at {entry['at']}, the clock said {when.isoformat()}"
            assert datetime.fromisoformat(entry["recorded_at"]).utcoffset() is not None
        assert [e["version"] for e in history] == list(range(1, len(expected) + 1))
    final = ok(client.get(c, headers=community))
    assert final["status"] == "evaluated"
    assert datetime.fromisoformat(final["evaluation"]["at"]) == expected[-1][3]


# --- the reporter's contact details ---------------------------------------------------------


@pytest.mark.sqlite_only(
    reason="scans SQLite's files and WAL byte for byte; test_stored_rows.py scans every row"
)
def test_reporter_contact_never_enters_the_event_store_or_history(
    settings: Settings, services: Services, client: httpx.Client, tokens: Any, clock: FakeClock
) -> None:
    raised = raise_and_dispatch(client, tokens, clock)
    call_id = raised["id"]
    events_db = settings.data_dir / "huying.events.db"
    service_db = settings.data_dir / "huying.db"

    # The event store, as it stands (main file + WAL), then after a checkpoint.
    blob = file_bytes(events_db)
    assert call_id.replace("-", "").encode() in blob or call_id.encode() in blob, "not the store we wrote"
    assert "需街道统筹".encode() in blob, "events are readable here, so a leak would show"
    assert leaked(blob) == []
    checkpoint(events_db)
    assert leaked(file_bytes(events_db)) == []

    # The history, as everyone who can see it (including those who see the contact in full).
    for role, unit in [
        ("community", COMMUNITY),
        ("supervisor", DISTRICT),
        ("auditor", DISTRICT),
        ("street", STREET),
        ("department", "CG"),
    ]:
        history = client.get(f"{CALLS}/{call_id}/history", headers=tokens.headers(role, unit))
        assert history.status_code == 200, history.text
        assert leaked(history.content) == [], f"history shown to {role} {unit} holds the contact"
        assert "138****" not in history.text and MASKED_NAME not in history.text

    # The service database holds it encrypted, and can still open it.
    with services.contacts.engine.connect() as conn:
        rows = conn.execute(select(reporter_contacts)).all()
    assert len(rows) == 1
    row = rows[0]
    assert row.name_enc and row.phone_enc
    assert leaked(bytes(row.name_enc) + bytes(row.phone_enc)) == []
    assert leaked(file_bytes(service_db)) == []
    checkpoint(service_db)
    assert leaked(file_bytes(service_db)) == []
    contact = services.contacts.get(row.ref)
    assert contact is not None and (contact.name, contact.phone) == (NAME, PHONE)


def test_contact_is_shown_in_full_only_to_the_origin_community_and_supervisors(
    client: httpx.Client, tokens: Any, clock: FakeClock
) -> None:
    raised = raise_and_dispatch(client, tokens, clock)
    call_id = raised["id"]
    full = {"name": NAME, "phone": PHONE}
    masked = {"name": MASKED_NAME, "phone": MASKED_PHONE}
    # The grid worker who entered it gets the masked form back, like every other role.
    assert raised["reporter"] == masked

    for (role, unit), shown in [
        (("community", COMMUNITY), full),
        (("supervisor", DISTRICT), full),
        (("grid_worker", GRID), masked),
        (("grid_worker", "LW-LN-01-G02"), masked),
        (("street", STREET), masked),
        (("department", "CG"), masked),
        (("department", "ZJ"), masked),
        (("auditor", DISTRICT), masked),
        (("admin", DISTRICT), masked),
    ]:
        got = client.get(f"{CALLS}/{call_id}", headers=tokens.headers(role, unit))
        assert got.status_code == 200, f"{role} {unit}: {got.text}"
        assert got.json()["reporter"] == shown, f"{role} {unit}"
        if shown is masked:
            assert leaked(got.content) == [], f"{role} {unit} sees the contact in full somewhere"
        order = got.json()["work_orders"][0]["id"]
        wo = client.get(f"{ORDERS}/{order}", headers=tokens.headers(role, unit))
        assert wo.status_code == 200 and leaked(wo.content) == []

    # Outside the jurisdiction the call does not exist at all.
    for role, unit in [("community", "LW-LN-02"), ("street", "LW-DB"), ("department", "WJ")]:
        got = client.get(f"{CALLS}/{call_id}", headers=tokens.headers(role, unit))
        assert got.status_code == 404 and leaked(got.content) == []

    # Action answers are shaped by the same rule.
    action = client.post(
        f"{CALLS}/{call_id}/supervise",
        headers=tokens.headers("supervisor", DISTRICT),
        json={"reason": "催办"},
    )
    assert ok(action)["reporter"] == full


def contact_rows(services: Services) -> int:
    with services.contacts.engine.connect() as conn:
        return len(conn.execute(select(reporter_contacts.c.ref)).all())


def test_a_refused_raise_keeps_no_personal_data(
    services: Services, client: httpx.Client, tokens: Any
) -> None:
    # A grid worker of G02 may not raise in G01: 403, and nothing of the request may stay behind.
    refused = client.post(CALLS, headers=tokens.headers("grid_worker", "LW-LN-01-G02", key="k-1"), json=RAISE)
    assert refused.status_code == 403, refused.text
    assert contact_rows(services) == 0, "a refused raise left the reporter's contact in reporter_contacts"


def test_a_raise_keeps_the_reporter_it_was_sent_after_an_earlier_refusal(
    services: Services, client: httpx.Client, tokens: Any
) -> None:
    """The app picked the wrong grid (403), the worker corrects grid and reporter and sends again
    under the same key: the call must carry the reporter of the request that created it."""
    headers = tokens.headers("grid_worker", "LW-LN-01-G02", key="k-1")
    assert client.post(CALLS, headers=headers, json=RAISE).status_code == 403
    corrected = {**RAISE, "grid_code": "LW-LN-01-G02", "reporter": {"name": "王五", "phone": "13700002222"}}
    raised = ok(client.post(CALLS, headers=headers, json=corrected), 201)
    assert raised["reporter"] == {"name": "王*", "phone": "137****2222"}
    full = ok(client.get(f"{CALLS}/{raised['id']}", headers=tokens.headers("community", COMMUNITY)))
    assert full["reporter"] == {"name": "王五", "phone": "13700002222"}


# --- the docs load nothing from outside ----------------------------------------------------


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src", "iframe": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append(value)


def test_docs_reference_no_outside_host(client: httpx.Client) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "http://" not in html and "https://" not in html, "the docs page names an outside URL"
    assert "//cdn" not in html and "unpkg" not in html and "jsdelivr" not in html

    parser = _Assets()
    parser.feed(html)
    scripts = [u for u in parser.urls if u.endswith(".js")]
    styles = [u for u in parser.urls if u.endswith(".css")]
    assert scripts and styles, f"expected the swagger bundle and stylesheet, found {parser.urls}"
    for url in parser.urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc and url.startswith("/"), f"{url} is not local"
        asset = client.get(url)
        assert asset.status_code == 200 and asset.content, url
    for url in styles:
        css = client.get(url).text
        assert "@import" not in css
        for ref in css.split("url(")[1:]:
            target = ref.split(")", 1)[0].strip("'\" ")
            assert target.startswith("data:") or not urlsplit(target).netloc, f"{url} loads {target[:80]}"

    # The spec it loads is ours, served here without a token.
    assert "'/openapi.json'" in html or '"/openapi.json"' in html
    spec = client.get("/openapi.json")
    assert spec.status_code == 200 and "/api/v1/calls" in spec.json()["paths"]


# --- tokens ------------------------------------------------------------------------------


@pytest.mark.sqlite_only(
    reason="scans SQLite's file and WAL byte for byte; test_stored_rows.py scans every row"
)
def test_tokens_are_stored_hashed(settings: Settings, services: Services, client: httpx.Client) -> None:
    token_ids: list[str] = []
    secrets: list[str] = []
    for principal in (Principal(Role.COMMUNITY, COMMUNITY), Principal(Role.ADMIN, DISTRICT)):
        token_id, token = services.tokens.create(principal, label="hash check")
        token_ids.append(token_id)
        secrets.append(token)
        assert client.get("/api/v1/catalog", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    service_db = settings.data_dir / "huying.db"
    for _ in range(2):  # before and after a checkpoint
        blob = file_bytes(service_db)
        for token_id in token_ids:
            assert token_id.encode() in blob, "the token rows are in this file"
        for token in secrets:
            assert token.encode() not in blob
            assert token.removeprefix("hy_").encode() not in blob
        checkpoint(service_db)
    assert all(token not in str(info) for info in services.tokens.list() for token in secrets)


def test_revoking_a_token_makes_the_next_request_401(
    settings: Settings, services: Services, client: httpx.Client, tokens: Any
) -> None:
    token_id, token = services.tokens.create(Principal(Role.COMMUNITY, COMMUNITY), label="to revoke")
    headers = {"Authorization": f"Bearer {token}"}
    raised = ok(client.post(CALLS, headers=headers, json=RAISE), 201)
    assert client.get(f"{CALLS}/{raised['id']}", headers=headers).status_code == 200

    assert services.tokens.revoke(token_id)
    for method, path, body in [
        ("GET", f"{CALLS}/{raised['id']}", None),
        ("GET", "/api/v1/catalog", None),
        ("POST", f"{CALLS}/{raised['id']}/acknowledge", {}),
        ("POST", CALLS, RAISE),
    ]:
        refused = client.request(method, path, headers=headers, json=body)
        assert refused.status_code == 401, f"{method} {path}: {refused.status_code}"
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.headers["www-authenticate"].lower().startswith("bearer")
    # Nothing the revoked token sent was written.
    history = ok(
        client.get(f"{CALLS}/{raised['id']}/history", headers=tokens.headers("supervisor", DISTRICT))
    )
    assert len(history["data"]) == 1
    # Other tokens keep working.
    assert (
        client.get(f"{CALLS}/{raised['id']}", headers=tokens.headers("community", COMMUNITY)).status_code
        == 200
    )


@pytest.mark.slow
def test_revoking_from_the_cli_takes_effect_in_a_running_service(
    settings: Settings, services: Services, client: httpx.Client
) -> None:
    token_id, token = services.tokens.create(Principal(Role.STREET, STREET), label="cli revoke")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/org", headers=headers).status_code == 200

    env = {k: v for k, v in os.environ.items() if not k.startswith("HUYING_")}
    env.update(settings_env(settings))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "huying.cli", *args], env=env, capture_output=True, text=True, timeout=60
        )

    listed = cli("token", "list")
    assert listed.returncode == 0, listed.stderr
    assert token_id in listed.stdout and token not in listed.stdout + listed.stderr
    revoked = cli("token", "revoke", token_id)
    assert revoked.returncode == 0, revoked.stderr
    # Another process revoked it: refused at once (by default no live token is trusted without
    # a lookup: HUYING_TOKEN_CACHE_SECONDS=0).
    assert client.get("/api/v1/org", headers=headers).status_code == 401
    assert cli("token", "revoke", token_id).returncode == 1
