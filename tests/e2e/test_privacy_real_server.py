"""个人信息保护 on the real `huying serve` process, as the README walks it: the origin community sees
张三 / 13812345678, the street and the department 张* / 138****5678; an erasure answers
``reporter: null`` and leaves history and scores as they were; right after it — the server still
running, its projector and chain keeper writing beside it — nothing in the data directory gives
the reporter back with any key the directory holds. Then the master key is rotated with
`huying keys rotate` and the old one retired: the server starts and reads without it.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from integration.contact_disk import capture, recoverable, secret

from .server import Server

pytestmark = pytest.mark.slow

CALLS = "/api/v1/calls"
NAME, PHONE = "张三", "13812345678"
FULL, MASKED = {"name": NAME, "phone": PHONE}, {"name": "张*", "phone": "138****5678"}
RAISE = {
    "item_code": "C01-01",
    "grid_code": "LW-LN-01-G01",
    "channel": "grid_worker",
    "title": "十三行路巷口垃圾堆积",
    "description": "巷口生活垃圾三天未清运，有异味",
    "reporter": {"name": NAME, "phone": PHONE},
}
NEW_SECRET = "rotated-master-key-7d1f0c2b9e4a6f83"


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url}: {response.text}"
    )
    return response.json()


def test_the_walk_through_masks_erases_and_leaves_nothing_behind(server: Server) -> None:
    server.cli("migrate")
    who = {
        name: server.token(role, unit)
        for name, role, unit in [
            ("grid", "grid_worker", "LW-LN-01-G01"),
            ("community", "community", "LW-LN-01"),
            ("street", "street", "LW-LN"),
            ("cg", "department", "CG"),
            ("supervisor", "supervisor", "LW"),
            ("auditor", "auditor", "LW"),
            ("admin", "admin", "LW"),
        ]
    }
    server.start()
    with server.client() as http:
        ok(http.post("/api/v1/_clock", headers=who["admin"], json={"now": "2026-11-23T09:00:00+08:00"}))
        call = ok(http.post(CALLS, headers={**who["grid"], "Idempotency-Key": "lnxj-0001"}, json=RAISE), 201)
        path = f"{CALLS}/{call['id']}"
        ok(http.post(f"{path}/acknowledge", headers=who["community"]))
        ok(http.post(f"{path}/escalate", headers=who["community"], json={"reason": "清运需城管协调"}))
        ok(http.post(f"{path}/acknowledge", headers=who["street"]))
        plan = {
            "lead_department": "CG",
            "deadline": "2026-11-26T17:30:00+08:00",
            "instructions": "三日内清运",
        }
        dispatched = ok(http.post(f"{path}/dispatch", headers=who["street"], json=plan))
        seen = {name: http.get(path, headers=who[name]) for name in ("community", "street", "cg")}
        assert {name: r.json()["reporter"] for name, r in seen.items()} == {
            "community": FULL,
            "street": MASKED,
            "cg": MASKED,
        }
        assert all(r.headers["cache-control"] == "no-store" for r in seen.values())

        history = ok(http.get(f"{path}/history", headers=who["supervisor"]))
        fresh = {"min_position": dispatched["position"]}  # read-your-writes: the read models include the 派单
        score = ok(http.get(f"/api/v1/scores/calls/{call['id']}", headers=who["supervisor"], params=fresh))
        ref = history["data"][0]["data"]["reporter_ref"]
        erased = capture(server.settings, ref, NAME, PHONE)

        assert ok(http.delete(f"{path}/reporter", headers=who["supervisor"]))["reporter"] is None
        assert recoverable(server.settings, [erased]) == []
        assert ok(http.get(path, headers=who["community"]))["reporter"] is None
        assert ok(http.get(f"{path}/history", headers=who["supervisor"])) == history
        after = ok(http.get(f"/api/v1/scores/calls/{call['id']}", headers=who["supervisor"]))
        assert {k: v for k, v in after.items() if k != "position"} == {
            k: v for k, v in score.items() if k != "position"
        }
        log = ok(http.get("/api/v1/audit/contact-access", headers=who["auditor"]))["data"]
        assert {(e["actor"]["role"], e["call_id"]) for e in log} == {("community", call["id"])}
        other = ok(
            http.post(
                CALLS,
                headers=who["grid"],
                json={**RAISE, "reporter": {"name": "李四", "phone": "13912345678"}},
            ),
            201,
        )
    server.terminate()

    old_secret = secret(server.data_dir)
    server.env.update(HUYING_SECRET_KEY=NEW_SECRET, HUYING_OLD_SECRET_KEYS=old_secret)
    server.cli("keys", "rotate")
    server.env.pop("HUYING_OLD_SECRET_KEYS")  # retired
    server.start()
    with server.client() as http:
        shown = ok(http.get(f"{CALLS}/{other['id']}", headers=who["community"]))["reporter"]
        assert shown == {"name": "李四", "phone": "13912345678"}
