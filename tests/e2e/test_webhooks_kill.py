"""kill -9 of the real `huying serve` in the middle of a delivery loses nothing: the receiver (in
the test process) holds a delivery open, the server is killed, started again, and every step is
delivered afterwards — in log order, each webhook-id first seen once (a repeat of the one in
flight is allowed: at least once)."""

from __future__ import annotations

import signal
import threading

import pytest

from webhook_receiver import Receiver, wait_until

from .server import Server

pytestmark = pytest.mark.slow

RAISE = {
    "item_code": "C01-01",
    "grid_code": "LW-LN-01-G01",
    "title": "巷口垃圾堆积",
    "description": "垃圾三天未清运",
    "channel": "grid_worker",
}


def test_kill_9_mid_delivery_loses_no_webhook(server: Server) -> None:
    server.env.update(
        HUYING_WEBHOOKS_ALLOW_PRIVATE_URLS="1",
        HUYING_WEBHOOK_RETRY_BASE_SECONDS="0.05",
    )
    server.cli("migrate")
    grid, supervisor = server.token("grid_worker", "LW-LN-01-G01"), server.token("supervisor", "LW")
    auditor = server.token("auditor", "LW")
    receiver = Receiver()
    receiver.hold = threading.Event()
    try:
        server.start()
        with server.client() as http:
            made = http.post(
                "/api/v1/webhooks",
                json={"url": receiver.url, "kinds": ["*"], "secret": receiver.secret},
                headers=supervisor,
            )
            assert made.status_code == 201, made.text
            for i in range(5):
                assert (
                    http.post("/api/v1/calls", json={**RAISE, "title": f"垃圾{i}"}, headers=grid).status_code
                    == 201
                )
        wait_until(receiver.holding.is_set, what="a delivery in flight")
        assert server.stop(signal.SIGKILL) == -signal.SIGKILL
        receiver.hold.set()  # the answer goes to a dead connection
        receiver.hold = None
        server.start()
        with server.client() as http:
            for i in range(5, 8):
                assert (
                    http.post("/api/v1/calls", json={**RAISE, "title": f"垃圾{i}"}, headers=grid).status_code
                    == 201
                )
            feed = http.get("/api/v1/events", params={"limit": 500}, headers=auditor).json()["data"]
        expected = [e["position"] for e in feed]
        assert len(expected) == 8
        wait_until(lambda: len(receiver.seen) == 8, timeout=60, what="all eight deliveries")
        assert receiver.positions() == expected and receiver.refused == 0
        assert receiver.requests >= 8
    finally:
        receiver.down()
