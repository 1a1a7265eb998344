"""Dependencies as Annotated aliases: who is asking, the services, the request's identity.

Those that only read the request are ``async``: FastAPI runs a plain ``def`` dependency in a
worker thread, and a thread hop costs more than any of them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any
from uuid import UUID

import anyio.to_thread
from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError

from huying.api.limits import waiting
from huying.api.params import MAX_POSITION, ETag, IdempotencyKey, version_of
from huying.api.schemas.requests import PersonalData
from huying.application import HuyingApplication
from huying.bootstrap import Services
from huying.domain.errors import CallNotFound, InvalidCommand
from huying.domain.principal import Principal
from huying.projections.runner import ReadModelsBehind
from huying.service_layer.command_path import Submission


async def _principal(request: Request) -> Principal:
    principal: Principal = request.state.principal  # set by the Gate, which answered 401 otherwise
    return principal


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _services(request: Request) -> Services:
    return services_of(request)


async def _application(request: Request) -> HuyingApplication:
    return services_of(request).app


@dataclass(frozen=True)
class RequestIdentity:
    """The Idempotency-Key and If-Match headers; with the body they make a Submission."""

    key: str | None
    if_match: int | None

    def submission(self, body: BaseModel | None) -> Submission:
        return Submission(
            key=self.key,
            fingerprint=fingerprint(body),
            legacy_fingerprint=partial(legacy_fingerprint, body),
            if_match=self.if_match,
        )


def fingerprint(body: BaseModel | None) -> str:
    """What the request's event records of its body, to tell a retry from a reused key:
    JSON-equal bodies get the same fingerprint (keys sorted, only what the client sent). Parts
    holding personal data are left out — an unkeyed digest of them would give a masked phone away
    to anyone trying the hidden digits; a raise retried with another reporter is told apart by
    the contact kept apart from the event (``CallService.raise_call``)."""
    return _digest(_sent(body, personal=False))


def legacy_fingerprint(body: BaseModel | None) -> str | None:
    """What versions before random reporter refs recorded for a body with personal data: the
    digest of all of it. Compared, never stored: a raise made before the upgrade and retried
    after it is still recognised."""
    if body is None or not _personal_fields(body):
        return None
    return _digest(_sent(body, personal=True))


def _sent(body: BaseModel | None, *, personal: bool) -> dict[str, Any]:
    if body is None:
        return {}
    leave_out = set() if personal else _personal_fields(body)
    return body.model_dump(mode="json", exclude_unset=True, exclude=leave_out)


def _personal_fields(body: BaseModel) -> set[str]:
    return {name for name, value in body if isinstance(value, PersonalData)}


def _digest(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


class IdentityHeader:
    """A header of ``Identity``, read from the request and validated as its type says. Not
    declared to FastAPI as a ``Header`` parameter: FastAPI looks every declared parameter up and
    validates it anew on every request, through machinery that cost each raise about 4% of the
    API process's instructions (docs/benchmarks.md). Refused as FastAPI refuses one (422 naming
    the header); ``openapi.declare_identity`` documents both where they are taken."""

    def __init__(self, name: str, shape: Any) -> None:
        self.name = name  # lower case, as ASGI gives it
        self._adapter: TypeAdapter[str] = TypeAdapter(shape)

    def read(self, request: Request) -> str | None:
        value = request.headers.get(self.name)
        if value is None:
            return None
        try:
            return self._adapter.validate_python(value)
        except ValidationError as e:
            located = [
                {**err, "loc": ("header", self.name, *err["loc"])} for err in e.errors(include_url=False)
            ]
            raise RequestValidationError(located) from None


IDEMPOTENCY_KEY = IdentityHeader("idempotency-key", IdempotencyKey)
IF_MATCH = IdentityHeader("if-match", ETag)


async def identity_of(request: Request) -> RequestIdentity:
    return RequestIdentity(IDEMPOTENCY_KEY.read(request), version_of(IF_MATCH.read(request)))


def parse_call_id(raw: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise CallNotFound(f"no call {raw} in your jurisdiction") from None


class PositionBeyondHead(InvalidCommand):
    """``min_position`` lies beyond the log's head: no write was ever answered with it, so no
    wait can bring it (422 at once, naming the head)."""

    kind = "position-beyond-head"

    def __init__(self, position: int, head: int) -> None:
        super().__init__(
            "min_position",
            f"position {position} is beyond the log's head ({head}); pass the position a write answered with",
        )


async def _read_position(
    request: Request, min_position: Annotated[int | None, Query(ge=0, le=MAX_POSITION)] = None
) -> int:
    """Read-your-writes: wait in the event loop, holding no thread, until the read models reach
    ``min_position`` (503 after ``min_position_wait_seconds``); one of the principal's few
    waiters (429 beyond them)."""
    services = services_of(request)
    projector = services.projector
    if min_position is None:
        return await projector.current_position()
    # A wait asks no thread of what this process already knows: where the read models are, when
    # it hears of every batch (a saturated server took each hop to a thread and back in turn),
    # and that the log holds a position this process saved.
    if not projector.hears_every_batch:
        await projector.current_position()
    if projector.progress.position >= min_position:
        return projector.progress.position
    if min_position > projector.head_seen:
        head = await anyio.to_thread.run_sync(services.app.recorder.max_notification_id)
        if min_position > (head or 0):
            raise PositionBeyondHead(min_position, head or 0)
    async with waiting(request):
        reached = await projector.reached(min_position, services.settings.min_position_wait_seconds)
    if not reached:
        raise ReadModelsBehind(
            f"read models are at {projector.progress.position}, not yet at {min_position}; retry shortly"
        )
    return projector.progress.position


CurrentPrincipal = Annotated[Principal, Depends(_principal)]
HuyingServices = Annotated[Services, Depends(_services)]
HuyingApp = Annotated[HuyingApplication, Depends(_application)]
Identity = Annotated[RequestIdentity, Depends(identity_of)]
ReadPosition = Annotated[int, Depends(_read_position)]
