"""The raise is an express route (``huying.api.express``): its ordinary requests are answered
without FastAPI's per-request work, and answered exactly as FastAPI answers them; every other
request to it — a body or a header that does not pass, a query string, another content type —
goes on to FastAPI and is answered as it always was.

Each case is asked of two apps on the same deployment: the real one, and one built with no
express route, which is huying as it was before."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Client

import huying.api.app as app_module
from huying.api.app import create_app
from huying.api.express import Express
from huying.bootstrap import Services

from .reporters import CALLS, GRID_WORKER, STREET, raise_body


def express_of(app: FastAPI) -> Express:
    layer: Any = app.middleware_stack
    while not isinstance(layer, Express):
        layer = layer.app
    return layer


@pytest.fixture
def plain(services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    """The same deployment served with no express route: every request through FastAPI."""
    with monkeypatch.context() as m:
        m.setattr(app_module, "express_routes", lambda *_, **__: [])
        app = create_app(services=services)
    assert express_of(app).routes == {}
    with TestClient(app) as c:
        yield c


# Where the answers about two raises of the same body differ: the call itself, when and where,
# and the duplicate hints (the second raise's name the first).
_VARIES = ("id", "position", "raised_at", "chain", "deadlines", "possible_duplicates")


def test_an_ordinary_raise_is_answered_express_exactly_as_fastapi_answers_it(
    client: Client, plain: Client, tokens: Any
) -> None:
    express = express_of(client.app)  # type: ignore[arg-type]
    fast = client.post(CALLS, json=raise_body(), headers=tokens.headers(*GRID_WORKER, key="ex-1"))
    assert (express.answered, express.passed_on) == (1, 0)
    slow = plain.post(CALLS, json=raise_body(), headers=tokens.headers(*GRID_WORKER, key="ex-2"))
    assert fast.status_code == slow.status_code == 201, (fast.text, slow.text)
    a, b = fast.json(), slow.json()
    assert list(a) == list(b)
    assert {k: v for k, v in a.items() if k not in _VARIES} == {
        k: v for k, v in b.items() if k not in _VARIES
    }
    assert [c["clock"] for c in a["deadlines"]["clocks"]] == [c["clock"] for c in b["deadlines"]["clocks"]]
    for header in (
        "content-type",
        "etag",
        "cache-control",
        "x-content-type-options",
        "content-security-policy",
    ):
        assert fast.headers[header] == slow.headers[header], header
    assert fast.headers["location"] == f"{CALLS}/{a['id']}"
    assert a["possible_duplicates"] == [] and [h["id"] for h in b["possible_duplicates"]] == [a["id"]]

    # A retry with the key is the first answer again, with Idempotent-Replayed, either way.
    again = client.post(CALLS, json=raise_body(), headers=tokens.headers(*GRID_WORKER, key="ex-1"))
    assert again.status_code == 201 and again.json() == a
    assert again.headers["idempotent-replayed"] == "true"
    assert express.answered == 2


def test_what_the_raise_refuses_is_refused_in_the_same_words_either_way(
    client: Client, plain: Client, tokens: Any
) -> None:
    """The endpoint's own refusals (the domain's) come through the app's exception handlers."""
    express = express_of(client.app)  # type: ignore[arg-type]
    cases = {
        "unknown item": raise_body(item_code="Z99-99"),
        "no such grid": raise_body(grid_code="LW-XX-99-G99"),
        "capture time long ago": raise_body(occurred_at="2001-01-01T00:00:00+08:00"),
    }
    for n, (case, body) in enumerate(cases.items()):
        fast = client.post(CALLS, json=body, headers=tokens.headers(*GRID_WORKER, key=f"refused-a-{n}"))
        slow = plain.post(CALLS, json=body, headers=tokens.headers(*GRID_WORKER, key=f"refused-b-{n}"))
        assert fast.status_code == slow.status_code and fast.status_code >= 400, (case, fast.text)
        assert fast.json() == slow.json(), case
        assert fast.headers["content-type"] == slow.headers["content-type"] == "application/problem+json"
    assert (express.answered, express.passed_on) == (len(cases), 0)

    # A key reused for another body: the first raise's key, refused the same way.
    client.post(CALLS, json=raise_body(), headers=tokens.headers(*GRID_WORKER, key="reused"))
    plain.post(CALLS, json=raise_body(), headers=tokens.headers(*GRID_WORKER, key="reused-b"))
    fast = client.post(
        CALLS, json=raise_body(title="另一件事"), headers=tokens.headers(*GRID_WORKER, key="reused")
    )
    slow = plain.post(
        CALLS, json=raise_body(title="另一件事"), headers=tokens.headers(*GRID_WORKER, key="reused-b")
    )
    assert fast.status_code == slow.status_code == 422 or fast.status_code == slow.status_code == 409
    assert _without_key(fast.json()) == _without_key(slow.json())


def _without_key(problem: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.replace("reused-b", "reused") if isinstance(v, str) else v) for k, v in problem.items()}


# Requests the express route does not take: FastAPI answers them, as before. Each is a raise
# with its headers changed, and its body as raw bytes or changes to the ordinary body (None: a
# field left out).
PASSED_ON: dict[str, tuple[dict[str, str], bytes | dict[str, Any], str]] = {
    "not JSON": ({}, b'{"item_code": ', ""),
    "empty body": ({}, b"", ""),
    "a field missing": ({}, {"title": None}, ""),
    "an unknown channel": ({}, {"channel": "pigeon"}, ""),
    "NUL in the title": ({}, {"title": "a\x00b"}, ""),
    "an unknown field": ({}, {"colour": "red"}, ""),
    "title too long": ({}, {"title": "长" * 201}, ""),
    "a query string": ({}, {}, "?dry_run=1"),
    "another content type": ({"content-type": "text/plain"}, {}, ""),
    "a bad Idempotency-Key": ({"idempotency-key": "k" * 201}, {}, ""),
    "a bad If-Match": ({"if-match": "soon"}, {}, ""),
}


def _request(case: str, tokens: Any) -> tuple[dict[str, str], bytes, str]:
    headers, content, query = PASSED_ON[case]
    sent = {k.lower(): v for k, v in tokens.headers(*GRID_WORKER).items()}
    sent |= {"content-type": "application/json", "idempotency-key": f"passed-{case}"} | headers
    if isinstance(content, bytes):
        return sent, content, query
    body = {k: v for k, v in (raise_body() | content).items() if v is not None}
    return sent, json.dumps(body, ensure_ascii=False).encode(), query


@pytest.mark.parametrize("case", PASSED_ON)
def test_a_request_the_express_route_does_not_take_is_answered_by_fastapi_as_before(
    client: Client, plain: Client, tokens: Any, case: str
) -> None:
    express = express_of(client.app)  # type: ignore[arg-type]
    headers, content, query = _request(case, tokens)
    fast = client.post(CALLS + query, content=content, headers=headers)
    slow = plain.post(CALLS + query, content=content, headers=headers)
    assert fast.status_code == slow.status_code and fast.status_code in (400, 415, 422), (case, fast.text)
    assert fast.json() == slow.json(), case
    assert express.answered == 0
    assert express.passed_on == (0 if case in ("a query string", "another content type") else 1)


def test_a_raise_outside_ones_jurisdiction_is_refused_the_same_way(
    client: Client, plain: Client, tokens: Any
) -> None:
    body = raise_body(grid_code="LW-HD-01-G01")  # another street's grid
    fast = client.post(CALLS, json=body, headers=tokens.headers(*STREET, key="far-a"))
    slow = plain.post(CALLS, json=body, headers=tokens.headers(*STREET, key="far-b"))
    assert fast.status_code == slow.status_code and fast.status_code in (403, 404, 422), fast.text
    assert fast.json() == slow.json()
    assert express_of(client.app).answered == 1  # type: ignore[arg-type]


def test_unauthenticated_raises_never_reach_the_express_route(client: Client) -> None:
    answer = client.post(CALLS, json=raise_body())
    assert answer.status_code == 401
    assert express_of(client.app).answered == 0  # type: ignore[arg-type]


def test_the_express_raise_is_counted_under_its_route(client: Client, tokens: Any) -> None:
    for _ in range(2):  # the second counted in the series the first one made
        assert client.post(CALLS, json=raise_body(), headers=tokens.headers(*GRID_WORKER)).status_code == 201
    metrics = client.get("/metrics").text
    assert 'huying_http_requests_total{method="POST",route="/api/v1/calls",status="201"} 2.0' in metrics
    assert 'huying_http_request_seconds_count{method="POST",route="/api/v1/calls"} 2.0' in metrics
