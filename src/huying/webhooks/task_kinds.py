"""What a directive's or a joint meeting's step tells its subscribers, and whom it concerns.

A directive's step concerns its issuer and the target it names (an issue or a cancellation:
every target); a meeting's, its convener and the units invited (a decision: its lead and
assisting units too). Who may see it is the API's rule (``can_see_directive``,
``can_see_meeting``), read on the aggregate just after the step. The body is as thin as a
call's: ids, kinds, units, times, stages — no title, body, note, reason or responsible person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Notification

from huying.domain.directive import Directive
from huying.domain.jurisdiction import can_see_directive, can_see_meeting
from huying.domain.meeting import Meeting
from huying.domain.org import Org
from huying.domain.principal import Principal
from huying.webhooks.kinds import KIND_OF_DIRECTIVE_EVENT, KIND_OF_MEETING_EVENT, Envelope, plain, sealed

# The codes each step carries besides what every delivery of its aggregate carries.
_DIRECTIVE_FIELDS = {"ExtensionRequested": ("until",), "Supervised": ("clock",)}
_MEETING_FIELDS = {
    "AgendaItemProposed": ("item_id", "tabled_by"),
    "CallTabled": ("item_id", "call_id", "tabled_by"),
    "MinutesRecorded": ("attended",),
    "DecisionRecorded": ("decision_id", "lead_unit", "assisting_units", "deadline", "agenda_item"),
}


@dataclass(frozen=True)
class Addressed:
    """What ``can_see_directive`` reads of a directive, after the step."""

    issuer: str
    targets: dict[str, object]

    def seen_by(self, principal: Principal, org: Org) -> bool:
        return can_see_directive(principal, self, org)


@dataclass(frozen=True)
class Convened:
    """What ``can_see_meeting`` reads of a meeting, after the step."""

    convener: str
    invited: tuple[str, ...]

    def seen_by(self, principal: Principal, org: Org) -> bool:
        return can_see_meeting(principal, self, org)


def _common(n: Notification, event: Any, name: str) -> dict[str, Any]:
    return {
        "position": n.id,
        "version": n.originator_version,
        "event": name,
        "at": plain(event.at),
        "actor": dict(event.actor),
    }


def directive_envelope(n: Notification, event: Directive.Event, after: Directive) -> Envelope:
    name = type(event).__name__
    unit: str | None = getattr(event, "unit", None)
    concerned = {after.issuer, *((unit,) if unit is not None else after.targets)}
    data: dict[str, Any] = {
        **_common(n, event, name),
        "directive_id": str(after.id),
        "directive": {
            "issuer": after.issuer,
            "parent_id": after.parent_id,
            "deadline": plain(after.deadline),
            "targets": sorted(after.targets),
            "cancelled": after.cancelled,
        },
        "units": sorted(concerned),
        **{field: plain(getattr(event, field)) for field in _DIRECTIVE_FIELDS.get(name, ())},
    }
    if unit is not None:
        target = after.targets[unit]
        data["target"] = {"unit": unit, "stage": target.stage.value, "due": plain(target.due)}
    seen = Addressed(after.issuer, dict(after.targets))
    return sealed(n, KIND_OF_DIRECTIVE_EVENT[name], event, data, seen, concerned)


def meeting_envelope(n: Notification, event: Meeting.Event, after: Meeting) -> Envelope:
    name = type(event).__name__
    concerned = {after.convener, *after.invited}
    if isinstance(event, Meeting.DecisionRecorded):
        concerned |= {event.lead_unit, *event.assisting_units}
    data: dict[str, Any] = {
        **_common(n, event, name),
        "meeting_id": str(after.id),
        "meeting": {
            "convener": after.convener,
            "kind": after.kind.value,
            "scheduled_for": plain(after.scheduled_for),
            "invited": sorted(after.invited),
            "stage": after.stage.value,
        },
        "units": sorted(concerned),
        **{field: plain(getattr(event, field)) for field in _MEETING_FIELDS.get(name, ())},
    }
    if isinstance(event, Meeting.DecisionRecorded):
        data["task_id"] = next(d.task_id for d in after.decisions if d.id == event.decision_id)
    seen = Convened(after.convener, tuple(after.invited))
    return sealed(n, KIND_OF_MEETING_EVENT[name], event, data, seen, concerned)
