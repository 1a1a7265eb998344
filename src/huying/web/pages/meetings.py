"""联席会议 pages: the meetings of my unit by period, with their decisions' standing (议定事项
落实率); a meeting's page (agenda — calls put on it included — minutes and attendance, decisions
with lead unit, responsible official, deadline and how far each task has come) with a form for
exactly the moves I may make now (``web.moves``, from the meeting's own transition table); and
the form to convene one. Reads and moves are the API's own route functions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response

from huying.api.params import From, To
from huying.api.routers import meetings as api
from huying.api.schemas.meetings import (
    DecisionBody,
    DecisionStanding,
    MeetingCreate,
    MeetingPublic,
    MinutesBody,
    ProposalBody,
    TableCallBody,
)
from huying.api.schemas.requests import NoteBody, ReasonBody
from huying.domain.meeting_transitions import CONVENERS, Action
from huying.domain.principal import Principal, Role
from huying.web.acting import sent
from huying.web.context import FreshViewer, PostedForm, Viewer, services_of
from huying.web.forms import body_fields, field, identity
from huying.web.moves import meeting_moves
from huying.web.nav import EVERYONE, NavEntry
from huying.web.nav import register as register_nav
from huying.web.pages import page_router, register
from huying.web.render import page
from huying.web.sessions import Session

router = page_router()
SHOWN = 200
READERS = EVERYONE - {Role.GRID_WORKER}

# Each move on a meeting: the API's route function and its body model.
MOVES: Mapping[Action, tuple[Callable[..., MeetingPublic], type[BaseModel]]] = {
    Action.PROPOSE: (api.propose, ProposalBody),
    Action.TABLE_CALL: (api.table_call, TableCallBody),
    Action.RECORD_MINUTES: (api.record_minutes, MinutesBody),
    Action.DECIDE: (api.decide, DecisionBody),
    Action.CLOSE: (api.close, NoteBody),
    Action.CANCEL: (api.cancel, ReasonBody),
}


@router.get("/console/meetings")
def my_meetings(request: Request, session: FreshViewer, from_: From = None, to: To = None) -> Response:
    return render_meetings(request, session, from_, to)


def render_meetings(
    request: Request,
    session: Session,
    from_: str | None,
    to: str | None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """My unit's meetings scheduled in the period, and the decisions decided in it."""
    s, p = services_of(request), session.principal
    position = s.projector.position()
    listed = api.list_meetings(p, s, position, from_=from_, to=to, limit=SHOWN)
    decisions = api.list_decisions(p, s, position, from_=from_, to=to)
    convener = p.role in CONVENERS
    org = s.app.org
    return page(
        request,
        "meetings.html",
        session,
        status,
        title="联席会议 Joint meetings",
        meetings=listed,
        decisions=decisions,
        period={"from": from_ or "", "to": to or ""},
        may_convene=convener,
        invitable=[u for u in org.units.values() if convener and s.meetings.may_invite(p.unit, u.code)],
        errors=errors or {},
    )


@router.post("/console/meetings")
async def convene(request: Request, session: Viewer, form: PostedForm) -> Response:
    s, p = services_of(request), session.principal

    def show(errors: dict[str, str], status: int) -> Response:
        return render_meetings(request, session, None, None, errors, status)

    async def send() -> MeetingPublic:
        body = MeetingCreate.model_validate(body_fields(form, MeetingCreate))
        answer: MeetingPublic = await run_in_threadpool(
            lambda: api.convene(body, p, s, identity(form), Response())
        )
        return answer

    return await sent(send, show, lambda made: f"/console/meetings/{made}?done=convene", "convene")


@router.get("/console/meetings/{meeting_id}")
def meeting_page(
    request: Request,
    meeting_id: str,
    session: FreshViewer,
    done: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    return render_meeting(request, session, meeting_id, done=done)


def render_meeting(
    request: Request,
    session: Session,
    meeting_id: str,
    *,
    done: str | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The meeting from the event store (404 outside the jurisdiction), each decision's task
    standing from the read model, and the moves this principal may make now."""
    s, p = services_of(request), session.principal
    meeting = s.meetings.meeting_for(p, api.parse_meeting_id(meeting_id))
    now, org = s.clock.now(), s.app.org
    return page(
        request,
        "meeting.html",
        session,
        status,
        title=meeting.title,
        meeting=api.meeting_public(meeting, s.meetings.position_of(meeting)),
        standing=_standing(p, request, meeting.convener, str(meeting.id)),
        moves=meeting_moves(p, meeting, now, org),
        # whom a decision may name: the meeting's units, those below its convener, departments
        assignable=[u for u in org.units.values() if s.meetings.may_invite(meeting.convener, u.code)],
        done=done,
        errors=errors or {},
    )


def _standing(p: Principal, request: Request, convener: str, meeting_id: str) -> dict[str, DecisionStanding]:
    """Each decision's task standing, by decision id — those the principal may see."""
    s = services_of(request)
    found = api.list_decisions(p, s, s.projector.position(), unit=convener)
    return {d.decision_id: d for d in found.data if d.meeting_id == meeting_id}


@router.post("/console/meetings/act")
async def act(request: Request, session: Viewer, form: PostedForm) -> Response:
    """One move from a meeting page's forms."""
    meeting_id, move = field(form, "meeting") or "", field(form, "move") or ""

    def show(errors: dict[str, str], status: int) -> Response:
        return render_meeting(request, session, meeting_id, errors=errors, status=status)

    async def send() -> MeetingPublic:
        return await _send(request, session.principal, meeting_id, Action(move), form)

    return await sent(send, show, lambda mid: f"/console/meetings/{mid}?done={move}", move)


async def _send(
    request: Request, p: Principal, meeting_id: str, action: Action, form: FormData
) -> MeetingPublic:
    s = services_of(request)
    if action not in MOVES:
        raise ValueError(action)
    send, model = MOVES[action]
    body = model.model_validate(body_fields(form, model))
    answer: MeetingPublic = await run_in_threadpool(
        lambda: send(meeting_id, body=body, p=p, s=s, ident=identity(form), response=Response())
    )
    return answer


register(router)
register_nav(NavEntry("meetings", "联席会议", "Joint meetings", READERS, 32))
