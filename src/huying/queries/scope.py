"""Jurisdiction (辖区) as SQL: which read-model rows a principal may see.

The same rules as ``huying.domain.jurisdiction.can_see``, phrased over the read-model tables.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select, true

from huying.domain.org import Org, UnitKind
from huying.domain.principal import DISTRICT_WIDE, Principal, Role
from huying.projections.tables import rm_calls, rm_work_orders


def visible_calls(principal: Principal, org: Org) -> ColumnElement[bool]:
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
        orders = select(rm_work_orders.c.call_id).where(rm_work_orders.c.department_code == unit)
        return rm_calls.c.call_id.in_(orders)
    return rm_calls.c.call_id.is_(None)  # nobody else sees anything


def concerns_unit(unit: str, org: Org) -> ColumnElement[bool]:
    """Calls a unit has to do with (docs/metrics.md §6): its grid, community or street, its
    holding, or its orders. A call is only ever held by its own community or street
    (``domain.call``), so "held by it" adds nothing to "raised in it": each kind of unit is one
    indexed column, which a page ordered by ``seq`` can walk (an OR of columns could not)."""
    kind = org.kind_of(unit)
    if kind is UnitKind.DISTRICT:
        return true()
    if kind is UnitKind.GRID:
        return rm_calls.c.grid_code == unit
    if kind is UnitKind.COMMUNITY:
        return rm_calls.c.community_code == unit
    if kind is UnitKind.STREET:
        return rm_calls.c.street_code == unit
    orders = select(rm_work_orders.c.call_id).where(rm_work_orders.c.department_code == unit)
    return rm_calls.c.call_id.in_(orders)
