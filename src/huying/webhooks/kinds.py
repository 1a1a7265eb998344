"""Webhook event kinds, what a delivery says, and to whom it goes.

Each stored step of a call is one event of one kind (``work_order.dispatched``…). A subscription
gets an event of a kind it chose when two things hold: its principal **may see** the call after
the step (``huying.domain.jurisdiction.can_see``, the one rule the API uses), and the step
**concerns** its unit — the call's grid, community or street, the unit now holding it, the
departments whose work orders the step changed, the unit a 督办 names. So a department hears of
its own new work order, the extension decided on it, a 督办 naming it; a street of every step of
its calls; nobody of a call outside their jurisdiction.

A delivery is thin (Standard Webhooks' advice for auditable access): ids, kinds, units, times
and the step's codes — never free text someone typed, never a reporter's contact. A receiver that
needs more reads the call through the API with its own token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from eventsourcing.persistence import Notification

from huying.domain.call import Call
from huying.domain.errors import InvalidCommand
from huying.domain.jurisdiction import can_see
from huying.domain.org import Org
from huying.domain.principal import DISTRICT_WIDE, Principal, Role


class Audience(Protocol):
    """Whom the API's jurisdiction rule shows an aggregate to."""

    def seen_by(self, principal: Principal, org: Org) -> bool: ...


KIND_OF_EVENT = {
    "Raised": "call.raised",
    "Acknowledged": "call.acknowledged",
    "Escalated": "call.escalated",
    "Dispatched": "work_order.dispatched",
    "WorkOrderSigned": "work_order.signed",
    "WorkOrderReturned": "work_order.returned",
    "ExtensionRequested": "work_order.extension_requested",
    "ExtensionGranted": "work_order.extension_granted",
    "ExtensionDenied": "work_order.extension_denied",
    "ProgressNoted": "work_order.progress_noted",
    "WorkOrderCompleted": "work_order.completed",
    "Resolved": "call.resolved",
    "Evaluated": "call.evaluated",
    "Reopened": "call.reopened",
    "Closed": "call.closed",
    "Withdrawn": "call.withdrawn",
    "MergedInto": "call.merged",
    "Supervised": "call.supervised",
    "PutOnAgenda": "call.put_on_agenda",  # 难题自下而上提交: before a joint meeting
    "WorkOrderRated": "work_order.rated",  # 一呼一评 by the caller: the street's rating of the order
    "StreetResponseRated": "call.response_rated",  # … and the community's of its street
}
# 令行禁止 and 联席会议 (huying.webhooks.task_kinds builds their deliveries).
KIND_OF_DIRECTIVE_EVENT = {
    "Issued": "directive.issued",
    "Received": "directive.received",
    "ProgressNoted": "directive.progress_noted",
    "ReportedDone": "directive.reported",
    "Accepted": "directive.accepted",
    "SentBack": "directive.sent_back",
    "ExtensionRequested": "directive.extension_requested",
    "ExtensionGranted": "directive.extension_granted",
    "ExtensionDenied": "directive.extension_denied",
    "Cancelled": "directive.cancelled",
    "Supervised": "directive.supervised",  # 督办, by hand or the watchdog's on a missed clock
}
KIND_OF_MEETING_EVENT = {
    "Convened": "meeting.convened",
    "AgendaItemProposed": "meeting.item_proposed",
    "CallTabled": "meeting.call_tabled",
    "MinutesRecorded": "meeting.minutes_recorded",
    "DecisionRecorded": "meeting.decision_recorded",
    "Closed": "meeting.closed",
    "Cancelled": "meeting.cancelled",
}
TASK_KINDS = (*KIND_OF_DIRECTIVE_EVENT.values(), *KIND_OF_MEETING_EVENT.values())
CALL_KINDS = tuple(KIND_OF_EVENT.values())
KINDS = (*CALL_KINDS, *TASK_KINDS)  # a call's, then a directive's and a meeting's
# A department is concerned only through its work orders and the 督办 naming it: these are the
# steps that can change an order (a resolve, close, withdraw or merge cancels open ones).
_DEPARTMENT_KINDS = frozenset(
    {k for k in CALL_KINDS if k.startswith("work_order.")}
    | {"call.supervised", "call.resolved", "call.closed", "call.withdrawn", "call.merged"}
    | set(TASK_KINDS)
)
# The codes each step's delivery carries besides what every delivery carries (no free text).
_FIELDS = {
    "Raised": ("item_code", "channel", "urgency", "response_due", "resolution_due"),
    "Escalated": ("to_street", "response_due", "resolution_due"),
    "WorkOrderSigned": ("order_id",),
    "WorkOrderReturned": ("order_id", "lead"),
    "ExtensionRequested": ("order_id", "until"),
    "ExtensionGranted": ("order_id", "until"),
    "ExtensionDenied": ("order_id",),
    "ProgressNoted": ("order_id",),
    "WorkOrderCompleted": ("order_id",),
    "Resolved": ("level",),
    "Evaluated": ("round",),
    "Reopened": ("level", "holder", "resolution_due"),
    "MergedInto": ("into",),
    "Supervised": ("unit", "clock"),
    "PutOnAgenda": ("meeting_id", "convener"),
    "WorkOrderRated": ("order_id", "department_code", "satisfaction"),
    "StreetResponseRated": ("round", "street_code", "satisfaction"),
}


def kinds_for(role: Role) -> frozenset[str]:
    """The kinds that can ever concern a unit acting in ``role`` (a member unit: only its
    meetings and tasks)."""
    if role is Role.MEMBER:
        return frozenset(TASK_KINDS)
    return _DEPARTMENT_KINDS if role is Role.DEPARTMENT else frozenset(KINDS)


def chosen_kinds(asked: list[str], role: Role) -> list[str]:
    """``call.*``, ``work_order.*`` and ``*`` stand for every kind they cover that the role may
    hear of; a named kind the role can never hear of is refused (422 naming it)."""
    possible = kinds_for(role)
    chosen: list[str] = []
    for i, kind in enumerate(asked):
        if kind == "*" or kind.endswith(".*"):
            prefix = "" if kind == "*" else kind[:-1]
            covered = [k for k in KINDS if k.startswith(prefix) and k in possible]
            if not covered:
                raise InvalidCommand(f"kinds.{i}", f"{kind} covers no kind of event")
            chosen += covered
        elif kind not in KINDS:
            raise InvalidCommand(f"kinds.{i}", f"no kind {kind!r}; kinds are: {', '.join(KINDS)}")
        elif kind not in possible:
            raise InvalidCommand(f"kinds.{i}", f"a {role.value} is never concerned by {kind}")
        else:
            chosen.append(kind)
    return list(dict.fromkeys(chosen))


@dataclass(frozen=True)
class Envelope:
    """One step as deliveries see it: what decides who gets it, and the body they get."""

    position: int
    call_id: str  # the aggregate's id (a directive's, a meeting's), as in the event feed
    kind: str
    seen: Audience  # whom the jurisdiction rule shows the aggregate to, after the step
    concerned: frozenset[str]  # units the step concerns
    body: bytes  # the JSON every subscriber gets, byte for byte the same on every attempt


@dataclass(frozen=True)
class CallPlace:
    """What ``can_see`` reads of a call, as it stood after the step."""

    community_code: str
    street_code: str
    departments: frozenset[str]  # departments involved after the step

    @property
    def departments_involved(self) -> set[str]:
        return set(self.departments)

    def seen_by(self, principal: Principal, org: Org) -> bool:
        return can_see(principal, self, org)


@dataclass(frozen=True)
class Before:
    """What a step's delivery needs of the call just before it: who held it, its orders' marks."""

    holder: str | None
    marks: dict[str, Any]

    @classmethod
    def of(cls, call: Call | None) -> Before:
        return cls(call.holder, call.order_marks()) if call is not None else cls(None, {})


def envelope(n: Notification, event: Any, before: Before, after: Call) -> Envelope:
    """``after`` is the call just after the step."""
    name = type(event).__name__
    marks = after.order_marks()
    changed = {o.department_code for o in after.work_orders.values() if before.marks.get(o.id) != marks[o.id]}
    concerned = {after.grid_code, after.community_code, after.street_code, after.holder, *changed}
    if before.holder is not None:
        concerned.add(before.holder)
    if name == "Supervised":
        concerned.add(event.unit)
    data: dict[str, Any] = {
        "call_id": str(after.id),
        "position": n.id,
        "version": n.originator_version,
        "event": name,
        "at": plain(event.at),
        "actor": dict(event.actor),
        "call": {
            "item_code": after.item_code,
            "grid_code": after.grid_code,
            "community_code": after.community_code,
            "street_code": after.street_code,
            "level": after.level.value,
            "holder": after.holder,
            "status": after.status.value,
            "round": after.round,
        },
        "units": sorted(concerned),
        **{field: plain(getattr(event, field)) for field in _FIELDS.get(name, ())},
    }
    if name == "Dispatched":
        data["orders"] = [
            {k: plain(o.get(k)) for k in ("id", "department_code", "role", "deadline", "sign_due")}
            for o in event.orders
        ]
    place = CallPlace(after.community_code, after.street_code, frozenset(after.departments_involved))
    return sealed(n, KIND_OF_EVENT[name], event, data, place, concerned)


def sealed(
    n: Notification, kind: str, event: Any, data: dict[str, Any], seen: Audience, concerned: set[str]
) -> Envelope:
    """The envelope of a step of any aggregate: the body made once, byte for byte."""
    body = {"type": kind, "timestamp": plain(event.at), "data": data}
    encoded = json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    return Envelope(n.id, str(n.originator_id), kind, seen, frozenset(concerned), encoded)


def wanted(principal: Principal, kinds: frozenset[str], e: Envelope, org: Org) -> bool:
    """The subscription chose this kind, may see the call (directive, meeting) by the API's
    rule, and the step concerns its unit."""
    if e.kind not in kinds or not e.seen.seen_by(principal, org):
        return False
    if principal.role in DISTRICT_WIDE:
        return True
    unit = org.community_of(principal.unit) if principal.role is Role.GRID_WORKER else principal.unit
    return unit in e.concerned


def plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
