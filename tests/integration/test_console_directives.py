"""令行禁止 in the console, over real HTTP (both backends): a directive issued from
the form is received, reported and accepted through its page's forms — each form offered only to
whom the directive's table lets act now, and a move the principal may not make refused with the
API's status and nothing written; a street breaks it down and the board shows the breakdown's
standing; a unit outside the directive's jurisdiction sees neither its page nor its row; a form
without the session's CSRF token writes nothing."""

from __future__ import annotations

import re

from httpx import Client, Response

from conftest import Tokens
from huying.bootstrap import Services
from integration.test_console_sessions import _hidden, _png, events, sign_in

STREET, OTHER_STREET, COMMUNITY = "LW-LN", "LW-DB", "LW-LN-01"
TITLE = "背街小巷环境整治"


def _form(page: str, move: str) -> dict[str, str]:
    """The hidden fields of the page's form for ``move`` (its CSRF token, key, version)."""
    found = re.search(
        rf'<form[^>]*>(?:(?!</form>).)*name="move" value="{re.escape(move)}"(?:(?!</form>).)*</form>',
        page,
        re.S,
    )
    assert found, f"no form for {move} on the page"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', found.group(0)))
    return fields


def _act(client: Client, directive: str, move: str, **fields: str) -> Response:
    page = client.get(f"/console/directives/{directive}")
    assert page.status_code == 200, page.text
    return client.post(
        "/console/directives/act", data={**_form(page.text, move), **fields}, follow_redirects=False
    )


def _issue(client: Client, **fields: str | list[str]) -> str:
    form = client.get(
        "/console/directives/new" + (f"?parent={fields['parent_id']}" if "parent_id" in fields else "")
    )
    assert form.status_code == 200, form.text
    data = {
        "csrf": _hidden(form.text, "csrf"),
        "idempotency_key": _hidden(form.text, "idempotency_key"),
        **fields,
    }
    made = client.post("/console/directives/new", data=data, follow_redirects=False)
    assert made.status_code == 303, made.text
    return made.headers["location"].split("/")[-1].split("?")[0]


def test_a_directive_is_issued_received_reported_and_accepted_through_its_pages(
    client: Client, tokens: Tokens, services: Services
) -> None:
    sign_in(client, tokens.token("supervisor", "LW"))
    directive = _issue(client, title=TITLE, body="十日内完成", targets=[STREET], working_days="10")
    page = client.get(f"/console/directives/{directive}")
    assert TITLE in page.text and 'value="cancel"' in page.text
    assert 'value="receive@' not in page.text  # the target's move, not the issuer's

    sign_in(client, tokens.token("street", STREET))
    mine = client.get("/console/directives")
    assert TITLE in mine.text.split("办理中（待反馈）")[0]  # listed under 待签收
    assert 'value="accept@' not in client.get(f"/console/directives/{directive}").text
    assert _act(client, directive, f"receive@{STREET}").status_code == 303
    assert _act(client, directive, f"progress@{STREET}", note="已排查 12 条街巷").status_code == 303
    reported = _act(client, directive, f"report@{STREET}", result="已整治完毕")
    assert reported.status_code == 303 and reported.headers["location"].endswith("?done=report")

    sign_in(client, tokens.token("supervisor", "LW"))
    board = client.get(f"/console/directives/{directive}").text
    assert "已整治完毕" in board and "已排查 12 条街巷" in board
    assert _act(client, directive, f"accept@{STREET}", note="合格").status_code == 303
    shown = client.get(f"/api/v1/directives/{directive}", headers=tokens.headers("supervisor", "LW")).json()
    assert [t["stage"] for t in shown["targets"]] == ["accepted"]


def test_a_street_breaks_a_directive_down_and_the_board_shows_the_breakdowns_standing(
    client: Client, tokens: Tokens
) -> None:
    sign_in(client, tokens.token("supervisor", "LW"))
    parent = _issue(client, title=TITLE, targets=[STREET], working_days="10")
    sign_in(client, tokens.token("street", STREET))
    assert "分解到社区" in client.get(f"/console/directives/{parent}").text
    offered = client.get(f"/console/directives/new?parent={parent}").text
    assert f'value="{COMMUNITY}"' in offered and 'value="LW-DB-01"' not in offered  # its own communities
    child = _issue(client, title="岭南街分解任务", targets=[COMMUNITY], working_days="5", parent_id=parent)
    sign_in(client, tokens.token("supervisor", "LW"))
    board = client.get(f"/console/directives/{parent}").text
    assert f"/console/directives/{child}" in board and "岭南街分解任务" in board


def test_a_unit_sees_only_the_directives_the_api_shows_it_and_a_move_not_its_own_is_refused(
    client: Client, tokens: Tokens, services: Services
) -> None:
    sign_in(client, tokens.token("supervisor", "LW"))
    directive = _issue(client, title=TITLE, targets=[STREET], working_days="10")
    supervisor_page = client.get(f"/console/directives/{directive}").text
    for role, unit in (("street", OTHER_STREET), ("community", COMMUNITY), ("department", "CG")):
        sign_in(client, tokens.token(role, unit))
        assert client.get(f"/console/directives/{directive}").status_code == 404, unit
        assert TITLE not in client.get("/console/directives").text, unit
    sign_in(client, tokens.token("street", STREET))
    before = events(services)
    csrf = _hidden(client.get("/console/directives").text, "csrf")
    stolen = {**_form(supervisor_page, "cancel"), "csrf": csrf, "reason": "不办了"}  # the issuer's form
    refused = client.post("/console/directives/act", data=stolen)
    assert refused.status_code == 403 and TITLE in refused.text
    unknown = client.post("/console/directives/act", data={**stolen, "move": "accept"})
    assert unknown.status_code == 422
    forged = _form(client.get(f"/console/directives/{directive}").text, f"receive@{STREET}")
    assert client.post("/console/directives/act", data={**forged, "csrf": ""}).status_code == 403
    other = client.post(
        "/console/directives/act", data=forged, headers={"Origin": "https://elsewhere.example"}
    )
    assert other.status_code == 403
    assert events(services) == before


def test_a_refused_issue_is_shown_on_the_form_naming_the_field(
    client: Client, tokens: Tokens, services: Services
) -> None:
    sign_in(client, tokens.token("street", STREET))
    form = client.get("/console/directives/new")
    before = events(services)
    data = {"csrf": _hidden(form.text, "csrf"), "idempotency_key": "k", "title": TITLE, "working_days": "10"}
    for extra, field in (
        ({"targets": "LW-DB-01"}, "LW-DB-01"),
        ({"targets": COMMUNITY, "working_days": "九"}, "working_days"),
    ):
        shown = client.post("/console/directives/new", data={**data, **extra})
        assert shown.status_code in (403, 422) and field in shown.text and 'name="title"' in shown.text
    assert events(services) == before


def test_a_target_not_yet_received_nor_late_is_pending_and_not_overdue(
    client: Client, tokens: Tokens
) -> None:
    """Not received (no receipt time) and not late is "not late", never an unknown: SQL's NULL
    from comparing a missing receipt time must not reach the answer (it was a 500)."""
    made = client.post(
        "/api/v1/directives",
        json={"title": TITLE, "targets": [STREET], "working_days": 10},
        headers=tokens.headers("supervisor", "LW", key="d1"),
    ).json()
    asked = client.get(
        f"/api/v1/directives/pending?unit={STREET}&min_position={made['position']}",
        headers=tokens.headers("street", STREET),
    )
    assert asked.status_code == 200, asked.text
    (item,) = asked.json()["data"]
    assert item["receipt_overdue"] is False and item["completion_overdue"] is False


def test_the_rest_of_a_targets_moves_work_from_the_page_and_the_issue_form_is_for_issuers_only(
    client: Client, tokens: Tokens
) -> None:
    """申请延期 → 不同意 → 申请延期 → 同意 (the deadline moves), 办结反馈 → 返工, 督办, 撤销; and the
    issue form is refused to a unit that directs no one."""
    sign_in(client, tokens.token("supervisor", "LW"))
    directive = _issue(client, title=TITLE, targets=[STREET, "LW-DB"], working_days="10")
    api = tokens.headers("supervisor", "LW")
    due = client.get(f"/api/v1/directives/{directive}", headers=api).json()["targets"][0]["due"]
    sign_in(client, tokens.token("street", STREET))
    assert _act(client, directive, f"receive@{STREET}").status_code == 303
    page = client.get(f"/console/directives/{directive}").text
    with_photo = client.post(
        "/console/directives/act",
        data={**_form(page, f"progress@{STREET}"), "note": "现场照片"},
        files={"photo": ("p.png", _png(), "image/png")},
        follow_redirects=False,
    )
    assert with_photo.status_code == 303, with_photo.text
    photo = re.search(
        r'src="(/console/attachments/[^"?]+)\?variant=thumb"',
        client.get(f"/console/directives/{directive}").text,
    )
    assert photo and client.get(photo.group(1)).status_code == 200
    ask = {"until": "2026-12-31T18:00", "reason": "雨季施工"}
    assert _act(client, directive, f"request-extension@{STREET}", **ask).status_code == 303
    sign_in(client, tokens.token("supervisor", "LW"))
    assert client.get(photo.group(1)).status_code == 200  # the issuer sees the evidence too
    assert _act(client, directive, f"extension/deny@{STREET}", reason="不宜拖延").status_code == 303
    sign_in(client, tokens.token("street", STREET))
    assert _act(client, directive, f"request-extension@{STREET}", **ask).status_code == 303
    assert _act(client, directive, f"report@{STREET}", result="已整治").status_code == 303
    sign_in(client, tokens.token("supervisor", "LW"))
    assert _act(client, directive, f"extension/grant@{STREET}").status_code == 303
    assert _act(client, directive, f"send-back@{STREET}", reason="尚有死角").status_code == 303
    assert _act(client, directive, f"supervise@{STREET}", reason="督促返工").status_code == 303
    target = client.get(f"/api/v1/directives/{directive}", headers=api).json()["targets"][0]
    assert target["stage"] == "rework" and target["reworks"] == 1 and target["due"] != due
    assert target["due"].startswith("2026-12-31T10:00")  # 18:00 Beijing time, in UTC
    assert "督促返工" in client.get(f"/console/directives/{directive}").text
    assert _act(client, directive, "cancel", reason="任务调整").status_code == 303
    shown = client.get(f"/api/v1/directives/{directive}", headers=api).json()
    assert shown["cancelled"] and 'value="cancel"' not in client.get(f"/console/directives/{directive}").text

    for role, unit in (("community", COMMUNITY), ("department", "CG")):
        sign_in(client, tokens.token(role, unit))
        assert client.get("/console/directives/new").status_code == 403
        assert "下达指令" not in client.get("/console/directives").text
