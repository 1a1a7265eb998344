"""The ASGI gate in front of every route: bearer auth first (401 before anything else, even a
malformed body), then the body-size limit (413). Pure ASGI, so it costs one dict lookup and
one indexed query per request."""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from huying.domain.principal import Principal

PUBLIC_PREFIXES = (
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/openapi.json",
    "/static-offline-docs",
    "/redoc",
)


async def _send_problem(
    send: Send, status: int, kind: str, title: str, detail: str, extra: dict[str, str] | None = None
) -> None:
    body = json.dumps(
        {"type": f"/problems/{kind}", "title": title, "status": status, "detail": detail},
        ensure_ascii=False,
    ).encode()
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    for k, v in (extra or {}).items():
        headers.append((k.encode(), v.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Gate:
    def __init__(
        self, app: ASGIApp, *, authenticate: Callable[[str], Principal | None], max_body_bytes: int
    ) -> None:
        self.app = app
        self.authenticate = authenticate
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/api/"):
            principal = self._principal(scope)
            if principal is None:
                await _send_problem(
                    send,
                    401,
                    "unauthorized",
                    "Unauthorized",
                    "a valid bearer token is required (Authorization: Bearer <token>)",
                    {"www-authenticate": "Bearer"},
                )
                return
            scope.setdefault("state", {})["principal"] = principal
        if scope["method"] in ("POST", "PUT", "PATCH"):
            body = await self._read_body(receive)
            if body is None:
                await _send_problem(
                    send,
                    413,
                    "payload-too-large",
                    "Payload too large",
                    f"request bodies are limited to {self.max_body_bytes} bytes",
                )
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    def _principal(self, scope: Scope) -> Principal | None:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and token.strip():
                    return self.authenticate(token.strip())
                return None
        return None

    async def _read_body(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes, downstream: Receive) -> Receive:
    """Hands the buffered body over once, then listens for the client going away."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await downstream()

    return receive
