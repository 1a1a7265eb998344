"""令行禁止 as the API shows it: a directive from the event store, with each target's lateness
as of a given moment; read-model rows as summaries, board rows and pending items."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from fastapi import Response

from huying.api.schemas.directives import (
    DirectivePublic,
    DirectiveSummary,
    ExtensionPublic,
    NotePublic,
    ReportPublic,
    SupervisionPublic,
    TargetPublic,
)
from huying.domain.directive import Directive
from huying.domain.directive_clocks import completion_clock, receipt_clock
from huying.domain.directive_states import Target
from huying.service_layer.command_path import Recorded


def directive_answer(
    response: Response, recorded: Recorded[Directive], now: datetime | None = None
) -> DirectivePublic:
    """A command's (or a read's) answer: the directive, its ETag, and whether it was a repeat. A
    repeat is shown as of the write itself, so it gets the very body the first one got."""
    directive = recorded.aggregate
    if recorded.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["ETag"] = f'"{directive.version}"'
    return directive_public(directive, recorded.position, now or directive.updated_at)


def directive_public(directive: Directive, position: int, now: datetime) -> DirectivePublic:
    responsible = asdict(directive.responsible) if directive.responsible else None
    return DirectivePublic(
        id=str(directive.id),
        version=directive.version,
        position=position,
        issuer=directive.issuer,
        title=directive.title,
        body=directive.body,
        deadline=directive.deadline,
        evidence=directive.evidence,
        parent_id=directive.parent_id,
        origin=directive.origin,
        responsible=responsible,  # type: ignore[arg-type]  # validated from the dict
        issued_at=directive.issued_at,
        cancelled=directive.cancelled,
        cancel_reason=directive.cancel_reason,
        targets=[_target(directive, t, now) for t in directive.targets.values()],
        supervisions=[SupervisionPublic(**asdict(s)) for s in directive.supervisions],
    )


def _target(directive: Directive, t: Target, now: datetime) -> TargetPublic:
    return TargetPublic(
        unit=t.unit,
        role=t.role.value,
        stage=t.stage.value,
        receipt_due=t.receipt_due,
        due=t.due,
        received_at=t.received_at,
        reported_at=t.reported_at,
        accepted_at=t.accepted_at,
        cancelled_at=t.cancelled_at,
        reworks=t.reworks,
        receipt_overdue=receipt_clock(directive.issued_at, t).late_at(now),
        completion_overdue=completion_clock(directive.issued_at, t).late_at(now),
        notes=[NotePublic(**asdict(n)) for n in t.notes],
        reports=[ReportPublic(**asdict(r)) for r in t.reports],
        extensions=[ExtensionPublic(**asdict(e)) for e in t.extensions],
    )


def summary(row: dict[str, Any]) -> DirectiveSummary:
    return DirectiveSummary(id=row["directive_id"], **{k: v for k, v in row.items() if k != "directive_id"})
