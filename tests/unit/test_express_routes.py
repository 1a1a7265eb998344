"""Which routes may be express (``huying.api.express``), decided when the app is built; and the
express route's body parsing, which must never take a body FastAPI's would refuse, nor read one
otherwise."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from huying.api.deps import CurrentPrincipal, HuyingServices, Identity
from huying.api.express import Express, NotExpress, express, express_routes
from huying.api.routers import calls
from huying.api.schemas.requests import CallCreate


class Thing(BaseModel):
    name: str


def in_a_thread(request: Request) -> int:
    """A dependency FastAPI runs in a worker thread."""
    return 1


async def nested(p: CurrentPrincipal) -> int:
    """A dependency with one of its own."""
    return 1


def _routes(declare: Any) -> APIRouter:
    router = APIRouter()
    declare(router)
    return router


def test_the_raise_is_express_and_nothing_else_is() -> None:
    found = express_routes(calls.router.routes)
    assert [(r.route.path, r.route.methods, r.body_model) for r in found] == [
        ("/api/v1/calls", {"POST"}, CallCreate)
    ]
    assert [name for name, _ in found[0].dependencies] == ["p", "s", "ident"]


def test_an_unmarked_route_is_left_to_fastapi() -> None:
    def declare(router: APIRouter) -> None:
        @router.post("/things")
        async def made(body: Thing) -> dict[str, str]:
            return {}

    assert express_routes(_routes(declare).routes) == []


def _refused(declare: Any) -> str:
    with pytest.raises(NotExpress) as refused:
        express_routes(_routes(declare).routes)
    return str(refused.value)


def test_a_plain_def_endpoint_cannot_be_express() -> None:
    def declare(router: APIRouter) -> None:
        @router.post("/things")  # type: ignore[type-var]  # what the check is for
        @express
        def made(body: Thing) -> dict[str, str]:
            return {}

    assert "coroutine" in _refused(declare)


def test_an_express_route_takes_no_query_path_or_header_parameters() -> None:
    def with_query(router: APIRouter) -> None:
        @router.post("/things")
        @express
        async def made(body: Thing, dry_run: Annotated[bool, Query()] = False) -> dict[str, str]:
            return {}

    def with_path(router: APIRouter) -> None:
        @router.post("/things/{n}")
        @express
        async def made(n: int, body: Thing) -> dict[str, str]:
            return {}

    def without_body(router: APIRouter) -> None:
        @router.post("/things")
        @express
        async def made(p: CurrentPrincipal) -> dict[str, str]:
            return {}

    def with_request(router: APIRouter) -> None:
        @router.post("/things")
        @express
        async def made(body: Thing, request: Request) -> dict[str, str]:
            return {}

    for declare in (with_query, with_path, without_body, with_request):
        assert "one JSON body and no other parameters" in _refused(declare)


def test_an_express_routes_dependencies_are_coroutines_of_the_request_alone() -> None:
    def with_sync(router: APIRouter) -> None:
        @router.post("/things")
        @express
        async def made(body: Thing, n: Annotated[int, Depends(in_a_thread)]) -> dict[str, str]:
            return {}

    def with_nested(router: APIRouter) -> None:
        @router.post("/things")
        @express
        async def made(body: Thing, n: Annotated[int, Depends(nested)]) -> dict[str, str]:
            return {}

    for declare in (with_sync, with_nested):
        assert "not a coroutine of the request alone" in _refused(declare)


def test_the_huying_dependencies_an_express_route_may_take() -> None:
    def declare(router: APIRouter) -> None:
        @router.post("/things")
        @express
        async def made(
            body: Thing, p: CurrentPrincipal, s: HuyingServices, ident: Identity
        ) -> dict[str, str]:
            return {}

    (route,) = express_routes(_routes(declare).routes)
    assert [name for name, _ in route.dependencies] == ["p", "s", "ident"]


# --- the body: parsed by pydantic from JSON, as FastAPI's json.loads + validation would take it ---

_text = st.one_of(
    st.sampled_from(["C01-01", "LW-LN-01-G01", "hotline", "normal", "urgent", " 楼道 ", "", "\x00"]),
    st.text(max_size=30),
)
_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    _text,
)
_value = st.recursive(
    _scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3)
)


def _mostly(
    valid: st.SearchStrategy[Any], invalid: st.SearchStrategy[Any] = _value
) -> st.SearchStrategy[Any]:
    """Valid values nine times in ten: many bodies get past validation, many do not."""
    return st.integers(0, 9).flatmap(lambda n: valid if n else invalid)


_words = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40)
_degrees = st.one_of(st.integers(-90, 90), st.floats(-90, 90), st.sampled_from(["45", "12.5"]))
_bodies = st.fixed_dictionaries(
    {
        "item_code": _mostly(st.sampled_from(["C01-01", "C02-01", "c01-01", "C01-01 "]), st.just("")),
        "grid_code": st.sampled_from(["LW-LN-01-G01", " LW-LN-01-G01"]),
        "title": _mostly(_words),
        "description": _mostly(_words),
        "channel": _mostly(
            st.sampled_from(["hotline", "grid_worker", "photo"]), st.sampled_from(["HOTLINE", "pigeon"])
        ),
    },
    optional={
        "urgency": _mostly(
            st.sampled_from(["normal", "urgent", "emergency"]), st.sampled_from(["later", None])
        ),
        "occurred_at": _mostly(
            st.one_of(
                st.sampled_from(["2026-12-01T08:00:00+08:00", "2026-12-01T00:00:00Z", "2026-12-01T08:00:00"]),
                st.integers(min_value=1_700_000_000, max_value=1_800_000_000),
                st.floats(allow_nan=True),
            )
        ),
        "location": _mostly(
            st.fixed_dictionaries({}, optional={"address": _mostly(_words), "lat": _degrees, "lon": _degrees})
        ),
        "reporter": _mostly(
            st.fixed_dictionaries(
                {},
                optional={"name": _mostly(_words), "phone": st.sampled_from(["13812345678", "１３８", ""])},
            )
        ),
        "attachments": _mostly(st.just([])),
        "media_url": _mostly(st.sampled_from(["https://example.org/a.jpg", "ftp://x", "https://", None])),
    },
)


def _as_fastapi_takes_it(raw: bytes) -> CallCreate | None:
    try:
        return CallCreate.model_validate(json.loads(raw))
    except (ValueError, ValidationError):
        return None


def _as_express_takes_it(raw: bytes) -> CallCreate | None:
    try:
        return CallCreate.model_validate_json(raw)
    except ValidationError:
        return None


@settings(max_examples=400, deadline=None)
@given(
    body=_bodies,
    unknown=_mostly(st.none(), _value),
    duplicate=st.sampled_from([None, None, "title", "channel"]),
    spaced=st.booleans(),
)
def test_the_express_route_takes_a_body_only_as_fastapi_would_and_reads_it_alike(
    body: dict[str, Any], unknown: Any, duplicate: str | None, spaced: bool
) -> None:
    if unknown is not None:
        body["colour"] = unknown  # a field CallCreate does not have
    raw = json.dumps(body, ensure_ascii=spaced, indent=1 if spaced else None)  # NaN written as NaN
    if duplicate is not None:  # the same key twice: the last one counts, in both
        raw = raw[:-1].rstrip() + f', "{duplicate}": "hotline"}}'
    taken = _as_express_takes_it(raw.encode())
    if taken is None:
        return  # FastAPI answers it, whatever it makes of it
    fastapi = _as_fastapi_takes_it(raw.encode())
    assert fastapi is not None, raw
    assert taken.model_dump() == fastapi.model_dump() or _same_but_nan(taken, fastapi)


def _same_but_nan(a: BaseModel, b: BaseModel) -> bool:
    """NaN is not equal to itself: compare the dumps as JSON text."""
    da, db = a.model_dump(mode="json"), b.model_dump(mode="json")
    return json.dumps(da, sort_keys=True) == json.dumps(db, sort_keys=True) and any(
        isinstance(v, float) and math.isnan(v) for v in _leaves(a.model_dump())
    )


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def test_bodies_pydantic_cannot_read_but_json_can_are_left_to_fastapi() -> None:
    """UTF-16, which ``json.loads`` detects and pydantic does not: FastAPI answers it."""
    raw = json.dumps({"item_code": "C01-01"}).encode("utf-16")
    assert _as_express_takes_it(raw) is None


# --- a toy app: the app's own dependencies run for an express request, once ---------------

ran: list[str] = []


async def looked_at(request: Request) -> None:
    """An app-wide check, as ``strict.checked_parameters`` is huying's."""
    ran.append(request.headers.get("x-verdict", "fine"))
    if request.headers.get("x-verdict") == "refuse":
        raise HTTPException(418, "refused by the app's own check")


def _toy() -> tuple[TestClient, Express, FastAPI]:
    app = FastAPI(dependencies=[Depends(looked_at)])
    router = APIRouter()

    @router.post("/things", status_code=201)
    @express
    async def made(body: Thing) -> Response:
        return JSONResponse({"made": body.name}, status_code=201)

    app.include_router(router)
    routes = express_routes(router.routes, shared=app.router.dependencies)
    app.add_middleware(
        Express,
        routes=routes,
        exception_handlers=app.exception_handlers,
        dependency_overrides=app.dependency_overrides,
    )
    client = TestClient(app)
    layer: Any = app.build_middleware_stack()
    app.middleware_stack = layer
    while not isinstance(layer, Express):
        layer = layer.app
    return client, layer, app


def test_the_apps_own_dependencies_run_for_an_express_request_once() -> None:
    client, toy, _ = _toy()
    ran.clear()
    answer = client.post("/things", json={"name": "a"})
    assert (answer.status_code, answer.json()) == (201, {"made": "a"})
    assert ran == ["fine"] and (toy.answered, toy.passed_on) == (1, 0)


def test_a_request_the_apps_own_dependency_refuses_is_answered_by_fastapi() -> None:
    client, toy, _ = _toy()
    ran.clear()
    answer = client.post("/things", json={"name": "a"}, headers={"x-verdict": "refuse"})
    assert (answer.status_code, answer.json()) == (418, {"detail": "refused by the app's own check"})
    assert ran == ["refuse", "refuse"]  # looked at by the express route, then by FastAPI's
    assert (toy.answered, toy.passed_on) == (0, 1)


async def overridden(request: Request) -> None:
    ran.append("overridden")


def test_while_a_dependency_is_overridden_fastapi_answers_everything() -> None:
    client, toy, app = _toy()
    app.dependency_overrides[looked_at] = overridden
    ran.clear()
    answer = client.post("/things", json={"name": "a"}, headers={"x-verdict": "refuse"})
    assert (answer.status_code, answer.json()) == (201, {"made": "a"})
    assert ran == ["overridden"] and (toy.answered, toy.passed_on) == (0, 0)
