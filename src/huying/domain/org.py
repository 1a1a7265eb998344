"""The organisation (组织架构): 区 → 街道 → 社区 → 网格, plus the 区属部门, plus the member units
(成员单位) of a street's 大工委 or a community's 大党委.

Reference data, versioned: a call records which units it touched by code, so the codes here
are the stable identifiers; names may change between versions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class UnitKind(StrEnum):
    """What a unit is: 区, 街道, 社区, 网格 or 区属部门."""

    DISTRICT = "district"  # 区
    STREET = "street"  # 街道/镇
    COMMUNITY = "community"  # 社区/村/经济联社
    GRID = "grid"  # 网格
    DEPARTMENT = "department"  # 区属部门
    MEMBER = "member"  # 成员单位 of a street's 大工委 or a community's 大党委


class MemberKind(StrEnum):
    """What a member unit is (the seeds' 驻区单位、企业、社会组织)."""

    STATIONED = "stationed"  # 驻区单位: an organ or institution stationed in the area
    ENTERPRISE = "enterprise"  # 企业
    SOCIAL_ORGANISATION = "social_organisation"  # 社会组织 / 两新组织


class UnknownUnitError(LookupError):
    """A code that is not a unit of the expected kind in this org."""


@dataclass(frozen=True)
class Unit:
    """One unit (单位) of the organisation.

    ``parent`` is the unit it reports to: grid → community → street → district, and
    department → district; the district has none. A member unit's parent is the street (大工委)
    or community (大党委) whose joint meetings it sits in; ``member_kind`` says what it is.
    ``short`` is the everyday name (城管、住建…), empty where there is none. ``center`` is a
    grid's centre (WGS84 latitude, longitude), where known: how a report located only by
    coordinates finds its grid.
    """

    code: str
    name: str
    kind: UnitKind
    parent: str | None
    short: str = ""
    center: tuple[float, float] | None = None
    member_kind: MemberKind | None = None


@dataclass(frozen=True)
class Org:
    """A version of the district's organisation; ``units`` holds every unit, in file order."""

    version: str
    district: Unit
    units: Mapping[str, Unit]

    def unit(self, code: str) -> Unit | None:
        return self.units.get(code)

    def kind_of(self, code: str) -> UnitKind | None:
        found = self.units.get(code)
        return found.kind if found else None

    def is_kind(self, code: str, kind: UnitKind) -> bool:
        return self.kind_of(code) is kind

    def community_of(self, grid_code: str) -> str:
        """The community (社区) a grid belongs to: a call's origin community."""
        return self._parent_of(grid_code, UnitKind.GRID)

    def street_of(self, community_code: str) -> str:
        """The street (街道) a community answers to — where a 上呼 from it lands.

        A grid code is accepted too and resolved through its community.
        """
        if self.is_kind(community_code, UnitKind.GRID):
            community_code = self.community_of(community_code)
        return self._parent_of(community_code, UnitKind.COMMUNITY)

    def children(self, code: str) -> list[Unit]:
        """Units whose parent is ``code``, in file order (the district's include departments);
        member units sit beside the hierarchy, not in it (``members_of``)."""
        return [u for u in self.units.values() if u.parent == code and u.kind is not UnitKind.MEMBER]

    def members_of(self, code: str) -> list[Unit]:
        """The member units (成员单位) of a street's 大工委 or a community's 大党委, in file order."""
        return [u for u in self.units.values() if u.parent == code and u.kind is UnitKind.MEMBER]

    def is_below(self, code: str, ancestor: str) -> bool:
        """Whether ``code`` is ``ancestor`` or lies under it (a member unit under its body)."""
        found = self.units.get(code)
        while found is not None:
            if found.code == ancestor:
                return True
            found = self.units.get(found.parent) if found.parent else None
        return False

    def of_kind(self, kind: UnitKind) -> list[Unit]:
        """All units of one kind, in file order."""
        return [unit for unit in self.units.values() if unit.kind is kind]

    def _parent_of(self, code: str, kind: UnitKind) -> str:
        found = self.units.get(code)
        if found is None or found.kind is not kind or found.parent is None:
            raise UnknownUnitError(f"{code!r} is not a {kind.value} in org {self.version}")
        return found.parent
