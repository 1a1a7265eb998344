"""kill -9 of the real `huying serve` in the middle of a delivery loses nothing: the receiver (in
the test process) holds a delivery open, the server is killed, started again, and every step is
delivered afterwards — in log order, each webhook-id first seen once (a repeat of the one in
flight is allowed: at least once).

The tests' servers run everything in one process; `huying serve` on SQLite by default delivers
from its child `huying project` (HUYING_DUTIES_APART=1), which a kill -9 of the server alone would
leave to stop in an orderly way — so there the delivering child is killed too, as a crash of the
machine or a `kill -9` of every huying process would. (PostgreSQL has no such child: the server
delivers itself either way.)"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable

import pytest

from webhook_receiver import Receiver, wait_until

from .server import Server, duty_processes

pytestmark = pytest.mark.slow

RAISE = {
    "item_code": "C01-01",
    "grid_code": "LW-LN-01-G01",
    "title": "巷口垃圾堆积",
    "description": "垃圾三天未清运",
    "channel": "grid_worker",
}


def _the_server(server: Server) -> None:
    assert server.stop(signal.SIGKILL) == -signal.SIGKILL


def _every_huying_process(server: Server) -> None:
    """The server and its duties' process (SQLite; none on PostgreSQL, where it delivers itself)."""
    children = duty_processes(server)
    assert children or server.settings.on_postgres, "serve on SQLite named no duties' process"
    _the_server(server)
    for pid in children:
        os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(
    "apart, kill",
    [("0", _the_server), ("1", _every_huying_process)],
    ids=["one process", "duties apart"],
)
def test_kill_9_mid_delivery_loses_no_webhook(
    server: Server, apart: str, kill: Callable[[Server], None]
) -> None:
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
        server.start(HUYING_DUTIES_APART=apart)
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
        kill(server)
        receiver.hold.set()  # the answer goes to a dead connection
        receiver.hold = None
        server.start(HUYING_DUTIES_APART=apart)
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
