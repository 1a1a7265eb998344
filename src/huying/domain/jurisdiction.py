"""Who may see which call (辖区). Outside it a call does not exist for you: 404, not 403."""

from __future__ import annotations

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


def can_see(principal: Principal, call: Placed, org: Org) -> bool:
    role = principal.role
    if role in DISTRICT_WIDE:
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
