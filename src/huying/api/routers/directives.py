"""令行禁止: directives down the chain — issue (and break down), read, history, each target's
moves, the board, the pending lists and the figures (docs/directives.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal
from uuid import UUID

from fastapi import Depends, Query, Response
from pydantic import BaseModel

from huying.api.deps import CurrentPrincipal, HuyingServices, Identity, ReadPosition, RequestIdentity
from huying.api.directive_present import directive_answer, summary
from huying.api.params import MAX_VERSION, Cursor, TimeBound
from huying.api.present import history_entry, unvouched_entry
from huying.api.routing import Router
from huying.api.schemas.base import Code, Instant
from huying.api.schemas.calls import UnvouchedEvent
from huying.api.schemas.directives import (
    Board,
    DirectiveCreate,
    DirectiveHistory,
    DirectivePage,
    DirectivePublic,
    ExtensionBody,
    FiguresPage,
    NoteBody,
    PendingItem,
    PendingPage,
    ProgressBody,
    ReasonBody,
    ReceiveBody,
    ReportBody,
    UnitFigures,
)
from huying.audit.feed import window
from huying.bootstrap import Services
from huying.domain.directive import Directive
from huying.domain.errors import DirectiveNotFound, InvalidCommand
from huying.domain.jurisdiction import home_unit, may_read_unit
from huying.domain.principal import Principal
from huying.queries import directive_figures
from huying.queries import directives as queries
from huying.service_layer.command_path import Recorded, Submission
from huying.service_layer.directives import DirectiveDraft

router = Router(prefix="/api/v1/directives", tags=["directives"])
Limit = Annotated[int, Query(ge=1, le=500)]


def parse_directive_id(raw: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise DirectiveNotFound(f"no directive {raw} in your jurisdiction") from None


@router.post("", status_code=201, response_model=DirectivePublic)
def issue(
    body: DirectiveCreate, p: CurrentPrincipal, s: HuyingServices, ident: Identity, response: Response
) -> DirectivePublic:
    """下达: issue a directive to units below (with ``parent_id``: break one addressed to you down
    to your communities). A retry with the same Idempotency-Key returns the first answer."""
    draft = DirectiveDraft(
        title=body.title,
        body=body.body,
        targets=body.targets,
        lead=body.lead,
        deadline=body.deadline,
        working_days=body.working_days,
        receipt_due=body.receipt_due,
        evidence=body.evidence,
        parent_id=body.parent_id,
    )
    recorded = s.directives.issue(p, ident.submission(body), draft)
    response.headers["Location"] = f"/api/v1/directives/{recorded.aggregate.id}"
    return directive_answer(response, recorded)


@router.get("", response_model=DirectivePage)
def list_directives(
    p: CurrentPrincipal,
    s: HuyingServices,
    position: ReadPosition,
    after: Cursor = 0,
    limit: Limit = 50,
    parent_id: Annotated[UUID | None, Query(description="only the breakdowns of this directive")] = None,
) -> DirectivePage:
    """The directives you issued, that target you, or that concern a unit below you, in order
    of issue."""
    with s.engine.connect() as conn:
        rows = queries.listing(conn, p, s.app.org, after, limit, str(parent_id) if parent_id else None)
    return DirectivePage(
        data=[summary(r) for r in rows],
        next=rows[-1]["seq"] if len(rows) == limit else None,
        position=position,
    )


@router.get("/pending", response_model=PendingPage)
def pending(
    p: CurrentPrincipal,
    s: HuyingServices,
    position: ReadPosition,
    unit: Code | None = None,
    side: Literal["target", "issuer"] = "target",
    after: Cursor = 0,
    limit: Limit = 50,
) -> PendingPage:
    """A unit's pending directives: as a target, to receive, work on and report; as the issuer,
    reports to accept or send back and extensions to decide. Cursor: the last change."""
    unit = _readable_unit(p, s, unit)
    with s.engine.connect() as conn:
        rows = queries.pending(conn, unit, side, s.clock.now(), after, limit)
    items = [PendingItem.model_validate(r) for r in rows]
    return PendingPage(
        data=items, next=rows[-1]["updated_position"] if len(rows) == limit else None, position=position
    )


@router.get("/figures", response_model=FiguresPage)
def figures(
    p: CurrentPrincipal,
    s: HuyingServices,
    position: ReadPosition,
    unit: Code | None = None,
    since: Annotated[
        TimeBound | None, Query(description="directives issued at or after: RFC 3339, or a date")
    ] = None,
    until: Annotated[
        TimeBound | None, Query(description="directives issued before; a date covers that whole day")
    ] = None,
) -> FiguresPage:
    """令行禁止 figures per target unit, as of now (docs/metrics.md): a unit's own, or those of
    every unit you may read."""
    issued = window(since, until, ("since", "until"))
    units = [_readable_unit(p, s, unit)] if unit else queries.readable_units(p, s.app.org)
    with s.engine.connect() as conn:
        rows = directive_figures.figures(conn, units, s.clock.now(), issued.start, issued.end)
    return FiguresPage(data=[UnitFigures(**r) for r in rows], position=position)


def _readable_unit(p: CurrentPrincipal, s: HuyingServices, unit: str | None) -> str:
    org = s.app.org
    unit = unit or home_unit(p, org)
    if org.unit(unit) is None:
        raise InvalidCommand("unit", f"no unit {unit} in org {org.version}")
    if not may_read_unit(p, org, unit):
        raise DirectiveNotFound(f"no unit {unit} in your jurisdiction")
    return unit


@router.get("/{directive_id}", response_model=DirectivePublic)
def get_directive(
    directive_id: str,
    p: CurrentPrincipal,
    s: HuyingServices,
    response: Response,
    as_of: Annotated[Instant | None, Query(description="business time: as it stood then")] = None,
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
) -> DirectivePublic:
    """The directive from the event store (strongly consistent); with ``as_of`` or ``version``,
    as it stood then."""
    if as_of is not None and version is not None:
        raise InvalidCommand("version", "give as_of or version, not both")
    directive = s.directives.directive_then(p, parse_directive_id(directive_id), as_of=as_of, version=version)
    now = s.clock.now()
    now = directive.updated_at if version is not None else min(as_of or now, now)
    return directive_answer(response, Recorded(directive, s.directives.position_of(directive)), now)


@router.get("/{directive_id}/history", response_model=DirectiveHistory)
def get_history(directive_id: str, p: CurrentPrincipal, s: HuyingServices) -> DirectiveHistory:
    """Every event of the directive in order, with actor, business time and log position."""
    did = parse_directive_id(directive_id)
    history = s.directives.history(p, did)
    return DirectiveHistory(
        directive_id=str(did),
        data=[history_entry(pos, e) for pos, e in history.events],
        unvouched=[UnvouchedEvent.model_validate(unvouched_entry(f)) for f in history.unvouched],
    )


@router.get("/{directive_id}/board", response_model=Board)
def get_board(directive_id: str, p: CurrentPrincipal, s: HuyingServices, position: ReadPosition) -> Board:
    """督查看板: every target's stage, lateness and evidence, and each breakdown's standing."""
    directive = s.directives.directive_for(p, parse_directive_id(directive_id))
    with s.engine.connect() as conn:
        shown = queries.board(conn, p, s.app.org, str(directive.id), s.clock.now())
    if shown["directive"] is None:  # issued, not yet projected: wait with min_position
        raise DirectiveNotFound(f"directive {directive.id} is not on the board yet; ask with min_position")
    shown["directive"] = summary(shown["directive"])
    shown["children"] = [{**c, "id": c["directive_id"]} for c in shown["children"]]
    return Board.model_validate({**shown, "position": position})


@router.post("/{directive_id}/cancel", response_model=DirectivePublic)
def cancel(
    directive_id: str,
    body: ReasonBody,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
    response: Response,
) -> DirectivePublic:
    """撤销: the issuer cancels; targets not yet accepted are cancelled."""
    did = parse_directive_id(directive_id)
    return directive_answer(response, s.directives.cancel(p, did, ident.submission(body), body.reason))


_TARGET = "/{directive_id}/targets/{unit}"


@dataclass(frozen=True)
class TargetMove:
    """What every move on one target shares: who asks, the directive and the target's unit,
    the request's identity, and the answer being made."""

    p: Principal
    s: Services
    directive_id: UUID
    unit: str
    ident: RequestIdentity
    response: Response

    def answer(
        self, body: BaseModel | None, move: Callable[[Submission], Recorded[Directive]]
    ) -> DirectivePublic:
        return directive_answer(self.response, move(self.ident.submission(body)))


def _target_move(
    directive_id: str, unit: str, p: CurrentPrincipal, s: HuyingServices, ident: Identity, response: Response
) -> TargetMove:
    return TargetMove(p, s, parse_directive_id(directive_id), unit, ident, response)


OnTarget = Annotated[TargetMove, Depends(_target_move)]


@router.post(f"{_TARGET}/receive", response_model=DirectivePublic)
def receive(t: OnTarget, body: ReceiveBody | None = None) -> DirectivePublic:
    """签收: the target has it."""
    return t.answer(body, lambda sub: t.s.directives.receive(t.p, t.directive_id, t.unit, sub))


@router.post(f"{_TARGET}/progress", response_model=DirectivePublic)
def progress(t: OnTarget, body: ProgressBody) -> DirectivePublic:
    """进展: a progress note, with photos (attachment ids) if there are any."""
    d = t.s.directives
    return t.answer(
        body, lambda sub: d.note_progress(t.p, t.directive_id, t.unit, sub, body.note, body.attachments)
    )


@router.post(f"{_TARGET}/report", response_model=DirectivePublic)
def report(t: OnTarget, body: ReportBody) -> DirectivePublic:
    """办结反馈: the work is done — the result, and photos where the directive asks for them."""
    d = t.s.directives
    return t.answer(
        body, lambda sub: d.report_done(t.p, t.directive_id, t.unit, sub, body.result, body.attachments)
    )


@router.post(f"{_TARGET}/accept", response_model=DirectivePublic)
def accept(t: OnTarget, body: NoteBody | None = None) -> DirectivePublic:
    """验收: the issuer accepts the target's work."""
    note = body.note if body else None
    return t.answer(body, lambda sub: t.s.directives.accept(t.p, t.directive_id, t.unit, sub, note))


@router.post(f"{_TARGET}/send-back", response_model=DirectivePublic)
def send_back(t: OnTarget, body: ReasonBody) -> DirectivePublic:
    """返工: not accepted; the target works on."""
    return t.answer(body, lambda sub: t.s.directives.send_back(t.p, t.directive_id, t.unit, sub, body.reason))


@router.post(f"{_TARGET}/request-extension", response_model=DirectivePublic)
def request_extension(t: OnTarget, body: ExtensionBody) -> DirectivePublic:
    """申请延期: ask the issuer for a later deadline."""
    d = t.s.directives
    return t.answer(
        body, lambda sub: d.request_extension(t.p, t.directive_id, t.unit, sub, body.until, body.reason)
    )


@router.post(f"{_TARGET}/extension/grant", response_model=DirectivePublic)
def grant_extension(t: OnTarget, body: NoteBody | None = None) -> DirectivePublic:
    """The issuer grants the pending extension: the deadline moves."""
    note = body.note if body else None
    return t.answer(body, lambda sub: t.s.directives.grant_extension(t.p, t.directive_id, t.unit, sub, note))


@router.post(f"{_TARGET}/extension/deny", response_model=DirectivePublic)
def deny_extension(t: OnTarget, body: ReasonBody) -> DirectivePublic:
    """The issuer refuses the pending extension."""
    return t.answer(
        body, lambda sub: t.s.directives.deny_extension(t.p, t.directive_id, t.unit, sub, body.reason)
    )


@router.post(f"{_TARGET}/supervise", response_model=DirectivePublic)
def supervise(t: OnTarget, body: ReasonBody) -> DirectivePublic:
    """督办: a supervisor flags a target (the watchdog does so when a clock is missed)."""
    return t.answer(body, lambda sub: t.s.directives.supervise(t.p, t.directive_id, t.unit, sub, body.reason))
