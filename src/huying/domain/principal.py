"""Who is acting: a role plus the unit it acts for."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    GRID_WORKER = "grid_worker"  # 网格员, of a grid
    COMMUNITY = "community"  # 社区工作人员
    STREET = "street"  # 街道统筹指挥
    DEPARTMENT = "department"  # 区属部门 staff or system
    SUPERVISOR = "supervisor"  # 区督办 / 回访
    AUDITOR = "auditor"  # read-only, everything
    ADMIN = "admin"  # tokens and reference data; no call actions
    MEMBER = "member"  # 成员单位 of a 大工委/大党委: joint meetings and the tasks it carries out
    SYSTEM = "system"  # the SLA watchdog; has no token


DISTRICT_WIDE = frozenset({Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN, Role.SYSTEM})


@dataclass(frozen=True)
class Principal:
    role: Role
    unit: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role.value, "unit": self.unit}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Principal:
        return cls(Role(data["role"]), data["unit"])


SYSTEM = Principal(Role.SYSTEM, "system")
