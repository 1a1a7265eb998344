"""The admin edits the catalog (呼应事项清单): each edit is an event of the district's
``CatalogEdits`` through the one gate and the one command path; the catalog in effect is the
shipped one with the edits, its version the next one; a new call is raised under it and an
earlier call keeps the version and SLA it was raised under; a retired item refuses a raise.
Items are judged by the catalog file's own rules, the field named."""

from __future__ import annotations

from typing import Any

import pytest
from memory import InMemory

from catalog_items import NEW_ITEM, limits
from huying.domain.errors import CatalogItemNotFound, InvalidCommand, NotPermitted, TransitionNotAllowed
from huying.domain.principal import Principal, Role
from huying.service_layer.calls import CallDraft
from huying.service_layer.catalog_edits import CatalogEditService, catalog_edits_path
from huying.service_layer.command_path import Submission

ADMIN = Principal(Role.ADMIN, "LW")
GRID = Principal(Role.GRID_WORKER, "LW-LN-01-G01")
ONCE = Submission()


@pytest.fixture
def huying() -> InMemory:
    return InMemory()


@pytest.fixture
def edits(huying: InMemory) -> CatalogEditService:
    return CatalogEditService(catalog_edits_path(huying.app))


def raised(huying: InMemory, item: str) -> Any:
    draft = CallDraft(item, GRID.unit, "垃圾", "十三行路口", "grid_worker")
    return huying.calls.raise_call(GRID, draft, ONCE).call


def test_an_added_item_is_in_the_next_version_and_a_new_call_is_raised_under_it(
    huying: InMemory, edits: CatalogEditService
) -> None:
    assert huying.app.catalog.version == "2026.1"
    edits.add_item(ADMIN, ONCE, NEW_ITEM)
    catalog = huying.app.catalog
    assert catalog.version == "2026.1+1" and "C01-04" in catalog.category("C01").items  # type: ignore[union-attr]
    call = raised(huying, "C01-04")
    assert (call.catalog_version, call.sla["street"]["response"]) == (
        "2026.1+1",
        {"amount": 3, "unit": "working_hours"},
    )


def test_a_change_is_in_effect_for_new_calls_and_an_earlier_call_keeps_its_own(
    huying: InMemory, edits: CatalogEditService
) -> None:
    before = raised(huying, "C01-01")
    edits.change_item(ADMIN, "C01-01", ONCE, {"sla": limits(1), "priority": "urgent"})
    after = raised(huying, "C01-01")
    assert (after.catalog_version, after.sla["community"]["resolution"]["amount"]) == ("2026.1+1", 1)
    again = huying.calls.current(before.id)
    assert again is not None and again.catalog_version == "2026.1"
    assert again.sla["community"]["resolution"] == {"amount": 1, "unit": "working_days"}
    changed = huying.app.recorder.select_events(edits.id)[-1]
    assert changed.topic.endswith("CatalogEdits.ItemChanged")


def test_a_retired_item_refuses_a_raise_until_restored(huying: InMemory, edits: CatalogEditService) -> None:
    edits.retire_item(ADMIN, "C01-02", ONCE, "并入C01-01")
    with pytest.raises(InvalidCommand, match=r"item C01-02 is retired in catalog 2026\.1\+1") as refused:
        raised(huying, "C01-02")
    assert refused.value.field == "item_code"
    assert "C01-02" not in huying.app.catalog.category("C01").items  # type: ignore[union-attr]
    assert huying.app.catalog.item("C01-02") is not None  # its calls still name it
    with pytest.raises(TransitionNotAllowed, match="retire_item: item C01-02 is retired"):
        edits.retire_item(ADMIN, "C01-02", ONCE, "again")
    edits.restore_item(ADMIN, "C01-02", ONCE, "恢复")
    assert raised(huying, "C01-02").catalog_version == "2026.1+2"


@pytest.mark.parametrize("role, unit", [("supervisor", "LW"), ("street", "LW-LN"), ("auditor", "LW")])
def test_only_the_admin_edits_and_a_refusal_writes_nothing(
    huying: InMemory, edits: CatalogEditService, role: str, unit: str
) -> None:
    other = Principal(Role(role), unit)
    with pytest.raises(NotPermitted, match="add_item: only the district's admin may do this now"):
        edits.add_item(other, ONCE, NEW_ITEM)  # the first edit: nothing begun either
    assert huying.head == 0
    edits.add_item(ADMIN, ONCE, NEW_ITEM)
    for attempt in (
        lambda: edits.change_item(other, "C01-01", ONCE, {"name": "垃圾"}),
        lambda: edits.retire_item(other, "C01-01", ONCE, "x"),
        lambda: edits.restore_item(other, "C01-01", ONCE, "x"),
    ):
        with pytest.raises(NotPermitted):
            attempt()
    assert huying.head == 2 and huying.app.catalog.version == "2026.1+1"


@pytest.mark.parametrize(
    "changes, field, reason",
    [
        (
            {"sla": {**limits(2), "street": {"response": {"amount": 0, "unit": "working_hours"}}}},
            "sla.street.response.amount",
            "positive integer",
        ),
        ({"name": "道路破损"}, "name", "also the name of item"),
        ({"lead_department": "LW-LN"}, "lead_department", "not a department"),
        ({"assisting_departments": ["CG"]}, "lead_department", "also among assisting_departments"),
        ({"priority": "whenever"}, "priority", "must be one of normal, high, urgent"),
        (
            {"sla": limits(2), "category": "C11", "code": "C11-09"},
            "sla.community.response.unit",
            "must be in minutes",
        ),
        ({"category": "C99"}, "category", "not a category of catalog 2026.1"),
        ({"code": "C02-99"}, "code", "must start with its category code C01-"),
    ],
)
def test_an_added_item_is_judged_by_the_catalog_files_rules(
    huying: InMemory, edits: CatalogEditService, changes: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(InvalidCommand, match=reason) as refused:
        edits.add_item(ADMIN, ONCE, {**NEW_ITEM, **changes})
    assert refused.value.field == field and huying.head == 0


def test_a_change_to_nothing_or_of_no_item_is_refused(huying: InMemory, edits: CatalogEditService) -> None:
    with pytest.raises(InvalidCommand, match="nothing changes"):
        edits.change_item(ADMIN, "C01-01", ONCE, {"name": "垃圾堆积"})
    with pytest.raises(CatalogItemNotFound, match="no item C01-77"):
        edits.retire_item(ADMIN, "C01-77", ONCE, "x")
    assert huying.head == 0


def test_a_repeated_edit_is_answered_from_the_record(huying: InMemory, edits: CatalogEditService) -> None:
    keyed = Submission(key="k1", fingerprint="f")
    first = edits.add_item(ADMIN, keyed, NEW_ITEM)
    again = edits.add_item(ADMIN, keyed, NEW_ITEM)
    assert again.replayed and again.position == first.position and huying.head == 2
    assert huying.app.catalog.version == "2026.1+1"
