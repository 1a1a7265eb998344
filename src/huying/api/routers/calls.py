"""Calls: raise (一事一呼), read, history, and every call-level action."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from huying.api.deps import (
    CurrentPrincipal,
    HuyingServices,
    Identity,
    ReadPosition,
    RequestIdentity,
    parse_call_id,
)
from huying.api.express import express
from huying.api.filters import Attention
from huying.api.names import ShownNames
from huying.api.params import MAX_VERSION, Cursor, From, To, enum_list
from huying.api.present import call_summary, history_entry, unvouched_entry
from huying.api.respond import Answer, CallAnswer, call_answer, with_call
from huying.api.routing import Router
from huying.api.schemas.base import Instant
from huying.api.schemas.calls import CallPublic, DuplicatePage, History, PossibleDuplicate, UnvouchedEvent
from huying.api.schemas.reads import CallPage
from huying.api.schemas.requests import (
    AcknowledgeBody,
    CallCreate,
    DispatchBody,
    EvaluateBody,
    MergeBody,
    NoteBody,
    ReasonBody,
    ResolveBody,
    SuperviseBody,
)
from huying.audit.feed import window
from huying.bootstrap import Services
from huying.domain.contact import Contact
from huying.domain.errors import InvalidCommand
from huying.domain.levels import Level
from huying.domain.principal import Principal
from huying.domain.states import Channel, Status, Urgency
from huying.onloop import on_loop
from huying.projections.text import searched
from huying.queries.duplicates import Subject, open_now
from huying.queries.search import CallFilter
from huying.queries.search import search_calls as search_calls_in
from huying.service_layer.calls import CallDraft, DispatchPlan

router = Router(prefix="/api/v1/calls", tags=["calls"])


@router.post("", status_code=201, response_model=CallPublic)
@express  # its ordinary requests answered without FastAPI's per-request work (``huying.api.express``)
async def raise_call(body: CallCreate, p: CurrentPrincipal, s: HuyingServices, ident: Identity) -> CallAnswer:
    """群众有呼: raise a call. A retry with the same Idempotency-Key returns the first answer.
    The answer names ``possible_duplicates``: open calls of the same item in the same grid or
    nearby, raised in the days before, that you can see — if it is the same matter, its holder
    merges it into one of them (一事一呼)."""
    # The hot path of every district: on the event loop's thread, suspended while its commit is
    # under way, rather than in a worker thread (``huying.onloop``).
    return await on_loop(_raised, body, p, s, ident)


def _raised(body: CallCreate, p: Principal, s: Services, ident: RequestIdentity) -> CallAnswer:
    draft = draft_of(body)
    outcome = s.calls.raise_call(p, draft, ident.submission(body), shown_back=True)
    answer = with_call(outcome, p, s, status_code=201)
    answer.headers["Location"] = f"/api/v1/calls/{outcome.call.id}"
    return answer


def draft_of(body: CallCreate) -> CallDraft:
    """What a raise's request body asks for (also what ``huying seed --synthetic`` sends)."""
    return CallDraft(
        item_code=body.item_code,
        grid_code=body.grid_code,
        title=body.title,
        description=body.description,
        channel=body.channel.value,
        urgency=body.urgency.value,
        occurred_at=body.occurred_at,
        location=body.location.model_dump(exclude_none=True) if body.location else None,
        reporter=Contact(body.reporter.name, body.reporter.phone) if body.reporter else None,
        attachments=body.attachments,
        media_url=body.media_url,
    )


@router.get("", response_model=CallPage)
def search_calls(
    p: CurrentPrincipal,
    s: HuyingServices,
    position: ReadPosition,
    attention: Attention,
    names: ShownNames,
    unit: Annotated[str | None, Query(max_length=64, description="calls this unit has to do with")] = None,
    status: Annotated[str | None, Query(description="comma-separated statuses")] = None,
    level: Level | None = None,
    overdue: bool | None = None,
    item: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="free text: each word in the title or description (中文 needs no spaces)",
        ),
    ] = None,
    from_: From = None,
    to: To = None,
    channel: Annotated[str | None, Query(max_length=200, description="comma-separated channels")] = None,
    urgency: Annotated[str | None, Query(max_length=200, description="comma-separated urgencies")] = None,
    after: Cursor = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Answer[CallPage]:
    """Search the escalation state (read model), within your jurisdiction. ``from``/``to`` bound
    when the call was raised, as the event feed's do (Asia/Shanghai dates)."""
    raised = window(from_, to)
    query = CallFilter(
        unit=_known_unit(s, unit),
        statuses=enum_list(status, Status, "status"),
        level=level.value if level else None,
        overdue=overdue,
        item=item,
        words=searched(q) if q and q.strip() else (),
        raised_from=raised.start,
        raised_before=raised.end,
        channels=enum_list(channel, Channel, "channel"),
        urgencies=enum_list(urgency, Urgency, "urgency"),
        attention=attention,
    )
    now = s.clock.now()
    with s.engine.connect() as conn:
        page = search_calls_in(conn, p, s.app.org, query, now, after, limit)
    return Answer(
        CallPage(
            data=[call_summary(r, now, s.app.calendar, names) for r in page.rows],
            next=page.next,
            position=position,
        )
    )


def _known_unit(s: Services, unit: str | None) -> str | None:
    if unit is not None and s.app.org.unit(unit) is None:
        raise InvalidCommand("unit", f"no unit {unit} in org {s.app.org.version}")
    return unit


@router.get("/{call_id}", response_model=CallPublic)
def get_call(
    call_id: str,
    p: CurrentPrincipal,
    s: HuyingServices,
    as_of: Annotated[
        Instant | None, Query(description="business time: the call as it stood then (时间回溯)")
    ] = None,
    version: Annotated[
        int | None, Query(ge=1, le=MAX_VERSION, description="the call at this version")
    ] = None,
) -> CallAnswer:
    """The call's current state, straight from the event store (strongly consistent); with
    ``as_of`` or ``version``, as it stood then (its clocks as of that moment)."""
    if as_of is not None and version is not None:
        raise InvalidCommand("version", "give as_of or version, not both")
    call = s.calls.call_then(p, parse_call_id(call_id), as_of=as_of, version=version)
    # Its clocks as of that moment: the version's own business time, or as_of (never the future).
    now = s.clock.now()
    now = call.updated_at if version is not None else min(as_of or now, now)
    return call_answer(call, s.calls.position_of(call), p, s, now)


@router.get("/{call_id}/possible-duplicates", response_model=DuplicatePage)
def get_possible_duplicates(
    call_id: str, p: CurrentPrincipal, s: HuyingServices, position: ReadPosition
) -> DuplicatePage:
    """重复提示, asked now: open calls of the same item in the same grid, or within the configured
    distance when both have lat/lon, raised within the last N days (before or after this one),
    that you can see — candidates to merge this call into, or to merge into it."""
    call = s.calls.call_for(p, parse_call_id(call_id))
    subject = Subject.of(str(call.id), call.item_code, call.grid_code, call.location)
    with s.engine.connect() as conn:
        rows = open_now(conn, p, s.app.org, subject, s.recent.rule, s.clock.now())
    return DuplicatePage(data=[PossibleDuplicate(id=r["call_id"], **r) for r in rows], position=position)


@router.delete("/{call_id}/reporter", response_model=CallPublic)
def erase_reporter(call_id: str, p: CurrentPrincipal, s: HuyingServices) -> CallAnswer:
    """个人信息删除: erase the reporter's name and phone on request (supervisor or admin). The
    call, its history and its scores stay as they were; it shows ``reporter: null`` from now on."""
    call = s.calls.erase_reporter(p, parse_call_id(call_id))
    return call_answer(call, s.calls.position_of(call), p, s, s.clock.now())


@router.get("/{call_id}/history", response_model=History)
def get_history(call_id: str, p: CurrentPrincipal, s: HuyingServices) -> Answer[History]:
    """Every event of the call in order, with actor, business time and log position."""
    cid = parse_call_id(call_id)
    history = s.calls.history(p, cid)
    entries = [history_entry(pos, e) for pos, e in history.events]
    flaws = [UnvouchedEvent.model_validate(unvouched_entry(f)) for f in history.unvouched]
    return Answer(History(call_id=str(cid), data=entries, unvouched=flaws))


@router.post("/{call_id}/acknowledge", response_model=CallPublic)
def acknowledge(
    call_id: str,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
    body: AcknowledgeBody | None = None,
) -> CallAnswer:
    """响应: the holder takes the call on."""
    note = body.note if body else None
    outcome = s.calls.acknowledge(p, parse_call_id(call_id), ident.submission(body), note)
    return with_call(outcome, p, s)


@router.post("/{call_id}/escalate", response_model=CallPublic)
def escalate(
    call_id: str,
    body: ReasonBody,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
) -> CallAnswer:
    """上呼: the community calls up to its street."""
    outcome = s.calls.escalate(p, parse_call_id(call_id), ident.submission(body), body.reason)
    return with_call(outcome, p, s)


@router.post("/{call_id}/dispatch", response_model=CallPublic)
def dispatch(
    call_id: str,
    body: DispatchBody,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
) -> CallAnswer:
    """派单: the street sends work orders to a lead department and any assisting ones."""
    plan = DispatchPlan(body.lead_department, body.assisting_departments, body.deadline, body.instructions)
    outcome = s.calls.dispatch(p, parse_call_id(call_id), ident.submission(body), plan)
    return with_call(outcome, p, s)


@router.post("/{call_id}/resolve", response_model=CallPublic)
def resolve(
    call_id: str,
    body: ResolveBody,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
) -> CallAnswer:
    """办结: the holder declares the matter solved — citing, with ``decision``, the joint
    meeting's decision (议定事项) that settled it."""
    cid, sub, cited = parse_call_id(call_id), ident.submission(body), body.decision
    if cited is None:
        return with_call(s.calls.resolve(p, cid, sub, body.summary), p, s)
    outcome = s.meetings.resolve_citing(p, cid, sub, body.summary, cited.meeting_id, cited.decision_id)
    return with_call(outcome, p, s)


@router.post("/{call_id}/evaluate", response_model=CallPublic)
def evaluate(
    call_id: str,
    body: EvaluateBody,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
) -> CallAnswer:
    """回访 / 一呼一评: the reporter's answer, once per round."""
    outcome = s.calls.evaluate(
        p,
        parse_call_id(call_id),
        ident.submission(body),
        contacted=body.contacted,
        solved=body.solved,
        satisfaction=body.satisfaction,
        comment=body.comment,
    )
    return with_call(outcome, p, s)


@router.post("/{call_id}/reopen", response_model=CallPublic)
def reopen(
    call_id: str,
    body: ReasonBody,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
) -> CallAnswer:
    """重办: a dissatisfied call goes back, in a new round."""
    outcome = s.calls.reopen(p, parse_call_id(call_id), ident.submission(body), body.reason)
    return with_call(outcome, p, s)


@router.post("/{call_id}/close", response_model=CallPublic)
def close(
    call_id: str,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
    body: NoteBody | None = None,
) -> CallAnswer:
    """销号: strike the problem off the ledger."""
    note = body.note if body else None
    outcome = s.calls.close_call(p, parse_call_id(call_id), ident.submission(body), note)
    return with_call(outcome, p, s)


@router.post("/{call_id}/withdraw", response_model=CallPublic)
def withdraw(
    call_id: str,
    body: ReasonBody,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
) -> CallAnswer:
    """撤回: the reporter no longer needs it."""
    outcome = s.calls.withdraw(p, parse_call_id(call_id), ident.submission(body), body.reason)
    return with_call(outcome, p, s)


@router.post("/{call_id}/supervise", response_model=CallPublic)
def supervise(
    call_id: str,
    body: SuperviseBody,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
) -> CallAnswer:
    """督办: flag the late unit (default: the holder)."""
    outcome = s.calls.supervise(p, parse_call_id(call_id), ident.submission(body), body.reason, body.unit)
    return with_call(outcome, p, s)


@router.post("/{call_id}/merge", response_model=CallPublic)
def merge(
    call_id: str,
    body: MergeBody,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
) -> CallAnswer:
    """Merge a duplicate into the call that carries the matter (一事一呼)."""
    outcome = s.calls.merge(p, parse_call_id(call_id), ident.submission(body), body.into, body.reason)
    return with_call(outcome, p, s)
