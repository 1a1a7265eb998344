"""Call → wire. One place decides what each principal is shown of a call."""

from __future__ import annotations

from datetime import datetime
from threading import Lock
from typing import Any
from uuid import UUID

from huying.api.names import Names
from huying.api.schemas.calls import (
    CallPublic,
    ChainStep,
    DuplicateHint,
    EvaluationPublic,
    ExtensionPublic,
    HistoryEntry,
    ReporterPublic,
    WorkOrderPublic,
)
from huying.api.schemas.reads import CallSummary, QueueItem
from huying.audit.feed import event_data
from huying.audit.mapper import PAST_EVENTS
from huying.audit.vouch import Flaw
from huying.bootstrap import Services
from huying.domain.call import Call
from huying.domain.contact import ShownBack
from huying.domain.deadlines import next_and_missed, standing
from huying.domain.principal import Principal
from huying.domain.sla import remaining
from huying.domain.states import WorkOrder
from huying.domain.worktime import WorkCalendar
from huying.onloop import off_loop, suspendable
from huying.projections.rows import instants_of
from huying.queries.duplicates import Subject, at_raise
from huying.recently_used import RecentlyUsed
from huying.services.contacts import ContactBook


def work_order_public(order: WorkOrder, call_version: int | None = None) -> WorkOrderPublic:
    return WorkOrderPublic(
        id=order.id,
        call_id=order.call_id,
        department_code=order.department_code,
        role=order.role,
        status=order.status,
        deadline=order.deadline,
        instructions=order.instructions,
        extension=ExtensionPublic.model_validate(order.extension, from_attributes=True)
        if order.extension
        else None,
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
    *,
    hints: list[DuplicateHint],
    shown_back: ShownBack | None = None,
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
        media_url=call.media_url,
        work_orders=[work_order_public(o) for o in call.orders_by_arrival],
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
        reporter=_reporter(call, viewer, contacts, shown_back),
        chain=[ChainStep.model_validate(stint, from_attributes=True) for stint in call.chain],
        possible_duplicates=hints,
    )


# Where the recent raises cannot tell, a read waits this long at most for the read models to
# reach a call's raise (milliseconds, unless the projector has just started after a restart).
_HINT_WAIT_SECONDS = 1.0


def duplicate_hints(call: Call, position: int, viewer: Principal, services: Services) -> list[DuplicateHint]:
    """重复提示 as of the call's raise, for this viewer: the same in every answer about the call
    (the raise, a retry of it, reads, actions), whatever happened since. ``position`` is the
    log position of ``call`` as given (its raise's when it is at version 1). Asked of the recent
    raises kept in memory; of the read models when those cannot tell."""
    raised_position = position if call.version == 1 else services.app.positions.at(call.id, 1)
    subject = Subject.of(str(call.id), call.item_code, call.grid_code, call.location)
    # From memory first; what must read the log or wait for the read models, never on the event
    # loop (``onloop``).
    rows = services.recent.at_raise(
        viewer, subject, call.raised_at, raised_position, reading=not suspendable()
    )
    if rows is None:
        rows = off_loop(_hints_read, services, viewer, subject, call.raised_at, raised_position)
    return [DuplicateHint(id=r["call_id"], **r) for r in rows]


def _hints_read(
    services: Services, viewer: Principal, subject: Subject, raised_at: datetime, raised_position: int
) -> list[dict[str, Any]]:
    """The hints as the recent raises tell them, reading the log; else as the read models do."""
    rows = services.recent.at_raise(viewer, subject, raised_at, raised_position)
    if rows is not None:
        return rows
    if services.projector.running:
        services.projector.wait_until(raised_position - 1, _HINT_WAIT_SECONDS)
    with services.engine.connect() as conn:
        return at_raise(
            conn, viewer, services.app.org, subject, services.recent.rule, raised_at, raised_position
        )


def _reporter(
    call: Call, viewer: Principal, contacts: ContactBook, shown_back: ShownBack | None
) -> ReporterPublic | None:
    if call.reporter_ref is None:
        return None
    if shown_back is not None and shown_back.given is not None:  # given by the raise: nothing to read
        shown = contacts.shown_to(viewer, call.id, call.community_code, call.reporter_ref, shown_back)
    else:  # read from the store (from the event loop: in a thread)
        shown = off_loop(
            contacts.shown_to, viewer, call.id, call.community_code, call.reporter_ref, shown_back
        )
    if shown is None:  # erased on request
        return None
    return ReporterPublic(name=shown.name, phone=shown.phone)


def unvouched_entry(flaw: Flaw) -> dict[str, Any]:
    """A stored event huying cannot vouch for, as history and the feed name it."""
    try:
        call_id = str(UUID(hex=flaw.originator_id))
    except ValueError:  # an originator id altered into something else
        call_id = flaw.originator_id
    return {
        "position": flaw.position,
        "call_id": call_id,
        "version": flaw.version,
        "kind": flaw.kind.value,
        "detail": flaw.detail,
    }


# History entries presented lately, by log position, each beside the event it shows. The history
# of an aggregate read again hands the very same events (``PastEvents``: one event for a row read
# again exactly as it was), and an entry is made of nothing but its event and position: an
# auditor's reads of one call again and again (P6) presented each of its events anew, 30% of
# a history's instructions. Another event at a position (another store, a row read afresh) is
# presented afresh.
_ENTRIES: RecentlyUsed[int, tuple[Any, HistoryEntry]] = RecentlyUsed(PAST_EVENTS)
_ENTRIES_LOCK = Lock()


def history_entry(position: int, event: Call.Event) -> HistoryEntry:
    with _ENTRIES_LOCK:
        known = _ENTRIES.get(position)
    if known is not None and known[0] is event:
        return known[1]
    entry = _entry(position, event)
    with _ENTRIES_LOCK:
        _ENTRIES.put(position, (event, entry))
    return entry


def _entry(position: int, event: Call.Event) -> HistoryEntry:
    return HistoryEntry(
        position=position,
        version=event.originator_version,
        type=type(event).__name__,
        actor=event.actor,  # type: ignore[arg-type]
        at=event.at,
        recorded_at=event.timestamp,
        idempotency_key=event.idempotency_key,
        data=event_data(event),
    )


def call_summary(row: dict[str, Any], now: datetime, calendar: WorkCalendar, names: Names) -> CallSummary:
    fields = {k: v for k, v in row.items() if k not in ("call_id", *_TIMING_COLUMNS)}
    return CallSummary(id=row["call_id"], **fields, **names.beside(row), **_timing(row, now, calendar))


def queue_item(row: dict[str, Any], now: datetime, calendar: WorkCalendar, names: Names) -> QueueItem:
    skip = ("order_id", "updated_position", "clock_time", "settled_at", *_TIMING_COLUMNS)
    fields = {k: v for k, v in row.items() if k not in skip}
    return QueueItem(
        id=row["order_id"],
        cursor=row["updated_position"],
        **fields,
        **names.beside(row),
        **_timing(row, now, calendar),
    )


# Stored to answer "when", shown as of now by _timing.
_TIMING_COLUMNS = ("next_due", "due_soon_at", "running_dues", "ever_breached")


def _timing(row: dict[str, Any], now: datetime, calendar: WorkCalendar) -> dict[str, Any]:
    """From the row's recorded clocks, as of ``now``: the next deadline still ahead and the time
    left to it, the earliest one missed and by how long (working time, or clock time for
    应急处置 items), due soon, and whether a clock ever ran late."""
    emergency = bool(row.get("clock_time"))
    upcoming, missed = next_and_missed(instants_of(row.get("running_dues")), now)
    earliest, warn = row.get("next_due"), row.get("due_soon_at")
    return {
        "next_due": upcoming,
        "remaining_seconds": remaining(calendar, now, upcoming, emergency).total_seconds()
        if upcoming
        else None,
        "overdue_since": missed,
        "overdue_seconds": -remaining(calendar, now, missed, emergency).total_seconds() if missed else None,
        "due_soon": bool(warn and earliest and warn <= now <= earliest),
        "ever_breached": bool(row.get("ever_breached")) or bool(row.get("overdue")),
    }


def deadlines(call: Call, now: datetime, calendar: WorkCalendar) -> dict[str, Any]:
    """GET /calls/{id} ``deadlines``: every clock the call has had, as of ``now``; the next
    deadline still ahead, and the earliest one missed."""
    s = standing(call, calendar, now)
    upcoming, missed = next_and_missed(
        (c.clock.due for c in s.clocks if c.clock.stopped is None and c.clock.due), now
    )
    return {
        "next_due": upcoming,
        "overdue_since": missed,
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
