"""A published 考评: the application service of ``Publication`` over the one ``CommandPath``.

There is one publication per period and kind (its id is a function of the two), so a second
``publish`` collides with the first in the event store: answered from the record when it is the
same request again (its Idempotency-Key), refused (409) otherwise — a correction is an explicit
``republish`` with a reason. The figures come from the read side (``Scorer``), judged as of the
period's cutoff; the caller makes sure the read models have caught up with the log first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid5

from huying.application import HuyingApplication
from huying.domain.aggregate import request_scope
from huying.domain.commands import Command
from huying.domain.errors import PublicationNotFound, TransitionNotAllowed
from huying.domain.jurisdiction import may_read_unit
from huying.domain.org import UnitKind
from huying.domain.principal import Principal
from huying.domain.publication import TABLE, Action, Figures, Publication, Situation
from huying.queries.scores import Period, parse_period
from huying.service_layer.command_path import CommandPath, Recorded, Submission
from huying.service_layer.history import History, Past

_PUBLICATION_ID_NAMESPACE = UUID("3b8e5d0a-6f1c-4c2b-9a7e-51d2c0f4e8a6")
_ASSESSMENT = "_assessment"


class PublicationKind(StrEnum):
    """What a publication freezes: a kind of units' scores (docs/metrics.md §4), or their 考核
    (§11: 街道综合考核, 部门年度考核)."""

    STREET = "street"
    DEPARTMENT = "department"
    STREET_ASSESSMENT = "street" + _ASSESSMENT
    DEPARTMENT_ASSESSMENT = "department" + _ASSESSMENT

    @property
    def units(self) -> UnitKind:
        return UnitKind(self.value.removesuffix(_ASSESSMENT))

    @property
    def assessed(self) -> bool:
        return self.value.endswith(_ASSESSMENT)


PUBLISHED_KINDS = tuple(PublicationKind)


@dataclass(frozen=True)
class Scored:
    """A period's scores as the read side judges them now, and the rules they were made by (the
    assessment's also its deduction per 督办)."""

    settles_at: datetime
    weights: list[float]
    min_evaluated_for_rank: int
    figures: Figures
    supervision_deduction: float | None = None


Scorer = Callable[[PublicationKind, Period], Scored]


def publication_path(log: HuyingApplication) -> CommandPath[Publication]:
    return CommandPath(
        log,
        Publication,
        noun="publication",
        not_found=PublicationNotFound,
        visible=lambda p, pub: any(may_read_unit(p, log.org, unit) for unit in pub.units()),
    )


def publication_id(kind: PublicationKind | UnitKind, period: str) -> UUID:
    """One publication per period and kind: a second ``publish`` collides with the first."""
    return uuid5(_PUBLICATION_ID_NAMESPACE, f"{kind.value}|{period}")


class PublicationService:
    def __init__(self, path: CommandPath[Publication], scorer: Scorer) -> None:
        self.path = path
        self.past = Past(path)
        self.scorer = scorer

    # --- reads -------------------------------------------------------------------------------

    def then(
        self, principal: Principal, pid: UUID, *, as_of: datetime | None = None, version: int | None = None
    ) -> Publication:
        return self.past.then(principal, pid, as_of=as_of, version=version)

    def history(self, principal: Principal, pid: UUID) -> History:
        return self.past.history(principal, pid)

    def position_of(self, publication: Publication) -> int:
        return self.path.log.positions.at(publication.id, publication.version)

    def rows_for(self, principal: Principal, rows: Figures) -> Figures:
        """The rows of a publication (or of its diff) the principal may read: its own unit's,
        those below it; district-wide roles all."""
        org = self.path.log.org
        return [row for row in rows if may_read_unit(principal, org, row["unit"])]

    # --- publish, republish --------------------------------------------------------------------

    def publish(
        self, principal: Principal, sub: Submission, kind: PublicationKind | UnitKind, period: Period
    ) -> Recorded[Publication]:
        """Version 1 of the period's 考评 of ``kind``: refused before the period is settled, and
        when it has been published already (409: re-publish it, with a reason)."""
        kind = PublicationKind(kind)
        pid = publication_id(kind, period.label)
        if (earlier := self._earlier(principal, pid, sub)) is not None:
            return earlier
        scored = self.scorer(kind, period)
        publication = Publication.publish(
            self.path.command(principal, sub),
            pid,
            scored.settles_at,
            period=period.label,
            kind=kind.value,
            weights=scored.weights,
            min_evaluated_for_rank=scored.min_evaluated_for_rank,
            supervision_deduction=scored.supervision_deduction,
            figures=scored.figures,
        )
        return self.path.create(publication, earlier=lambda: self._earlier(principal, pid, sub))

    def republish(
        self, principal: Principal, pid: UUID, sub: Submission, reason: str
    ) -> Recorded[Publication]:
        """The next version: the figures as the read side judges them now, with the reason, the
        version replaced and what changed."""

        def change(publication: Publication, cmd: Command) -> None:
            scored = self.scorer(PublicationKind(publication.kind), parse_period(publication.period))
            publication.republish(
                cmd,
                reason,
                scored.weights,
                scored.min_evaluated_for_rank,
                scored.figures,
                scored.supervision_deduction,
            )

        return self.path.act(principal, pid, sub, "republish", change)

    def _earlier(self, principal: Principal, pid: UUID, sub: Submission) -> Recorded[Publication] | None:
        found = self.path.current(pid)
        if found is None:
            return None
        if sub.key is not None:
            answered = self.path.answer_from_record(found, request_scope(principal.as_dict(), "publish"), sub)
            if answered is not None:
                return answered
        # Who asks is judged first (403 before 409), as for every move.
        situation = Situation(self.path.log.clock.now(), found.settles_at)
        TABLE.check(Action.PUBLISH, principal, found, situation, version=0, expected_version=None)
        raise TransitionNotAllowed(
            f"publish: the {found.kind} scores of {found.period} are published already (publication "
            f"{found.id}, version {found.version}); a correction is a re-publication with a reason"
        )
