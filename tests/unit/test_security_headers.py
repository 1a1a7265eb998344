"""The security headers each JSON answer gets: all of them, once, and never over a route's own."""

from __future__ import annotations

import asyncio

from starlette.types import Message, Receive, Scope, Send

from huying.api.headers import API_POLICY, HEADERS, SecurityHeaders


def _answered(route_headers: list[tuple[bytes, bytes]], scheme: str = "http") -> list[tuple[bytes, bytes]]:
    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": route_headers})
        await send({"type": "http.response.body", "body": b"{}"})

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "scheme": scheme, "method": "GET", "path": "/", "headers": []}
    asyncio.run(SecurityHeaders(route)(scope, receive, send))
    headers: list[tuple[bytes, bytes]] = sent[0]["headers"]
    return headers


def test_a_json_answer_gets_every_header_once_and_the_api_policy() -> None:
    headers = _answered([(b"content-type", b"application/json")])
    names = [name for name, _ in headers]
    assert len(names) == len(set(names))
    assert set(HEADERS) <= set(headers)
    assert (b"content-security-policy", API_POLICY.encode()) in headers
    assert b"strict-transport-security" not in names


def test_over_https_it_also_gets_hsts() -> None:
    names = [name for name, _ in _answered([(b"content-type", b"application/json")], scheme="https")]
    assert b"strict-transport-security" in names


def test_a_header_the_route_set_itself_is_kept_and_the_others_added() -> None:
    own = (b"Content-Security-Policy", b"sandbox")
    headers = _answered([(b"content-type", b"image/jpeg"), own, (b"x-frame-options", b"SAMEORIGIN")])
    lowered = [(name.lower(), value) for name, value in headers]
    assert [v for n, v in lowered if n == b"content-security-policy"] == [b"sandbox"]
    assert [v for n, v in lowered if n == b"x-frame-options"] == [b"SAMEORIGIN"]
    assert (b"referrer-policy", b"no-referrer") in headers


def test_each_answer_gets_a_list_of_its_own() -> None:
    """The headers worked out once are copied into each answer, never shared with it."""
    first = _answered([(b"content-type", b"application/json")])
    first.append((b"x-extra", b"1"))
    assert (b"x-extra", b"1") not in _answered([(b"content-type", b"application/json")])
