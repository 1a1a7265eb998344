"""Shaping a command's outcome into the HTTP answer: body, ETag, Location."""

from __future__ import annotations

from fastapi import Response

from huying.api.present import call_public, duplicate_hints
from huying.api.schemas.calls import CallPublic
from huying.application import Outcome
from huying.bootstrap import Services
from huying.domain.principal import Principal


def with_call(response: Response, outcome: Outcome, principal: Principal, services: Services) -> CallPublic:
    response.headers["ETag"] = f'"{outcome.call.version}"'
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return call_public(
        outcome.call,
        outcome.position,
        principal,
        services.contacts,
        # As of the write itself: a repeated request gets the very body the first one got.
        outcome.call.updated_at,
        services.app.calendar,
        hints=duplicate_hints(outcome.call, principal, services),
    )
