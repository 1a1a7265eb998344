"""The call page: state, deadlines, the chain so far, the timeline, and a form for exactly the
moves this principal may make now (``huying.web.moves``). A move is sent through the API's own
route function — its body model, its command, its answer — with the form's Idempotency-Key and
the page's version as If-Match, so a stale page is refused as the API refuses it (412)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import Path, Query, Request
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from huying.api.deps import RequestIdentity, parse_call_id
from huying.api.present import call_public, duplicate_hints, history_entry
from huying.api.routers import attachments, calls, work_orders
from huying.api.schemas import requests as bodies
from huying.api.schemas.calls import CallPublic
from huying.domain.errors import DomainError, InvalidCommand
from huying.domain.org import UnitKind
from huying.domain.transitions import TABLE, Action, on_work_order
from huying.services.attachments import Variant
from huying.services.photos import AttachmentRefused
from huying.web.context import PostedForm, Viewer, remember_write, services_of
from huying.web.forms import field_errors, instant, text
from huying.web.moves import open_moves
from huying.web.pages import page_router, register
from huying.web.pages.intake import upload_photos
from huying.web.render import page, refusal_status
from huying.web.sessions import Session

router = page_router()

# Each move: the API's route function and its body model. Whether it acts on a work order (and
# so takes an order id) is the transition table's to say (``transitions.on_work_order``).
MOVES: Mapping[Action, tuple[Callable[..., CallPublic], type[BaseModel]]] = {
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
}
_TIMES = ("deadline", "until")  # datetime-local fields: Beijing time as typed


@router.get("/console/calls/{call_id}")
def call_page(
    request: Request, call_id: str, session: Viewer, done: Annotated[str | None, Query(max_length=40)] = None
) -> Response:
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
        # the moves this page has a form for (a call goes on an agenda from its meeting)
        moves=[m for m in open_moves(p, call, now, s.calls.reopen_window) if m.action in MOVES],
        departments=s.app.org.of_kind(UnitKind.DEPARTMENT),
        done=done,
        errors=errors or {},
    )


@router.post("/console/act")
async def act(request: Request, session: Viewer, form: PostedForm) -> Response:
    """One move from the call page's forms (one path for all: photos may come with it, and the
    gate lets exact paths carry uploads)."""
    call_id, move = _field(form, "call") or "", _field(form, "move") or ""
    action_name, _, order_id = move.partition("@")
    try:
        outcome = await _send(request, session, call_id, Action(action_name), order_id or None, form)
    except ValueError as e:  # not an action of the table: ValidationError is one too
        errors = field_errors(e) if isinstance(e, ValidationError) else {"move": f"no move {move!r}"}
        return render_call(request, session, call_id, errors=errors, status=422)
    except AttachmentRefused as e:
        return render_call(request, session, call_id, errors={"photo": e.detail}, status=e.status)
    except DomainError as e:
        field = e.field if isinstance(e, InvalidCommand) else move
        return render_call(request, session, call_id, errors={field: e.detail}, status=refusal_status(e))
    response = RedirectResponse(f"/console/calls/{outcome.id}?done={action_name}", status_code=303)
    remember_write(response, outcome.position)
    return response


async def _send(
    request: Request, session: Session, call_id: str, action: Action, order_id: str | None, form: FormData
) -> CallPublic:
    s, p = services_of(request), session.principal
    if action not in MOVES or on_work_order(TABLE[action]) != bool(order_id):
        where = "on a work order" if order_id else "on a call"
        raise InvalidCommand("move", f"{action.value} is not a move {where}")
    send, model = MOVES[action]
    body = model.model_validate(await _body_of(request, session, model, form))
    version = _field(form, "version")
    identity = RequestIdentity(
        _field(form, "idempotency_key"), int(version) if version and version.isdigit() else None
    )
    target = {"order_id": order_id} if order_id else {"call_id": call_id}
    answer: CallPublic = await run_in_threadpool(
        lambda: send(**target, body=body, p=p, s=s, ident=identity, response=Response())
    )
    return answer


async def _body_of(
    request: Request, session: Session, model: type[BaseModel], form: FormData
) -> dict[str, Any]:
    """The body model's fields from the form: lists from repeated fields, photos uploaded first."""
    data: dict[str, Any] = {}
    for name in model.model_fields:
        if name == "attachments":
            photos = await upload_photos(request, session.principal, form)
            if photos:
                data[name] = photos
        elif name == "assisting_departments":
            data[name] = [v for v in form.getlist(name) if isinstance(v, str) and v.strip()]
        elif (value := _field(form, name)) is not None:
            data[name] = instant(value) if name in _TIMES else value
    return data


def _field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return text({name: value}, name) if isinstance(value, str) else None


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
