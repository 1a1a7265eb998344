"""RFC 9457 problem+json, and the one table mapping domain errors to HTTP statuses."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from huying.domain.errors import (
    ConcurrentModification,
    DomainError,
    InvalidCommand,
    NotFound,
    NotPermitted,
    StaleVersion,
    TransitionNotAllowed,
)
from huying.projections.runner import ReadModelsBehind

PROBLEM_JSON = "application/problem+json"

STATUS_OF: dict[type[DomainError], tuple[int, str]] = {
    InvalidCommand: (422, "Invalid request"),
    NotFound: (404, "Not found"),
    NotPermitted: (403, "Not permitted"),
    StaleVersion: (412, "Precondition failed"),
    TransitionNotAllowed: (409, "Transition not allowed"),
    ConcurrentModification: (409, "Concurrent modification"),
}


def problem(
    status: int,
    kind: str,
    title: str,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{kind}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if len(parts) >= 2 and parts[0] == "header":  # header.idempotency-key → Idempotency-Key
        return "-".join(word.capitalize() for word in parts[1].split("-"))
    if parts and parts[0] in ("body", "query", "path"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def invalid_fields(exc: RequestValidationError) -> list[dict[str, str]]:
    """Each field a request got wrong and why, as the API's 422 names them (the console's error
    page shows the same)."""
    return [
        {"field": "body", "message": f"not valid JSON: {e.get('ctx', {}).get('error', e['msg'])}"}
        if e["type"] == "json_invalid"
        else {"field": _field(tuple(e["loc"])), "message": e["msg"].removeprefix("Value error, ")}
        for e in exc.errors()
    ]


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = invalid_fields(exc)
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem(422, "invalid-request", "Invalid request", detail, errors)


async def _domain(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    for cls in type(exc).__mro__:
        if cls in STATUS_OF:
            status, title = STATUS_OF[cls]
            break
    else:
        status, title = 409, "Refused"
    errors = None
    if isinstance(exc, InvalidCommand):
        errors = [{"field": exc.field, "message": exc.detail}]
    return problem(status, exc.kind, title, exc.detail, errors)


async def http_problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:  # FastAPI's only 400: a body it could not decode (bytes that are not UTF-8)
        message = "not valid JSON: the body could not be decoded"
        return problem(
            422,
            "invalid-request",
            "Invalid request",
            f"body: {message}",
            [{"field": "body", "message": message}],
        )
    kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    return problem(
        exc.status_code,
        kind,
        str(exc.detail),
        str(exc.detail),
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _behind(_: Request, exc: Exception) -> JSONResponse:
    return problem(503, "read-models-behind", "Read models behind", str(exc), headers={"Retry-After": "1"})


async def _unexpected(_: Request, __: Exception) -> JSONResponse:
    # Logged by the server; the client gets no stack trace.
    return problem(500, "internal-error", "Internal error", "the server failed; nothing was changed")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(StarletteHTTPException, http_problem)
    app.add_exception_handler(ReadModelsBehind, _behind)
    app.add_exception_handler(Exception, _unexpected)
