"""The settable clock for demos and tests (HUYING_FAKE_CLOCK=1); absent otherwise."""

from __future__ import annotations

from fastapi import APIRouter

from huying.api.deps import CurrentPrincipal, HuyingServices
from huying.api.schemas.calls import ClockPublic
from huying.api.schemas.requests import ClockBody
from huying.clock import FakeClock
from huying.domain.errors import CallNotFound, NotPermitted
from huying.domain.principal import Role

router = APIRouter(prefix="/api/v1", tags=["operations"], include_in_schema=False)


@router.post("/_clock", response_model=ClockPublic)
def set_clock(body: ClockBody, p: CurrentPrincipal, s: HuyingServices) -> ClockPublic:
    clock = s.clock
    if not isinstance(clock, FakeClock):
        raise CallNotFound("no settable clock here (HUYING_FAKE_CLOCK is off)")
    if p.role is not Role.ADMIN:
        raise NotPermitted("only an admin token may move the clock")
    if body.now is not None:
        clock.set(body.now)
    else:
        clock.advance(body.advance_seconds or 0)
    s.watchdog.wake()  # deadlines may have passed: look now, not at the next interval
    return ClockPublic(now=clock.now())


@router.get("/_clock", response_model=ClockPublic)
def get_clock(_: CurrentPrincipal, s: HuyingServices) -> ClockPublic:
    if not isinstance(s.clock, FakeClock):
        raise CallNotFound("no settable clock here (HUYING_FAKE_CLOCK is off)")
    return ClockPublic(now=s.clock.now())
