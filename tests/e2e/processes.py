"""Helpers for the tests of huying's processes: polling with a deadline, writers that keep
writing while something is killed, and what an acknowledged write must leave behind."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from huying.audit.replay import replay_and_compare
from huying.audit.verify import Verifier
from huying.bootstrap import Services

from .server import Server
from .test_real_server import CALLS, COMMUNITY, DISTRICT, GRID, RAISE  # the same deployment's words

__all__ = ["CALLS", "COMMUNITY", "DISTRICT", "GRID", "RAISE"]

POLL = 0.02


def until(what: str, check: Callable[[], Any], timeout: float, *logs: Callable[[], str]) -> Any:
    """Polls ``check`` until it returns something true, for at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}\n" + "\n----\n".join(log() for log in logs))
        time.sleep(POLL)
    return result


def holds(log: str, duty: str) -> int:
    """How many times a process said it took ``duty``."""
    return log.count(f"holds the {duty} duty")


@dataclass
class Writers:
    """Clients writing at once, each its own connection: keyed raises, every other one
    acknowledged. What was acknowledged is kept. A request that got no answer (the server died
    under it) is remembered, to be sent again with the same key; ``persistent`` writers send a
    request answered 503 again (with its key) until it is answered or they are stopped."""

    server: Server
    grid: dict[str, str]
    community: dict[str, str]
    persistent: bool = False
    raised: dict[str, str] = field(default_factory=dict)  # key → call id, answered 201
    acked: dict[str, str] = field(default_factory=dict)  # key → call id, answered 200
    unanswered: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # key → (kind, call)
    answers: list[tuple[int, float, str]] = field(default_factory=list)  # (status, seconds, type)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, clients: int, per_client: int) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._write, args=(c, per_client)) for c in range(clients)]
        for t in threads:
            t.start()
        return threads

    @property
    def acknowledged(self) -> int:
        return len(self.raised) + len(self.acked)

    def statuses(self) -> list[int]:
        with self.lock:
            return [status for status, _, _ in self.answers]

    def _write(self, client: int, n: int) -> None:
        with httpx.Client(base_url=self.server.base_url, timeout=60.0) as http:
            for i in range(n):
                if self.stop.is_set():
                    return
                call = self._send(http, "raise", f"c{client}-raise-{i}", None)
                if call is None:
                    return
                if i % 2 == 0 and self._send(http, "ack", f"c{client}-ack-{i}", call) is None:
                    return

    def _send(self, http: httpx.Client, kind: str, key: str, call: str | None) -> str | None:
        while True:
            started = time.monotonic()
            try:
                answer = self.post(http, kind, key, call)
            except httpx.TransportError:
                with self.lock:
                    self.unanswered[key] = (kind, call)
                return None
            with self.lock:
                seconds = time.monotonic() - started
                self.answers.append((answer.status_code, seconds, answer.headers.get("content-type", "")))
                if answer.status_code in (200, 201):
                    self.unanswered.pop(key, None)
                    (self.raised if kind == "raise" else self.acked)[key] = answer.json()["id"]
                    return str(answer.json()["id"])
                if answer.status_code != 503:
                    self.failures.append(f"{kind} {key}: {answer.status_code} {answer.text}")
                    return None
                self.unanswered[key] = (kind, call)
            if not self.persistent or self.stop.wait(0.05):
                return None

    def post(self, http: httpx.Client, kind: str, key: str, call: str | None) -> httpx.Response:
        if kind == "raise":
            headers = {**self.grid, "Idempotency-Key": key}
            return http.post(CALLS, headers=headers, json={**RAISE, "title": key})
        headers = {**self.community, "Idempotency-Key": key}
        return http.post(f"{CALLS}/{call}/acknowledge", headers=headers, json={"note": key})

    def resend_unanswered(self, http: httpx.Client) -> None:
        """Each request that got no answer, again with its key: it was recorded once or not at
        all, and now it is recorded once."""
        for key, (kind, call) in sorted(self.unanswered.items()):
            answer = self.post(http, kind, key, call)
            assert answer.status_code in (200, 201), f"{kind} {key} again: {answer.status_code} {answer.text}"
            (self.raised if kind == "raise" else self.acked)[key] = answer.json()["id"]
        self.unanswered.clear()


def check_everything_acknowledged_is_stored(server: Server, writers: Writers, reader: dict[str, str]) -> None:
    """Every call answered 201 is stored, each once; every acknowledgement answered 200 is in
    its call's history, once."""
    stored = server.call_ids()
    assert set(writers.raised.values()) <= stored, "a call answered 201 is not in the event store"
    assert len(stored) == len(writers.raised), "a keyed raise was stored twice (or one never answered)"
    with server.client() as http:
        for key, call in writers.acked.items():
            history = http.get(f"{CALLS}/{call}/history", headers=reader).json()["data"]
            acks = [e for e in history if e["type"] == "Acknowledged"]
            assert len(acks) == 1, f"{key}: {len(acks)} acknowledgements of {call}"


def check_read_models_equal_a_rebuild(services: Services, *logs: Callable[[], str]) -> None:
    """The read models and the hash chain caught up with the whole log; the read models equal a
    replay of it and the chain holds — what `huying audit replay` and `huying audit verify` say,
    computed in this process on the deployment's databases."""
    head = services.app.recorder.max_notification_id() or 0
    until("the read models caught up", lambda: services.projector.tracked_position() >= head, 60, *logs)
    until("the chain caught up", lambda: services.chain.tracked_position() >= head, 60, *logs)
    replay = replay_and_compare(services.app, services.engine, services.settings)
    assert replay.same, f"the read models differ from a replay: {replay.differing} {replay.shown[:3]}"
    assert replay.position == head
    report = Verifier(services.chain.log, services.engine, services.app.voucher).verify()
    assert report.ok and report.chained_through == head, report
