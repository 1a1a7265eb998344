"""huying served over TCP by uvicorn in a thread of the test process, with the options
`huying serve` gives it (api/connection.py), on the shared fixtures' services: the fake clock,
the tokens and the projector are the test's own. And requests left pending on their own
connections, their answers read when the test says."""

from __future__ import annotations

import http.client
import json
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from fastapi import FastAPI

from huying.api.connection import uvicorn_options
from huying.settings import Settings

START_POLLS = 400  # × POLL_INTERVAL: 20 s at most for uvicorn to bind and run the lifespan
POLL_INTERVAL = 0.05
STOP_TIMEOUT = 10.0
PATIENCE = 30.0  # seconds a test waits for something that happens at once when all is well
# Seconds a test's HTTP client waits for an answer: a guard against a hung server, not a
# latency check (that is the benchmarks'). At 10 s, two requests of a CI run timed out while the
# 2-core machine was busy with the other worker's tests; each passes in ~1 s on its own.
HTTP_PATIENCE = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class Served:
    base_url: str
    server: uvicorn.Server
    app: FastAPI

    def in_flight(self) -> int:
        """Requests inside the app, not yet answered."""
        return len(self.server.server_state.tasks)


def serve_in_thread(app: FastAPI, settings: Settings, request: pytest.FixtureRequest) -> Served:
    """Starts uvicorn on a free port; stopped when the test ends."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=5,
        **uvicorn_options(settings),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="huying-uvicorn", daemon=True)

    def shut_down() -> None:
        server.should_exit = True
        thread.join(timeout=STOP_TIMEOUT)
        assert not thread.is_alive(), f"uvicorn did not stop within {STOP_TIMEOUT} s"

    thread.start()
    request.addfinalizer(shut_down)
    for _ in range(START_POLLS):
        if server.started:
            return Served(f"http://127.0.0.1:{port}", server, app)
        if not thread.is_alive():
            pytest.fail("uvicorn exited during start-up")
        time.sleep(POLL_INTERVAL)
    pytest.fail(f"uvicorn not started after {START_POLLS * POLL_INTERVAL:.0f} s")


def until(condition: Callable[[], bool], what: str, patience: float = PATIENCE) -> None:
    """Polls ``condition`` until it holds; fails naming ``what`` after ``patience`` seconds."""
    deadline = time.monotonic() + patience
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {patience} s: {what}")
        time.sleep(POLL_INTERVAL)


class Pending:
    """A request sent on a connection of its own; its answer is read only when asked for."""

    def __init__(
        self, base_url: str, path: str, headers: dict[str, str], method: str = "GET", body: bytes = b""
    ) -> None:
        url = urlsplit(base_url)
        self.path = path
        self._conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=PATIENCE)
        self._conn.request(method, path, body=body or None, headers=headers)
        self._answer: tuple[int, dict[str, str], Any] | None = None

    def answered(self) -> bool:
        """Has any byte of the answer arrived? (Never blocks.)"""
        if self._answer is not None:
            return True
        assert self._conn.sock is not None
        poll = select.poll()  # not select(): it refuses descriptors past 1,023
        poll.register(self._conn.sock, select.POLLIN)
        return bool(poll.poll(0))

    def answer(self) -> tuple[int, dict[str, str], Any]:
        """Status, headers and body, parsed if JSON (waits for them, at most PATIENCE s)."""
        if self._answer is None:
            response = self._conn.getresponse()
            body = response.read()
            headers = {k.lower(): v for k, v in response.getheaders()}
            is_json = "json" in headers.get("content-type", "")
            self._answer = (response.status, headers, json.loads(body) if is_json else body)
            self._conn.close()
        return self._answer
