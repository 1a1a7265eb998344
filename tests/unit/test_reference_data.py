"""The reference data: the Liwan demo org (组织架构) and the 12大类42项 catalog (呼应事项清单)."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from huying.domain.catalog import (
    AREAS,
    EMERGENCY_AREA,
    Catalog,
    Priority,
    TimeUnit,
    sla_from_snapshot,
)
from huying.domain.levels import Level
from huying.domain.org import MemberKind, Org, UnitKind, UnknownUnitError
from huying.reference import (
    ReferenceDataError,
    load_catalog,
    load_org,
    to_public_catalog,
    to_public_org,
)

PILOT_STREETS = {"LW-LN": "岭南街道", "LW-DB": "多宝街道", "LW-HL": "华林街道", "LW-HD": "花地街道"}


@pytest.fixture(scope="module")
def org() -> Org:
    return load_org()


@pytest.fixture(scope="module")
def catalog(org: Org) -> Catalog:
    return load_catalog(org)


def packaged(name: str) -> dict[str, Any]:
    text = resources.files("huying").joinpath("data", name).read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


# --- the demo organisation -----------------------------------------------------------------


def test_the_demo_org_is_liwan_district_with_its_four_pilot_streets(org: Org) -> None:
    assert org.version == "liwan-2026.11"
    assert (org.district.code, org.district.name) == ("LW", "荔湾区")
    assert {s.code: s.name for s in org.of_kind(UnitKind.STREET)} == PILOT_STREETS


def test_every_street_has_communities_and_every_community_has_grids(org: Org) -> None:
    for street in org.of_kind(UnitKind.STREET):
        assert 2 <= len(org.children(street.code)) <= 3, street.code
    for community in org.of_kind(UnitKind.COMMUNITY):
        grids = org.children(community.code)
        assert 2 <= len(grids) <= 3, community.code
        assert all(grid.kind is UnitKind.GRID for grid in grids)


def test_the_first_community_and_grid_of_each_street_have_predictable_codes(org: Org) -> None:
    for street in PILOT_STREETS:
        assert org.is_kind(f"{street}-01", UnitKind.COMMUNITY)
        assert org.is_kind(f"{street}-01-G01", UnitKind.GRID)
        assert org.community_of(f"{street}-01-G01") == f"{street}-01"
        assert org.street_of(f"{street}-01") == street


def test_the_district_has_about_ten_departments_known_by_short_names(org: Org) -> None:
    departments = {d.code: d for d in org.of_kind(UnitKind.DEPARTMENT)}
    assert 10 <= len(departments) <= 15
    assert {code: departments[code].short for code in ("CG", "ZJ", "SW")} == {
        "CG": "城管",
        "ZJ": "住建",
        "SW": "水务",
    }
    assert all(d.parent == "LW" and d.name and d.short for d in departments.values())


def test_member_units_sit_in_a_streets_or_a_communitys_joint_body_beside_the_hierarchy(org: Org) -> None:
    street_members = {m.code: m.member_kind for m in org.members_of("LW-LN")}
    assert street_members == {
        "LW-LN-M01": MemberKind.STATIONED,
        "LW-LN-M02": MemberKind.ENTERPRISE,
        "LW-LN-M03": MemberKind.SOCIAL_ORGANISATION,
    }
    assert [m.code for m in org.members_of("LW-LN-01")] == ["LW-LN-01-M01", "LW-LN-01-M02", "LW-LN-01-M03"]
    assert all(u.kind is UnitKind.COMMUNITY for u in org.children("LW-LN"))
    assert org.is_below("LW-LN-01-M01", "LW-LN") and not org.is_below("LW-LN-01-M01", "LW-DB")
    public = to_public_org(org)["district"]["streets"][0]
    assert public["members"][0] == {"code": "LW-LN-M01", "name": "荔湾区人民医院", "kind": "stationed"}


def test_an_org_file_from_before_member_units_still_loads(tmp_path: Path) -> None:
    document = packaged("org.json")
    del document["members"]
    path = tmp_path / "org.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    assert load_org(path).of_kind(UnitKind.MEMBER) == []


def test_a_grid_leads_up_to_its_community_and_street(org: Org) -> None:
    assert org.community_of("LW-HL-02-G01") == "LW-HL-02"
    assert org.street_of("LW-HL-02") == "LW-HL"
    assert org.street_of("LW-HL-02-G01") == "LW-HL"
    assert org.kind_of("CG") is UnitKind.DEPARTMENT
    assert org.unit("LW-XX") is None and org.kind_of("LW-XX") is None


@pytest.mark.parametrize("code", ["LW-HL-01", "CG", "LW-XX-01-G01"])
def test_community_of_refuses_a_code_that_is_not_a_grid(org: Org, code: str) -> None:
    with pytest.raises(UnknownUnitError, match="is not a grid"):
        org.community_of(code)


def test_street_of_refuses_a_department(org: Org) -> None:
    with pytest.raises(UnknownUnitError, match="is not a community"):
        org.street_of("ZJ")


def test_units_are_listed_in_file_order(org: Org) -> None:
    assert [s.code for s in org.of_kind(UnitKind.STREET)] == ["LW-LN", "LW-DB", "LW-HL", "LW-HD"]
    assert [c.code for c in org.children("LW-LN")] == ["LW-LN-01", "LW-LN-02", "LW-LN-03"]


# --- the catalog -----------------------------------------------------------------------------


def test_the_catalog_has_12_categories_and_42_items_in_exactly_four_areas(
    catalog: Catalog,
) -> None:
    assert catalog.version == "2026.1"
    assert catalog.areas == AREAS == ("综合管理", "重点工作", "重大项目", "应急处置")
    assert len(catalog.categories) == 12
    assert len(catalog.items) == 42
    assert {item.area for item in catalog.items.values()} == set(AREAS)
    assert sum(len(c.items) for c in catalog.categories) == 42


def test_the_catalog_holds_the_familiar_items(catalog: Catalog) -> None:
    names = {item.name for item in catalog.items.values()}
    familiar = {"垃圾堆积", "道路破损", "共享单车乱停放", "违法建设", "噪音扰民", "排水内涝"}
    familiar |= {"用电难", "消防隐患", "物业撤场", "台风防御", "燃气泄漏", "城中村改造"}
    assert familiar <= names


def test_item_names_and_trigger_conditions_are_distinct(catalog: Catalog) -> None:
    items = list(catalog.items.values())
    assert len({item.name for item in items}) == len(items)
    assert len({item.trigger for item in items}) == len(items)


def test_every_item_has_a_lead_department_and_a_handling_standard(catalog: Catalog, org: Org) -> None:
    for item in catalog.items.values():
        assert item.standard and item.trigger, item.code
        assert org.is_kind(item.lead_department, UnitKind.DEPARTMENT), item.code
        assert item.lead_department not in item.assisting_departments, item.code
        assert all(org.is_kind(d, UnitKind.DEPARTMENT) for d in item.assisting_departments)
        assert item.code.startswith(f"{item.category}-")


def test_every_item_has_an_sla_for_each_level(catalog: Catalog) -> None:
    for item in catalog.items.values():
        assert set(item.sla) == set(Level), item.code
        for policy in item.sla.values():
            assert policy.response.amount > 0 and policy.resolution.amount > 0


def test_emergency_items_run_in_minutes_and_are_urgent(catalog: Catalog) -> None:
    emergencies = [item for item in catalog.items.values() if item.area == EMERGENCY_AREA]
    assert emergencies
    for item in emergencies:
        assert item.is_emergency and item.priority is Priority.URGENT, item.code
        units = {limit.unit for p in item.sla.values() for limit in (p.response, p.resolution)}
        assert units == {TimeUnit.MINUTES}, item.code


def test_ordinary_items_run_on_working_time(catalog: Catalog) -> None:
    for item in catalog.items.values():
        if item.area != EMERGENCY_AREA:
            units = {lim.unit for p in item.sla.values() for lim in (p.response, p.resolution)}
            assert TimeUnit.MINUTES not in units, item.code


def test_an_sla_snapshot_is_plain_json_that_reads_back_to_the_same_policy(
    catalog: Catalog,
) -> None:
    item = catalog.item("C01-01")
    assert item is not None
    snapshot = item.sla_snapshot()
    assert snapshot["community"] == {
        "response": {"amount": 2, "unit": "working_hours"},
        "resolution": {"amount": 1, "unit": "working_days"},
    }
    assert list(snapshot) == ["community", "street", "department"]
    assert sla_from_snapshot(json.loads(json.dumps(snapshot))) == dict(item.sla)


def test_an_unknown_item_code_is_simply_not_found(catalog: Catalog) -> None:
    assert catalog.item("C99-01") is None


# --- the wire shapes -----------------------------------------------------------------------


def test_the_public_org_is_a_tree_from_district_to_grids(org: Org) -> None:
    public = json.loads(json.dumps(to_public_org(org)))
    assert public["version"] == "liwan-2026.11"
    streets = public["district"]["streets"]
    assert [s["code"] for s in streets] == list(PILOT_STREETS)
    first_community = streets[2]["communities"][0]
    assert first_community["code"] == "LW-HL-01"
    assert first_community["grids"][0] == {"code": "LW-HL-01-G01", "name": "第一网格"}
    assert {"code": "CG", "name": "广州市荔湾区城市管理和综合执法局", "short": "城管"} in public[
        "departments"
    ]


def test_the_public_catalog_nests_items_under_categories_under_areas(catalog: Catalog) -> None:
    public = json.loads(json.dumps(to_public_catalog(catalog)))
    assert public["version"] == "2026.1"
    assert [a["name"] for a in public["areas"]] == list(AREAS)
    categories = [c for a in public["areas"] for c in a["categories"]]
    items = [i for c in categories for i in c["items"]]
    assert (len(categories), len(items)) == (12, 42)
    assert set(items[0]) == {
        "code", "name", "area", "category", "trigger", "standard", "lead_department",
        "assisting_departments", "priority", "sla",
    }  # fmt: skip
    assert set(items[0]["sla"]) == {"community", "street", "department"}


def test_files_can_be_loaded_from_an_explicit_path(tmp_path: Path, catalog: Catalog) -> None:
    for name in ("org.json", "catalog.json"):
        (tmp_path / name).write_text(json.dumps(packaged(name)), encoding="utf-8")
    org = load_org(tmp_path / "org.json")
    assert load_catalog(org, tmp_path / "catalog.json") == catalog


# --- validation: a bad file is refused, naming the entry -------------------------------------

Mutation = Callable[[dict[str, Any]], None]
DELETE = object()


def _assign(target: Any, path: tuple[str | int, ...], value: object) -> None:
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value


def at(*path: str | int, value: object = DELETE) -> Mutation:
    """Set (or delete) the value at ``path`` in the document."""
    return lambda doc: _assign(doc, path, value)


def in_item(code: str, *path: str | int, value: object = DELETE) -> Mutation:
    """Set (or delete) a field of catalog item ``code``."""

    def mutate(doc: dict[str, Any]) -> None:
        item = next(i for c in doc["categories"] for i in c["items"] if i["code"] == code)
        _assign(item, path, value)

    return mutate


def copy_field(field: str, source: str, target: str) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        items = {i["code"]: i for c in doc["categories"] for i in c["items"]}
        items[target][field] = items[source][field]

    return mutate


ORG_CASES = {
    "duplicate-grid-code": (
        at("grids", 1, "code", value="LW-LN-01-G01"),
        "grid LW-LN-01-G01: code 'LW-LN-01-G01' is already used by another unit",
    ),
    "department-reuses-a-street-code": (
        at("departments", 0, "code", value="LW-LN"),
        "department LW-LN: code 'LW-LN' is already used",
    ),
    "grid-parent-missing": (
        at("grids", 0, "parent", value="LW-XX-99"),
        "grid LW-LN-01-G01: parent 'LW-XX-99' is not a community in org liwan-2026.11",
    ),
    "community-parent-not-a-street": (
        at("communities", 0, "parent", value="LW"),
        "community LW-LN-01: parent 'LW' is not a street",
    ),
    "street-parent-not-the-district": (
        at("streets", 1, "parent", value="YX"),
        "street LW-DB: parent 'YX' is not a district",
    ),
    "empty-community-name": (
        at("communities", 1, "name", value=" "),
        "community LW-LN-02: name must be a non-empty string",
    ),
    "department-without-short-name": (
        at("departments", 2, "short"),
        "department SW: short must be a non-empty string",
    ),
    "grid-without-code": (at("grids", 2, "code"), "grid #3: code must be a non-empty string"),
    "no-version": (at("version"), "org.json: version must be a non-empty string"),
    "no-streets": (at("streets", value=[]), "org.json: streets must be a non-empty list"),
    "district-not-an-object": (at("district", value="LW"), "district must be an object"),
    "member-attached-to-a-grid": (
        at("members", 0, "parent", value="LW-LN-01-G01"),
        "member LW-LN-M01: parent 'LW-LN-01-G01' is not a street or community in org liwan-2026.11",
    ),
    "member-of-an-unknown-kind": (
        at("members", 1, "kind", value="government"),
        "member LW-LN-M02: kind must be one of stationed, enterprise, social_organisation, not 'government'",
    ),
    "member-reuses-a-community-code": (
        at("members", 0, "code", value="LW-LN-01"),
        "member LW-LN-01: code 'LW-LN-01' is already used",
    ),
    "members-not-a-list": (at("members", value={}), "org.json: members must be a non-empty list"),
}


@pytest.mark.parametrize(("mutate", "expected"), ORG_CASES.values(), ids=ORG_CASES.keys())
def test_a_broken_org_file_is_refused_naming_the_entry(
    tmp_path: Path, mutate: Mutation, expected: str
) -> None:
    document = packaged("org.json")
    mutate(document)
    path = tmp_path / "org.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")

    with pytest.raises(ReferenceDataError) as refused:
        load_org(path)

    assert str(refused.value).startswith("org.json: ")
    assert expected in str(refused.value)


CATALOG_CASES = {
    "lead-not-in-org": (
        in_item("C03-02", "lead_department", value="XX"),
        "catalog.json: item C03-02: lead_department 'XX' is not a department in org liwan-2026.11",
    ),
    "lead-is-a-street": (
        in_item("C01-01", "lead_department", value="LW-HL"),
        "item C01-01: lead_department 'LW-HL' is not a department",
    ),
    "assisting-not-in-org": (
        in_item("C02-02", "assisting_departments", value=["SW", "ZZ"]),
        "item C02-02: assisting_departments 'ZZ' is not a department",
    ),
    "lead-among-assisting": (
        in_item("C01-01", "assisting_departments", value=["ZJ", "CG"]),
        "item C01-01: lead_department 'CG' is also among assisting_departments",
    ),
    "assisting-twice": (
        in_item("C01-01", "assisting_departments", value=["ZJ", "ZJ"]),
        "item C01-01: assisting_departments lists a department twice",
    ),
    "assisting-not-a-list": (
        in_item("C01-01", "assisting_departments", value="ZJ"),
        "item C01-01: assisting_departments must be a list of non-empty strings",
    ),
    "unknown-priority": (
        in_item("C04-01", "priority", value="critical"),
        "item C04-01: priority must be one of normal, high, urgent, not 'critical'",
    ),
    "sla-missing-a-level": (
        in_item("C05-03", "sla", "street"),
        "item C05-03: sla.street is missing",
    ),
    "sla-missing-resolution": (
        in_item("C05-03", "sla", "department", "resolution"),
        "item C05-03: sla.department.resolution is missing",
    ),
    "sla-unknown-level": (
        in_item("C05-03", "sla", "district", value={}),
        "item C05-03: sla has unknown level 'district'",
    ),
    "sla-zero-amount": (
        in_item("C02-01", "sla", "department", "resolution", "amount", value=0),
        "item C02-01: sla.department.resolution.amount must be a positive integer, not 0",
    ),
    "sla-amount-as-text": (
        in_item("C02-01", "sla", "community", "response", "amount", value="2"),
        "item C02-01: sla.community.response.amount must be a positive integer, not '2'",
    ),
    "sla-unknown-unit": (
        in_item("C02-01", "sla", "street", "response", "unit", value="weeks"),
        "item C02-01: sla.street.response.unit must be one of working_hours, working_days,",
    ),
    "emergency-on-working-time": (
        in_item("C12-01", "sla", "street", "resolution", "unit", value="working_hours"),
        "item C12-01: sla.street.resolution must be in minutes for an 应急处置 item",
    ),
    "duplicate-name": (
        in_item("C01-02", "name", value="垃圾堆积"),
        "item C01-02: name '垃圾堆积' is also the name of item C01-01",
    ),
    "duplicate-trigger": (
        copy_field("trigger", source="C01-01", target="C03-01"),
        "item C03-01: trigger is the same as item C01-01's",
    ),
    "duplicate-item-code": (
        in_item("C01-02", "code", value="C01-01"),
        "item C01-01: code 'C01-01' is used by another item",
    ),
    "item-code-outside-its-category": (
        in_item("C01-03", "code", value="C02-09"),
        "item C02-09: code must start with its category code C01-",
    ),
    "empty-trigger": (
        in_item("C06-01", "trigger", value=""),
        "item C06-01: trigger must be a non-empty string",
    ),
    "missing-standard": (
        in_item("C06-02", "standard"),
        "item C06-02: standard must be a non-empty string",
    ),
    "item-without-code": (
        in_item("C07-02", "code"),
        "category C07 item #2: code must be a non-empty string",
    ),
    "an-area-missing": (
        at("areas", value=["综合管理", "重点工作", "应急处置"]),
        "catalog.json: areas must be exactly 综合管理、重点工作、重大项目、应急处置",
    ),
    "an-extra-area": (
        at("areas", value=[*AREAS, "日常事务"]),
        "catalog.json: areas must be exactly",
    ),
    "category-in-an-unknown-area": (
        at("categories", 0, "area", value="日常事务"),
        "category C01: area '日常事务' is not one of",
    ),
    "category-without-items": (
        at("categories", 3, "items", value=[]),
        "category C04: items must be a non-empty list",
    ),
    "duplicate-category-code": (
        at("categories", 1, "code", value="C01"),
        "category C01: code 'C01' is used by another category",
    ),
}


@pytest.mark.parametrize(("mutate", "expected"), CATALOG_CASES.values(), ids=CATALOG_CASES.keys())
def test_a_broken_catalog_file_is_refused_naming_the_entry(
    tmp_path: Path, org: Org, mutate: Mutation, expected: str
) -> None:
    document = packaged("catalog.json")
    mutate(document)
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")

    with pytest.raises(ReferenceDataError) as refused:
        load_catalog(org, path)

    assert str(refused.value).startswith("catalog.json: ")
    assert expected in str(refused.value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "org.json: is not valid JSON"),
        ("[1, 2]", "org.json: must be a JSON object"),
        (b"\xff\xfe\x00", "org.json: cannot be read"),
    ],
    ids=["malformed", "not-an-object", "not-utf8"],
)
def test_an_unreadable_file_is_refused_not_crashed_on(
    tmp_path: Path, content: str | bytes, expected: str
) -> None:
    path = tmp_path / "org.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ReferenceDataError, match=expected):
        load_org(path)


def test_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ReferenceDataError, match=r"^nowhere\.json: cannot be read"):
        load_org(tmp_path / "nowhere.json")
