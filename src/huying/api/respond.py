"""Shaping a command's outcome, or a read, into the HTTP answer about a call: body, ETag,
Location, and no caching of anything that shows a reporter."""

from __future__ import annotations

from datetime import datetime

from fastapi import Response

from huying.api.present import call_public, duplicate_hints
from huying.api.schemas.calls import CallPublic
from huying.bootstrap import Services
from huying.domain.call import Call
from huying.domain.contact import Contact
from huying.domain.principal import Principal
from huying.service_layer.calls import Outcome


def with_call(
    response: Response,
    outcome: Outcome,
    principal: Principal,
    services: Services,
    kept: Contact | None = None,
) -> CallPublic:
    """``kept``: the reporter's contact as this request kept it, when it has just raised the call
    (shown as given, not read back and decrypted again)."""
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    # As of the write itself: a repeated request gets the very body the first one got.
    return call_answer(
        response,
        outcome.call,
        outcome.position,
        principal,
        services,
        outcome.call.updated_at,
        None if outcome.replayed else kept,
    )


def call_answer(
    response: Response,
    call: Call,
    position: int,
    principal: Principal,
    services: Services,
    now: datetime,
    kept: Contact | None = None,
) -> CallPublic:
    """The call as ``principal`` may see it (its clocks as of ``now``), with its ETag. An answer
    that shows a reporter, in full or masked, says ``Cache-Control: no-store``: no browser,
    proxy or client cache keeps personal data."""
    response.headers["ETag"] = f'"{call.version}"'
    answer = call_public(
        call,
        position,
        principal,
        services.contacts,
        now,
        services.app.calendar,
        hints=duplicate_hints(call, position, principal, services),
        kept=kept,
    )
    if answer.reporter is not None:
        response.headers["Cache-Control"] = "no-store"
    return answer
