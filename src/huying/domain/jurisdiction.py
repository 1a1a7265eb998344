"""Who may see which call (辖区), and whose figures (dashboards, scores). Outside it a call or a
unit does not exist for you: 404, not 403."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from huying.domain.org import Org
from huying.domain.principal import DISTRICT_WIDE, Principal, Role


class Placed(Protocol):
    """What jurisdiction reads of a call."""

    @property
    def community_code(self) -> str: ...
    @property
    def street_code(self) -> str: ...
    @property
    def departments_involved(self) -> set[str]: ...


def sees_every_call(principal: Principal) -> bool:
    """Whether the principal sees every call, whatever it holds (the district-wide roles)."""
    return principal.role in DISTRICT_WIDE


def can_see(principal: Principal, call: Placed, org: Org) -> bool:
    role = principal.role
    if sees_every_call(principal):
        return True
    if role is Role.GRID_WORKER:
        return org.community_of(principal.unit) == call.community_code
    if role is Role.COMMUNITY:
        return principal.unit == call.community_code
    if role is Role.STREET:
        return principal.unit == call.street_code
    if role is Role.DEPARTMENT:
        return principal.unit in call.departments_involved
    return False


def home_unit(principal: Principal, org: Org) -> str:
    """Whose figures a principal sees by default: the district, or its own unit (a grid
    worker: its community)."""
    if principal.role in DISTRICT_WIDE:
        return org.district.code
    if principal.role is Role.GRID_WORKER:
        return org.community_of(principal.unit)
    return principal.unit


def may_read_unit(principal: Principal, org: Org, unit: str) -> bool:
    """Whose figures a principal may read: each unit its own and those below it. District-wide
    roles: any unit. A department or a member unit (the tasks it leads or assists): itself. A grid
    worker, community or street: its own community or street and the units below it."""
    if principal.role in DISTRICT_WIDE:
        return True
    if principal.role in (Role.DEPARTMENT, Role.MEMBER):
        return unit == principal.unit
    if principal.role not in (Role.GRID_WORKER, Role.COMMUNITY, Role.STREET):
        return False
    home = home_unit(principal, org)
    code: str | None = unit
    while code is not None:
        if code == home:
            return True
        found = org.unit(code)
        code = found.parent if found else None
    return False


class Addressed(Protocol):
    """What jurisdiction reads of a directive: who issued it, and whom it targets."""

    @property
    def issuer(self) -> str: ...
    @property
    def targets(self) -> Mapping[str, object]: ...


def can_see_directive(principal: Principal, directive: Addressed, org: Org) -> bool:
    """令行禁止: a unit sees what it issued, what targets it, and what is below it — the units
    whose figures it may read (``may_read_unit``) among the issuer and the targets."""
    if can_see_task(principal, tuple(directive.targets)):
        return True
    return any(may_read_unit(principal, org, unit) for unit in (directive.issuer, *directive.targets))


class Meeting(Protocol):
    """What jurisdiction reads of a joint meeting (联席会议)."""

    @property
    def convener(self) -> str: ...
    @property
    def invited(self) -> tuple[str, ...]: ...


def submits_to(principal: Principal, convener: str, org: Org) -> bool:
    """难题自下而上提交: a street or community may bring matters to its own body's meetings and to
    those of the bodies above it (a community to its street's 大工委)."""
    if principal.role not in (Role.COMMUNITY, Role.STREET):
        return False
    return org.is_below(principal.unit, convener)


def can_see_meeting(principal: Principal, meeting: Meeting, org: Org) -> bool:
    """A joint meeting is seen by the district, by the units it was convened by or above, by the
    units below its convener that may bring matters to it, and by every unit invited to it (a
    member unit sees only those)."""
    if principal.role in DISTRICT_WIDE:
        return True
    if principal.unit in meeting.invited:
        return True
    if principal.role in (Role.COMMUNITY, Role.STREET):
        return org.is_below(meeting.convener, principal.unit) or submits_to(principal, meeting.convener, org)
    return False


def can_see_task(principal: Principal, units: tuple[str, ...]) -> bool:
    """A member unit sees the tasks (议定事项) it leads or assists; nothing else of the log."""
    return principal.role is Role.MEMBER and principal.unit in units
