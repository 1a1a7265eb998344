"""Calls as Open311 service requests, and who may see which.

A call raised through Open311 is public, by that channel's convention (like a FixMyStreet report):
anyone may read it, with or without an api_key. Any other call is shown only to an api_key whose
principal may see it under huying's one jurisdiction rule (``huying.domain.jurisdiction``);
elsewhere it does not exist (404), as in the API. A reporter's contact is never shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Connection, select

from huying.application import HuyingApplication, fold
from huying.domain.call import Call
from huying.domain.catalog import Catalog
from huying.domain.jurisdiction import can_see
from huying.domain.org import Org
from huying.domain.principal import Principal
from huying.domain.states import Channel, OrderStatus, Status
from huying.open311.formats import Open311Error
from huying.open311.notes import SHANGHAI, step_note, unit_name
from huying.projections.tables import rm_calls
from huying.queries.scope import visible_calls
from huying.queries.search import UNSETTLED

MAX_SPAN = timedelta(days=90)  # a date filter spans at most this (and defaults to the last 90 days)
MAX_REQUESTS = 1000  # the spec's default limit
# FixMyStreet's update statuses, by the call's status after the step.
UPDATE_STATUS = {
    Status.AWAITING_RESPONSE: "open",
    Status.IN_PROGRESS: "investigating",
    Status.DISPATCHED: "action_scheduled",
    Status.RETURNED: "investigating",
    Status.RESOLVED: "fixed",
    Status.EVALUATED: "fixed",
    Status.CLOSED: "closed",
    Status.WITHDRAWN: "closed",
    Status.MERGED: "duplicate",
}


def is_public(call: Call) -> bool:
    return call.channel == Channel.OPEN311.value


def visible(principal: Principal | None, call: Call, org: Org) -> bool:
    return is_public(call) or (principal is not None and can_see(principal, call, org))


def status_of(call: Call) -> str:
    """open: still owed an answer; closed: resolved (or ended otherwise)."""
    return "open" if call.status.value in UNSETTLED else "closed"


def w3(instant: datetime | None) -> str | None:
    return instant.astimezone(SHANGHAI).isoformat(timespec="seconds") if instant else None


@dataclass(frozen=True)
class Told:
    """A call as it stands, with its events (the latest is the step its status notes tell)."""

    call: Call
    events: list[Any]


def load(app: HuyingApplication, call_id: UUID) -> Told | None:
    events = list(app.events.get(call_id))
    call = fold(events) if events else None
    return Told(call, events) if isinstance(call, Call) else None


def request_of(told: Told, catalog: Catalog, org: Org) -> dict[str, Any]:
    call = told.call
    item = catalog.item(call.item_code)
    location = call.location or {}
    return {
        "service_request_id": str(call.id),
        "status": status_of(call),
        "status_notes": step_note(told.events[-1], call, org),
        "service_name": item.name if item else call.item_code,
        "service_code": call.item_code,
        "description": call.description,
        "agency_responsible": agency_responsible(call, org),
        "service_notice": item.standard if item else None,  # 处置标准: what handling it gets
        "requested_datetime": w3(call.raised_at),
        "updated_datetime": w3(call.updated_at),
        "expected_datetime": w3(expected(call)),
        "address": location.get("address"),
        "address_id": None,
        "zipcode": None,
        "lat": location.get("lat"),
        "long": location.get("lon"),
        "media_url": call.media_url,
    }


def agency_responsible(call: Call, org: Org) -> str:
    """The lead department while its work order runs, else the unit holding the call."""
    lead = call.lead_order
    if call.status is Status.DISPATCHED and lead is not None:
        unit = org.unit(lead.department_code)
        return unit.name if unit else lead.department_code
    return unit_name(org, call.holder)


def expected(call: Call) -> datetime | None:
    """The current resolution deadline: the lead order's (限期办理) while it runs, else the
    holding stint's; none once the call is resolved or ended."""
    if call.status.value not in UNSETTLED:
        return None
    lead = call.lead_order
    if call.status is Status.DISPATCHED and lead is not None and lead.status is not OrderStatus.COMPLETED:
        return lead.deadline
    return call.stint.resolution_due if call.chain else None


# --- lists -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime

    @classmethod
    def of(cls, start: datetime | None, end: datetime | None, now: datetime) -> Span:
        """The spec's window: at most 90 days; the most recent 90 days by default."""
        if start is not None and end is not None:
            if end < start:
                raise Open311Error(400, "end_date must not be before start_date")
            if end - start > MAX_SPAN:
                raise Open311Error(400, "start_date and end_date may span at most 90 days")
            return cls(start, end)
        if start is not None:
            return cls(start, start + MAX_SPAN)
        if end is not None:
            return cls(end - MAX_SPAN, end)
        return cls(now - MAX_SPAN, now)


def _seen_by(principal: Principal | None, org: Org) -> ColumnElement[bool]:
    public = rm_calls.c.channel == Channel.OPEN311.value
    return public if principal is None else public | visible_calls(principal, org)


def requested_in(
    conn: Connection,
    principal: Principal | None,
    org: Org,
    span: Span,
    codes: Sequence[str],
    statuses: Sequence[str],
    limit: int,
    offset: int = 0,
) -> list[UUID]:
    """Calls raised within ``span`` that the caller may see, newest first."""
    query = select(rm_calls.c.call_id).where(
        _seen_by(principal, org), rm_calls.c.raised_at >= span.start, rm_calls.c.raised_at <= span.end
    )
    if codes:
        query = query.where(rm_calls.c.item_code.in_(codes))
    if set(statuses) == {"open"}:
        query = query.where(rm_calls.c.status.in_(UNSETTLED))
    elif set(statuses) == {"closed"}:
        query = query.where(rm_calls.c.status.not_in(UNSETTLED))
    query = query.order_by(rm_calls.c.raised_at.desc(), rm_calls.c.seq.desc()).limit(limit).offset(offset)
    return [UUID(r.call_id) for r in conn.execute(query)]


def changed_in(conn: Connection, principal: Principal | None, org: Org, span: Span) -> list[UUID]:
    """Calls that may have a step within ``span`` (their latest step is no earlier than its start)."""
    query = select(rm_calls.c.call_id).where(
        _seen_by(principal, org), rm_calls.c.updated_at >= span.start, rm_calls.c.raised_at <= span.end
    )
    return [UUID(r.call_id) for r in conn.execute(query.order_by(rm_calls.c.seq))]


def updates_of(told: Told, org: Org, span: Span) -> list[dict[str, Any]]:
    """FixMyStreet's ``servicerequestupdates``: one update per step taken within ``span``."""
    updates = []
    call: Call | None = None
    for event in told.events:
        call = event.mutate(call)
        assert call is not None
        if span.start <= event.at <= span.end:
            updates.append(
                {
                    "update_id": f"{call.id}_{event.originator_version}",
                    "service_request_id": str(call.id),
                    "status": UPDATE_STATUS[call.status],
                    "updated_datetime": w3(event.at),
                    "description": step_note(event, call, org),
                    "media_url": None,
                    "external_status_code": call.status.value,
                }
            )
    return updates
