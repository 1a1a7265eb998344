"""Connection hygiene of the real `huying serve` (uvicorn), over raw sockets: a connection that
sends nothing, a request head dribbled a byte at a time (slowloris) and a body dribbled the same
way are each closed after the configured time; a slow but steady upload earns the time it
needs; the server names no software; /healthz answers throughout.

The deadlines are configured short (HUYING_KEEPALIVE_SECONDS and friends); each test waits for
the server to close the socket — a poll with a generous deadline — and asserts what happened,
not how long it took.
"""

from __future__ import annotations

import http.client
import json
import re
import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from backends import Backend, raw_events
from deployment_templates import Templates

from .server import Server

pytestmark = pytest.mark.slow

PATIENCE = 30.0  # the configured deadlines are 1–2 s; this only stops a broken server hanging us
DRIP_EVERY = 0.2
SHORT = {
    "HUYING_KEEPALIVE_SECONDS": "1",
    "HUYING_HEADER_TIMEOUT_SECONDS": "2",
    "HUYING_BODY_TIMEOUT_SECONDS": "2",
    "HUYING_BODY_MIN_BYTES_PER_SECOND": "1000",
}


@dataclass
class Tokens:
    grid: str
    admin: str


@pytest.fixture(scope="module")
def server(
    backend: Backend, templates: Templates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One server per backend for the module, with short connection deadlines. Each test opens
    connections of its own and leaves the server as it found it (the one that counts events
    compares before and after), so they share it rather than each start one: a start costs
    several seconds. Migrated from the session's template, not by a `huying migrate` of its own
    (which test_cli and test_real_server run)."""
    root = tmp_path_factory.mktemp("connections")
    (root / "logs").mkdir()
    srv = Server(backend.settings(root / "var", run_watchdog=False), root / "logs")
    srv.env.update(SHORT)
    templates.of(backend).deploy(srv.settings)
    srv.start()
    try:
        yield srv
    finally:
        srv.cleanup()


@pytest.fixture(scope="module")
def tokens(server: Server) -> Tokens:
    return Tokens(
        grid=server.token("grid_worker", "LW-LN-01-G01")["Authorization"],
        admin=server.token("admin", "LW")["Authorization"],
    )


def connect(server: Server) -> socket.socket:
    url = urlsplit(server.base_url)
    return socket.create_connection((url.hostname or "", url.port or 80), timeout=PATIENCE)


def closed_by_server(sock: socket.socket, drip: bytes = b"", every: float = DRIP_EVERY) -> bytes:
    """Reads until the server closes the connection, sending ``drip`` every ``every`` s
    meanwhile; returns what the server sent. Fails if it is still open after PATIENCE s."""
    received = bytearray()
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], every)
        try:
            if readable:
                data = sock.recv(65536)
                if not data:
                    return bytes(received)
                received += data
            elif drip:
                sock.sendall(drip)
        except (ConnectionResetError, BrokenPipeError):
            return bytes(received)
    pytest.fail(f"the server kept the connection open for {PATIENCE} s")


def healthz(server: Server) -> None:
    with server.client() as http:
        answer = http.get("/healthz")
    assert answer.status_code == 200


def events_stored(server: Server) -> int:
    with raw_events(server.settings) as store:
        return store.counts()[1]


def test_a_connection_that_never_sends_a_byte_is_closed(server: Server) -> None:
    with connect(server) as idle:
        healthz(server)
        assert closed_by_server(idle) == b""


def test_a_request_head_dribbled_a_byte_at_a_time_is_cut_off(server: Server) -> None:
    with connect(server) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: huying\r\nX-Slow: ")
        healthz(server)
        assert closed_by_server(slow, drip=b"z") == b""


def test_a_body_dribbled_a_byte_at_a_time_is_cut_off_and_nothing_is_acted_on(
    server: Server, tokens: Tokens
) -> None:
    before = events_stored(server)
    token = tokens.grid
    with connect(server) as slow:
        slow.sendall(
            b"POST /api/v1/calls HTTP/1.1\r\nHost: huying\r\nContent-Type: application/json\r\n"
            + f"Authorization: {token}\r\nContent-Length: 5000\r\n\r\n".encode()
            + b'{"title": "'
        )
        healthz(server)
        assert closed_by_server(slow, drip=b"x") == b""
    assert events_stored(server) == before


def test_a_slow_but_steady_body_earns_the_time_it_needs(server: Server, tokens: Tokens) -> None:
    """12 kB at about 4 kB/s takes longer than the 2 s grace, but each 1000 bytes earn a second."""
    body = b'{"now": "2026-11-23T09:00:00+08:00"' + b" " * 11_964 + b"}"
    with connect(server) as steady:
        steady.sendall(
            b"POST /api/v1/_clock HTTP/1.1\r\nHost: huying\r\nContent-Type: application/json\r\n"
            + f"Authorization: {tokens.admin}\r\nContent-Length: {len(body)}\r\n".encode()
            + b"Connection: close\r\n\r\n"
        )
        for at in range(0, len(body), 1000):
            readable, _, _ = select.select([steady], [], [], 0.25)
            assert not readable, "the server answered or closed before the body was complete"
            steady.sendall(body[at : at + 1000])
        answer = closed_by_server(steady)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]


def test_keep_alive_serves_prompt_requests_and_names_no_server(server: Server) -> None:
    url = urlsplit(server.base_url)
    prompt = http.client.HTTPConnection(url.hostname or "", url.port, timeout=PATIENCE)
    try:
        sockets = []
        for _ in range(2):
            prompt.request("GET", "/healthz")
            sockets.append(prompt.sock)
            answer = prompt.getresponse()
            assert (answer.status, answer.read()) == (200, b'{"status":"ok"}')
            assert answer.getheader("server") is None
            assert answer.getheader("x-content-type-options") == "nosniff"
        first, second = sockets
        assert first is not None and second is first, "both answers came on one connection"
        assert closed_by_server(first) == b""  # then idle: closed
    finally:
        prompt.close()


def answered(sock: socket.socket) -> tuple[bytes, dict[str, str], bytes]:
    """The status line, headers and body of the one answer before the server closes."""
    raw = closed_by_server(sock)
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = {k.decode().lower(): v.decode().strip() for k, _, v in (line.partition(b":") for line in lines)}
    return status, headers, body


def test_a_request_head_past_its_limit_is_refused_as_a_problem(server: Server) -> None:
    """All 40 kB are sent: the server reads on after refusing, so the client gets the answer
    rather than a reset."""
    with connect(server) as big:
        big.sendall(b"GET /healthz HTTP/1.1\r\nHost: huying\r\n")
        for _ in range(40):  # 40 kB of headers, a kilobyte at a time
            big.sendall(b"X-Padding: " + b"p" * 1000 + b"\r\n")
        status, headers, body = answered(big)
    assert status.startswith(b"HTTP/1.1 431 "), status
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["status"] == 431 and "16384 bytes" in json.loads(body)["detail"]
    healthz(server)


def test_what_is_not_http_is_refused_as_a_problem(server: Server) -> None:
    with connect(server) as garbled:
        garbled.sendall(b"GET /healthz HTTP/1.1\r\nHost huying\r\n\r\n")  # a header with no colon
        status, headers, body = answered(garbled)
    assert status.startswith(b"HTTP/1.1 400 "), status
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["title"] == "Bad request"


def test_pipelined_requests_are_answered_in_order(server: Server) -> None:
    with connect(server) as eager:
        eager.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: huying\r\n\r\n"
            + b"GET /nowhere HTTP/1.1\r\nHost: huying\r\n\r\n"
            + b"GET /healthz HTTP/1.1\r\nHost: huying\r\nConnection: close\r\n\r\n"
        )
        raw = closed_by_server(eager)
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", raw)
    assert statuses == [b"200", b"404", b"200"], raw[:600]
