"""The ASGI gate in front of every route: bearer auth first (401 before anything else, even a
malformed body; 429 instead once a client address has failed too often, or has too many tokens
being checked at once), then the principal's
admission (``limits.py``: its share of running requests, its expensive reads), then the
body-size limit (413): 64 KiB for JSON, larger on the few paths that take uploads
(``max_upload_bytes``). A token found live a moment ago is taken as remembered, in the event
loop (``TokenStore.remembered``); any other is looked up in a worker thread, so a slow database
never holds up the event loop (nor ``/healthz``, which is answered there). Where live tokens
are remembered at all (``token_cache_seconds``), a token is looked up once at a time: requests
bearing a token whose lookup is under way wait for its answer rather than each looking it up (a
busy client's 32 connections all miss together when its token is due for a fresh look). Where
they are not, every request looks its own token up, so a revocation holds at once."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Mapping

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from huying.api.limits import Busy, Limits, too_many
from huying.api.problems import problem
from huying.domain.principal import Principal

# A lookup's answer: the token's principal (None: no live token), or None if it ended without
# one (its waiters then look the token up themselves).
_Answer = tuple[Principal | None] | None


class Gate:
    def __init__(
        self,
        app: ASGIApp,
        *,
        authenticate: Callable[[str], Principal | None],
        remembered: Callable[[str], Principal | None] = lambda _: None,
        limits: Limits,
        max_body_bytes: int,
        max_upload_bytes: Mapping[str, int] | None = None,
        share_lookups: bool = False,
    ) -> None:
        self.app = app
        self.authenticate = authenticate
        self.remembered = remembered
        self.limits = limits
        self.max_body_bytes = max_body_bytes
        # Exact path → its own limit (随手拍 uploads are megabytes; JSON bodies stay small).
        self.max_upload_bytes = dict(max_upload_bytes or {})
        # Lookups under way, by event loop and token: the answer its other requests wait for.
        self._lookups: dict[tuple[asyncio.AbstractEventLoop, str], asyncio.Future[_Answer]] = {}
        self._share_lookups = share_lookups
        self.sharing = 0  # requests waiting for another's lookup of their token (tests read it)

    def limit_for(self, path: str) -> int:
        return self.max_upload_bytes.get(path.rstrip("/") or "/", self.max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self._pass(scope, receive, send)
            return
        try:
            principal = await self._principal(scope)
            if principal is None:
                await self._unauthorized(scope, receive, send)
                return
            ticket = await self.limits.admit(principal, scope["method"], scope["path"])
        except Busy as e:
            await too_many(e)(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["principal"], state["ticket"] = principal, ticket
        try:
            await self._pass(scope, receive, send)
        finally:
            ticket.leave()

    async def _pass(self, scope: Scope, receive: Receive, send: Send) -> None:
        """On to the app, with a request body read whole first, within its size limit."""
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH"):
            limit = self.limit_for(scope["path"])
            try:
                body = None if _declared_length(scope) > limit else await _read_body(receive, limit)
            except _ClientGone:
                return  # it left mid-body: nothing to answer, nothing to act on
            if body is None:
                detail = f"request bodies here are limited to {limit} bytes"
                await problem(413, "payload-too-large", "Payload too large", detail)(scope, receive, send)
                return
            receive = replay(body, receive)
        await self.app(scope, receive, send)

    async def _principal(self, scope: Scope) -> Principal | None:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and token.strip():
                    known = self.remembered(token.strip())
                    return known if known is not None else await self._look_up(token.strip(), scope)
                return None
        return None

    async def _look_up(self, token: str, scope: Scope) -> Principal | None:
        """The token looked up in a worker thread, or the answer of the lookup of it already
        under way; should that one fail (429, a database error, its client gone), each of its
        waiters looks the token up itself."""
        key = (asyncio.get_running_loop(), token)
        if (under_way := self._lookups.get(key)) is not None:
            self.sharing += 1
            try:
                found = await asyncio.shield(under_way)
            finally:
                self.sharing -= 1
            if found is not None:
                return found[0]
        answer: asyncio.Future[_Answer] = key[0].create_future()
        if self._share_lookups:
            self._lookups.setdefault(key, answer)
        result: _Answer = None
        try:
            async with self.limits.token_checks.slot(_address(scope)):
                principal = await anyio.to_thread.run_sync(self.authenticate, token)
            result = (principal,)
            return principal
        finally:
            if self._lookups.get(key) is answer:
                del self._lookups[key]
            answer.set_result(result)

    async def _unauthorized(self, scope: Scope, receive: Receive, send: Send) -> None:
        wait = self.limits.auth_failures.spend(_address(scope))
        if wait is not None:
            detail = "too many requests without a valid token from this address"
            await too_many(Busy(detail, retry_after=wait))(scope, receive, send)
            return
        await problem(
            401,
            "unauthorized",
            "Unauthorized",
            "a valid bearer token is required (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )(scope, receive, send)


def _address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


class _ClientGone(Exception):
    """The connection closed before the body was complete (or was cut for being too slow)."""


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None when it outgrows ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def whole_body(receive: Receive) -> bytes | None:
    """The whole body, however long (None: the client left before it was complete): for what
    runs inside the gate, which has held it to its limit already."""
    try:
        return await _read_body(receive, sys.maxsize)
    except _ClientGone:
        return None


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


def replay(body: bytes, downstream: Receive) -> Receive:
    """Hands the buffered body over once, then listens for the client going away."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await downstream()

    return receive
