"""Work orders (工单): the department side, and the street's extension decisions."""

from __future__ import annotations

from fastapi import Response

from huying.api.deps import CurrentPrincipal, HuyingServices, Identity
from huying.api.present import work_order_public
from huying.api.respond import CallAnswer, with_call
from huying.api.routing import Router
from huying.api.schemas.calls import CallPublic, WorkOrderPublic
from huying.api.schemas.requests import CompleteBody, ExtensionBody, NoteBody, ProgressBody, ReasonBody

router = Router(prefix="/api/v1/work-orders", tags=["work orders"])


@router.get("/{order_id}", response_model=WorkOrderPublic)
def get_work_order(
    order_id: str, p: CurrentPrincipal, s: HuyingServices, response: Response
) -> WorkOrderPublic:
    """One work order with its call id; the ETag is the call's version."""
    call, _ = s.orders.order_for(p, order_id)
    order = call.work_orders[order_id]
    response.headers["ETag"] = f'"{call.version}"'
    return work_order_public(order, call.version)


@router.post("/{order_id}/sign", response_model=CallPublic)
def sign(
    order_id: str,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
    body: NoteBody | None = None,
) -> CallAnswer:
    """签收: the department accepts the order."""
    note = body.note if body else None
    return with_call(s.orders.sign(p, order_id, ident.submission(body), note), p, s)


@router.post("/{order_id}/return", response_model=CallPublic)
def return_order(
    order_id: str,
    body: ReasonBody,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
) -> CallAnswer:
    """退单: the department sends the order back, saying why."""
    outcome = s.orders.return_order(p, order_id, ident.submission(body), body.reason)
    return with_call(outcome, p, s)


@router.post("/{order_id}/request-extension", response_model=CallPublic)
def request_extension(
    order_id: str,
    body: ExtensionBody,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
) -> CallAnswer:
    """申请延期: ask the street for a later deadline."""
    outcome = s.orders.request_extension(p, order_id, ident.submission(body), body.until, body.reason)
    return with_call(outcome, p, s)


@router.post("/{order_id}/progress", response_model=CallPublic)
def progress(
    order_id: str,
    body: ProgressBody,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
) -> CallAnswer:
    """进展: a progress note, with photos (attachment ids) if there are any."""
    outcome = s.orders.note_progress(p, order_id, ident.submission(body), body.note, body.attachments)
    return with_call(outcome, p, s)


@router.post("/{order_id}/complete", response_model=CallPublic)
def complete(
    order_id: str,
    body: CompleteBody,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
) -> CallAnswer:
    """部门办结: the work is done; photos of it (attachment ids) if there are any."""
    outcome = s.orders.complete_order(p, order_id, ident.submission(body), body.result, body.attachments)
    return with_call(outcome, p, s)


@router.post("/{order_id}/extension/grant", response_model=CallPublic)
def grant_extension(
    order_id: str,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
    body: NoteBody | None = None,
) -> CallAnswer:
    """The holder street grants the pending extension."""
    note = body.note if body else None
    outcome = s.orders.grant_extension(p, order_id, ident.submission(body), note)
    return with_call(outcome, p, s)


@router.post("/{order_id}/extension/deny", response_model=CallPublic)
def deny_extension(
    order_id: str,
    body: ReasonBody,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
) -> CallAnswer:
    """The holder street refuses the pending extension."""
    outcome = s.orders.deny_extension(p, order_id, ident.submission(body), body.reason)
    return with_call(outcome, p, s)
