"""A real webhook receiver for the tests: a small HTTP server in the test process on a free port.

It checks every delivery with the Standard Webhooks reference verifier (``standardwebhooks``, not
huying's code), answers 401 to one it cannot verify, and keeps each ``webhook-id`` once, in the
order first seen — what a careful receiver does with at-least-once deliveries. It can be taken
down (its port closed) and brought back on the same port, answer with another status, or hold a
request until released."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from huying.webhooks.signing import new_secret


def wait_until(check: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    """Poll ``check`` until it holds, or fail after ``timeout`` seconds (no blind sleeps)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.02)


class Receiver:
    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret or new_secret()
        self.lock = threading.Lock()
        self.seen: list[str] = []  # webhook-ids, each once, in the order first seen
        self.bodies: dict[str, dict[str, Any]] = {}
        self.raw: dict[str, bytes] = {}
        self.headers: dict[str, dict[str, str]] = {}
        self.requests = 0  # every request, duplicates and forgeries included
        self.refused = 0  # deliveries whose signature did not verify
        self.status = 204  # what a verified delivery is answered with
        self.hold: threading.Event | None = None  # set: requests wait for it
        self.holding = threading.Event()  # a request is being held
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/huying"

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.handle(self)

            def log_message(self, *_: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        """Closed: connections to the port are refused until ``up()``."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("content-length", 0)))
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self.lock:
            self.requests += 1
        if self.hold is not None:
            self.holding.set()
            self.hold.wait(60)
        try:
            Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            with self.lock:
                self.refused += 1
            request.send_response(401)
            request.end_headers()
            return
        webhook_id = headers["webhook-id"]
        with self.lock:
            if 200 <= self.status < 300 and webhook_id not in self.bodies:
                self.seen.append(webhook_id)
                self.bodies[webhook_id] = json.loads(body)
                self.raw[webhook_id] = body
                self.headers[webhook_id] = headers
        request.send_response(self.status)
        request.end_headers()

    def kinds(self) -> list[str]:
        with self.lock:
            return [self.bodies[i]["type"] for i in self.seen]

    def positions(self) -> list[int]:
        with self.lock:
            return [int(self.bodies[i]["data"]["position"]) for i in self.seen]
