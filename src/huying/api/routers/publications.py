"""Published 考评 (docs/publications.md): publish a settled period's unit scores or 考核 as a frozen,
versioned record; re-publish with a reason; list, read any version, history."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import anyio.to_thread
from fastapi import Depends, Query, Request, Response

from huying.api.deps import CurrentPrincipal, HuyingServices, Identity, ReadPosition, services_of
from huying.api.params import MAX_VERSION, Cursor, Period
from huying.api.present import history_entry, unvouched_entry
from huying.api.routing import Router
from huying.api.schemas.assessment import AssessmentWeights
from huying.api.schemas.base import Instant
from huying.api.schemas.calls import UnvouchedEvent
from huying.api.schemas.figures import ScoreWeights
from huying.api.schemas.publications import (
    PublicationHistory,
    PublicationPage,
    PublicationPublic,
    PublicationSummary,
    PublishBody,
    PublishedKind,
    RepublishBody,
)
from huying.domain.errors import InvalidCommand, NotPermitted, PublicationNotFound
from huying.domain.jurisdiction import may_read_unit
from huying.domain.principal import Principal
from huying.domain.publication import Publication
from huying.projections.runner import ReadModelsBehind
from huying.queries.assessment import COMPONENTS
from huying.queries.publications import publications_of, readable_kinds
from huying.queries.scores import parse_period
from huying.service_layer.command_path import Recorded
from huying.service_layer.publications import PUBLISHED_KINDS, PublicationKind, PublicationService

router = Router(prefix="/api/v1/scores/publications", tags=["read models"])


async def _caught_up(request: Request) -> None:
    """A publication freezes what the read models say: they must have reached the log's head."""
    services = services_of(request)
    head = await anyio.to_thread.run_sync(services.app.recorder.max_notification_id)
    if not await services.projector.reached(head or 0, services.settings.min_position_wait_seconds):
        raise ReadModelsBehind(f"read models have not reached the log's head ({head}) yet; retry shortly")


CaughtUp = Depends(_caught_up)


def parse_publication_id(raw: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise PublicationNotFound(f"no publication {raw} in your jurisdiction") from None


def publication_public(
    service: PublicationService, p: Principal, publication: Publication, version: int
) -> PublicationPublic:
    edition = publication.editions[version - 1]
    return PublicationPublic(
        id=str(publication.id),
        kind=publication.kind,  # type: ignore[arg-type]  # street or department: publish checked
        period=publication.period,
        settles_at=publication.settles_at,
        version=version,
        latest_version=publication.version,
        published_at=edition.at,
        published_by=edition.by,  # type: ignore[arg-type]  # role and unit
        reason=edition.reason,
        replaces=edition.replaces,
        changes=service.rows_for(p, edition.changes) if edition.changes is not None else None,
        weights=_weights(PublicationKind(publication.kind), edition.weights),
        min_evaluated_for_rank=edition.min_evaluated_for_rank,
        supervision_deduction=edition.supervision_deduction,
        data=service.rows_for(p, edition.figures),  # type: ignore[arg-type]  # validated as UnitScore or AssessedUnit
        position=service.path.log.positions.at(publication.id, version),
    )


def _weights(kind: PublicationKind, weights: list[float]) -> ScoreWeights | AssessmentWeights:
    """The weights frozen in the event, named: an assessment's five (docs/metrics.md §11), the
    unit scores' three (§4)."""
    if kind.assessed:
        return AssessmentWeights(**dict(zip(COMPONENTS, weights, strict=True)))
    response, solve, satisfaction = weights
    return ScoreWeights(response=response, solve=solve, satisfaction=satisfaction)


def _answer(
    s: HuyingServices, p: Principal, response: Response, recorded: Recorded[Publication]
) -> PublicationPublic:
    if recorded.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    publication = recorded.aggregate
    response.headers["ETag"] = f'"{publication.version}"'
    return publication_public(s.publications, p, publication, publication.version)


@router.post("", status_code=201, response_model=PublicationPublic, dependencies=[CaughtUp])
def publish(
    body: PublishBody, p: CurrentPrincipal, s: HuyingServices, ident: Identity, response: Response
) -> PublicationPublic:
    """A district supervisor publishes the unit scores of a settled period (past its cutoff,
    docs/metrics.md §12) as version 1 of a frozen record. Once per period and kind: publishing
    again is refused (409) — a correction is a re-publication with a reason."""
    period = parse_period(body.period)
    recorded = s.publications.publish(p, ident.submission(body), PublicationKind(body.kind), period)
    response.headers["Location"] = f"/api/v1/scores/publications/{recorded.aggregate.id}"
    return _answer(s, p, response, recorded)


@router.post("/{publication_id}/republish", response_model=PublicationPublic, dependencies=[CaughtUp])
def republish(
    publication_id: str,
    body: RepublishBody,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
    response: Response,
) -> PublicationPublic:
    """An explicit, audited correction: the figures as the read side judges them now, as the next
    version, recording who, when, why, the version replaced and what changed."""
    pid = parse_publication_id(publication_id)
    return _answer(s, p, response, s.publications.republish(p, pid, ident.submission(body), body.reason))


@router.get("", response_model=PublicationPage)
def list_publications(
    p: CurrentPrincipal,
    s: HuyingServices,
    position: ReadPosition,
    kind: PublishedKind | None = None,
    period: Annotated[Period | None, Query(description="YYYY-MM, YYYY-Qn or YYYY")] = None,
    after: Cursor = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> PublicationPage:
    """Every version of the publications you may read a row of, in the order they were made."""
    chosen = {k.value: k.units for k in PUBLISHED_KINDS if kind is None or k.value == kind}
    kinds = readable_kinds(p, s.app.org, chosen)
    if not kinds:
        raise NotPermitted("publications: you may read those with your own unit's row or those below it")
    label = parse_period(period).label if period else None
    with s.engine.connect() as conn:
        page = publications_of(conn, kinds, label, after, limit)
    data = [
        PublicationSummary(**{**r, "id": r["publication_id"], "latest_version": r["latest"]})
        for r in page.rows
    ]
    return PublicationPage(data=data, next=page.next, position=position)


@router.get("/{publication_id}", response_model=PublicationPublic)
def get_publication(
    publication_id: str,
    p: CurrentPrincipal,
    s: HuyingServices,
    response: Response,
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
    as_of: Annotated[
        Instant | None, Query(description="business time: the publication as it stood then")
    ] = None,
) -> PublicationPublic:
    """A publication as last published, or any earlier ``version``, or as it stood at ``as_of``
    — the rows you may read."""
    if as_of is not None and version is not None:
        raise InvalidCommand("version", "give as_of or version, not both")
    pid = parse_publication_id(publication_id)
    latest = s.publications.then(p, pid)
    shown = s.publications.then(p, pid, as_of=as_of, version=version)
    response.headers["ETag"] = f'"{latest.version}"'
    return publication_public(s.publications, p, latest, shown.version)


@router.get("/{publication_id}/history", response_model=PublicationHistory)
def get_history(publication_id: str, p: CurrentPrincipal, s: HuyingServices) -> PublicationHistory:
    """Every event of the publication as stored. The events carry every unit's figures, so only
    a principal who may read every row may read them (supervisors, auditors, admins)."""
    pid = parse_publication_id(publication_id)
    publication = s.publications.then(p, pid)
    if not all(may_read_unit(p, s.app.org, unit) for unit in publication.units()):
        raise NotPermitted("a publication's history shows every unit's figures: district-wide roles only")
    history = s.publications.history(p, pid)
    entries = [history_entry(pos, e) for pos, e in history.events]
    flaws = [UnvouchedEvent.model_validate(unvouched_entry(f)) for f in history.unvouched]
    return PublicationHistory(publication_id=str(pid), data=entries, unvouched=flaws)
