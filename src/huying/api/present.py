"""Call → wire. One place decides what each principal is shown of a call."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from huying.api.schemas import (
    CallPublic,
    CallSummary,
    ChainStep,
    EvaluationPublic,
    ExtensionPublic,
    HistoryEntry,
    QueueItem,
    ReporterPublic,
    WorkOrderPublic,
)
from huying.domain.call import Call
from huying.domain.contact import shown_to
from huying.domain.deadlines import standing
from huying.domain.principal import Principal
from huying.domain.sla import remaining
from huying.domain.states import WorkOrder
from huying.domain.worktime import WorkCalendar
from huying.services.contacts import ContactBook

_EVENT_BOOKKEEPING = frozenset(
    {
        "originator_id",
        "originator_version",
        "originator_topic",
        "timestamp",
        "actor",
        "at",
        "idempotency_key",
        "fingerprint",
    }
)


def work_order_public(order: WorkOrder, call_version: int | None = None) -> WorkOrderPublic:
    return WorkOrderPublic(
        id=order.id,
        call_id=order.call_id,
        department_code=order.department_code,
        role=order.role,
        status=order.status,
        deadline=order.deadline,
        instructions=order.instructions,
        extension=ExtensionPublic(**order.extension) if order.extension else None,
        result=order.result,
        dispatched_at=order.dispatched_at,
        signed_at=order.signed_at,
        completed_at=order.completed_at,
        call_version=call_version,
    )


def call_public(
    call: Call,
    position: int,
    viewer: Principal,
    contacts: ContactBook,
    now: datetime,
    calendar: WorkCalendar,
) -> CallPublic:
    evaluation = call.evaluation
    return CallPublic(
        id=str(call.id),
        version=call.version,
        position=position,
        item_code=call.item_code,
        catalog_version=call.catalog_version,
        grid_code=call.grid_code,
        community_code=call.community_code,
        street_code=call.street_code,
        title=call.title,
        description=call.description,
        channel=call.channel,  # type: ignore[arg-type]
        urgency=call.urgency,  # type: ignore[arg-type]
        level=call.level,
        holder=call.holder,
        status=call.status,
        round=call.round,
        raised_at=call.raised_at,
        occurred_at=call.occurred_at,
        location=call.location,
        attachments=call.attachments,
        work_orders=[work_order_public(o) for o in call.work_orders.values()],
        evaluation=EvaluationPublic(
            round=evaluation.round,
            contacted=evaluation.contacted,
            solved=evaluation.solved,
            satisfaction=evaluation.satisfaction,
            comment=evaluation.comment,
            at=evaluation.at,
        )
        if evaluation
        else None,
        merged_into=call.merged_into,
        supervised=call.supervised,
        deadlines=deadlines(call, now, calendar),
        reporter=_reporter(call, viewer, contacts),
        chain=[ChainStep(**step) for step in call.chain],
    )


def _reporter(call: Call, viewer: Principal, contacts: ContactBook) -> ReporterPublic | None:
    if call.reporter_ref is None:
        return None
    contact = contacts.get(call.reporter_ref)
    if contact is None:  # erased on request
        return None
    shown = shown_to(viewer, call.community_code, contact)
    return ReporterPublic(name=shown.name, phone=shown.phone)


def history_entry(position: int, event: Call.Event) -> HistoryEntry:
    data = {k: _plain(v) for k, v in event.__dict__.items() if k not in _EVENT_BOOKKEEPING}
    return HistoryEntry(
        position=position,
        version=event.originator_version,
        type=type(event).__name__,
        actor=event.actor,  # type: ignore[arg-type]
        at=event.at,
        recorded_at=event.timestamp,
        idempotency_key=event.idempotency_key,
        data=data,
    )


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def call_summary(row: dict[str, Any], now: datetime, calendar: WorkCalendar) -> CallSummary:
    fields = {k: v for k, v in row.items() if k not in ("call_id", "ever_breached", "due_soon_at")}
    return CallSummary(id=row["call_id"], **fields, **_timing(row, now, calendar))


def queue_item(row: dict[str, Any], now: datetime, calendar: WorkCalendar) -> QueueItem:
    skip = ("order_id", "updated_position", "clock_time", "ever_breached", "due_soon_at", "settled_at")
    fields = {k: v for k, v in row.items() if k not in skip}
    return QueueItem(
        id=row["order_id"], cursor=row["updated_position"], **fields, **_timing(row, now, calendar)
    )


def _timing(row: dict[str, Any], now: datetime, calendar: WorkCalendar) -> dict[str, Any]:
    """Due soon, remaining time and breach, as of ``now``, from the row's recorded clocks."""
    next_due, warn = row.get("next_due"), row.get("due_soon_at")
    left = remaining(calendar, now, next_due, bool(row.get("clock_time"))) if next_due else None
    return {
        "due_soon": bool(warn and next_due and warn <= now <= next_due),
        "remaining_seconds": left.total_seconds() if left is not None else None,
        "ever_breached": bool(row.get("ever_breached")) or bool(row.get("overdue")),
    }


def deadlines(call: Call, now: datetime, calendar: WorkCalendar) -> dict[str, Any]:
    """GET /calls/{id} ``deadlines``: every clock the call has had, as of ``now``."""
    s = standing(call, calendar, now)
    return {
        "next_due": s.next_due,
        "overdue": s.overdue,
        "due_soon": s.due_soon,
        "ever_breached": s.ever_breached,
        "clock_time": s.clock_time,
        "clocks": [
            {
                "clock": c.clock.key,
                "unit": c.clock.unit,
                "level": c.clock.level,
                "started_at": c.clock.started,
                "due": c.clock.due,
                "stopped_at": c.clock.stopped,
                "late": c.late,
                "due_soon": c.due_soon,
                "remaining_seconds": c.remaining.total_seconds() if c.remaining is not None else None,
            }
            for c in s.clocks
        ],
    }
