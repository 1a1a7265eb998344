"""The catalog (呼应事项清单): Liwan's "12大类42项" call-trigger items.

Each item (事项) says when a call may be raised (启动情形), what counts as handled (处置标准),
which department leads and which assist, and how long each level may take to respond (响应)
and to resolve (办结). A call keeps a snapshot of its item's SLA policy, so later catalog
versions never rewrite history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from huying.domain.levels import Level

AREAS: tuple[str, ...] = ("综合管理", "重点工作", "重大项目", "应急处置")
"""The four areas (四个方面) every catalog is organised into."""

EMERGENCY_AREA = "应急处置"
"""Items in this area run on clock minutes, not working time."""

SlaSnapshot = dict[str, dict[str, dict[str, int | str]]]
"""An item's SLA policy as plain JSON: level → response/resolution → amount/unit."""


class TimeUnit(StrEnum):
    """How a time limit is counted: 工作小时, 工作日, or clock minutes for emergencies."""

    WORKING_HOURS = "working_hours"
    WORKING_DAYS = "working_days"
    MINUTES = "minutes"


class Priority(StrEnum):
    """How urgent an item is: 一般, 较急, 紧急."""

    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


@dataclass(frozen=True)
class TimeLimit:
    """A time limit (时限), e.g. 2 working hours."""

    amount: int
    unit: TimeUnit

    def as_dict(self) -> dict[str, int | str]:
        return {"amount": self.amount, "unit": self.unit.value}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> TimeLimit:
        amount = data["amount"]
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise ValueError(f"amount must be an integer, not {amount!r}")
        return cls(amount, TimeUnit(str(data["unit"])))


@dataclass(frozen=True)
class LevelSla:
    """One level's SLA: the response limit (响应时限) and the resolution limit (办结时限)."""

    response: TimeLimit
    resolution: TimeLimit

    def as_dict(self) -> dict[str, dict[str, int | str]]:
        return {"response": self.response.as_dict(), "resolution": self.resolution.as_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, object]]) -> LevelSla:
        return cls(TimeLimit.from_dict(data["response"]), TimeLimit.from_dict(data["resolution"]))


def sla_from_snapshot(
    snapshot: Mapping[str, Mapping[str, Mapping[str, object]]],
) -> dict[Level, LevelSla]:
    """Read back the SLA snapshot a call recorded when it was raised."""
    return {Level(level): LevelSla.from_dict(policy) for level, policy in snapshot.items()}


@dataclass(frozen=True)
class Item:
    """A call-trigger item (呼应事项). ``category`` is the code of its 大类."""

    code: str
    name: str
    area: str
    category: str
    trigger: str  # 启动情形
    standard: str  # 处置标准
    lead_department: str  # 牵头部门
    assisting_departments: tuple[str, ...]  # 协办部门
    priority: Priority
    sla: Mapping[Level, LevelSla]

    @property
    def is_emergency(self) -> bool:
        return self.area == EMERGENCY_AREA

    def as_plain(self) -> dict[str, Any]:
        """Every field as plain JSON, the SLA policy as a snapshot: as served and as an edit
        records it (``item_from_plain`` reads it back)."""
        return {
            "code": self.code,
            "name": self.name,
            "area": self.area,
            "category": self.category,
            "trigger": self.trigger,
            "standard": self.standard,
            "lead_department": self.lead_department,
            "assisting_departments": list(self.assisting_departments),
            "priority": self.priority.value,
            "sla": self.sla_snapshot(),
        }

    def sla_snapshot(self) -> SlaSnapshot:
        """The SLA policy as plain JSON, in level order, to record on a raised call."""
        return {level.value: self.sla[level].as_dict() for level in Level if level in self.sla}


def item_from_plain(data: Mapping[str, object]) -> Item:
    """An item from the plain JSON an edit recorded (``reference.to_public_item``'s shape), as it
    was validated then: read back, never judged again."""
    sla = data["sla"]
    assert isinstance(sla, Mapping)
    return Item(
        code=str(data["code"]),
        name=str(data["name"]),
        area=str(data["area"]),
        category=str(data["category"]),
        trigger=str(data["trigger"]),
        standard=str(data["standard"]),
        lead_department=str(data["lead_department"]),
        assisting_departments=tuple(str(d) for d in data["assisting_departments"]),  # type: ignore[attr-defined]
        priority=Priority(str(data["priority"])),
        sla=sla_from_snapshot(sla),
    )


@dataclass(frozen=True)
class Category:
    """A category (大类) of items within one area; ``items`` are item codes in file order."""

    code: str
    name: str
    area: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class Catalog:
    """A version of the catalog (呼应事项清单). ``items`` holds every item it knows, retired ones
    too (a call raised under an item keeps its name); a category lists those in effect only."""

    version: str
    areas: tuple[str, ...]
    categories: tuple[Category, ...]
    items: Mapping[str, Item]
    retired: frozenset[str] = frozenset()  # items no new call may be raised under (停用)

    def item(self, code: str) -> Item | None:
        return self.items.get(code)

    def in_effect(self, code: str) -> Item | None:
        """The item a new call may be raised under: known, and not retired."""
        return None if code in self.retired else self.items.get(code)

    def category(self, code: str) -> Category | None:
        return next((c for c in self.categories if c.code == code), None)

    def categories_in(self, area: str) -> list[Category]:
        return [c for c in self.categories if c.area == area]
