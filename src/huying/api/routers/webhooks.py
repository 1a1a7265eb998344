"""Webhook subscriptions: a unit (or an admin for it) subscribes a URL to kinds of events it may
see; deliveries are signed (Standard Webhooks), at least once, in log order (docs/interop.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

from huying.api.deps import CurrentPrincipal, HuyingServices, Identity
from huying.api.params import Cursor
from huying.api.routing import Router
from huying.api.schemas.webhooks import (
    DeliveryPage,
    DeliveryPublic,
    ReplayBody,
    WebhookChange,
    WebhookCreate,
    WebhookCreated,
    WebhookPage,
    WebhookPublic,
)
from huying.bootstrap import Services
from huying.webhooks.ssrf import check_subscribable
from huying.webhooks.store import Subscription, Wanted

router = Router(prefix="/api/v1/webhooks", tags=["webhooks"])


def _public(sub: Subscription) -> WebhookPublic:
    return WebhookPublic(
        id=sub.id,
        role=sub.role.value,
        unit=sub.unit,
        url=sub.url,
        kinds=list(sub.kinds),
        description=sub.description,
        status=sub.status,  # type: ignore[arg-type]
        paused_reason=sub.paused_reason,
        failures=sub.failures,
        next_attempt_at=sub.next_attempt_at,
        position=sub.position,
        created_at=sub.created_at,
        updated_at=sub.updated_at,
    )


def _head(s: Services) -> int:
    return s.app.recorder.max_notification_id() or 0


@router.post("", status_code=201, response_model=WebhookCreated)
def subscribe(
    body: WebhookCreate, p: CurrentPrincipal, s: HuyingServices, ident: Identity, response: Response
) -> WebhookCreated:
    """Subscribe a URL to kinds of events (from now on; replay goes back). The answer carries the
    signing secret — keep it: it is not shown again."""
    check_subscribable(body.url, s.settings.webhooks_allow_private_urls)
    wanted = Wanted(body.url, body.kinds, body.description, body.unit)
    sub, secret, replayed = s.subscriptions.create(p, wanted, body.secret, ident.key, _head(s))
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/api/v1/webhooks/{sub.id}"
    s.webhooks.wake()
    return WebhookCreated(**_public(sub).model_dump(), secret=secret)


@router.get("", response_model=WebhookPage)
def list_webhooks(p: CurrentPrincipal, s: HuyingServices) -> WebhookPage:
    """Your unit's subscriptions (an admin sees every one)."""
    return WebhookPage(data=[_public(sub) for sub in s.subscriptions.visible_to(p)])


@router.get("/{webhook_id}", response_model=WebhookPublic)
def get_webhook(webhook_id: str, p: CurrentPrincipal, s: HuyingServices) -> WebhookPublic:
    return _public(s.subscriptions.get(p, webhook_id))


@router.patch("/{webhook_id}", response_model=WebhookPublic)
def change_webhook(
    webhook_id: str, body: WebhookChange, p: CurrentPrincipal, s: HuyingServices
) -> WebhookPublic:
    """Change the URL, kinds or description; ``status`` pauses or resumes it."""
    if body.url is not None:
        check_subscribable(body.url, s.settings.webhooks_allow_private_urls)
    sub = s.subscriptions.change(p, webhook_id, **body.model_dump(exclude_none=True))
    s.webhooks.wake()
    return _public(sub)


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: str, p: CurrentPrincipal, s: HuyingServices) -> Response:
    s.subscriptions.remove(p, webhook_id)
    s.webhooks.wake()
    return Response(status_code=204)


@router.post("/{webhook_id}/resume", response_model=WebhookPublic)
def resume(webhook_id: str, p: CurrentPrincipal, s: HuyingServices) -> WebhookPublic:
    """A paused subscription delivers again, from the step it stopped at: none is missed."""
    sub = s.subscriptions.change(p, webhook_id, status="active")
    s.webhooks.wake()
    return _public(sub)


@router.post("/{webhook_id}/replay", response_model=WebhookPublic)
def replay(
    webhook_id: str,
    body: ReplayBody,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
    response: Response,
) -> WebhookPublic:
    """Deliver again every wanted step after ``from_position`` (with the same webhook-ids)."""
    before = s.subscriptions.get(p, webhook_id)
    sub = s.subscriptions.replay(p, webhook_id, body.from_position, ident.key, _head(s))
    if sub.updated_at == before.updated_at and ident.key is not None:
        response.headers["Idempotent-Replayed"] = "true"
    s.webhooks.wake()
    return _public(sub)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryPage)
def deliveries(
    webhook_id: str,
    p: CurrentPrincipal,
    s: HuyingServices,
    after: Cursor = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DeliveryPage:
    """Every attempt to deliver to this subscription, oldest first: status, error, duration."""
    rows = s.subscriptions.deliveries(p, webhook_id, after, limit + 1)
    page = [DeliveryPublic(**r) for r in rows[:limit]]
    return DeliveryPage(data=page, next=page[-1].id if len(rows) > limit else None)
