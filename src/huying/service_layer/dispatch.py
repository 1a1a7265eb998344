"""派单: what a dispatch plan must say (422 otherwise), and the work orders it makes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from huying.domain.call import Call
from huying.domain.commands import OrderSpec
from huying.domain.errors import InvalidCommand
from huying.domain.levels import Level
from huying.domain.org import Org, UnitKind
from huying.domain.sla import due_after
from huying.domain.states import OrderRole
from huying.domain.worktime import WorkCalendar


@dataclass(frozen=True)
class DispatchPlan:
    lead_department: str
    assisting_departments: list[str]
    deadline: datetime | None
    instructions: str


def utc(instant: datetime) -> datetime:
    """Times are stored in UTC whatever offset the client sent."""
    return instant.astimezone(UTC)


def check_plan(plan: DispatchPlan, org: Org, now: datetime) -> None:
    """派单 content checks (422): real departments, each once, a future deadline if given."""
    codes = [plan.lead_department, *plan.assisting_departments]
    for i, code in enumerate(codes):
        if not org.is_kind(code, UnitKind.DEPARTMENT):
            where = "lead_department" if i == 0 else f"assisting_departments.{i - 1}"
            raise InvalidCommand(where, f"no department {code} in org {org.version}")
    if len(set(codes)) != len(codes):
        raise InvalidCommand("assisting_departments", "each department gets one order")
    if plan.deadline is not None and utc(plan.deadline) <= now:
        raise InvalidCommand("deadline", "the deadline must lie in the future")


def orders_for(plan: DispatchPlan, call: Call, now: datetime, calendar: WorkCalendar) -> list[OrderSpec]:
    """Each order's clocks: signing (签收) from the item's department response limit; the
    deadline as given, or from the department resolution limit (限期办理)."""
    policy = call.sla.get(Level.DEPARTMENT.value) or {}
    sign_due = due_after(calendar, now, policy["response"]) if "response" in policy else None
    if plan.deadline is not None:
        deadline = utc(plan.deadline)
    elif "resolution" in policy:
        deadline = due_after(calendar, now, policy["resolution"])
    else:
        raise InvalidCommand("deadline", f"item {call.item_code} has no department SLA: give a deadline")
    codes = [plan.lead_department, *plan.assisting_departments]
    return [
        OrderSpec(
            code,
            OrderRole.LEAD if i == 0 else OrderRole.ASSIST,
            deadline,
            plan.instructions,
            sign_due=sign_due,
        )
        for i, code in enumerate(codes)
    ]
