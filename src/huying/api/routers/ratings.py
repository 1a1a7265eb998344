"""一呼一评 by the caller: the unit that called up rates the response it got — the street each
department's work order, the community its street's response (docs/metrics.md §10). Each is a
command on the call, answered like every other: the call, its ETag, Idempotency-Key replays."""

from __future__ import annotations

from huying.api.deps import CurrentPrincipal, HuyingServices, Identity, parse_call_id
from huying.api.respond import CallAnswer, with_call
from huying.api.routing import Router
from huying.api.schemas.calls import CallPublic
from huying.api.schemas.ratings import RatingBody, ResponseRatingBody

router = Router(prefix="/api/v1", tags=["ratings"])


@router.post("/work-orders/{order_id}/rating", response_model=CallPublic)
def rate_work_order(
    order_id: str,
    body: RatingBody,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
) -> CallAnswer:
    """街道评部门: once the street has resolved the call, it rates the department's work on the
    order (signed or returned), once."""
    outcome = s.orders.rate(p, order_id, ident.submission(body), body.satisfaction, body.comment)
    return with_call(outcome, p, s)


@router.post("/calls/{call_id}/rating", response_model=CallPublic)
def rate_response(
    call_id: str,
    body: ResponseRatingBody,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
) -> CallAnswer:
    """社区评街道: the community whose call went up to its street rates the street's response in a
    round (default: the current round), once the street resolved it; once per round."""
    sub = ident.submission(body)
    outcome = s.calls.rate_response(
        p, parse_call_id(call_id), sub, body.satisfaction, body.comment, body.round
    )
    return with_call(outcome, p, s)
