"""Signed webhooks over HTTP, on each backend, into a real receiver in the test process: each
subscription gets the kinds it chose of the steps its unit may see and is concerned by, signed as
Standard Webhooks says, in log order; a receiver down for a while gets everything afterwards, once
each by webhook-id; a subscription that keeps failing pauses and resumes; replay sends the same
deliveries again; the subscription API answers problem+json and checks who asks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Client

from backends import Backend
from huying.bootstrap import Services
from huying.client import WebhookVerificationError, verify_webhook
from huying.clock import FakeClock
from huying.settings import Settings
from huying.webhooks.sender import Backoff
from huying.webhooks.signing import new_secret
from huying.webhooks.ssrf import Refused
from webhook_receiver import Receiver, wait_until

HOOKS = "/api/v1/webhooks"
REPORTER = {"name": "张三丰", "phone": "13812345678"}
RAISE = {
    "item_code": "C01-01",
    "grid_code": "LW-LN-01-G01",
    "title": "巷口垃圾堆积",
    "description": "十三行路巷口垃圾三天未清运",
    "channel": "grid_worker",
    "reporter": REPORTER,
}


@pytest.fixture
def settings(backend: Backend, data_dir: Path) -> Settings:
    # The receiver listens on 127.0.0.1: the tests allow private addresses (production does not).
    return backend.settings(data_dir, run_watchdog=False, webhooks_allow_private_urls=True)


@pytest.fixture
def backoff_clock(services: Services) -> FakeClock:
    """Backoff runs on a clock of the test's: retries happen when the test moves it."""
    clock = FakeClock(start=datetime(2026, 11, 23, 1, 0, tzinfo=UTC))
    services.webhooks.sender.clock = clock
    return clock


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for r in made:
        r.down()


def receiver(receivers: list[Receiver]) -> Receiver:
    r = Receiver()
    receivers.append(r)
    return r


def subscribe(
    client: Client, tokens: Any, who: tuple[str, str], r: Receiver, kinds: list[str], **kw: Any
) -> dict[str, Any]:
    body = {"url": r.url, "kinds": kinds, "secret": r.secret, **kw}
    made = client.post(HOOKS, json=body, headers=tokens.headers(*who))
    assert made.status_code == 201, made.text
    answer: dict[str, Any] = made.json()
    return answer


class Steps:
    """A call driven through the API by the parties the transition table names."""

    def __init__(self, client: Client, tokens: Any, clock: FakeClock) -> None:
        self.client, self.tokens, self.clock = client, tokens, clock

    def post(self, path: str, who: tuple[str, str], body: dict[str, Any] | None = None) -> dict[str, Any]:
        self.clock.advance(600)
        done = self.client.post(path, json=body or {}, headers=self.tokens.headers(*who))
        assert done.status_code in (200, 201), done.text
        answer: dict[str, Any] = done.json()
        return answer

    def to_department(self, grid: str = "LW-LN-01-G01") -> tuple[str, str]:
        community, street = grid[:8], grid[:5]
        call = self.post("/api/v1/calls", ("grid_worker", grid), {**RAISE, "grid_code": grid})["id"]
        c = f"/api/v1/calls/{call}"
        self.post(f"{c}/acknowledge", ("community", community))
        self.post(f"{c}/escalate", ("community", community), {"reason": "需城管协调"})
        self.post(f"{c}/acknowledge", ("street", street))
        plan = {"lead_department": "CG", "assisting_departments": ["ZJ"], "instructions": "三日内清运"}
        order = self.post(f"{c}/dispatch", ("street", street), plan)["work_orders"][0]["id"]
        return call, order


@pytest.fixture
def steps(client: Client, tokens: Any, clock: FakeClock) -> Steps:
    return Steps(client, tokens, clock)


def test_each_subscription_gets_the_signed_steps_it_chose_and_may_see_in_log_order(
    client: Client, tokens: Any, steps: Steps, receivers: list[Receiver]
) -> None:
    street, cg, zj, other_street, admin_for_sw = (receiver(receivers) for _ in range(5))
    made = subscribe(
        client,
        tokens,
        ("street", "LW-LN"),
        street,
        ["call.escalated", "work_order.returned", "work_order.extension_requested"],
    )
    assert made["secret"] == street.secret and made["status"] == "active" and made["role"] == "street"
    subscribe(
        client,
        tokens,
        ("department", "CG"),
        cg,
        [
            "work_order.dispatched",
            "work_order.extension_granted",
            "work_order.extension_denied",
            "call.supervised",
        ],
    )
    subscribe(client, tokens, ("department", "ZJ"), zj, ["work_order.*"])
    subscribe(client, tokens, ("street", "LW-DB"), other_street, ["*"])
    by_admin = subscribe(client, tokens, ("admin", "LW"), admin_for_sw, ["work_order.dispatched"], unit="SW")
    assert (by_admin["role"], by_admin["unit"]) == ("department", "SW")

    call, order = steps.to_department()
    o = f"/api/v1/work-orders/{order}"
    steps.post(f"{o}/sign", ("department", "CG"))
    steps.post(
        f"{o}/request-extension",
        ("department", "CG"),
        {"until": "2026-12-31T17:00:00+08:00", "reason": "需协调"},
    )
    steps.post(f"{o}/extension/grant", ("street", "LW-LN"))
    steps.post(f"/api/v1/calls/{call}/supervise", ("supervisor", "LW"), {"reason": "进度慢", "unit": "CG"})
    steps.post(f"/api/v1/calls/{call}/supervise", ("supervisor", "LW"), {"reason": "协调慢", "unit": "LW-LN"})

    wait_until(lambda: len(street.seen) == 2 and len(cg.seen) == 3 and len(zj.seen) == 1, what="deliveries")
    assert street.kinds() == ["call.escalated", "work_order.extension_requested"]
    assert cg.kinds() == ["work_order.dispatched", "work_order.extension_granted", "call.supervised"]
    assert cg.bodies[cg.seen[-1]]["data"]["unit"] == "CG"  # the 督办 naming CG, not the street's
    assert zj.kinds() == ["work_order.dispatched"]  # ZJ's assist order; CG's sign etc. are not its
    assert street.positions() == sorted(street.positions()) and cg.positions() == sorted(cg.positions())
    for r in (street, cg):
        for webhook_id in r.seen:
            raw, headers = r.raw[webhook_id], r.headers[webhook_id]
            assert verify_webhook(r.secret, headers, raw) == webhook_id  # huying.client agrees
            assert headers["content-type"] == "application/json"
            body = r.bodies[webhook_id]
            assert set(body) == {"type", "timestamp", "data"} and body["data"]["call_id"] == call
            text = raw.decode()
            assert not any(
                p in text for p in (*REPORTER.values(), RAISE["title"], RAISE["description"], "需城管协调")
            )
    first = cg.seen[0]
    assert first == f"msg_{made_id(client, tokens, ('department', 'CG'))}_{cg.positions()[0]}"
    # Nothing of LW-LN's call for another street, nor for SW, which never held an order on it.
    steps.to_department("LW-DB-01-G01")
    wait_until(lambda: len(other_street.seen) == 5, what="LW-DB's own call")
    assert {b["data"]["call"]["street_code"] for b in other_street.bodies.values()} == {"LW-DB"}
    assert admin_for_sw.seen == [] and street.refused == cg.refused == 0

    wait_until(lambda: len(cg.seen) == 4, what="CG's order on LW-DB's call")
    assert cg.kinds()[-1] == "work_order.dispatched" and street.kinds() == [
        "call.escalated",
        "work_order.extension_requested",
    ]


def made_id(client: Client, tokens: Any, who: tuple[str, str]) -> str:
    [sub] = client.get(HOOKS, headers=tokens.headers(*who)).json()["data"]
    return str(sub["id"]).replace("-", "")


def test_forged_or_stale_deliveries_are_refused(
    client: Client, tokens: Any, steps: Steps, receivers: list[Receiver]
) -> None:
    honest = receiver(receivers)
    sub = subscribe(client, tokens, ("street", "LW-LN"), honest, ["call.escalated"])
    steps.to_department()
    wait_until(lambda: len(honest.seen) == 1, what="one delivery")
    webhook_id = honest.seen[0]
    raw, headers = honest.raw[webhook_id], honest.headers[webhook_id]
    for forged_headers, forged_body in (
        (headers, raw.replace(b"LW-LN", b"LW-DB")),
        ({**headers, "webhook-id": "msg_other"}, raw),
        ({**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 3600)}, raw),
        ({k: v for k, v in headers.items() if k != "webhook-signature"}, raw),
    ):
        with pytest.raises(WebhookVerificationError):
            verify_webhook(honest.secret, forged_headers, forged_body)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(new_secret(), headers, raw)

    # A receiver holding another secret refuses huying's deliveries: they count as failed.
    wrong = receiver(receivers)
    mine = subscribe(client, tokens, ("street", "LW-LN"), wrong, ["call.escalated"], secret=new_secret())
    steps.to_department()
    deliveries = f"{HOOKS}/{mine['id']}/deliveries"
    wait_until(
        lambda: bool(client.get(deliveries, headers=tokens.headers("street", "LW-LN")).json()["data"]),
        what="an attempt",
    )
    [attempt] = client.get(deliveries, headers=tokens.headers("street", "LW-LN")).json()["data"][:1]
    assert (attempt["outcome"], attempt["status_code"], attempt["error"]) == ("failed", 401, "answered 401")
    assert wrong.seen == [] and wrong.refused >= 1 and sub["id"] != mine["id"]


def test_a_receiver_down_for_a_while_gets_every_step_afterwards_in_order_once_each(
    client: Client,
    tokens: Any,
    steps: Steps,
    services: Services,
    backoff_clock: FakeClock,
    receivers: list[Receiver],
) -> None:
    r = receiver(receivers)
    street = ("street", "LW-LN")
    sub = subscribe(client, tokens, street, r, ["call.*", "work_order.*"])
    r.down()
    call, order = steps.to_department()  # 5 steps, every one on the street's call
    deliveries = f"{HOOKS}/{sub['id']}/deliveries"

    def failures() -> int:
        return int(client.get(f"{HOOKS}/{sub['id']}", headers=tokens.headers(*street)).json()["failures"])

    for n in (1, 2, 3):
        wait_until(lambda n=n: failures() == n, what=f"failed attempt {n}")
        state = client.get(f"{HOOKS}/{sub['id']}", headers=tokens.headers(*street)).json()
        delay = datetime.fromisoformat(state["next_attempt_at"]) - backoff_clock.now()
        assert 5 * 3 ** (n - 1) * 0.9 <= delay.total_seconds() <= 5 * 3 ** (n - 1) * 1.1  # exponential
        if n < 3:  # the third failure is the last: the receiver comes back before the next attempt
            backoff_clock.advance(delay.total_seconds() + 1)
            services.webhooks.sender.wake()
    log = client.get(deliveries, headers=tokens.headers(*street)).json()["data"]
    assert {a["position"] for a in log} == {log[0]["position"]} and all(a["outcome"] == "failed" for a in log)
    assert "ConnectError" in log[0]["error"]

    r.up()  # back on the same port
    backoff_clock.advance(3600)
    services.webhooks.sender.wake()
    wait_until(lambda: len(r.seen) == 5, what="everything after the outage")
    assert r.kinds() == [
        "call.raised",
        "call.acknowledged",
        "call.escalated",
        "call.acknowledged",
        "work_order.dispatched",
    ]
    assert r.positions() == sorted(r.positions()) and {b["data"]["call_id"] for b in r.bodies.values()} == {
        call
    }
    assert failures() == 0
    steps.post(f"/api/v1/work-orders/{order}/sign", ("department", "CG"))
    wait_until(lambda: len(r.seen) == 6, what="the next step")
    assert r.kinds()[-1] == "work_order.signed" and r.requests == 6  # nothing twice


def test_a_subscription_that_keeps_failing_pauses_and_resumes_where_it_stopped(
    client: Client,
    tokens: Any,
    steps: Steps,
    services: Services,
    backoff_clock: FakeClock,
    receivers: list[Receiver],
) -> None:
    services.webhooks.sender.backoff = Backoff(base=5, cap=60, pause_after=3)
    r = receiver(receivers)
    r.status = 500
    street = ("street", "LW-LN")
    sub = subscribe(client, tokens, street, r, ["call.escalated", "call.acknowledged"])
    one = f"{HOOKS}/{sub['id']}"
    steps.to_department()

    def state() -> dict[str, Any]:
        answer: dict[str, Any] = client.get(one, headers=tokens.headers(*street)).json()
        return answer

    def attempts() -> int:
        return len(client.get(f"{one}/deliveries", headers=tokens.headers(*street)).json()["data"])

    for n in (1, 2, 3):
        wait_until(lambda n=n: attempts() == n, what=f"attempt {n}")
        backoff_clock.advance(120)
        services.webhooks.sender.wake()
    wait_until(lambda: state()["status"] == "paused", what="paused")
    assert "3 failed attempts in a row" in state()["paused_reason"]
    r.status = 204
    backoff_clock.advance(3600)
    services.webhooks.sender.wake()
    assert r.seen == []  # paused: nothing is tried
    resumed = client.post(f"{one}/resume", headers=tokens.headers(*street))
    assert resumed.status_code == 200 and resumed.json()["status"] == "active"
    wait_until(lambda: len(r.seen) == 3, what="delivered after resuming")
    assert r.kinds() == ["call.acknowledged", "call.escalated", "call.acknowledged"]


def test_replay_sends_the_same_deliveries_again(
    client: Client, tokens: Any, steps: Steps, receivers: list[Receiver]
) -> None:
    r = receiver(receivers)
    street = ("street", "LW-LN")
    sub = subscribe(client, tokens, street, r, ["call.escalated", "call.acknowledged"])
    steps.to_department()
    wait_until(lambda: len(r.seen) == 3)
    first = dict(r.raw)
    r.seen.clear(), r.bodies.clear(), r.raw.clear()
    replay = f"{HOOKS}/{sub['id']}/replay"
    again = client.post(replay, json={"from_position": 0}, headers=tokens.headers(*street, key="replay-1"))
    assert again.status_code == 200 and again.json()["position"] in (0, again.json()["position"])
    wait_until(lambda: len(r.seen) == 3, what="replayed")
    assert r.raw == first  # the same webhook-ids, the same bodies
    repeat = client.post(replay, json={"from_position": 0}, headers=tokens.headers(*street, key="replay-1"))
    assert repeat.status_code == 200 and repeat.headers.get("Idempotent-Replayed") == "true"
    reused = client.post(replay, json={"from_position": 1}, headers=tokens.headers(*street, key="replay-1"))
    assert reused.status_code == 422
    beyond = client.post(replay, json={"from_position": 10**9}, headers=tokens.headers(*street))
    assert beyond.status_code == 422 and beyond.json()["errors"][0]["field"] == "from_position"


def test_the_subscription_api_checks_who_asks_what_and_where_to(
    client: Client, tokens: Any, receivers: list[Receiver]
) -> None:
    r = receiver(receivers)
    cg = tokens.headers("department", "CG")

    def post(body: dict[str, Any], headers: dict[str, str] = cg) -> Any:
        return client.post(
            HOOKS, json={"url": r.url, "kinds": ["work_order.dispatched"], **body}, headers=headers
        )

    for body, field in (
        ({"url": "ftp://example.cn/x"}, "url"),
        ({"url": "http://user:pw@example.cn/x"}, "url"),
        ({"kinds": ["call.raised"]}, "kinds.0"),  # never concerns a department
        ({"kinds": ["order.made"]}, "kinds.0"),
        ({"kinds": []}, "kinds"),
        ({"secret": "not-a-secret"}, "secret"),
        ({"unit": "NOPE"}, "unit"),
    ):
        refused = post(body)
        assert refused.status_code in (403, 422), (body, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        if refused.status_code == 422:
            assert refused.json()["errors"][0]["field"] == field, refused.text
    assert post({"unit": "ZJ"}).status_code == 403  # only an admin subscribes for another unit
    assert client.post(HOOKS, json={"url": r.url, "kinds": ["*"]}).status_code == 401

    keyed = {**cg, "Idempotency-Key": "sub-1"}
    one, again = post({}, keyed), post({}, keyed)
    assert one.status_code == again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert one.json() == again.json() and one.json()["secret"].startswith("whsec_")
    assert post({"kinds": ["work_order.*"]}, keyed).status_code == 422
    webhook = f"{HOOKS}/{one.json()['id']}"
    assert client.get(webhook, headers=tokens.headers("department", "ZJ")).status_code == 404
    assert client.get(webhook, headers=tokens.headers("admin", "LW")).status_code == 200
    assert "secret" not in client.get(webhook, headers=cg).json()
    changed = client.patch(webhook, json={"kinds": ["work_order.*"], "status": "paused"}, headers=cg)
    assert (
        changed.status_code == 200
        and changed.json()["status"] == "paused"
        and len(changed.json()["kinds"]) == 9  # dispatched … completed, and rated
    )
    assert client.delete(webhook, headers=cg).status_code == 204
    assert client.get(webhook, headers=cg).status_code == 404


PRIVATE_URLS = [
    "http://127.0.0.1:9/x",
    "http://localhost/x",
    "http://10.1.2.3/x",
    "http://192.168.0.10/x",
    "http://172.16.5.4/x",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]/x",
    "http://[::ffff:127.0.0.1]/x",
    "http://100.64.0.1/x",
    "http://0.0.0.0/x",
]


def test_ssrf_private_and_loopback_urls_are_refused_unless_allowed(
    backend: Backend, tmp_path: Path, clock: FakeClock
) -> None:
    from huying.api.app import create_app
    from huying.bootstrap import build_services
    from huying.migrate import upgrade

    strict = backend.settings(tmp_path / "strict", run_watchdog=False, run_webhooks=False)
    upgrade(strict)
    built = build_services(strict, clock)
    try:
        from conftest import Tokens

        with TestClient(create_app(services=built)) as c:
            for url in PRIVATE_URLS:
                refused = c.post(
                    HOOKS, json={"url": url, "kinds": ["*"]}, headers=Tokens(built).headers("street", "LW-LN")
                )
                assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "url", (
                    refused.text
                )
        # At delivery too: the address a name resolves to is checked before connecting.
        with pytest.raises(Refused):
            asyncio.run(built.webhooks.sender._pinned("http://localhost:8/hooks"))
    finally:
        built.close()


def followers(services: Services) -> list[str]:
    """The subscriptions a task of the sender's loop still follows, cancelled ones included."""
    loop = services.webhooks.sender._loop
    assert loop is not None
    return [t.get_name() for t in asyncio.all_tasks(loop) if t.get_coro().__qualname__ == "Sender._follow"]  # type: ignore[union-attr]


def test_a_process_that_gives_up_the_duty_stops_following_and_the_next_holder_delivers_once(
    client: Client, tokens: Any, services: Services, receivers: list[Receiver]
) -> None:
    r = receiver(receivers)
    subscribe(client, tokens, ("street", "LW-LN"), r, ["call.raised"])
    wait_until(lambda: len(followers(services)) == 1, what="following the subscription")
    services.webhooks.sender.set_active(False)
    wait_until(lambda: not followers(services), timeout=5, what="no subscription followed without the duty")
    raised = client.post("/api/v1/calls", json=RAISE, headers=tokens.headers("grid_worker", "LW-LN-01-G01"))
    assert raised.status_code == 201
    services.webhooks.sender.set_active(True)
    wait_until(lambda: len(r.seen) == 1, what="delivered by the next holder")
    services.webhooks.stop()
    assert not followers(services), "a task outlived the sender's loop"
    assert r.requests == 1
