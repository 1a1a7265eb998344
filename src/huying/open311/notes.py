"""What a step of a call says to the public, in Chinese: Open311's ``status_notes`` and the text of
each update. Built from the event's kind and the units it names — never from the free text people
typed (a note, a reason, a summary may name someone); the holder's own words stay in huying."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from huying.domain.call import Call
from huying.domain.org import Org, UnitKind
from huying.domain.states import OrderRole, Satisfaction

SHANGHAI = ZoneInfo("Asia/Shanghai")
SATISFACTION_NAMES = {
    Satisfaction.SATISFIED.value: "满意",
    Satisfaction.BASICALLY_SATISFIED.value: "基本满意",
    Satisfaction.DISSATISFIED.value: "不满意",
}


def unit_name(org: Org, code: str) -> str:
    """Departments by their everyday name (城管), other units by their name (岭南街道)."""
    unit = org.unit(code)
    if unit is None:
        return code
    return unit.short if unit.kind is UnitKind.DEPARTMENT and unit.short else unit.name


def when(instant: datetime) -> str:
    return instant.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def step_note(event: Any, call: Call, org: Org) -> str:
    """The step ``event`` made, told as of ``call`` (the call just after it)."""
    say = _NOTES.get(type(event).__name__)
    return say(event, call, lambda code: unit_name(org, code)) if say else "状态已更新"


Name = Callable[[str], str]


def _department(event: Any, call: Call, name: Name) -> str:
    order = call.order(event.order_id)
    return name(order.department_code) if order else "部门"


def _dispatched(event: Any, call: Call, name: Name) -> str:
    lead = [name(o["department_code"]) for o in event.orders if o["role"] == OrderRole.LEAD.value]
    assist = [name(o["department_code"]) for o in event.orders if o["role"] == OrderRole.ASSIST.value]
    text = f"{name(call.street_code)}已派单，{'、'.join(lead)}牵头办理"
    return text + (f"，{'、'.join(assist)}协办" if assist else "")


def _evaluated(event: Any, call: Call, name: Name) -> str:
    if not event.contacted:
        return "回访未能联系到反映人"
    return f"已回访，反映人{SATISFACTION_NAMES.get(event.satisfaction or '', '已评价')}"


_NOTES: dict[str, Callable[[Any, Call, Name], str]] = {
    "Raised": lambda e, c, name: f"诉求已受理，由{name(c.community_code)}响应",
    "Acknowledged": lambda e, c, name: f"{name(c.holder)}已响应，正在处理",
    "Escalated": lambda e, c, name: f"{name(c.community_code)}已上呼至{name(e.to_street)}",
    "Dispatched": _dispatched,
    "WorkOrderSigned": lambda e, c, name: f"{_department(e, c, name)}已签收工单",
    "WorkOrderReturned": lambda e, c, name: (
        f"{_department(e, c, name)}已退单" + ("，待街道重新派单" if e.lead else "")
    ),
    "ExtensionRequested": lambda e, c, name: f"{_department(e, c, name)}申请延期至{when(e.until)}",
    "ExtensionGranted": lambda e, c, name: f"已准予{_department(e, c, name)}延期至{when(e.until)}",
    "ExtensionDenied": lambda e, c, name: f"{_department(e, c, name)}的延期申请未获准予",
    "ProgressNoted": lambda e, c, name: f"{_department(e, c, name)}报告了办理进展",
    "WorkOrderCompleted": lambda e, c, name: f"{_department(e, c, name)}已办结工单",
    "Resolved": lambda e, c, name: "已办结，待回访",
    "Evaluated": _evaluated,
    "Reopened": lambda e, c, name: f"回访不满意，已重办（第{c.round}轮），由{name(e.holder)}办理",
    "Closed": lambda e, c, name: "已销号",
    "Withdrawn": lambda e, c, name: "反映人已撤回",
    "MergedInto": lambda e, c, name: f"与同一事项合并办理（诉求 {e.into}）",
    "Supervised": lambda e, c, name: f"区督办：{name(e.unit)}",
}
