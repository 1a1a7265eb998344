"""The catalog (呼应事项清单) as Open311 services: each item is a service (``service_code`` = item
code, ``group`` = its category 大类), and every service takes the same few attributes, which map
onto what a raise already carries: the grid (网格), the urgency, a title, the capture time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from huying.domain.catalog import Catalog, Item
from huying.domain.org import Org, UnitKind
from huying.domain.states import Urgency

URGENCY_NAMES = {Urgency.NORMAL: "一般", Urgency.URGENT: "紧急", Urgency.EMERGENCY: "特急"}


@dataclass(frozen=True)
class Attribute:
    code: str
    datatype: str  # string | number | datetime | text | singlevaluelist | multivaluelist
    description: str
    datatype_description: str | None = None


GRID = Attribute(
    "grid",
    "singlevaluelist",
    "所在网格。不填时按 lat/long 取最近的网格（网格员默认本网格）",
    "网格编码",
)
URGENCY = Attribute("urgency", "singlevaluelist", "紧急程度，默认一般", None)
TITLE = Attribute("title", "string", "标题（200字以内）。不填时取描述的第一行", "200字以内")
OCCURRED_AT = Attribute(
    "occurred_at",
    "datetime",
    "发现问题的时间（离线采集时填写）",
    "ISO 8601，带时区，如 2026-11-23T09:00:00+08:00",
)
ATTRIBUTES = (GRID, URGENCY, TITLE, OCCURRED_AT)
BY_CODE = {a.code: a for a in ATTRIBUTES}


def service(item: Item, catalog: Catalog) -> dict[str, Any]:
    category = catalog.category(item.category)
    group = category.name if category else item.category
    return {
        "service_code": item.code,
        "service_name": item.name,
        "description": item.trigger,  # 启动情形: when this is the right service
        "metadata": True,
        "type": "realtime",
        "keywords": ", ".join((item.area, group)),
        "group": group,
    }


def service_list(catalog: Catalog) -> list[dict[str, Any]]:
    """The items a request may be made under: those in effect (a retired one refuses it)."""
    return [service(item, catalog) for code, item in catalog.items.items() if code not in catalog.retired]


def definition(item: Item, org: Org) -> dict[str, Any]:
    return {
        "service_code": item.code,
        "attributes": [_attribute(a, order, org) for order, a in enumerate(ATTRIBUTES, start=1)],
    }


def _attribute(a: Attribute, order: int, org: Org) -> dict[str, Any]:
    described: dict[str, Any] = {
        "variable": True,
        "code": a.code,
        "datatype": a.datatype,
        "required": False,
        "datatype_description": a.datatype_description,
        "order": order,
        "description": a.description,
    }
    if a is GRID:
        described["values"] = [
            {"key": g.code, "name": grid_name(org, g.code)} for g in org.of_kind(UnitKind.GRID)
        ]
    elif a is URGENCY:
        described["values"] = [{"key": u.value, "name": name} for u, name in URGENCY_NAMES.items()]
    return described


def grid_name(org: Org, code: str) -> str:
    """岭南街道 十三行社区 第一网格."""
    grid = org.unit(code)
    community = org.unit(grid.parent) if grid and grid.parent else None
    street = org.unit(community.parent) if community and community.parent else None
    return " ".join(u.name for u in (street, community, grid) if u is not None)
