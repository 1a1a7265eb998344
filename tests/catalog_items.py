"""An item the admin adds in the catalog-edit tests (C01-04 in 市容环境卫生), and a uniform SLA
policy (3 working hours everywhere) that differs from every shipped item's."""

from __future__ import annotations

from typing import Any

LEVELS = ("community", "street", "department")
LIMIT: dict[str, Any] = {"amount": 3, "unit": "working_hours"}


def limits(amount: int, unit: str = "working_hours") -> dict[str, Any]:
    """An SLA policy with the one limit for every level, response and resolution alike."""
    limit = {"amount": amount, "unit": unit}
    return {
        level: {"response": limit, "resolution": limit} for level in ("community", "street", "department")
    }


SLA = limits(LIMIT["amount"])
NEW_ITEM: dict[str, Any] = {
    "code": "C01-04",
    "name": "餐厨垃圾外溢",
    "category": "C01",
    "trigger": "餐饮店餐厨垃圾桶满溢未清运，污水流入人行道",
    "standard": "当日清运并冲洗路面，约谈餐饮店落实分类",
    "lead_department": "CG",
    "assisting_departments": ["ZJ"],
    "priority": "high",
    "sla": SLA,
}
