"""The settable clock for demos and tests (HUYING_FAKE_CLOCK=1); absent otherwise."""

from __future__ import annotations

from datetime import timedelta

from huying.api.deps import CurrentPrincipal, HuyingServices
from huying.api.routing import Router
from huying.api.schemas.calls import ClockPublic
from huying.api.schemas.requests import ClockBody
from huying.clock import FakeClock
from huying.domain.errors import CallNotFound, InvalidCommand, NotPermitted
from huying.domain.principal import Role
from huying.logtime import last_business_time

router = Router(prefix="/api/v1", tags=["operations"], include_in_schema=False)


@router.post("/_clock", response_model=ClockPublic)
def set_clock(body: ClockBody, p: CurrentPrincipal, s: HuyingServices) -> ClockPublic:
    clock = s.clock
    if not isinstance(clock, FakeClock):
        raise CallNotFound("no settable clock here (HUYING_FAKE_CLOCK is off)")
    if p.role is not Role.ADMIN:
        raise NotPermitted("only an admin token may move the clock")
    field, to = ("now", body.now) if body.now else ("advance_seconds", clock.now() + _seconds(body))
    floor = last_business_time(s.app)
    if floor is not None and to < floor:
        raise InvalidCommand(
            field,
            f"that sets the clock to {to.isoformat()}, before {floor.isoformat()}, the business time of "
            "the latest recorded event: the clock never goes back before what is recorded",
        )
    clock.set(to)
    s.watchdog.wake()  # deadlines may have passed: look now, not at the next interval
    return ClockPublic(now=clock.now())


def _seconds(body: ClockBody) -> timedelta:
    return timedelta(seconds=body.advance_seconds or 0)


@router.get("/_clock", response_model=ClockPublic)
def get_clock(_: CurrentPrincipal, s: HuyingServices) -> ClockPublic:
    if not isinstance(s.clock, FakeClock):
        raise CallNotFound("no settable clock here (HUYING_FAKE_CLOCK is off)")
    return ClockPublic(now=s.clock.now())
