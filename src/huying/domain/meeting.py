"""联席会议: a joint meeting of a street's 大工委 or a community's 大党委 with its member units.

A street or community convenes it and invites members; agenda items come from calls (难题自下而上
提交 — the call records it too) or from proposals; minutes record attendance and discussion; each
decision (议定事项) names a lead unit, assisting units, a responsible official and a deadline, and
carries the id of the task (a directive) that tracks it. Event topics
(``huying.domain.meeting:Meeting.Convened`` …) are forever.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from huying.domain.aggregate import HuyingAggregate
from huying.domain.commands import Command
from huying.domain.directive_states import Responsible
from huying.domain.errors import InvalidCommand, TransitionNotAllowed
from huying.domain.meeting_states import (
    AgendaItem,
    Decision,
    DecisionSpec,
    MeetingKind,
    Minutes,
    Source,
    Stage,
)
from huying.domain.meeting_transitions import TABLE, Action, Situation
from huying.domain.org import Org, UnitKind


class Meeting(HuyingAggregate):
    """One joint meeting (联席会议) and its record."""

    class Event(HuyingAggregate.Event):
        actions: ClassVar[Mapping[str, str]] = TABLE.actions_by_event

    class Convened(Aggregate.Created, Event):
        convener: str
        kind: str
        title: str
        scheduled_for: datetime
        invited: list[str]

        def apply(self, meeting: Meeting) -> None:
            meeting.convener, meeting.kind = self.convener, MeetingKind(self.kind)
            meeting.title, meeting.scheduled_for = self.title, self.scheduled_for
            meeting.invited = tuple(self.invited)

    class AgendaItemProposed(Event):
        item_id: str
        title: str
        note: str | None
        tabled_by: str

        def apply(self, meeting: Meeting) -> None:
            item = AgendaItem(self.item_id, Source.PROPOSAL, self.title, self.tabled_by, note=self.note)
            meeting.agenda.append(item)

    class CallTabled(Event):
        item_id: str
        call_id: str
        title: str
        tabled_by: str

        def apply(self, meeting: Meeting) -> None:
            item = AgendaItem(self.item_id, Source.CALL, self.title, self.tabled_by, call_id=self.call_id)
            meeting.agenda.append(item)

    class MinutesRecorded(Event):
        attended: list[str]
        discussion: str

        def apply(self, meeting: Meeting) -> None:
            meeting.minutes = Minutes(tuple(self.attended), self.discussion, self.at)
            meeting.stage = Stage.HELD

    class DecisionRecorded(Event):
        decision_id: str
        title: str
        lead_unit: str
        assisting_units: list[str]
        responsible: dict[str, str]  # {name, post}: an official in office
        deadline: datetime
        agenda_item: str | None
        settles_call: str | None
        task_id: str

        def apply(self, meeting: Meeting) -> None:
            responsible = Responsible(self.responsible["name"], self.responsible["post"])
            meeting.decisions.append(
                Decision(
                    self.decision_id,
                    self.title,
                    self.lead_unit,
                    tuple(self.assisting_units),
                    responsible,
                    self.deadline,
                    self.task_id,
                    self.agenda_item,
                    self.settles_call,
                    self.at,
                )
            )

    class Closed(Event):
        note: str | None

        def apply(self, meeting: Meeting) -> None:
            meeting.stage = Stage.CLOSED

    class Cancelled(Event):
        reason: str

        def apply(self, meeting: Meeting) -> None:
            meeting.stage = Stage.CANCELLED

    convener: str
    kind: MeetingKind
    title: str
    scheduled_for: datetime
    invited: tuple[str, ...]

    def __init__(self) -> None:
        self.stage = Stage.CONVENED
        self.agenda: list[AgendaItem] = []
        self.minutes: Minutes | None = None
        self.decisions: list[Decision] = []

    # --- reads ---------------------------------------------------------------------------

    def item(self, item_id: str) -> AgendaItem | None:
        return next((i for i in self.agenda if i.id == item_id), None)

    def decision(self, decision_id: str) -> Decision | None:
        return next((d for d in self.decisions if d.id == decision_id), None)

    def item_for_call(self, call_id: str) -> AgendaItem | None:
        return next((i for i in self.agenda if i.call_id == call_id), None)

    @property
    def participants(self) -> tuple[str, ...]:
        """Who may sit in the meeting: its convener and the units invited."""
        return (self.convener, *self.invited)

    # --- commands --------------------------------------------------------------------------

    def check(self, action: Action, cmd: Command, org: Org) -> None:
        """The one gate: 403 (who) → 412 (If-Match) → 409 (state)."""
        situation = Situation(cmd.at, org)
        expected = cmd.expected_version
        TABLE.check(action, cmd.principal, self, situation, version=self.version, expected_version=expected)

    @classmethod
    def convene(
        cls,
        cmd: Command,
        meeting_id: UUID,
        kind: MeetingKind,
        title: str,
        scheduled_for: datetime,
        invited: list[str],
    ) -> Meeting:
        """召集: a street or community calls its body's joint meeting (checked by the service:
        a new meeting has no state for the gate to read before it exists)."""
        return cls._create(
            cls.Convened,
            id=meeting_id,
            convener=cmd.principal.unit,
            kind=kind.value,
            title=title,
            scheduled_for=scheduled_for,
            invited=invited,
            **cmd.meta,
        )

    def propose(self, cmd: Command, org: Org, title: str, note: str | None) -> None:
        """An agenda item from a member's (or the convener's) proposal."""
        self.check(Action.PROPOSE, cmd, org)
        item_id = f"A{len(self.agenda) + 1}"
        tabled_by = cmd.principal.unit
        self.trigger_event(
            self.AgendaItemProposed, item_id=item_id, title=title, note=note, tabled_by=tabled_by, **cmd.meta
        )

    def table_call(self, cmd: Command, org: Org, call_id: UUID, title: str) -> None:
        """难题自下而上提交: a hard call on the agenda (its holder has put it there)."""
        self.check(Action.TABLE_CALL, cmd, org)
        if self.item_for_call(str(call_id)) is not None:
            raise TransitionNotAllowed(f"table-call: call {call_id} is already on this agenda")
        self.trigger_event(
            self.CallTabled,
            item_id=f"A{len(self.agenda) + 1}",
            call_id=str(call_id),
            title=title,
            tabled_by=cmd.principal.unit,
            **cmd.meta,
        )

    def record_minutes(self, cmd: Command, org: Org, attended: list[str], discussion: str) -> None:
        """会议纪要: attendance (units present, from the convener and those invited) and discussion."""
        self.check(Action.RECORD_MINUTES, cmd, org)
        strangers = [u for u in attended if u not in self.participants]
        if strangers:
            raise InvalidCommand("attended", f"{', '.join(strangers)} was not invited to this meeting")
        self.trigger_event(
            self.MinutesRecorded, attended=list(dict.fromkeys(attended)), discussion=discussion, **cmd.meta
        )

    def decide(self, cmd: Command, org: Org, spec: DecisionSpec, task_of: Callable[[str], UUID]) -> None:
        """议定事项: a decision, its lead and assisting units, its responsible official and deadline;
        ``task_of(decision_id)`` is the id its task (a directive) is issued under — a function of
        the meeting and the decision, so a retried decision never makes a second task."""
        self.check(Action.DECIDE, cmd, org)
        self._check_decision(org, spec, cmd.at)
        decision_id = f"D{len(self.decisions) + 1}"
        item = self.item(spec.agenda_item) if spec.agenda_item else None
        self.trigger_event(
            self.DecisionRecorded,
            decision_id=decision_id,
            title=spec.title,
            lead_unit=spec.lead_unit,
            assisting_units=list(spec.assisting_units),
            responsible={"name": spec.responsible.name, "post": spec.responsible.post},
            deadline=spec.deadline,
            agenda_item=spec.agenda_item,
            settles_call=item.call_id if item is not None and spec.settles_call else None,
            task_id=str(task_of(decision_id)),
            **cmd.meta,
        )

    def _check_decision(self, org: Org, spec: DecisionSpec, now: datetime) -> None:
        for field, unit in (
            ("lead_unit", spec.lead_unit),
            *(("assisting_units", u) for u in spec.assisting_units),
        ):
            if not self._may_carry_out(org, unit):
                raise InvalidCommand(
                    field, f"{unit!r} is neither in this meeting, below its convener, nor a department"
                )
        if spec.lead_unit in spec.assisting_units or len(set(spec.assisting_units)) < len(
            spec.assisting_units
        ):
            raise InvalidCommand(
                "assisting_units", "a unit is named twice among the lead and assisting units"
            )
        if spec.deadline <= now:
            raise InvalidCommand("deadline", "the deadline must lie in the future")
        if spec.agenda_item is not None and self.item(spec.agenda_item) is None:
            raise InvalidCommand("agenda_item", f"no agenda item {spec.agenda_item} on this meeting")
        if spec.settles_call:
            item = self.item(spec.agenda_item) if spec.agenda_item else None
            if item is None or item.call_id is None:
                raise InvalidCommand("settles_call", "only a decision on a call's agenda item settles a call")

    def _may_carry_out(self, org: Org, unit: str) -> bool:
        """Who a decision may task: those in the meeting, the units below its convener, or a
        district department."""
        if unit in self.participants or org.is_kind(unit, UnitKind.DEPARTMENT):
            return True
        return org.unit(unit) is not None and org.is_below(unit, self.convener)

    def close(self, cmd: Command, org: Org, note: str | None) -> None:
        """The meeting's record is complete: no more decisions."""
        self.check(Action.CLOSE, cmd, org)
        self.trigger_event(self.Closed, note=note, **cmd.meta)

    def cancel(self, cmd: Command, org: Org, reason: str) -> None:
        self.check(Action.CANCEL, cmd, org)
        self.trigger_event(self.Cancelled, reason=reason, **cmd.meta)
