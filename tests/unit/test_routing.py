"""huying's routers pass at once over a path outside the start their paths share, and answer
every request as FastAPI's own routers would: the route it names, 405 for a path with another
method, 404 for no path, a redirect for a trailing slash — and never ask a route of a router the
path cannot belong to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Match
from starlette.types import Scope

from huying.api.routing import Router, _common_start

asked: list[str] = []


class CountedRoute(APIRoute):
    """A route that notes each time it is asked whether it matches."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        asked.append(self.path)
        return super().matches(scope)


calls = Router(prefix="/api/v1/calls", route_class=CountedRoute)
ledger = Router(prefix="/api/v1", route_class=CountedRoute)
ops = Router(route_class=CountedRoute)


@calls.get("/{call_id}")
def one_call(call_id: str) -> dict[str, str]:
    return {"call": call_id}


@calls.post("/{call_id}/acknowledge")
def acknowledge(call_id: str) -> dict[str, str]:
    return {"acknowledged": call_id}


@ledger.get("/ledger")
def the_ledger() -> dict[str, str]:
    return {"ledger": "open problems"}


@ops.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = FastAPI()
    for router in (calls, ledger, ops):
        app.include_router(router)
    with TestClient(app, follow_redirects=False) as c:
        asked.clear()
        yield c


def test_each_router_knows_the_start_its_paths_share() -> None:
    assert calls.shared_start() == "/api/v1/calls/"
    assert ledger.shared_start() == "/api/v1/ledger"
    assert ops.shared_start() == "/healthz"
    assert _common_start(["/api/v1/ab", "/api/v1/b", "/api/v1/aa"]) == "/api/v1/"


def test_a_request_is_answered_by_its_route_without_asking_routers_it_cannot_belong_to(
    client: TestClient,
) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert "/api/v1/calls/{call_id}" not in asked and "/api/v1/ledger" not in asked
    asked.clear()
    assert client.get("/api/v1/ledger").json() == {"ledger": "open problems"}
    assert not any(path.startswith("/api/v1/calls") for path in asked)


def test_another_method_no_path_and_a_trailing_slash_are_answered_as_before(client: TestClient) -> None:
    assert client.get("/api/v1/calls/c-1").json() == {"call": "c-1"}
    assert client.get("/api/v1/calls/c-1/acknowledge").status_code == 405
    assert client.get("/api/v1/nowhere").status_code == 404
    slashed = client.get("/api/v1/ledger/")
    assert slashed.status_code == 307 and slashed.headers["location"].endswith("/api/v1/ledger")
