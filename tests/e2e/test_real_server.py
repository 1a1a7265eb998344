"""The real `huying serve` process, over TCP: stopped politely (SIGTERM) or killed outright
(SIGKILL in the middle of a burst of writes), then started again on the same data directory.

Every call that was answered 201 is there afterwards, and a retried Idempotency-Key gets the
original answer without the history growing.
"""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from .server import Server

pytestmark = pytest.mark.slow

GRID = "LW-LN-01-G01"
COMMUNITY = "LW-LN-01"
DISTRICT = "LW"
CALLS = "/api/v1/calls"
MONDAY_MORNING = "2026-11-23T09:00:00+08:00"
TEN_MINUTES = timedelta(minutes=10)

RAISE: dict[str, Any] = {
    "item_code": "C01-01",
    "grid_code": GRID,
    "title": "人行道地砖松动",
    "description": "多块地砖松动，雨天溅水。",
    "channel": "grid_worker",
    "reporter": {"name": "张三丰", "phone": "13812345678"},
}


@dataclass
class Principals:
    grid: dict[str, str]
    community: dict[str, str]
    supervisor: dict[str, str]
    admin: dict[str, str]


@pytest.fixture
def who(server: Server) -> Principals:
    """Schemas migrated and tokens made through the CLI, before any server runs."""
    server.cli("migrate")
    return Principals(
        grid=server.token("grid_worker", GRID),
        community=server.token("community", COMMUNITY),
        supervisor=server.token("supervisor", DISTRICT),
        admin=server.token("admin", DISTRICT),
    )


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


def expect(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url}: {response.text}"
    )
    body: dict[str, Any] = response.json()
    return body


def test_sigterm_and_restart_keep_every_call_and_every_answer(server: Server, who: Principals) -> None:
    server.start()
    with server.client() as http:
        clock = expect(http.post("/api/v1/_clock", headers=who.admin, json={"now": MONDAY_MORNING}), 200)
        raised = http.post(CALLS, headers=keyed(who.grid, "e2e-raise-1"), json=RAISE)
        first_raise = expect(raised, 201)
        call_id = first_raise["id"]
        assert raised.headers["Location"] == f"{CALLS}/{call_id}"
        assert (
            expect(http.post(CALLS, headers=keyed(who.grid, "e2e-raise-1"), json=RAISE), 201) == first_raise
        )

        expect(
            http.post(
                "/api/v1/_clock", headers=who.admin, json={"advance_seconds": TEN_MINUTES.total_seconds()}
            ),
            200,
        )
        acked = http.post(
            f"{CALLS}/{call_id}/acknowledge", headers=keyed(who.community, "e2e-ack-1"), json={"note": "收到"}
        )
        first_ack = expect(acked, 200)
        assert first_ack["status"] == "in_progress" and first_ack["version"] == 2
        expect(
            http.post(f"{CALLS}/{call_id}/escalate", headers=who.community, json={"reason": "上呼街道"}), 200
        )
        other = expect(http.post(CALLS, headers=who.community, json={**RAISE, "channel": "walk_in"}), 201)

        before = {
            i: (
                expect(http.get(f"{CALLS}/{i}", headers=who.supervisor), 200),
                expect(http.get(f"{CALLS}/{i}/history", headers=who.supervisor), 200),
            )
            for i in (call_id, other["id"])
        }
        history = before[call_id][1]["data"]
        assert [e["type"] for e in history] == ["Raised", "Acknowledged", "Escalated"]
        assert datetime.fromisoformat(clock["now"]) == datetime.fromisoformat(MONDAY_MORNING)
        assert datetime.fromisoformat(history[0]["at"]) == datetime.fromisoformat(MONDAY_MORNING)
        assert (
            datetime.fromisoformat(history[1]["at"]) == datetime.fromisoformat(MONDAY_MORNING) + TEN_MINUTES
        )
    stored = server.stored()

    server.terminate()
    server.start()

    with server.client() as http:
        now = datetime.fromisoformat(expect(http.get("/api/v1/_clock", headers=who.admin), 200)["now"])
        assert now == datetime.fromisoformat(MONDAY_MORNING) + TEN_MINUTES, "the fake clock was not kept"
        for i, (call, hist) in before.items():
            assert expect(http.get(f"{CALLS}/{i}", headers=who.supervisor), 200) == call
            assert expect(http.get(f"{CALLS}/{i}/history", headers=who.supervisor), 200) == hist

        again = http.post(CALLS, headers=keyed(who.grid, "e2e-raise-1"), json=RAISE)
        assert expect(again, 201) == first_raise
        assert again.headers["Location"] == raised.headers["Location"]
        ack_again = http.post(
            f"{CALLS}/{call_id}/acknowledge", headers=keyed(who.community, "e2e-ack-1"), json={"note": "收到"}
        )
        assert expect(ack_again, 200) == first_ack
        assert ack_again.headers["ETag"] == acked.headers["ETag"] == '"2"'
        other_body = http.post(
            CALLS, headers=keyed(who.grid, "e2e-raise-1"), json={**RAISE, "title": "别的事"}
        )
        assert other_body.status_code == 422, other_body.text

        assert (
            expect(http.get(f"{CALLS}/{call_id}/history", headers=who.supervisor), 200) == before[call_id][1]
        )
    assert server.stored() == stored


@dataclass
class Burst:
    """What a client learnt while the server was killed under it."""

    raised: dict[str, dict[str, Any]] = field(default_factory=dict)  # key → the 201 body
    acked: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # key → (call, body)
    in_flight: tuple[str, str, str | None] | None = None  # (kind, key, call id) with no answer
    finished: bool = False
    failure: BaseException | None = None


def write_burst(
    server: Server, who: Principals, burst: Burst, progress: threading.Event, n: int, kill_after: int
) -> None:
    """Sequential keyed writes: raise a call, and acknowledge every other one. Signals progress
    once kill_after calls were answered, and goes on writing."""
    try:
        with server.client() as http:
            for i in range(n):
                key = f"burst-raise-{i}"
                burst.in_flight = ("raise", key, None)
                body = expect(
                    http.post(CALLS, headers=keyed(who.grid, key), json={**RAISE, "title": f"#{i}"}), 201
                )
                burst.raised[key] = body
                burst.in_flight = None
                if len(burst.raised) >= kill_after:
                    progress.set()
                if i % 2 == 0:
                    ack_key = f"burst-ack-{i}"
                    burst.in_flight = ("ack", ack_key, body["id"])
                    acked = http.post(
                        f"{CALLS}/{body['id']}/acknowledge", headers=keyed(who.community, ack_key)
                    )
                    burst.acked[ack_key] = (body["id"], expect(acked, 200))
                    burst.in_flight = None
            burst.finished = True
    except httpx.TransportError:
        pass  # the server died under us: the request in flight has no answer
    except BaseException as e:
        burst.failure = e
    finally:
        progress.set()


@pytest.mark.parametrize(
    "kill_after",
    [30, 31],  # the next write is then, most likely, a raise (30) or an acknowledge (31)
    ids=["raise-next", "acknowledge-next"],
)
def test_sigkill_in_a_burst_of_writes_loses_no_answered_call(
    server: Server, who: Principals, kill_after: int
) -> None:
    server.start()
    with server.client() as http:
        expect(http.post("/api/v1/_clock", headers=who.admin, json={"now": MONDAY_MORNING}), 200)

    burst = Burst()
    progress = threading.Event()
    writer = threading.Thread(
        target=write_burst, args=(server, who, burst, progress, 2000, kill_after), daemon=True
    )
    writer.start()
    assert progress.wait(timeout=120), "the burst made no progress"
    assert server.stop(signal.SIGKILL) == -signal.SIGKILL
    writer.join(timeout=30)
    assert not writer.is_alive()
    assert burst.failure is None, burst.failure
    assert not burst.finished, "the burst ended before the kill; nothing was interrupted"
    assert len(burst.raised) >= kill_after

    server.start()
    with server.client() as http:
        # Every call answered 201 is there, as answered, moved on by answered actions only.
        acked_calls = {call_id: key for key, (call_id, _) in burst.acked.items()}
        unanswered_ack = burst.in_flight[2] if burst.in_flight and burst.in_flight[0] == "ack" else None
        for key, body in burst.raised.items():
            call = expect(http.get(f"{CALLS}/{body['id']}", headers=who.grid), 200)
            history = expect(http.get(f"{CALLS}/{body['id']}/history", headers=who.supervisor), 200)["data"]
            assert (history[0]["type"], history[0]["idempotency_key"]) == ("Raised", key)
            assert history[0]["position"] == body["position"]
            if body["id"] in acked_calls:
                ack_key = acked_calls[body["id"]]
                acked = burst.acked[ack_key][1]
                assert [(e["type"], e["idempotency_key"]) for e in history[1:]] == [("Acknowledged", ack_key)]
                assert history[1]["position"] == acked["position"]
                assert call == {**acked, "reporter": body["reporter"]}  # the grid worker sees it masked
            elif body["id"] == unanswered_ack:
                assert (call["id"], call["title"], call["raised_at"]) == (
                    body["id"],
                    body["title"],
                    body["raised_at"],
                )
            else:
                assert len(history) == 1 and call == body
        stored = server.stored()

        # Every answered request, sent again, gets its original answer and writes nothing.
        for key, body in burst.raised.items():
            again = http.post(CALLS, headers=keyed(who.grid, key), json={**RAISE, "title": body["title"]})
            assert expect(again, 201) == body
        for key, (call_id, body) in burst.acked.items():
            again = http.post(f"{CALLS}/{call_id}/acknowledge", headers=keyed(who.community, key))
            assert expect(again, 200) == body
        assert server.stored() == stored

        # The request the kill interrupted, retried under its key, happens exactly once.
        expected_calls = len(burst.raised)
        if burst.in_flight is not None:
            kind, key, call_id = burst.in_flight
            if kind == "raise":
                title = f"#{int(key.rsplit('-', 1)[1])}"
                retried = expect(
                    http.post(CALLS, headers=keyed(who.grid, key), json={**RAISE, "title": title}), 201
                )
                history = expect(http.get(f"{CALLS}/{retried['id']}/history", headers=who.supervisor), 200)
                assert len(history["data"]) == 1
                expected_calls += 1
            else:
                retried = expect(
                    http.post(f"{CALLS}/{call_id}/acknowledge", headers=keyed(who.community, key)), 200
                )
                assert retried["version"] == 2
                history = expect(http.get(f"{CALLS}/{call_id}/history", headers=who.supervisor), 200)
                assert len(history["data"]) == 2
        assert server.stored()[0] == expected_calls

        # The read models resumed after the kill and reached the head of the log: the search
        # lists exactly the stored calls, each at its stored version.
        head = expect(http.get("/readyz"), 200)["checks"]["event_store"]["position"]
        listed: dict[str, dict[str, Any]] = {}
        cursor: int | None = 0
        while cursor is not None:
            page = expect(
                http.get(
                    CALLS,
                    headers=who.supervisor,
                    params={"limit": 500, "after": cursor, "min_position": head},
                ),
                200,
            )
            listed.update((row["id"], row) for row in page["data"])
            cursor = page["next"]
        assert set(listed) == server.call_ids()
        for call_id, row in listed.items():
            call = expect(http.get(f"{CALLS}/{call_id}", headers=who.supervisor), 200)
            assert (row["version"], row["position"], row["status"]) == (
                call["version"],
                call["position"],
                call["status"],
            )

    server.terminate()


def test_a_server_that_dies_of_a_crash_says_where_each_thread_stood(server: Server) -> None:
    """A fault in C code (sqlite3, psycopg, the parser) ends the process at once: what it leaves
    on stderr is all anyone will know, so it is every thread's stack, not silence."""
    server.start()
    assert server.stop(signal.SIGSEGV) == -signal.SIGSEGV
    log = server.log(tail=100_000)
    assert "Fatal Python error: Segmentation fault" in log, log
    assert "Current thread" in log and "(most recent call first)" in log, log
