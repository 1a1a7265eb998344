"""The three levels a call climbs: 社区 → 街道 → 区属部门."""

from enum import StrEnum


class Level(StrEnum):
    COMMUNITY = "community"
    STREET = "street"
    DEPARTMENT = "department"
