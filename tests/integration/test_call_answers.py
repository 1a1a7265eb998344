"""The answer about a call, as a route writes it: the ``CallPublic`` the OpenAPI document names,
every field present (nulls included), with its Location, ETag, ``Cache-Control: no-store`` when
it shows a reporter, and ``Idempotent-Replayed`` on a retry — serialised once, by the route,
not validated and dumped again in a second trip to a worker thread."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import fastapi.routing
import pytest
from httpx import Client

from huying.api.schemas.calls import CallPublic

from .reporters import CALLS, COMMUNITY, GRID_WORKER, STREET, raise_body


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """What FastAPI sends to a worker thread, one entry each time."""
    sent: list[str] = []
    real = fastapi.routing.run_in_threadpool

    async def counted(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        sent.append(getattr(func, "__name__", repr(func)))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "run_in_threadpool", counted)
    yield sent


def test_a_raise_is_answered_as_its_declared_model_without_a_trip_to_a_worker_thread(
    client: Client, tokens: Any, hops: list[str]
) -> None:
    answer = client.post(CALLS, json=raise_body(), headers=tokens.headers(*GRID_WORKER, key="answer-1"))
    assert answer.status_code == 201, answer.text
    assert hops == []  # the route runs on the event loop (huying.onloop); nothing validates it again
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert list(body) == [f.alias or name for name, f in CallPublic.model_fields.items()]
    assert body == json.loads(CallPublic.model_validate(body).model_dump_json(by_alias=True))
    assert body["media_url"] is None and body["evaluation"] is None  # nulls written, not left out
    assert answer.headers["location"] == f"/api/v1/calls/{body['id']}"
    assert answer.headers["etag"] == '"1"'
    assert answer.headers["cache-control"] == "no-store"  # it shows the reporter
    assert "idempotent-replayed" not in answer.headers
    assert answer.headers["x-content-type-options"] == "nosniff"  # the security headers still wrap it

    again = client.post(CALLS, json=raise_body(), headers=tokens.headers(*GRID_WORKER, key="answer-1"))
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == answer.headers["location"]
    assert again.json() == body


def test_reads_and_actions_answer_the_same_way(client: Client, tokens: Any, hops: list[str]) -> None:
    raised = client.post(CALLS, json=raise_body(reporter=None), headers=tokens.headers(*GRID_WORKER))
    call_id = raised.json()["id"]
    assert "cache-control" not in raised.headers  # no reporter shown: nothing to keep out of caches
    read = client.get(f"{CALLS}/{call_id}", headers=tokens.headers(*STREET))
    assert (read.status_code, read.headers["etag"]) == (200, '"1"')
    acted = client.post(
        f"{CALLS}/{call_id}/acknowledge", json={"note": "收到"}, headers=tokens.headers(*COMMUNITY, key="ack")
    )
    assert (acted.status_code, acted.headers["etag"], acted.json()["version"]) == (200, '"2"', 2)
    assert len(hops) == 2  # one per read and action; the raise runs on the event loop
    assert list(acted.json()) == list(read.json()) == list(raised.json())
