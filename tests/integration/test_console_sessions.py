"""The console's sessions and forms over real HTTP (both backends): signing in sets
an HttpOnly, SameSite=Strict cookie; signing out and revoking the token end the session for
every copy of its cookie; a form without this session's CSRF token, or from another origin,
writes nothing; and a page shows only what the API's own jurisdiction rules let the principal
see — another department's queue and a call outside one's jurisdiction are 404 pages."""

from __future__ import annotations

import re
import time

from httpx import Client, Response

from conftest import Tokens
from huying.bootstrap import Services
from webhook_receiver import wait_until

CALL = {
    "item_code": "C01-01",
    "grid_code": "LW-LN-01-G01",
    "title": "十三行路巷口垃圾堆积",
    "description": "巷口生活垃圾三天未清运",
    "channel": "grid_worker",
}


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found, f"no {name} field on the page"
    return found.group(1)


def sign_in(client: Client, token: str) -> Response:
    """A new person at a new browser (no cookies): read-your-writes is per browser, so the one
    before them is let finish first — their writes projected, as they would be by the time a
    colleague looks (the read models follow the log asynchronously)."""
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    head = int(services.app.recorder.max_notification_id() or 0)
    wait_until(lambda: not services.projector.running or services.projector.progress.position >= head)
    client.cookies.clear()
    form = client.get("/console/login")
    return client.post(
        "/console/login",
        data={"token": token, "csrf": _hidden(form.text, "csrf"), "next": "/console/"},
        follow_redirects=False,
    )


def raise_form(client: Client) -> dict[str, str]:
    page = client.get("/console/raise")
    assert page.status_code == 200, page.text
    return {
        **CALL,
        "csrf": _hidden(page.text, "csrf"),
        "idempotency_key": _hidden(page.text, "idempotency_key"),
    }


def events(services: Services) -> int:
    return services.app.recorder.max_notification_id() or 0


def test_signing_in_sets_an_httponly_strict_cookie_and_lands_on_the_roles_work(
    client: Client, tokens: Tokens
) -> None:
    answer = sign_in(client, tokens.token("street", "LW-LN"))
    assert answer.status_code == 303 and answer.headers["location"] == "/console/work"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("huying_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    page = client.get("/console/work")
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


def test_a_page_without_a_session_sends_you_to_sign_in(client: Client) -> None:
    answer = client.get("/console/work", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/login?next=/console/work"
    assert client.get("/", follow_redirects=False).headers["location"] == "/console/"


def test_an_unknown_token_and_a_forged_sign_in_form_open_no_session(client: Client, tokens: Tokens) -> None:
    assert sign_in(client, "hy_not-a-token").status_code == 401
    client.cookies.clear()
    client.get("/console/login")  # the form's cookie, but not its token
    forged = client.post("/console/login", data={"token": tokens.token("street", "LW-LN"), "csrf": "guess"})
    assert forged.status_code == 403
    assert "huying_session" not in client.cookies


def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(client: Client, tokens: Tokens) -> None:
    sign_in(client, tokens.token("community", "LW-LN-01"))
    copy = client.cookies["huying_session"]
    page = client.get("/console/work")
    out = client.post("/console/logout", data={"csrf": _hidden(page.text, "csrf")}, follow_redirects=False)
    assert out.status_code == 303
    client.cookies.set("huying_session", copy)
    assert client.get("/console/work", follow_redirects=False).status_code == 303


def test_revoking_a_token_ends_the_sessions_it_opened(
    client: Client, tokens: Tokens, services: Services
) -> None:
    sign_in(client, tokens.token("department", "CG"))
    assert client.get("/console/queue/CG").status_code == 200
    (token_id,) = [t.id for t in services.tokens.list() if t.unit == "CG" and t.revoked_at is None]
    services.tokens.revoke(token_id)
    assert client.get("/console/queue/CG", follow_redirects=False).status_code == 303


def test_a_form_without_this_sessions_csrf_token_writes_nothing(
    client: Client, tokens: Tokens, services: Services
) -> None:
    sign_in(client, tokens.token("community", "LW-LN-01"))
    other_sessions = raise_form(client)["csrf"]
    sign_in(client, tokens.token("grid_worker", "LW-LN-01-G01"))
    form = raise_form(client)
    before = events(services)
    for forged in ({**form, "csrf": ""}, {**form, "csrf": other_sessions}):
        assert client.post("/console/raise", data=forged).status_code == 403
    elsewhere = client.post("/console/raise", data=form, headers={"Origin": "https://elsewhere.example"})
    assert elsewhere.status_code == 403
    assert events(services) == before
    made = client.post("/console/raise", data=form, follow_redirects=False)
    assert made.status_code == 303 and events(services) == before + 1


def test_the_same_raise_form_sent_twice_is_one_call(
    client: Client, tokens: Tokens, services: Services
) -> None:
    sign_in(client, tokens.token("grid_worker", "LW-LN-01-G01"))
    form = raise_form(client)
    first = client.post("/console/raise", data=form, follow_redirects=False)
    again = client.post("/console/raise", data=form, follow_redirects=False)
    assert first.headers["location"] == again.headers["location"]
    assert events(services) == 1


def test_a_refused_move_is_shown_with_the_apis_status_and_changes_nothing(
    client: Client, tokens: Tokens, services: Services
) -> None:
    sign_in(client, tokens.token("grid_worker", "LW-LN-01-G01"))
    call = client.post("/console/raise", data=raise_form(client), follow_redirects=False).headers["location"]
    call_id = call.split("/")[-1].split("?")[0]
    sign_in(client, tokens.token("street", "LW-LN"))
    page = client.get(f"/console/calls/{call_id}")
    assert 'value="acknowledge"' not in page.text  # the community holds it: nothing for the street yet
    tried = client.post(
        "/console/act",
        data={
            "csrf": _hidden(page.text, "csrf"),
            "call": call_id,
            "move": "acknowledge",
            "idempotency_key": "k1",
        },
    )
    assert tried.status_code == 403 and "holder" in tried.text
    assert events(services) == 1


def test_a_department_cannot_open_another_departments_queue(client: Client, tokens: Tokens) -> None:
    sign_in(client, tokens.token("department", "CG"))
    assert client.get("/console/queue/CG").status_code == 200
    refused = client.get("/console/queue/SW")
    assert refused.status_code == 404 and "SW" in refused.text and "<table" not in refused.text
    sign_in(client, tokens.token("supervisor", "LW"))
    assert client.get("/console/queue/SW").status_code == 200


def test_a_call_outside_your_jurisdiction_is_not_found_nor_its_photo(
    client: Client, tokens: Tokens, services: Services
) -> None:
    grid = tokens.headers("grid_worker", "LW-LN-01-G01")
    photo = client.post("/api/v1/attachments", headers=grid, files={"file": ("p.png", _png(), "image/png")})
    made = client.post(
        "/api/v1/calls", headers=grid, json={**CALL, "attachments": [photo.json()["id"]]}
    ).json()
    for role, unit in (("community", "LW-DB-01"), ("street", "LW-DB"), ("department", "CG")):
        sign_in(client, tokens.token(role, unit))
        assert client.get(f"/console/calls/{made['id']}").status_code == 404, (role, unit)
        assert client.get(f"/console/attachments/{photo.json()['id']}").status_code == 404, (role, unit)
    sign_in(client, tokens.token("community", "LW-LN-01"))
    assert client.get(f"/console/calls/{made['id']}").status_code == 200
    assert client.get(f"/console/attachments/{photo.json()['id']}?variant=thumb").status_code == 200


def test_each_role_sees_only_its_own_pages(client: Client, tokens: Tokens) -> None:
    sign_in(client, tokens.token("auditor", "LW"))
    assert client.get("/console/audit").status_code == 200
    assert client.get("/console/admin").status_code == 403
    assert client.get("/console/raise").status_code == 403  # auditors write nothing
    sign_in(client, tokens.token("admin", "LW"))
    assert client.get("/console/admin").status_code == 200
    sign_in(client, tokens.token("grid_worker", "LW-LN-01-G01"))
    assert client.get("/console/work").status_code == 403
    assert client.get("/console/audit/export/events").status_code == 403


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(out, "PNG")
    return out.getvalue()


def test_my_own_write_is_on_the_next_list_and_a_stale_position_costs_no_wait(
    client: Client, tokens: Tokens
) -> None:
    sign_in(client, tokens.token("grid_worker", "LW-LN-01-G01"))
    client.post("/console/raise", data=raise_form(client), follow_redirects=False)
    assert CALL["title"] in client.get("/console/mine").text  # the read models waited for it
    client.cookies.set("huying_seen", "999999", path="/console")  # from a deployment since wiped
    started = time.monotonic()
    assert client.get("/console/mine").status_code == 200
    assert time.monotonic() - started < 4.0, "waited for a position the log never had"
