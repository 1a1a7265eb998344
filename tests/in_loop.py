"""An ASGI app driven in the test's own thread: an httpx client whose requests run, one at a time,
to completion in an event loop this thread owns, with the app's lifespan started and stopped
around them.

Starlette's ``TestClient`` runs the app in a loop on another thread and hands every message of
every request across (eight hops for a plain GET, each a lock and a wake-up of the other loop):
about half of a cheap request's time in the authorisation matrix's thousands. Here a request is
one ``run_until_complete``; the app sees the same ASGI scope and messages a server would give it.

Between requests the loop does not run: anything the app has waiting in it (the lifespan's task,
a timer) goes on at the next request, while the app's own threads (the duties, the commit
thread) run as ever. So a test that needs the app to make progress between its requests, or two
requests in flight at once, uses a server (``e2e.inprocess``) or ``TestClient``, not this.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from starlette.types import ASGIApp, Message

BASE_URL = "http://testserver"


class _Driver:
    """One loop, one task in it that runs every request: anyio's worker threads belong to that
    task (its "root"), so they last from one request to the next instead of one each."""

    def __init__(self, app: ASGIApp, raise_app_exceptions: bool) -> None:
        self.app = app
        self.raising = raise_app_exceptions
        self.state: dict[str, Any] = {}  # the lifespan's, copied into each request (ASGI's "state")
        self.loop = asyncio.new_event_loop()
        self.owner = threading.get_ident()
        self._inbox: asyncio.Queue[tuple[httpx.Request, asyncio.Future[httpx.Response]] | None]
        self._lifespan: asyncio.Queue[Message]
        self._started: asyncio.Future[Message]
        self._ended: asyncio.Future[Message]
        self._task = self.loop.run_until_complete(self._open())

    async def _open(self) -> asyncio.Task[None]:
        self._inbox, self._lifespan = asyncio.Queue(), asyncio.Queue()
        self._started, self._ended = self.loop.create_future(), self.loop.create_future()
        return asyncio.create_task(self._serve(), name="in-loop driver")

    async def _serve(self) -> None:
        life = asyncio.create_task(self._live(), name="in-loop lifespan")
        self._lifespan.put_nowait({"type": "lifespan.startup"})
        while (asked := await self._inbox.get()) is not None:
            request, answer = asked
            try:
                answer.set_result(await self._answer(request))
            except BaseException as error:  # the app's own exception, raised in the test
                answer.set_exception(error)
        self._lifespan.put_nowait({"type": "lifespan.shutdown"})
        await life

    async def _live(self) -> None:
        async def send(message: Message) -> None:
            future = self._started if message["type"].startswith("lifespan.startup") else self._ended
            if not future.done():
                future.set_result(message)

        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.state}
        try:
            await self.app(scope, self._lifespan.get, send)
        except BaseException as error:  # told to whoever waits for the start or the end
            for future in (self._started, self._ended):
                if not future.done():
                    future.set_exception(error)
            raise
        # An app that ignores its lifespan returns at once, having said nothing: nothing to wait for.
        for future, said in (
            (self._started, "lifespan.startup.complete"),
            (self._ended, "lifespan.shutdown.complete"),
        ):
            if not future.done():
                future.set_result({"type": said})

    def start(self) -> None:
        said = self.loop.run_until_complete(self._started)
        if said["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"the app did not start: {said}")

    def ask(self, request: httpx.Request) -> httpx.Response:
        if threading.get_ident() != self.owner:
            raise RuntimeError("an in-loop client is driven from the thread that made it")
        answer = self.loop.create_future()
        self._inbox.put_nowait((request, answer))
        return self.loop.run_until_complete(answer)

    def stop(self) -> None:
        self._inbox.put_nowait(None)
        try:
            self.loop.run_until_complete(self._task)
            said = self.loop.run_until_complete(self._ended)
            if said["type"] != "lifespan.shutdown.complete":
                raise RuntimeError(f"the app did not stop cleanly: {said}")
        finally:
            self.loop.close()

    async def _answer(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": url.scheme,
            "path": url.path,
            "raw_path": url.raw_path.split(b"?", 1)[0],
            "query_string": url.query,
            "root_path": "",
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "client": ("testclient", 50000),
            "server": (url.host, url.port or (443 if url.scheme == "https" else 80)),
            "extensions": {},
            "state": dict(self.state),
        }
        body = request.read()
        sent = False
        status, headers, chunks = 0, [], []
        done = asyncio.Event()

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status, headers = message["status"], message.get("headers", [])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    done.set()

        try:
            await self.app(scope, receive, send)
        except Exception:
            if self.raising or not status:
                raise
        done.set()
        if not status:
            raise RuntimeError(f"{request.method} {url.path}: the app answered nothing")
        return httpx.Response(status, headers=headers, content=b"".join(chunks), request=request)


class _Transport(httpx.BaseTransport):
    def __init__(self, driver: _Driver) -> None:
        self.driver = driver

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.driver.ask(request)


class InLoopClient(httpx.Client):
    """An httpx client of ``app`` (``TestClient``'s ``app`` too, for the tests that look inside)."""

    def __init__(self, app: ASGIApp, driver: _Driver, **options: Any) -> None:
        super().__init__(transport=_Transport(driver), base_url=BASE_URL, **options)
        self.app = app


@contextmanager
def in_loop(app: ASGIApp, raise_app_exceptions: bool = True, **options: Any) -> Iterator[InLoopClient]:
    """An httpx client for ``app``, its lifespan run for as long as the block lasts. An
    exception the app lets out is raised in the test, unless ``raise_app_exceptions`` is false
    and the app answered before it (a 500 from Starlette's last handler comes back as it is)."""
    driver = _Driver(app, raise_app_exceptions)
    driver.start()
    try:
        with InLoopClient(app, driver, **options) as http:
            yield http
    finally:
        driver.stop()
