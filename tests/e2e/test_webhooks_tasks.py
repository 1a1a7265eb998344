"""Signed webhooks for 令行禁止 and 联席会议, on each backend, into the real local receiver: a
target street gets its directive's steps in log order, signed, thin; the issuer the steps it
awaits; a unit the directive does not name gets none of them; a member unit hears of the meeting
that invites it, the decision that makes it lead and its task — an uninvited one of nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from httpx import Client

from backends import Backend
from huying.client import verify_webhook
from huying.clock import FakeClock
from huying.settings import Settings
from webhook_receiver import Receiver, wait_until

HOOKS, DIRECTIVES, MEETINGS = "/api/v1/webhooks", "/api/v1/directives", "/api/v1/meetings"
SUPERVISOR, LN, DB = ("supervisor", "LW"), ("street", "LW-LN"), ("street", "LW-DB")
FREE_TEXT = ("消防通道清理", "限期清理", "正在清理", "仍有杂物", "需协调物业", "王五", "占道经营")


@pytest.fixture
def settings(backend: Backend, data_dir: Path) -> Settings:
    # The receiver listens on 127.0.0.1: the tests allow private addresses (production does not).
    return backend.settings(data_dir, run_watchdog=False, webhooks_allow_private_urls=True)


class Hooks:
    def __init__(self, client: Client, tokens: Any, clock: FakeClock) -> None:
        self.client, self.tokens, self.clock = client, tokens, clock
        self.receivers: list[Receiver] = []

    def subscribe(self, who: tuple[str, str], kinds: list[str]) -> Receiver:
        r = Receiver()
        self.receivers.append(r)
        made = self.client.post(
            HOOKS, json={"url": r.url, "kinds": kinds, "secret": r.secret}, headers=self.tokens.headers(*who)
        )
        assert made.status_code == 201, made.text
        return r

    def post(self, who: tuple[str, str], path: str, body: dict[str, Any] | None = None) -> Any:
        self.clock.advance(600)
        done = self.client.post(path, json=body, headers=self.tokens.headers(*who))
        assert done.status_code in (200, 201), done.text
        return done.json()


@pytest.fixture
def hooks(client: Client, tokens: Any, clock: FakeClock) -> Iterator[Hooks]:
    h = Hooks(client, tokens, clock)
    yield h
    for r in h.receivers:
        r.down()


def test_a_directives_steps_reach_the_units_it_names_in_order_signed_and_nobody_else(hooks: Hooks) -> None:
    street = hooks.subscribe(LN, ["directive.*"])
    issuer = hooks.subscribe(SUPERVISOR, ["directive.received", "directive.reported"])
    bystander = hooks.subscribe(("community", "LW-DB-01"), ["directive.*"])
    department = hooks.subscribe(("department", "CG"), ["directive.*"])

    draft = {"title": "消防通道清理", "body": "限期清理", "targets": ["LW-LN", "LW-DB"], "working_days": 5}
    d = hooks.post(SUPERVISOR, DIRECTIVES, draft)
    ln, db = f"{DIRECTIVES}/{d['id']}/targets/LW-LN", f"{DIRECTIVES}/{d['id']}/targets/LW-DB"
    hooks.post(LN, f"{ln}/receive")
    hooks.post(DB, f"{db}/receive")  # LW-DB's step: not LW-LN's to hear of
    hooks.post(LN, f"{ln}/progress", {"note": "正在清理"})
    hooks.post(LN, f"{ln}/report", {"result": "已清理"})
    hooks.post(SUPERVISOR, f"{ln}/send-back", {"reason": "仍有杂物"})
    until = "2026-12-31T17:00:00+08:00"
    hooks.post(LN, f"{ln}/request-extension", {"until": until, "reason": "需协调物业"})
    hooks.post(SUPERVISOR, f"{ln}/extension/grant")
    hooks.post(LN, f"{ln}/report", {"result": "已全部清理"})
    hooks.post(SUPERVISOR, f"{ln}/accept")

    steps = [
        "directive.issued",
        "directive.received",
        "directive.progress_noted",
        "directive.reported",
        "directive.sent_back",
        "directive.extension_requested",
        "directive.extension_granted",
        "directive.reported",
        "directive.accepted",
    ]
    wait_until(lambda: len(street.seen) == len(steps) and len(issuer.seen) == 4, what="deliveries")
    assert street.kinds() == steps and street.positions() == sorted(street.positions())
    assert issuer.kinds() == [
        "directive.received",
        "directive.received",
        "directive.reported",
        "directive.reported",
    ]
    for r in (street, issuer):
        for webhook_id in r.seen:
            assert verify_webhook(r.secret, r.headers[webhook_id], r.raw[webhook_id]) == webhook_id
            assert not any(text in r.raw[webhook_id].decode() for text in FREE_TEXT)
            assert r.bodies[webhook_id]["data"]["directive_id"] == d["id"]
    extension = street.bodies[street.seen[5]]["data"]
    assert extension["target"]["unit"] == "LW-LN" and extension["until"] == "2026-12-31T09:00:00+00:00"
    assert street.bodies[street.seen[-1]]["data"]["target"]["stage"] == "accepted"

    # A directive that does name them comes through; nothing of the first one did.
    fence = hooks.post(SUPERVISOR, DIRECTIVES, {**draft, "targets": ["LW-DB-01", "CG"]})
    wait_until(
        lambda: len(bystander.seen) == 1 and len(department.seen) == 1, what="the directive naming them"
    )
    for r in (bystander, department):
        assert (
            r.kinds() == ["directive.issued"] and r.bodies[r.seen[0]]["data"]["directive_id"] == fence["id"]
        )


def test_a_member_hears_of_its_meeting_its_decision_and_its_task(hooks: Hooks, clock: FakeClock) -> None:
    refused = hooks.client.post(
        HOOKS,
        json={"url": "http://127.0.0.1:9/", "kinds": ["call.raised"]},
        headers=hooks.tokens.headers("member", "LW-LN-M01"),
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "kinds.0"
    member = hooks.subscribe(
        ("member", "LW-LN-M01"), ["meeting.convened", "meeting.decision_recorded", "directive.issued"]
    )
    uninvited = hooks.subscribe(("member", "LW-LN-M02"), ["meeting.*", "directive.*"])

    later = (clock.now().replace(microsecond=0)).isoformat()
    convene = {
        "kind": "working_committee",
        "title": "大工委",
        "scheduled_for": later,
        "invited": ["LW-LN-M01", "CG"],
    }
    m = hooks.post(LN, MEETINGS, convene)
    hooks.post(
        LN, f"{MEETINGS}/{m['id']}/minutes", {"attended": ["LW-LN", "LW-LN-M01"], "discussion": "讨论"}
    )
    decision = {
        "title": "占道经营整治",
        "lead_unit": "LW-LN-M01",
        "assisting_units": ["CG"],
        "responsible": {"name": "王五", "post": "副主任"},
        "deadline": "2027-01-15T17:00:00+08:00",
    }
    decided = hooks.post(LN, f"{MEETINGS}/{m['id']}/decisions", decision)

    wait_until(lambda: len(member.seen) == 3, what="the member's deliveries")
    assert member.kinds() == ["meeting.convened", "meeting.decision_recorded", "directive.issued"]
    recorded, task = (member.bodies[i]["data"] for i in member.seen[1:])
    assert recorded["lead_unit"] == "LW-LN-M01" and recorded["task_id"] == decided["decisions"][0]["task_id"]
    assert task["directive_id"] == recorded["task_id"] and "LW-LN-M01" in task["units"]
    assert not any(t in member.raw[i].decode() for i in member.seen for t in FREE_TEXT)

    fence = hooks.post(LN, MEETINGS, {**convene, "invited": ["LW-LN-M02"]})
    wait_until(lambda: len(uninvited.seen) == 1, what="the meeting inviting LW-LN-M02")
    assert uninvited.bodies[uninvited.seen[0]]["data"]["meeting_id"] == fence["id"]
