"""The call page: state, deadlines, the chain so far, the timeline, and a form for exactly the
moves this principal may make now (``huying.web.moves``). A move is sent through the API's own
route function — its body model, its command, its answer — with the form's Idempotency-Key and
the page's version as If-Match, so a stale page is refused as the API refuses it (412)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import Path, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response

from huying.api.deps import parse_call_id
from huying.api.present import call_public, duplicate_hints, history_entry
from huying.api.respond import CallAnswer
from huying.api.routers import attachments, calls, ratings, work_orders
from huying.api.routers import meetings as meeting_api
from huying.api.schemas import requests as bodies
from huying.api.schemas.calls import CallPublic
from huying.api.schemas.meetings import MeetingPublic, MeetingSummary, TableCallBody
from huying.api.schemas.ratings import RatingBody, ResponseRatingBody
from huying.domain.call import Call
from huying.domain.errors import InvalidCommand
from huying.domain.meeting_states import Stage
from huying.domain.meeting_transitions import Action as MeetingAction
from huying.domain.org import UnitKind
from huying.domain.principal import Principal
from huying.domain.transitions import TABLE, Action, on_work_order
from huying.services.attachments import Variant
from huying.web.acting import sent
from huying.web.context import FreshViewer, PostedForm, Viewer, services_of
from huying.web.forms import field, identity
from huying.web.moves import Move, meeting_moves, open_moves
from huying.web.pages import page_router, register
from huying.web.pages.intake import posted_body
from huying.web.render import page
from huying.web.sessions import Session

router = page_router()

# Each move: the API's route function and its body model. Whether it acts on a work order (and
# so takes an order id) is the transition table's to say (``transitions.on_work_order``).
MOVES: Mapping[Action, tuple[Callable[..., CallAnswer], type[BaseModel]]] = {
    Action.ACKNOWLEDGE: (calls.acknowledge, bodies.AcknowledgeBody),
    Action.ESCALATE: (calls.escalate, bodies.ReasonBody),
    Action.DISPATCH: (calls.dispatch, bodies.DispatchBody),
    Action.RESOLVE: (calls.resolve, bodies.ResolveBody),
    Action.EVALUATE: (calls.evaluate, bodies.EvaluateBody),
    Action.REOPEN: (calls.reopen, bodies.ReasonBody),
    Action.CLOSE: (calls.close, bodies.NoteBody),
    Action.WITHDRAW: (calls.withdraw, bodies.ReasonBody),
    Action.MERGE: (calls.merge, bodies.MergeBody),
    Action.SUPERVISE: (calls.supervise, bodies.SuperviseBody),
    Action.SIGN: (work_orders.sign, bodies.NoteBody),
    Action.RETURN: (work_orders.return_order, bodies.ReasonBody),
    Action.REQUEST_EXTENSION: (work_orders.request_extension, bodies.ExtensionBody),
    Action.PROGRESS: (work_orders.progress, bodies.ProgressBody),
    Action.COMPLETE: (work_orders.complete, bodies.CompleteBody),
    Action.GRANT_EXTENSION: (work_orders.grant_extension, bodies.NoteBody),
    Action.DENY_EXTENSION: (work_orders.deny_extension, bodies.ReasonBody),
    Action.RATE_WORK_ORDER: (ratings.rate_work_order, RatingBody),
    Action.RATE_RESPONSE: (ratings.rate_response, ResponseRatingBody),
}
# Meetings looked at for the put-on-agenda form: the holder's unit's, most recent first.
AGENDA_MEETINGS = 50


@router.get("/console/calls/{call_id}")
def call_page(
    request: Request,
    call_id: str,
    session: FreshViewer,
    done: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """Fresh: the meetings it offers to table the call on are read models (a meeting this
    browser just convened must be among them)."""
    return render_call(request, session, call_id, done=done)


def render_call(
    request: Request,
    session: Session,
    call_id: str,
    *,
    done: str | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    s, p = services_of(request), session.principal
    call = s.calls.call_for(p, parse_call_id(call_id))  # 404 outside the jurisdiction
    now = s.clock.now()
    position = s.calls.position_of(call)
    hints = duplicate_hints(call, position, p, s)
    shown = call_public(call, position, p, s.contacts, now, s.app.calendar, hints=hints)
    history = s.calls.history(p, call.id)
    item = s.app.catalog.item(call.item_code)
    moves = open_moves(p, call, now, s.calls.reopen_window)
    return page(
        request,
        "call.html",
        session,
        status,
        title=call.title,
        call=shown,
        now=now,
        item=item,
        timeline=[history_entry(pos, e) for pos, e in history.events],
        moves=[m for m in moves if m.action in MOVES],
        agenda=_agenda_meetings(request, p, moves),
        ratings=_ratings(call),
        departments=s.app.org.of_kind(UnitKind.DEPARTMENT),
        done=done,
        errors=errors or {},
    )


@router.post("/console/act")
async def act(request: Request, session: Viewer, form: PostedForm) -> Response:
    """One move from the call page's forms (one path for all: photos may come with it, and the
    gate lets exact paths carry uploads)."""
    call_id, move = field(form, "call") or "", field(form, "move") or ""
    action_name, _, order_id = move.partition("@")
    action_name = action_name.partition("#")[0]  # the round rated travels in the form's ``round``

    def show(errors: dict[str, str], status: int) -> Response:
        return render_call(request, session, call_id, errors=errors, status=status)

    async def send() -> CallPublic:
        return await _send(request, session, call_id, Action(action_name), order_id or None, form)

    return await sent(send, show, lambda done: f"/console/calls/{done}?done={action_name}", move)


async def _send(
    request: Request, session: Session, call_id: str, action: Action, order_id: str | None, form: FormData
) -> CallPublic:
    s, p = services_of(request), session.principal
    if action not in MOVES or on_work_order(TABLE[action]) != bool(order_id):
        where = "on a work order" if order_id else "on a call"
        raise InvalidCommand("move", f"{action.value} is not a move {where}")
    send, model = MOVES[action]
    body = model.model_validate(await posted_body(request, p, model, form))
    target = {"order_id": order_id} if order_id else {"call_id": call_id}
    answer: CallAnswer = await run_in_threadpool(
        lambda: send(**target, body=body, p=p, s=s, ident=identity(form))
    )
    return answer.answer


def _ratings(call: Call) -> dict[str, object]:
    """一呼一评 given so far: each work order's by order id, the street's response's by round."""
    return {
        "orders": {o.id: o.rating for o in call.orders_by_arrival if o.rating},
        "rounds": dict(call.response_ratings),
    }


def _agenda_meetings(request: Request, p: Principal, moves: list[Move]) -> list[MeetingSummary]:
    """The meetings the holder may put this call on: when the call's table offers put-on-agenda,
    the holder's unit's convened meetings whose own table lets it table a call now."""
    if not any(m.action is Action.PUT_ON_AGENDA for m in moves):
        return []
    s = services_of(request)
    now, org = s.clock.now(), s.app.org
    listed = meeting_api.list_meetings(p, s, s.projector.position(), limit=AGENDA_MEETINGS).data
    return [
        m
        for m in listed
        if m.stage is Stage.CONVENED
        and MeetingAction.TABLE_CALL
        in meeting_moves(p, s.meetings.meeting_for(p, meeting_api.parse_meeting_id(m.id)), now, org)
    ]


@router.post("/console/calls/agenda")
async def put_on_agenda(request: Request, session: Viewer, form: PostedForm) -> Response:
    """难题自下而上提交 from the call page: the meeting's own route function tables the call (the
    call's table and the meeting's both check it), and the call page shows it."""
    s, p = services_of(request), session.principal
    call_id, meeting_id = field(form, "call") or "", field(form, "meeting") or ""

    def show(errors: dict[str, str], status: int) -> Response:
        return render_call(request, session, call_id, errors=errors, status=status)

    async def send() -> MeetingPublic:
        body = TableCallBody.model_validate({"call_id": call_id})
        answer: MeetingPublic = await run_in_threadpool(
            lambda: meeting_api.table_call(meeting_id, body, p, s, identity(form), Response())
        )
        return answer

    done = f"/console/calls/{call_id}?done=put-on-agenda"
    return await sent(send, show, lambda _: done, "put-on-agenda")


@router.get("/console/attachments/{attachment_id}")
def photo(
    request: Request,
    attachment_id: Annotated[str, Path(max_length=64)],
    session: Viewer,
    variant: Variant = Variant.ORIGINAL,
) -> Response:
    """A photo, for whoever may see it — the API's own answer (404 for everyone else)."""
    s = services_of(request)
    return attachments.fetch(attachment_id, session.principal, s, request.app.state.attachment_store, variant)


register(router)
