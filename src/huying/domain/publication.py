"""A published 考评 (docs/publications.md): the unit scores of one settled period and kind, frozen
in the event that publishes them — the figures and ranks themselves, never a reference to rows
that may move. Version 1 is ``Published``; a correction is an explicit ``Republished`` naming who,
when, why, the version it replaces and what changed, as the next version. Nothing else happens
to a publication, and no event of it carries personal data (units and their figures only).

Events are nested in the class, so their topics (``huying.domain.publication:Publication.
Published``, …) are forever. Both moves pass the one gate (``gate.TransitionTable``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from huying.domain import gate
from huying.domain.aggregate import HuyingAggregate
from huying.domain.commands import Command
from huying.domain.principal import Principal, Role

# One row per unit, as GET /api/v1/scores/units (or, for an assessment, /assessment) serves it.
Figures = list[dict[str, Any]]


class Party(StrEnum):
    DISTRICT = "a district supervisor"


class Action(StrEnum):
    PUBLISH = "publish"
    REPUBLISH = "republish"


@dataclass(frozen=True)
class Situation:
    """The time, and when the period is settled (its cutoff)."""

    now: datetime
    settles_at: datetime


def parties(principal: Principal, _: object, __: Situation) -> set[Party]:
    return {Party.DISTRICT} if principal.role is Role.SUPERVISOR else set()


def _settled(_: object, situation: Situation) -> str | None:
    if situation.now >= situation.settles_at:
        return None
    return f"the period is not settled until {situation.settles_at.isoformat()} (docs/metrics.md §12)"


TABLE = gate.TransitionTable[Action, Party, object, Situation](
    "publication",
    parties,
    (
        gate.Transition(
            Action.PUBLISH,
            "Published",
            frozenset({Party.DISTRICT}),
            "the period is settled (past its cutoff)",
            _settled,
            "version 1, the figures frozen",
        ),
        gate.Transition(
            Action.REPUBLISH,
            "Republished",
            frozenset({Party.DISTRICT}),
            "the period is settled (past its cutoff)",
            _settled,
            "the next version, with the reason and what changed",
        ),
    ),
)


@dataclass(frozen=True)
class Edition:
    """One version of a publication, as it was published."""

    version: int
    at: datetime
    by: dict[str, str]
    figures: Figures
    weights: list[float]
    min_evaluated_for_rank: int
    supervision_deduction: float | None = None  # an assessment's, per charged 督办
    reason: str | None = None  # a re-publication's why
    replaces: int | None = None  # the version it replaces
    changes: Figures | None = None  # per unit, each figure that changed: [before, after]


def _no_deduction(state: dict[str, Any]) -> None:
    """Events of version 1 froze unit scores only: no deduction per 督办."""
    state["supervision_deduction"] = None


class Publication(HuyingAggregate):
    class Event(HuyingAggregate.Event):
        actions: ClassVar[Mapping[str, str]] = TABLE.actions_by_event

    class Published(Aggregate.Created, Event):
        period: str
        kind: str  # street, department, street_assessment, department_assessment
        settles_at: datetime
        weights: list[float]
        min_evaluated_for_rank: int
        supervision_deduction: float | None  # an assessment's; None for unit scores
        figures: Figures

        class_version = 2

        upcast_v1_v2 = staticmethod(_no_deduction)

        def apply(self, publication: Publication) -> None:
            publication.period, publication.kind = self.period, self.kind
            publication.settles_at = self.settles_at
            rules = (self.weights, self.min_evaluated_for_rank, self.supervision_deduction)
            publication.editions = [Edition(1, self.at, dict(self.actor), self.figures, *rules)]

    class Republished(Event):
        reason: str
        replaces: int
        weights: list[float]
        min_evaluated_for_rank: int
        supervision_deduction: float | None  # as in Published
        figures: Figures
        changes: Figures

        class_version = 2

        upcast_v1_v2 = staticmethod(_no_deduction)

        def apply(self, publication: Publication) -> None:
            edition = Edition(
                len(publication.editions) + 1,
                self.at,
                dict(self.actor),
                self.figures,
                self.weights,
                self.min_evaluated_for_rank,
                self.supervision_deduction,
                self.reason,
                self.replaces,
                self.changes,
            )
            publication.editions.append(edition)

    period: str
    kind: str
    settles_at: datetime
    editions: list[Edition]

    def __init__(self) -> None:
        self.editions = []  # Published.apply makes version 1

    @classmethod
    def publish(
        cls, cmd: Command, publication_id: UUID, settles_at: datetime, **published: Any
    ) -> Publication:
        TABLE.check(
            Action.PUBLISH,
            cmd.principal,
            None,
            Situation(cmd.at, settles_at),
            version=0,
            expected_version=None,
        )
        return cls._create(cls.Published, id=publication_id, settles_at=settles_at, **published, **cmd.meta)

    @property
    def latest(self) -> Edition:
        return self.editions[-1]

    def units(self) -> list[str]:
        """Every unit the publication has a row for, in any version."""
        return sorted({row["unit"] for e in self.editions for row in e.figures})

    def republish(
        self,
        cmd: Command,
        reason: str,
        weights: list[float],
        min_evaluated: int,
        figures: Figures,
        supervision_deduction: float | None = None,
    ) -> None:
        TABLE.check(
            Action.REPUBLISH,
            cmd.principal,
            self,
            Situation(cmd.at, self.settles_at),
            version=self.version,
            expected_version=cmd.expected_version,
        )
        self.trigger_event(
            self.Republished,
            reason=reason,
            replaces=self.version,
            weights=weights,
            min_evaluated_for_rank=min_evaluated,
            supervision_deduction=supervision_deduction,
            figures=figures,
            changes=changed(self.latest.figures, figures),
            **cmd.meta,
        )


# The figures a diff compares: the rank, the rates and the composite — an assessment's its
# components and deduction (a row lacks the other kind's: never a change); the counts behind
# them are in the figures of each version.
COMPARED = (
    *("rank", "composite", "response_rate", "solve_rate", "satisfaction_rate", "reopen_rate"),
    *("return_rate", "supervised", "evaluated_calls", "components", "deduction"),
)


def changed(before: Figures, after: Figures) -> Figures:
    """Per unit whose figures differ, each compared figure that changed: ``[before, after]``."""
    old = {row["unit"]: row for row in before}
    diff = []
    for row in after:
        was = old.get(row["unit"], {})
        moved = {k: [was.get(k), row.get(k)] for k in COMPARED if was.get(k) != row.get(k)}
        if moved:
            diff.append({"unit": row["unit"], **moved})
    return diff
