"""The ASGI gate in front of every route: bearer auth first (401 before anything else, even a
malformed body), then the body-size limit (413): 64 KiB for JSON, larger on the few paths that
take uploads (``max_upload_bytes``). Pure ASGI, so it costs one dict lookup and one indexed query
per request."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

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
        self,
        app: ASGIApp,
        *,
        authenticate: Callable[[str], Principal | None],
        max_body_bytes: int,
        max_upload_bytes: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.authenticate = authenticate
        self.max_body_bytes = max_body_bytes
        # Exact path → its own limit (随手拍 uploads are megabytes; JSON bodies stay small).
        self.max_upload_bytes = dict(max_upload_bytes or {})

    def limit_for(self, path: str) -> int:
        return self.max_upload_bytes.get(path.rstrip("/") or "/", self.max_body_bytes)

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
            limit = self.limit_for(path)
            body = None if _declared_length(scope) > limit else await self._read_body(receive, limit)
            if body is None:
                await _send_problem(
                    send,
                    413,
                    "payload-too-large",
                    "Payload too large",
                    f"request bodies here are limited to {limit} bytes",
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

    async def _read_body(self, receive: Receive, limit: int) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _declared_length(scope: Scope) -> int:
    """Content-Length as sent (0 when absent or unreadable): refuse an oversized upload before
    reading a byte of it."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


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
