"""Jurisdiction (辖区) as SQL: which read-model rows a principal may see.

The same rules as ``huying.domain.jurisdiction.can_see``, phrased over the read-model tables.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, select, true

from huying.domain.org import Org, UnitKind
from huying.domain.principal import DISTRICT_WIDE, Principal, Role
from huying.projections.tables import ON_LEDGER, rm_calls, rm_department_ledger, rm_work_orders


def visible_calls(principal: Principal, org: Org, *, on_ledger: bool = False) -> ColumnElement[bool]:
    """``on_ledger``: only those of them on the ledger are asked for (``of_department``)."""
    role, unit = principal.role, principal.unit
    if role in DISTRICT_WIDE:
        return true()
    if role is Role.GRID_WORKER:
        return rm_calls.c.community_code == org.community_of(unit)
    if role is Role.COMMUNITY:
        return rm_calls.c.community_code == unit
    if role is Role.STREET:
        return rm_calls.c.street_code == unit
    if role is Role.DEPARTMENT:
        return of_department(unit, on_ledger=on_ledger)
    return rm_calls.c.call_id.is_(None)  # nobody else sees anything


def concerns_unit(unit: str, org: Org, *, on_ledger: bool = False) -> ColumnElement[bool]:
    """Calls a unit has to do with (docs/metrics.md §6): its grid, community or street, its
    holding, or its orders. A call is only ever held by its own community or street
    (``domain.call``), so "held by it" adds nothing to "raised in it": each kind of unit is one
    indexed column, which a page ordered by ``seq`` can walk (an OR of columns could not).
    ``on_ledger``: only those of them on the ledger are asked for (``of_department``)."""
    kind = org.kind_of(unit)
    if kind is UnitKind.DISTRICT:
        return true()
    if kind is UnitKind.GRID:
        return rm_calls.c.grid_code == unit
    if kind is UnitKind.COMMUNITY:
        return rm_calls.c.community_code == unit
    if kind is UnitKind.STREET:
        return rm_calls.c.street_code == unit
    return of_department(unit, on_ledger=on_ledger)


def of_department(department: str, *, on_ledger: bool = False) -> ColumnElement[bool]:
    """The calls a department has or had an order on (``Call.departments_involved``): every one
    of its history. ``on_ledger``: only those on the ledger (``ON_LEDGER``), found among its open
    work — ``rm_department_ledger``, which the projector keeps with the calls' and the orders'
    rows and holds nothing else — rather than among every order it had."""
    if on_ledger:
        m = rm_department_ledger.c
        return rm_calls.c.seq.in_(select(m.seq).where(m.department_code == department))
    orders = select(rm_work_orders.c.call_id).where(rm_work_orders.c.department_code == department)
    return rm_calls.c.call_id.in_(orders)


def on_the_ledger(principal: Principal, org: Org, unit: str) -> ColumnElement[bool]:
    """The unit's calls on the ledger that the principal sees: ``visible_calls`` ∧
    ``concerns_unit`` ∧ ``ON_LEDGER``. Where a department's ledger (``of_department``) restricts
    them and no place does — a department, or the district, asking of a department or of the
    district — the calls' status is not asked again: the department's ledger holds only calls
    on the ledger, and asked, SQLite walks every call on the district's ledger by status
    rather than the department's few."""
    seen = visible_calls(principal, org, on_ledger=True)
    concerned = concerns_unit(unit, org, on_ledger=True)
    asks = {_asks_by(principal), org.kind_of(unit)}
    if UnitKind.DEPARTMENT in asks and asks <= {UnitKind.DISTRICT, UnitKind.DEPARTMENT}:
        return and_(seen, concerned)
    return and_(seen, concerned, ON_LEDGER)


def _asks_by(principal: Principal) -> UnitKind | None:
    """What ``visible_calls`` restricts the calls by: the district's (all of them), a
    department's; None: a place, or nothing."""
    if principal.role in DISTRICT_WIDE:
        return UnitKind.DISTRICT
    return UnitKind.DEPARTMENT if principal.role is Role.DEPARTMENT else None
