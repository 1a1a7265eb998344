"""Joint meetings (联席会议): convene, the agenda (proposals, and calls put on it by their holder),
minutes, decisions (议定事项 — each becomes a tracked task), read, history and as_of."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Query, Response

from huying.api.deps import CurrentPrincipal, HuyingServices, Identity, ReadPosition
from huying.api.params import MAX_VERSION, Cursor, From, To
from huying.api.present import history_entry, unvouched_entry
from huying.api.routing import Router
from huying.api.schemas.base import Instant
from huying.api.schemas.calls import UnvouchedEvent
from huying.api.schemas.meetings import (
    AgendaItemPublic,
    Completion,
    DecisionBody,
    DecisionPublic,
    DecisionsPage,
    DecisionStanding,
    MeetingCreate,
    MeetingHistory,
    MeetingPage,
    MeetingPublic,
    MeetingSummary,
    MinutesBody,
    MinutesPublic,
    ProposalBody,
    ResponsiblePublic,
    TableCallBody,
)
from huying.api.schemas.requests import NoteBody, ReasonBody
from huying.audit.feed import window
from huying.bootstrap import Services
from huying.domain.directive_states import Responsible
from huying.domain.errors import InvalidCommand, MeetingNotFound
from huying.domain.jurisdiction import home_unit
from huying.domain.meeting import Meeting
from huying.domain.meeting_states import Decision, DecisionSpec
from huying.domain.principal import Principal
from huying.queries.meetings import completion, decisions_of, meetings_of
from huying.service_layer.command_path import Recorded

router = Router(prefix="/api/v1/meetings", tags=["meetings"])


def parse_meeting_id(raw: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise MeetingNotFound(f"no meeting {raw} in your jurisdiction") from None


def meeting_public(meeting: Meeting, position: int) -> MeetingPublic:
    minutes = meeting.minutes
    return MeetingPublic(
        id=str(meeting.id),
        version=meeting.version,
        position=position,
        convener=meeting.convener,
        kind=meeting.kind,
        title=meeting.title,
        scheduled_for=meeting.scheduled_for,
        invited=list(meeting.invited),
        stage=meeting.stage,
        agenda=[AgendaItemPublic(**vars(i)) for i in meeting.agenda],
        minutes=MinutesPublic(
            attended=list(minutes.attended),
            absent=[u for u in meeting.participants if u not in minutes.attended],
            discussion=minutes.discussion,
            recorded_at=minutes.recorded_at,
        )
        if minutes
        else None,
        decisions=[_decision(d) for d in meeting.decisions],
    )


def _decision(d: Decision) -> DecisionPublic:
    fields = {**vars(d), "assisting_units": list(d.assisting_units)}
    fields["responsible"] = ResponsiblePublic(name=d.responsible.name, post=d.responsible.post)
    return DecisionPublic(**fields)


def _answer(response: Response, recorded: Recorded[Meeting]) -> MeetingPublic:
    if recorded.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["ETag"] = f'"{recorded.aggregate.version}"'
    return meeting_public(recorded.aggregate, recorded.position)


@router.post("", status_code=201, response_model=MeetingPublic)
def convene(
    body: MeetingCreate, p: CurrentPrincipal, s: HuyingServices, ident: Identity, response: Response
) -> MeetingPublic:
    """召集: a street convenes its 大工委 (``working_committee``), a community its 大党委
    (``party_committee``), or another joint meeting (``other``), inviting its member units,
    units below it and departments."""
    recorded = s.meetings.convene(
        p,
        ident.submission(body),
        kind=body.kind,
        title=body.title,
        scheduled_for=body.scheduled_for,
        invited=body.invited,
    )
    response.headers["Location"] = f"/api/v1/meetings/{recorded.aggregate.id}"
    return _answer(response, recorded)


@router.get("", response_model=MeetingPage)
def list_meetings(
    p: CurrentPrincipal,
    s: HuyingServices,
    position: ReadPosition,
    unit: Annotated[str | None, Query(max_length=64, description="default: your own unit")] = None,
    from_: From = None,
    to: To = None,
    after: Cursor = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> MeetingPage:
    """The meetings a unit convened or was invited to, scheduled within ``from``/``to`` (read
    model), those you may see."""
    org, unit = s.app.org, _unit(s, p, unit)
    with s.engine.connect() as conn:
        page = meetings_of(conn, p, org, unit, window(from_, to), after, limit)
    data = [
        MeetingSummary(**{**r, "id": r["meeting_id"], "invited": r["invited"].split()}) for r in page.rows
    ]
    return MeetingPage(data=data, next=page.next, position=position)


@router.get("/decisions", response_model=DecisionsPage)
def list_decisions(
    p: CurrentPrincipal,
    s: HuyingServices,
    position: ReadPosition,
    unit: Annotated[str | None, Query(max_length=64, description="default: your own unit")] = None,
    from_: From = None,
    to: To = None,
) -> DecisionsPage:
    """议定事项 decided within ``from``/``to`` by the meetings a unit (or the units below it)
    convened, or that it leads or assists, with their completion and 议定事项落实率."""
    org, unit = s.app.org, _unit(s, p, unit)
    with s.engine.connect() as conn:
        rows = decisions_of(conn, p, org, unit, window(from_, to), s.clock.now())
    return DecisionsPage(
        unit=unit,
        figures=Completion(**completion(rows)),
        data=[_standing(r) for r in rows],
        position=position,
    )


def _unit(s: Services, p: Principal, unit: str | None) -> str:
    org = s.app.org
    unit = unit or home_unit(p, org)
    if org.unit(unit) is None:
        raise InvalidCommand("unit", f"no unit {unit} in org {org.version}")
    return unit


def _standing(row: dict[str, Any]) -> DecisionStanding:
    responsible = ResponsiblePublic(name=row["responsible_name"], post=row["responsible_post"])
    fields = {k: v for k, v in row.items() if k in DecisionStanding.model_fields}
    return DecisionStanding(
        **{**fields, "assisting_units": row["assisting_units"].split(), "responsible": responsible}
    )


@router.get("/{meeting_id}", response_model=MeetingPublic)
def get_meeting(
    meeting_id: str,
    p: CurrentPrincipal,
    s: HuyingServices,
    response: Response,
    as_of: Annotated[Instant | None, Query(description="business time: the meeting as it stood then")] = None,
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
) -> MeetingPublic:
    """The meeting as it stands, from the event store; with ``as_of`` or ``version``, as it was."""
    if as_of is not None and version is not None:
        raise InvalidCommand("version", "give as_of or version, not both")
    meeting = s.meetings.meeting_then(p, parse_meeting_id(meeting_id), as_of=as_of, version=version)
    response.headers["ETag"] = f'"{meeting.version}"'
    return meeting_public(meeting, s.meetings.position_of(meeting))


@router.get("/{meeting_id}/history", response_model=MeetingHistory)
def get_history(meeting_id: str, p: CurrentPrincipal, s: HuyingServices) -> MeetingHistory:
    """Every event of the meeting in order, with actor, business time and log position."""
    mid = parse_meeting_id(meeting_id)
    history = s.meetings.history(p, mid)
    entries = [history_entry(pos, e) for pos, e in history.events]
    flaws = [UnvouchedEvent.model_validate(unvouched_entry(f)) for f in history.unvouched]
    return MeetingHistory(meeting_id=str(mid), data=entries, unvouched=flaws)


@router.post("/{meeting_id}/agenda/proposals", response_model=MeetingPublic)
def propose(
    meeting_id: str,
    body: ProposalBody,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
    response: Response,
) -> MeetingPublic:
    """An agenda item proposed by an invited unit (a member's proposal) or the convener."""
    mid = parse_meeting_id(meeting_id)
    return _answer(response, s.meetings.propose(p, mid, ident.submission(body), body.title, body.note))


@router.post("/{meeting_id}/agenda/calls", response_model=MeetingPublic)
def table_call(
    meeting_id: str,
    body: TableCallBody,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
    response: Response,
) -> MeetingPublic:
    """难题自下而上提交: the call's holder puts a hard call on the agenda; the call's history
    shows ``PutOnAgenda``."""
    mid = parse_meeting_id(meeting_id)
    return _answer(response, s.meetings.table_call(p, mid, ident.submission(body), body.call_id))


@router.post("/{meeting_id}/minutes", response_model=MeetingPublic)
def record_minutes(
    meeting_id: str,
    body: MinutesBody,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
    response: Response,
) -> MeetingPublic:
    """会议纪要: attendance and discussion; the meeting is then held and may record decisions."""
    mid = parse_meeting_id(meeting_id)
    sub = ident.submission(body)
    return _answer(response, s.meetings.record_minutes(p, mid, sub, body.attended, body.discussion))


@router.post("/{meeting_id}/decisions", response_model=MeetingPublic)
def decide(
    meeting_id: str,
    body: DecisionBody,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
    response: Response,
) -> MeetingPublic:
    """议定事项: a decision naming a lead unit, assisting units, a responsible official and a
    deadline; its task is issued as a directive (``task_id``) and follows that lifecycle."""
    spec = DecisionSpec(
        title=body.title,
        lead_unit=body.lead_unit,
        assisting_units=tuple(body.assisting_units),
        responsible=Responsible(body.responsible.name, body.responsible.post),
        deadline=body.deadline,
        agenda_item=body.agenda_item,
        settles_call=body.settles_call,
    )
    return _answer(response, s.meetings.decide(p, parse_meeting_id(meeting_id), ident.submission(body), spec))


@router.post("/{meeting_id}/close", response_model=MeetingPublic)
def close(
    meeting_id: str,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
    response: Response,
    body: NoteBody | None = None,
) -> MeetingPublic:
    """The meeting's record is complete: no more decisions."""
    note = body.note if body else None
    return _answer(response, s.meetings.close(p, parse_meeting_id(meeting_id), ident.submission(body), note))


@router.post("/{meeting_id}/cancel", response_model=MeetingPublic)
def cancel(
    meeting_id: str,
    body: ReasonBody,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
    response: Response,
) -> MeetingPublic:
    """A meeting not yet held is called off."""
    mid = parse_meeting_id(meeting_id)
    return _answer(response, s.meetings.cancel(p, mid, ident.submission(body), body.reason))
