"""令行禁止 pages: my directives (what awaits my unit, as a target and as the issuer), the
directives I may see, a directive's board (every target's state, lateness and evidence, its
breakdowns' standing) with a form for exactly the moves I may make now (``web.moves``, from the
directive's own transition table), and the form to issue or break one down. Reads and moves are
the API's own route functions, so a page shows what the API shows this principal and a move is
refused as the API refuses it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response

from huying.api.directive_present import directive_public
from huying.api.params import Cursor
from huying.api.routers import directives as api
from huying.api.schemas.directives import (
    Breakdown,
    DirectiveCreate,
    DirectivePublic,
    ExtensionBody,
    NoteBody,
    PendingItem,
    ProgressBody,
    ReasonBody,
    ReceiveBody,
    ReportBody,
)
from huying.domain.directive_transitions import Action, may_address
from huying.domain.errors import DirectiveNotFound, InvalidCommand, NotPermitted
from huying.domain.org import Org, Unit
from huying.domain.principal import Principal, Role
from huying.web.acting import sent
from huying.web.context import FreshViewer, PostedForm, Viewer, services_of
from huying.web.forms import body_fields, field, identity
from huying.web.moves import directive_moves
from huying.web.nav import EVERYONE, NavEntry
from huying.web.nav import register as register_nav
from huying.web.pages import page_router, register
from huying.web.pages.intake import posted_body
from huying.web.render import page
from huying.web.sessions import Session

router = page_router()
SHOWN = 100  # directives per page of the list; pending lists show the API's largest page
PENDING = 500
# Whom the list is for: everyone who may see a directive (a grid worker is never a target).
READERS = EVERYONE - {Role.GRID_WORKER}

# Each move on one target: the API's route function and its body model.
TARGET_MOVES: Mapping[Action, tuple[Callable[..., DirectivePublic], type[BaseModel]]] = {
    Action.RECEIVE: (api.receive, ReceiveBody),
    Action.PROGRESS: (api.progress, ProgressBody),
    Action.REPORT: (api.report, ReportBody),
    Action.ACCEPT: (api.accept, NoteBody),
    Action.SEND_BACK: (api.send_back, ReasonBody),
    Action.REQUEST_EXTENSION: (api.request_extension, ExtensionBody),
    Action.GRANT_EXTENSION: (api.grant_extension, NoteBody),
    Action.DENY_EXTENSION: (api.deny_extension, ReasonBody),
    Action.SUPERVISE: (api.supervise, ReasonBody),
}


@router.get("/console/directives")
def my_directives(request: Request, session: FreshViewer, after: Cursor = 0) -> Response:
    """我的指令: what awaits my unit, then every directive I may see, in order of issue."""
    s, p = services_of(request), session.principal
    position = s.projector.position()
    as_target = api.pending(p, s, position, side="target", limit=PENDING).data
    as_issuer = api.pending(p, s, position, side="issuer", limit=PENDING).data
    listed = api.list_directives(p, s, position, after=after, limit=SHOWN)
    return page(
        request,
        "directives.html",
        session,
        title="令行禁止 Directives",
        pending=[
            ("待签收", "To receive", _at(as_target, "issued")),
            ("办理中（待反馈）", "In progress, to report", _at(as_target, "received")),
            ("返工", "Sent back", _at(as_target, "rework")),
            ("待验收", "Reports to accept", _at(as_issuer, "reported")),
            ("延期申请", "Extensions to decide", [i for i in as_issuer if i.extension_pending]),
        ],
        listed=listed,
        may_issue=bool(addressable(p, s.app.org)),
    )


def addressable(p: Principal, org: Org) -> list[Unit]:
    """The units this principal may direct: the table's own rule (``may_address``)."""
    return [unit for code, unit in org.units.items() if may_address(p, org, code) is None]


def _at(items: list[PendingItem], stage: str) -> list[PendingItem]:
    return [i for i in items if i.stage == stage]


@router.get("/console/directives/new")
def new_directive(
    request: Request, session: Viewer, parent: Annotated[str | None, Query(max_length=64)] = None
) -> Response:
    return render_new(request, session, parent)


def render_new(
    request: Request,
    session: Session,
    parent: str | None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """下达 (or, with ``parent``, 分解): the units this principal may direct are the table's own
    rule (``may_address``); the service checks the rest when the form is sent."""
    s, p = services_of(request), session.principal
    parent_directive = s.directives.directive_for(p, api.parse_directive_id(parent)) if parent else None
    org = s.app.org
    units = addressable(p, org)
    if not units:  # the table's rule: whom this principal may direct
        raise NotPermitted(f"{p.role} {p.unit} directs no unit (a meeting's tasks come from its decisions)")
    return page(
        request,
        "directive_new.html",
        session,
        status,
        title="下达指令 Issue a directive",
        parent=parent_directive,
        units=units,
        errors=errors or {},
    )


@router.post("/console/directives/new")
async def issue(request: Request, session: Viewer, form: PostedForm) -> Response:
    s, p = services_of(request), session.principal

    def show(errors: dict[str, str], status: int) -> Response:
        return render_new(request, session, field(form, "parent_id"), errors, status)

    async def send() -> DirectivePublic:
        body = DirectiveCreate.model_validate(body_fields(form, DirectiveCreate))
        answer: DirectivePublic = await run_in_threadpool(
            lambda: api.issue(body, p, s, identity(form), Response())
        )
        return answer

    return await sent(send, show, lambda made: f"/console/directives/{made}?done=issue", "issue")


@router.get("/console/directives/{directive_id}")
def directive_page(
    request: Request,
    directive_id: str,
    session: FreshViewer,
    done: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    return render_directive(request, session, directive_id, done=done)


def render_directive(
    request: Request,
    session: Session,
    directive_id: str,
    *,
    done: str | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """督查看板: the directive from the event store (404 outside the jurisdiction), its
    breakdowns' standing from the board, and the moves this principal may make now."""
    s, p = services_of(request), session.principal
    directive = s.directives.directive_for(p, api.parse_directive_id(directive_id))
    now = s.clock.now()
    return page(
        request,
        "directive.html",
        session,
        status,
        title=directive.title,
        directive=directive_public(directive, s.directives.position_of(directive), now),
        children=_breakdowns(p, request, str(directive.id)),
        moves=directive_moves(p, directive, now),
        may_break_down=p.role is Role.STREET and p.unit in directive.targets and not directive.cancelled,
        done=done,
        errors=errors or {},
    )


def _breakdowns(p: Principal, request: Request, directive_id: str) -> list[Breakdown] | None:
    """The breakdowns this principal may see, with their standing (None: not on the board yet)."""
    s = services_of(request)
    try:
        return api.get_board(directive_id, p, s, s.projector.position()).children
    except DirectiveNotFound:
        return None


@router.post("/console/directives/act")
async def act(request: Request, session: Viewer, form: PostedForm) -> Response:
    """One move from a directive page's forms: ``move`` is ``<action>@<unit>`` for a target's,
    ``cancel`` for the directive's."""
    directive_id, move = field(form, "directive") or "", field(form, "move") or ""
    name, _, unit = move.partition("@")

    def show(errors: dict[str, str], status: int) -> Response:
        return render_directive(request, session, directive_id, errors=errors, status=status)

    async def send() -> DirectivePublic:
        return await _send(request, session.principal, directive_id, Action(name), unit, form)

    return await sent(send, show, lambda did: f"/console/directives/{did}?done={name}", move)


async def _send(
    request: Request, p: Principal, directive_id: str, action: Action, unit: str, form: FormData
) -> DirectivePublic:
    s = services_of(request)
    if action is Action.CANCEL and not unit:
        body = ReasonBody.model_validate(body_fields(form, ReasonBody))
        answer: DirectivePublic = await run_in_threadpool(
            lambda: api.cancel(directive_id, body, p, s, identity(form), Response())
        )
        return answer
    if action not in TARGET_MOVES or not unit:
        raise InvalidCommand("move", f"{action.value} is not a move on a target")
    send, model = TARGET_MOVES[action]
    body_of = model.model_validate(await posted_body(request, p, model, form))
    on = api.TargetMove(p, s, api.parse_directive_id(directive_id), unit, identity(form), Response())
    answer = await run_in_threadpool(lambda: send(on, body_of))
    return answer


register(router)
register_nav(NavEntry("directives", "令行禁止", "Directives", READERS, 30))
