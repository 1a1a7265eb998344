"""The tests' in-loop client (``tests/in_loop.py``) gives an app what a server would: its lifespan
around the requests, each request's body and headers, and the app's own errors back."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI, Request

from in_loop import in_loop


def an_app(said: list[str]) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        said.append("started")
        yield
        said.append("stopped")

    app = FastAPI(lifespan=lifespan)

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, str]:
        said.append("echoed")
        return {"body": (await request.body()).decode(), "who": request.headers["x-who"]}

    @app.get("/broken")
    def broken() -> None:  # a sync endpoint: run in anyio's worker threads
        raise ValueError("broken on purpose")

    return app


def test_the_lifespan_runs_around_the_requests() -> None:
    said: list[str] = []
    with in_loop(an_app(said)) as client:
        answer = client.post("/echo", content=b"hello", headers={"X-Who": "grid worker"})
        assert said == ["started", "echoed"]
    assert answer.status_code == 200
    assert answer.json() == {"body": "hello", "who": "grid worker"}
    assert said == ["started", "echoed", "stopped"]


def test_the_apps_own_error_is_raised_in_the_test_or_answered_500() -> None:
    with in_loop(an_app([])) as client, pytest.raises(ValueError, match="on purpose"):
        client.get("/broken")
    with in_loop(an_app([]), raise_app_exceptions=False) as client:
        assert client.get("/broken").status_code == 500


def test_it_is_driven_from_the_thread_that_made_it() -> None:
    refused: list[BaseException] = []
    with in_loop(an_app([])) as client:

        def elsewhere() -> None:
            try:
                client.post("/echo", content=b"", headers={"X-Who": "another thread"})
            except RuntimeError as error:
                refused.append(error)

        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
    assert len(refused) == 1 and "the thread that made it" in str(refused[0])
