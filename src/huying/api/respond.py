"""Shaping a command's outcome, or a read, into the HTTP answer about a call: body, ETag,
Location, and no caching of anything that shows a reporter.

The answer is the ``CallPublic`` (or other model) the route declares (``response_model``, so the OpenAPI
document names it), serialised here, once: handed a model, FastAPI would validate it again and
dump it — for a plain ``def`` route in a second trip to a worker thread, after the route's own.
``call_public`` has just built and validated it."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

from fastapi import Response
from pydantic import BaseModel

from huying.api.present import call_public, duplicate_hints
from huying.api.schemas.calls import CallPublic
from huying.bootstrap import Services
from huying.domain.call import Call
from huying.domain.contact import ShownBack
from huying.domain.principal import Principal
from huying.service_layer.calls import Outcome

M = TypeVar("M", bound=BaseModel)


class Answer(Response, Generic[M]):
    """A model the route has just built (and so validated) as JSON, exactly as FastAPI would
    have written it (by alias, nulls included), without validating it again. (The district's SLA
    dashboard at a million calls is 243 KiB, 720 buckets: written once it takes ~1 ms; FastAPI
    would dump the model, validate the dump and encode it again.)"""

    media_type = "application/json"

    def __init__(self, answer: M, status_code: int = 200) -> None:
        super().__init__(answer.model_dump_json(by_alias=True), status_code)
        self.answer = answer  # for the console, which calls the routes itself


class CallAnswer(Answer[CallPublic]):
    """A ``CallPublic`` answered once."""


def with_call(
    outcome: Outcome,
    principal: Principal,
    services: Services,
    status_code: int = 200,
) -> CallAnswer:
    # As of the write itself: a repeated request gets the very body the first one got.
    answer = call_answer(
        outcome.call,
        outcome.position,
        principal,
        services,
        outcome.call.updated_at,
        outcome.shown_back,
        status_code,
    )
    if outcome.replayed:
        answer.headers["Idempotent-Replayed"] = "true"
    return answer


def call_answer(
    call: Call,
    position: int,
    principal: Principal,
    services: Services,
    now: datetime,
    shown_back: ShownBack | None = None,
    status_code: int = 200,
) -> CallAnswer:
    """The call as ``principal`` may see it (its clocks as of ``now``), with its ETag. An answer
    that shows a reporter, in full or masked, says ``Cache-Control: no-store``: no browser,
    proxy or client cache keeps personal data."""
    public = call_public(
        call,
        position,
        principal,
        services.contacts,
        now,
        services.app.calendar,
        hints=duplicate_hints(call, position, principal, services),
        shown_back=shown_back,
    )
    answer = CallAnswer(public, status_code)
    answer.headers["ETag"] = f'"{call.version}"'
    if public.reporter is not None:
        answer.headers["Cache-Control"] = "no-store"
    return answer
