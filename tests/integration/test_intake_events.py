"""Progress and completion notes name photos from now on: ``ProgressNoted`` and
``WorkOrderCompleted`` are at ``class_version`` 2 with an ``attachments`` list, and a store
written before (v1 events, no such field) still reads — as notes without photos — without a
stored event being rewritten by huying."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from httpx import Client
from sqlalchemy import delete

from backends import raw_events
from huying.api.app import create_app
from huying.audit.seal import split
from huying.audit.vouch import LEGACY_THROUGH
from huying.bootstrap import Services, build_services
from huying.clock import FakeClock
from huying.domain.call import Call
from huying.projections.tables import projection_tracking
from huying.settings import Settings

GRID, COMMUNITY, STREET = "LW-LN-01-G01", "LW-LN-01", "LW-LN"
V2 = {"ProgressNoted", "WorkOrderCompleted"}


def post(client: Client, tokens: Any, path: str, who: tuple[str, str], body: dict[str, Any]) -> Any:
    response = client.post(path, json=body, headers=tokens.headers(*who))
    assert response.status_code in (200, 201), response.text
    return response.json()


def completed_call(client: Client, tokens: Any) -> str:
    raised = post(
        client,
        tokens,
        "/api/v1/calls",
        ("grid_worker", GRID),
        {
            "item_code": "C01-01",
            "grid_code": GRID,
            "title": "垃圾",
            "description": "垃圾",
            "channel": "photo",
        },
    )
    calls, orders = f"/api/v1/calls/{raised['id']}", f"/api/v1/work-orders/{raised['id']}-w1"
    post(client, tokens, f"{calls}/escalate", ("community", COMMUNITY), {"reason": "需协调"})
    post(client, tokens, f"{calls}/acknowledge", ("street", STREET), {"note": "收到"})
    dispatch = {"lead_department": "CG", "deadline": "2026-11-27T09:00:00+08:00", "instructions": "清运"}
    post(client, tokens, f"{calls}/dispatch", ("street", STREET), dispatch)
    post(client, tokens, f"{orders}/sign", ("department", "CG"), {"note": "签收"})
    post(client, tokens, f"{orders}/progress", ("department", "CG"), {"note": "已到场"})
    post(client, tokens, f"{orders}/complete", ("department", "CG"), {"result": "已清运"})
    return str(raised["id"])


def test_new_notes_are_stored_at_version_2_with_their_photos(
    services: Services, client: Client, tokens: Any, settings: Settings
) -> None:
    completed_call(client, tokens)
    transcoder = services.app.mapper.transcoder
    with raw_events(settings) as store:
        rows = store.execute("SELECT topic, state FROM {events}")
    states = {topic.rsplit(".", 1)[-1]: transcoder.decode(state) for topic, state in rows}
    for name in V2:
        assert states[name]["class_version"] == 2 and states[name]["attachments"] == [], name
    assert Call.ProgressNoted.class_version == Call.WorkOrderCompleted.class_version == 2


def test_a_store_written_before_attachments_still_reads(
    services: Services, client: Client, tokens: Any, settings: Settings, clock: FakeClock
) -> None:
    call_id = completed_call(client, tokens)
    transcoder = services.app.mapper.transcoder
    services.close()

    # Make the two notes what the previous release wrote: no attachments, no class_version — and,
    # like every event of that release, no seal; nor had it recorded where seals begin.
    with raw_events(settings) as store:
        rows = store.execute("SELECT {position}, topic, state FROM {events}")
        for position, topic, state in rows:
            old = transcoder.decode(split(bytes(state))[0])
            if topic.rsplit(".", 1)[-1] in V2:
                del old["attachments"], old["class_version"]
            store.execute(
                "UPDATE {events} SET state = ? WHERE {position} = ?", (transcoder.encode(old), position)
            )
    with services.engine.begin() as conn:
        conn.execute(delete(projection_tracking).where(projection_tracking.c.name == LEGACY_THROUGH))

    again = build_services(settings, clock)
    # The new release's chain keeper records where seals begin as it starts; here the first
    # client still holds the chain duty, so this one would not start its own.
    again.app.voucher.record_boundary(again.chain.log)
    try:
        with TestClient(create_app(services=again)) as later:
            headers = tokens.headers("supervisor", "LW")
            call = later.get(f"/api/v1/calls/{call_id}", headers=headers).json()
            assert call["attachments"] == [] and call["work_orders"][0]["status"] == "completed"
            history = later.get(f"/api/v1/calls/{call_id}/history", headers=headers).json()["data"]
            upcast = {e["type"]: e["data"] for e in history if e["type"] in V2}
            assert upcast == {
                "ProgressNoted": {"order_id": f"{call_id}-w1", "note": "已到场", "attachments": []},
                "WorkOrderCompleted": {"order_id": f"{call_id}-w1", "result": "已清运", "attachments": []},
            }
        again.projector.reset()
        assert again.projector.catch_up() > 0, "a rebuild reads the old events too"
    finally:
        again.close()
    with raw_events(settings) as store:
        for topic, state in store.execute("SELECT topic, state FROM {events}"):
            if topic.rsplit(".", 1)[-1] in V2:
                assert "attachments" not in transcoder.decode(state), "huying rewrote a stored event"
