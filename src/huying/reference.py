"""Reference data (基础数据): load and validate the organisation and the catalog.

The packaged demo files live in ``huying/data``. Every problem in a file is reported as a
``ReferenceDataError`` naming the file and the entry, never as a stray ``KeyError``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

from huying.domain.catalog import (
    AREAS,
    EMERGENCY_AREA,
    Catalog,
    Category,
    Item,
    LevelSla,
    Priority,
    TimeLimit,
    TimeUnit,
)
from huying.domain.levels import Level
from huying.domain.org import MemberKind, Org, Unit, UnitKind

ORG_FILE = "org.json"
CATALOG_FILE = "catalog.json"

_E = TypeVar("_E", bound=StrEnum)


class ReferenceDataError(Exception):
    """A reference data file is unreadable or breaks a rule; the message names file and entry,
    and ``field`` the field of the entry at fault (dotted, as a 422 names it) when there is one."""

    def __init__(self, file: str, entry: str, problem: str, field: str = "") -> None:
        where = f"{file}: {entry}: " if entry else f"{file}: "
        super().__init__(where + problem)
        self.file = file
        self.entry = entry
        self.problem = problem
        self.field = field


@dataclass(frozen=True)
class _Entry:
    """One JSON object of a file, with typed field access that fails naming the entry.

    ``prefix`` is the path of a nested object inside the entry (``sla.street.``), so a
    message says exactly which field is wrong.
    """

    file: str
    label: str
    data: Mapping[str, object]
    prefix: str = ""

    def fail(self, problem: str, field: str = "") -> ReferenceDataError:
        """The entry breaks a rule; ``field`` (within this object) names where."""
        return ReferenceDataError(self.file, self.label, problem, f"{self.prefix}{field}" if field else "")

    def text(self, field: str) -> str:
        value = self.data.get(field)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{self.prefix}{field} must be a non-empty string", field)
        return value

    def texts(self, field: str, *, allow_empty: bool = False) -> list[str]:
        values = self.data.get(field)
        if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
            raise self.fail(f"{self.prefix}{field} must be a list of non-empty strings", field)
        if not values and not allow_empty:
            raise self.fail(f"{self.prefix}{field} must not be empty", field)
        return [str(v) for v in values]

    def positive_int(self, field: str) -> int:
        value = self.data.get(field)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise self.fail(f"{self.prefix}{field} must be a positive integer, not {value!r}", field)
        return value

    def choice(self, field: str, enum: type[_E]) -> _E:
        value = self.data.get(field)
        allowed = [member.value for member in enum]
        if not isinstance(value, str) or value not in allowed:
            raise self.fail(f"{self.prefix}{field} must be one of {', '.join(allowed)}, not {value!r}", field)
        return enum(value)

    def nested(self, field: str) -> _Entry:
        """The object under ``field``, as an entry with the same label."""
        value = self.data.get(field)
        if value is None:
            raise self.fail(f"{self.prefix}{field} is missing", field)
        if not isinstance(value, dict):
            raise self.fail(f"{self.prefix}{field} must be an object", field)
        return _Entry(self.file, self.label, value, f"{self.prefix}{field}.")

    def children(self, field: str, kind: str) -> list[_Entry]:
        """The non-empty list of objects under ``field``, labelled ``kind CODE`` (or ``#n``)."""
        values = self.data.get(field)
        if not isinstance(values, list) or not values:
            raise self.fail(f"{self.prefix}{field} must be a non-empty list", field)
        entries = []
        for index, value in enumerate(values, start=1):
            # without a code to name it by, say where it sits instead
            label = _label(kind, value, f"{self.label} {kind} #{index}".strip())
            if not isinstance(value, dict):
                raise ReferenceDataError(self.file, label, "must be an object")
            entries.append(_Entry(self.file, label, value))
        return entries


def _label(kind: str, value: object, fallback: str) -> str:
    code = value.get("code") if isinstance(value, dict) else None
    return f"{kind} {code}" if isinstance(code, str) and code else fallback


def _read(path: Path | None, default_name: str) -> _Entry:
    if path is None:
        source: Traversable = resources.files("huying").joinpath("data", default_name)
    else:
        source = path
    name = source.name
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReferenceDataError(name, "", f"cannot be read: {exc}") from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReferenceDataError(name, "", f"is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ReferenceDataError(name, "", "must be a JSON object")
    return _Entry(name, "", document)


# --- 组织架构 ---------------------------------------------------------------------------

_TIERS = (
    ("streets", UnitKind.STREET, UnitKind.DISTRICT),
    ("communities", UnitKind.COMMUNITY, UnitKind.STREET),
    ("grids", UnitKind.GRID, UnitKind.COMMUNITY),
)


def load_org(path: Path | None = None) -> Org:
    """Load the organisation (区/街道/社区/网格/部门); ``None`` loads the packaged demo."""
    return _packaged_org() if path is None else _org(_read(path, ORG_FILE))


@functools.cache
def _packaged_org() -> Org:
    """The packaged org, read once a process: a value, shared by every set of services."""
    return _org(_read(None, ORG_FILE))


def _org(top: _Entry) -> Org:
    version = top.text("version")
    raw_district = top.nested("district").data
    district_entry = _Entry(top.file, _label("district", raw_district, "district"), raw_district)
    district = _unit(district_entry, UnitKind.DISTRICT)
    units: dict[str, Unit] = {district.code: district}

    def add(entry: _Entry, unit: Unit) -> None:
        if unit.code in units:
            raise entry.fail(f"code {unit.code!r} is already used by another unit")
        units[unit.code] = unit

    for field, kind, parent_kind in _TIERS:
        for entry in top.children(field, kind.value):
            parent = entry.text("parent")
            found = units.get(parent)
            if found is None or found.kind is not parent_kind:
                raise entry.fail(f"parent {parent!r} is not a {parent_kind.value} in org {version}")
            add(entry, _unit(entry, kind, parent))
    for entry in top.children("departments", UnitKind.DEPARTMENT.value):
        entry.text("short")  # a department is always known by its short name (城管、住建…)
        add(entry, _unit(entry, UnitKind.DEPARTMENT, district.code))
    for entry in _optional_children(top, "members", UnitKind.MEMBER.value):
        add(entry, _member(entry, units, version))
    return Org(version, district, units)


def _optional_children(top: _Entry, field: str, kind: str) -> list[_Entry]:
    """A list an older org file may lack (member units came later): absent means none."""
    return top.children(field, kind) if field in top.data else []


_BODIES = (UnitKind.STREET, UnitKind.COMMUNITY)  # 大工委 of a street, 大党委 of a community


def _member(entry: _Entry, units: Mapping[str, Unit], version: str) -> Unit:
    """成员单位: attached to a street's 大工委 or a community's 大党委."""
    parent = entry.text("parent")
    found = units.get(parent)
    if found is None or found.kind not in _BODIES:
        raise entry.fail(f"parent {parent!r} is not a street or community in org {version}")
    member_kind = entry.choice("kind", MemberKind)
    return Unit(entry.text("code"), entry.text("name"), UnitKind.MEMBER, parent, member_kind=member_kind)


def _unit(entry: _Entry, kind: UnitKind, parent: str | None = None) -> Unit:
    short = entry.data.get("short")
    if short is not None and not isinstance(short, str):
        raise entry.fail("short must be a string")
    return Unit(entry.text("code"), entry.text("name"), kind, parent, short or "", _center(entry))


def _center(entry: _Entry) -> tuple[float, float] | None:
    """A unit's centre, ``[latitude, longitude]`` in WGS84, if the file gives one."""
    raw = entry.data.get("center")
    if raw is None:
        return None
    if (
        not isinstance(raw, list)
        or len(raw) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in raw)
        or not (-90 <= raw[0] <= 90 and -180 <= raw[1] <= 180)
    ):
        raise entry.fail("center must be [latitude, longitude] in degrees")
    return float(raw[0]), float(raw[1])


# --- 呼应事项清单 -----------------------------------------------------------------------


def load_catalog(org: Org, path: Path | None = None) -> Catalog:
    """Load the catalog (呼应事项清单) against ``org``; ``None`` loads the packaged demo."""
    if path is None and org is _packaged_org():
        return _packaged_catalog()
    return _catalog(_read(path, CATALOG_FILE), org)


@functools.cache
def _packaged_catalog() -> Catalog:
    """The packaged catalog over the packaged org, read once a process (as ``_packaged_org``)."""
    return _catalog(_read(None, CATALOG_FILE), _packaged_org())


def _catalog(top: _Entry, org: Org) -> Catalog:
    version = top.text("version")
    areas = top.texts("areas")
    if sorted(areas) != sorted(AREAS):
        raise top.fail(f"areas must be exactly {'、'.join(AREAS)}, not {'、'.join(areas)}")
    categories: list[Category] = []
    items: dict[str, Item] = {}
    for entry in top.children("categories", "category"):
        if any(c.code == entry.text("code") for c in categories):
            raise entry.fail(f"code {entry.text('code')!r} is used by another category")
        categories.append(_category(entry, org, items))
    for area in areas:
        if not any(c.area == area for c in categories):
            raise top.fail(f"area {area} has no categories")
    return Catalog(version, tuple(areas), tuple(categories), items)


def _category(entry: _Entry, org: Org, items: dict[str, Item]) -> Category:
    """Read one 大类 and add its items to ``items``, checking uniqueness across the catalog."""
    code, name, area = entry.text("code"), entry.text("name"), entry.text("area")
    if area not in AREAS:
        raise entry.fail(f"area {area!r} is not one of {'、'.join(AREAS)}")
    for item_entry in entry.children("items", "item"):
        item = _item(item_entry, org, area, code)
        _unique(item_entry, item, items.values())
        items[item.code] = item
    codes = tuple(c for c, i in items.items() if i.category == code)
    return Category(code, name, area, codes)


def _unique(entry: _Entry, item: Item, others: Iterable[Item]) -> None:
    """An item's code, name and trigger (启动情形) are its own across the catalog."""
    for other in others:
        if other.code == item.code:
            raise entry.fail(f"code {item.code!r} is used by another item", "code")
        if other.name == item.name:
            raise entry.fail(f"name {item.name!r} is also the name of item {other.code}", "name")
        if other.trigger == item.trigger:
            raise entry.fail(f"trigger is the same as item {other.code}'s", "trigger")


def read_item(data: Mapping[str, object], catalog: Catalog, org: Org) -> Item:
    """An item as the admin gives it (added, or as a change leaves it), by the very rules the
    catalog file's items obey, within ``catalog`` (its other items) and ``org``."""
    entry = _Entry("catalog edit", _label("item", data, "item"), data)
    category = catalog.category(entry.text("category"))
    if category is None:
        raise entry.fail(
            f"category {data['category']!r} is not a category of catalog {catalog.version}", "category"
        )
    item = _item(entry, org, category.area, category.code)
    _unique(entry, item, (other for other in catalog.items.values() if other.code != item.code))
    return item


def _item(entry: _Entry, org: Org, area: str, category: str) -> Item:
    code = entry.text("code")
    if not code.startswith(f"{category}-"):
        raise entry.fail(f"code must start with its category code {category}-", "code")
    lead = _department(entry, org, "lead_department", entry.text("lead_department"))
    assisting = tuple(
        _department(entry, org, "assisting_departments", d)
        for d in entry.texts("assisting_departments", allow_empty=True)
    )
    if lead in assisting:
        raise entry.fail(f"lead_department {lead!r} is also among assisting_departments", "lead_department")
    if len(set(assisting)) != len(assisting):
        raise entry.fail("assisting_departments lists a department twice", "assisting_departments")
    return Item(
        code=code,
        name=entry.text("name"),
        area=area,
        category=category,
        trigger=entry.text("trigger"),
        standard=entry.text("standard"),
        lead_department=lead,
        assisting_departments=assisting,
        priority=entry.choice("priority", Priority),
        sla=_sla(entry, emergency=area == EMERGENCY_AREA),
    )


def _department(entry: _Entry, org: Org, field: str, code: str) -> str:
    if not org.is_kind(code, UnitKind.DEPARTMENT):
        raise entry.fail(f"{field} {code!r} is not a department in org {org.version}", field)
    return code


def _sla(entry: _Entry, *, emergency: bool) -> dict[Level, LevelSla]:
    """The SLA policy: response and resolution limits for every level (社区/街道/部门)."""
    sla = entry.nested("sla")
    unknown = sorted(set(sla.data) - {level.value for level in Level})
    if unknown:
        raise entry.fail(f"sla has unknown level {unknown[0]!r}", "sla")
    policy: dict[Level, LevelSla] = {}
    for level in Level:
        limits = sla.nested(level.value)
        response, resolution = (
            _limit(limits.nested(part), emergency=emergency) for part in ("response", "resolution")
        )
        policy[level] = LevelSla(response, resolution)
    return policy


def _limit(entry: _Entry, *, emergency: bool) -> TimeLimit:
    limit = TimeLimit(entry.positive_int("amount"), entry.choice("unit", TimeUnit))
    if emergency and limit.unit is not TimeUnit.MINUTES:
        where = entry.prefix.rstrip(".")
        raise entry.fail(f"{where} must be in minutes for an {EMERGENCY_AREA} item, not {limit.unit}", "unit")
    return limit


# --- wire shapes: GET /api/v1/org and GET /api/v1/catalog --------------------------------


def to_public_org(org: Org) -> dict[str, Any]:
    """The org as served: district → streets → communities → grids, plus departments."""

    def named(unit: Unit) -> dict[str, Any]:
        return {"code": unit.code, "name": unit.name}

    def members(unit: Unit) -> list[dict[str, Any]]:
        return [{**named(m), "kind": str(m.member_kind)} for m in org.members_of(unit.code)]

    def community(unit: Unit) -> dict[str, Any]:
        grids = [named(g) for g in org.children(unit.code)]
        return {**named(unit), "grids": grids, "members": members(unit)}

    def street(unit: Unit) -> dict[str, Any]:
        communities = [community(c) for c in org.children(unit.code)]
        return {**named(unit), "short": unit.short, "communities": communities, "members": members(unit)}

    return {
        "version": org.version,
        "district": {
            **named(org.district),
            "streets": [street(s) for s in org.of_kind(UnitKind.STREET)],
        },
        "departments": [{**named(d), "short": d.short} for d in org.of_kind(UnitKind.DEPARTMENT)],
    }


def to_public_item(item: Item) -> dict[str, Any]:
    """One 呼应事项 with every field and its SLA policy."""
    return item.as_plain()


def to_public_catalog(catalog: Catalog) -> dict[str, Any]:
    """The catalog as served: areas → categories → items."""
    return {
        "version": catalog.version,
        "areas": [
            {
                "name": area,
                "categories": [
                    {
                        "code": category.code,
                        "name": category.name,
                        "items": [to_public_item(catalog.items[c]) for c in category.items],
                    }
                    for category in catalog.categories_in(area)
                ],
            }
            for area in catalog.areas
        ],
        # 停用: items no new call may be raised under (their calls still name them)
        "retired": [to_public_item(catalog.items[code]) for code in sorted(catalog.retired)],
    }
