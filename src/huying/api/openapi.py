"""The OpenAPI document, telling the truth about errors and authentication.

FastAPI would document a 422 of its own shape and no authentication. huying answers every error
as RFC 9457 ``application/problem+json`` (``problems.py``, and the gate for 401 and 413) and
authenticates ``/api/`` with a bearer token at the gate. So every operation there declares the
bearer scheme (it also gives ``/docs`` its Authorize button) and the error statuses it can
answer, each with the one ``Problem`` schema.
"""

from __future__ import annotations

from copy import deepcopy
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from huying.api.deps import IDEMPOTENCY_KEY, IF_MATCH, identity_of
from huying.api.params import ETag, IdempotencyKey
from huying.api.problems import PROBLEM_JSON

BEARER = "bearer"

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details. 422s name each refused field in `errors`.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "a stable URI per kind, e.g. /problems/not-found"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "what was wrong, and which rule said so"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}

# Why an operation can answer each error status.
ALWAYS = {
    "401": "no valid bearer token",
    "403": "the token's role or jurisdiction does not allow this",
    "422": "a parameter or the body is not valid (each field named in `errors`)",
    "429": "this principal has too much going at once, or this address failed to authenticate "
    "too often (Retry-After)",
}
WITH_PATH_PARAMETERS = {"404": "nothing with that id, or nothing this token may see"}
WITH_BODY = {
    "409": "the call's state does not allow this now",
    "412": "If-Match names another version than the call's",
    "413": "the body is larger than this endpoint accepts",
}
WAITING = {
    "503": "the read models did not reach `min_position` in time (Retry-After); "
    "a `min_position` beyond the log's head is 422 at once"
}
WAITING_PARAMETERS = {"min_position", "wait"}
PROBLEM_CONTENT = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}


def document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document, built once."""
    if app.openapi_schema is None:
        spec = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        app.openapi_schema = _with_problems(spec)
    return app.openapi_schema


def _with_problems(spec: dict[str, Any]) -> dict[str, Any]:
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = PROBLEM_SCHEMA
    components["securitySchemes"] = {
        BEARER: {"type": "http", "scheme": "bearer", "description": "huying token create --role … --unit …"}
    }
    for path, operations in spec.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            operation["security"] = [{BEARER: []}]
            names = {p["name"] for p in operation.get("parameters", [])}
            errors = dict(ALWAYS)
            if "{" in path:
                errors |= WITH_PATH_PARAMETERS
            if method in ("post", "put", "patch", "delete"):
                errors |= WITH_BODY
            if names & WAITING_PARAMETERS:
                errors |= WAITING
            responses = operation.setdefault("responses", {})
            for status, why in sorted(errors.items()):
                responses[status] = {"description": why, "content": PROBLEM_CONTENT}
            for response in responses.values():  # statuses a route declared itself (415)
                if PROBLEM_JSON in response.get("content", {}):
                    response["content"] = PROBLEM_CONTENT
    return spec


def declare_identity(router: APIRouter) -> APIRouter:
    """Documents the ``Identity`` headers (Idempotency-Key, If-Match) on each of the router's
    operations that takes them, as FastAPI documents a declared ``Header`` parameter: they are
    read by ``deps.IdentityHeader``, not declared (see there why)."""
    parameters = deepcopy(_identity_parameters())
    for route in router.routes:
        if isinstance(route, APIRoute) and _takes_identity(route.dependant):
            extra = route.openapi_extra or {}
            declared = {p["name"] for p in extra.get("parameters", [])}
            missing = [p for p in parameters if p["name"] not in declared]
            route.openapi_extra = {**extra, "parameters": [*extra.get("parameters", []), *missing]}
    return router


def _takes_identity(dependant: Dependant) -> bool:
    return any(d.call is identity_of or _takes_identity(d) for d in dependant.dependencies)


@cache
def _identity_parameters() -> list[dict[str, Any]]:
    """The two headers' parameters, from a route that declares them (never served): worked out
    once per process, not for each router of each app."""
    probe = FastAPI()

    @probe.post("/")
    def declared(
        idempotency_key: Annotated[IdempotencyKey | None, Header()] = None,
        if_match: Annotated[ETag | None, Header()] = None,
    ) -> None:
        """Never called."""

    parameters: list[dict[str, Any]] = probe.openapi()["paths"]["/"]["post"]["parameters"]
    assert [p["name"] for p in parameters] == [IDEMPOTENCY_KEY.name, IF_MATCH.name]
    return parameters
