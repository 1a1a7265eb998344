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
from huying.domain.principal import Principal
from huying.domain.states import WorkOrder
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


def call_public(call: Call, position: int, viewer: Principal, contacts: ContactBook) -> CallPublic:
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
        deadlines={},
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


def call_summary(row: dict[str, Any]) -> CallSummary:
    return CallSummary(id=row["call_id"], **{k: v for k, v in row.items() if k != "call_id"})


def queue_item(row: dict[str, Any]) -> QueueItem:
    fields = {k: v for k, v in row.items() if k not in ("order_id", "updated_position")}
    return QueueItem(id=row["order_id"], cursor=row["updated_position"], **fields)
