"""防篡改: verify the log against its hash chain; the chain's checkpoints, to keep elsewhere."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from huying.api.deps import CurrentPrincipal, HuyingServices
from huying.api.params import Cursor, GivenCheckpoint
from huying.api.routing import Router
from huying.api.schemas.audit import AuditVerdict, CheckpointPage, CheckpointPublic, TamperBreak
from huying.audit.checkpoints import BadCheckpoints, parse_given, stored
from huying.domain.errors import InvalidCommand, NotPermitted
from huying.domain.principal import Principal, Role

router = Router(prefix="/api/v1/audit", tags=["audit"])

_CHECKERS = frozenset({Role.AUDITOR, Role.SUPERVISOR, Role.ADMIN})


def _checkers_only(p: Principal, what: str) -> None:
    if p.role not in _CHECKERS:
        raise NotPermitted(f"{what}: only an auditor, a supervisor or an admin may run it")


@router.get("/verify", response_model=AuditVerdict, response_model_by_alias=True)
def verify(
    p: CurrentPrincipal,
    s: HuyingServices,
    checkpoint: Annotated[
        list[GivenCheckpoint],
        Query(max_length=100, description="checkpoints you keep, as POSITION:LINK (repeatable)"),
    ] = [],  # noqa: B006  (FastAPI copies defaults per request)
) -> AuditVerdict:
    """Recompute the hash chain from the stored events and compare it with the chain table,
    the stored checkpoints and any you give, and check every event's seal and place: OK, or the
    first position huying cannot vouch for and how (forged, altered, missing, reordered, extra,
    truncated)."""
    try:
        given = [parse_given(c) for c in checkpoint]
    except BadCheckpoints as e:
        raise InvalidCommand("checkpoint", str(e)) from None
    _checkers_only(p, "the tamper-evidence check")
    report = s.chain.verify(given)
    broken = report.broken
    return AuditVerdict.model_validate(
        {
            "ok": report.ok,
            "checked": report.checked,
            "chained_through": report.chained_through,
            "log_head": report.log_head,
            "unchained": report.unchained,
            "checkpoints_checked": report.checkpoints_checked,
            "break": TamperBreak(
                position=broken.position,
                kind=broken.kind.value,
                detail=broken.detail,
                intact_through=broken.intact_through,
            )
            if broken
            else None,
            "verified_at": s.clock.now(),
        }
    )


@router.get("/checkpoints", response_model=CheckpointPage)
def checkpoints(
    p: CurrentPrincipal,
    s: HuyingServices,
    after: Cursor = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> CheckpointPage:
    """审计检查点 (position, link, wall-clock time taken), oldest first, and the chained head
    now. Keep them elsewhere: ``huying audit verify --checkpoints FILE`` then finds even a
    cut-off tail."""
    _checkers_only(p, "the chain's checkpoints")
    page = stored(s.engine, after, limit)
    head = s.chain.head_checkpoint()
    return CheckpointPage(
        data=[CheckpointPublic(position=c.position, link=c.link, at=c.at) for c in page],
        next=page[-1].position if len(page) == limit else None,
        head=CheckpointPublic(position=head.position, link=head.link, at=head.at) if head else None,
    )
