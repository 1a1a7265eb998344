"""一呼一评 attribution — which units a round counts for, and the level that resolved it
(docs/metrics.md §4, §5). One rule, read alike from a call aggregate (the evaluation facts) and
from the read-model rows of one call (its 一呼一评 record)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from huying.domain.levels import Level


@dataclass(frozen=True)
class Attribution:
    community: str | None  # the community the round reached: it had a stint at community level
    street: str | None  # the street the round reached: it had a stint at street level
    lead_department: str | None  # whose lead order of the round was completed
    resolved_level: str | None  # community, street, or department: the street after a completed lead order


def attribute(stints: Iterable[tuple[str, str, str | None]], completed_leads: Iterable[str]) -> Attribution:
    """``stints``: the round's stints in order, as (level, unit, outcome); ``completed_leads``:
    the departments whose lead order in the round was completed (a round has one at most: the
    street resolves once it is). Each part is known as soon as it happened."""
    held = list(stints)
    lead = next(iter(completed_leads), None)
    resolved = next((level for level, _, outcome in held if outcome == "resolved"), None)
    if resolved == Level.STREET.value and lead is not None:
        resolved = Level.DEPARTMENT.value
    return Attribution(
        community=next((unit for level, unit, _ in held if level == Level.COMMUNITY.value), None),
        street=next((unit for level, unit, _ in held if level == Level.STREET.value), None),
        lead_department=lead,
        resolved_level=resolved,
    )
