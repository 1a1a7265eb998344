"""The joint meeting's application service (联席会议): one method per command over the one
``CommandPath``. Tabling a call acts on the call first, through the call's own service (the
call's history shows it went before the meeting), then on the meeting; both carry the request's
key, so a retry finishes what a failure left half done and writes nothing twice.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from uuid import UUID

from huying.application import HuyingApplication
from huying.domain.aggregate import request_scope
from huying.domain.errors import InvalidCommand, MeetingNotFound
from huying.domain.jurisdiction import can_see_meeting
from huying.domain.meeting import Meeting
from huying.domain.meeting_states import Decision, DecisionSpec, MeetingKind, Stage
from huying.domain.meeting_transitions import TABLE, Action, Situation
from huying.domain.org import Org, UnitKind
from huying.domain.principal import Principal
from huying.service_layer.calls import CallService, Outcome
from huying.service_layer.command_path import CommandPath, Recorded, Submission
from huying.service_layer.directives import MEETING_DECISION, DirectiveDraft, DirectiveService
from huying.service_layer.dispatch import utc
from huying.service_layer.history import History, Past

_MEETING_ID_NAMESPACE = UUID("9a0d7c3e-51f2-4b8e-a6d4-7e2c9b1f0a53")

# Which body a kind of meeting belongs to: a street's 大工委, a community's 大党委.
_BODY_OF_KIND = {
    MeetingKind.WORKING_COMMITTEE: UnitKind.STREET,
    MeetingKind.PARTY_COMMITTEE: UnitKind.COMMUNITY,
}


def meeting_path(log: HuyingApplication) -> CommandPath[Meeting]:
    """The command path of joint meetings: outside a principal's jurisdiction one does not exist."""
    return CommandPath(
        log,
        Meeting,
        noun="meeting",
        not_found=MeetingNotFound,
        visible=lambda p, meeting: can_see_meeting(p, meeting, log.org),
    )


class MeetingService:
    def __init__(self, path: CommandPath[Meeting], calls: CallService, tasks: DirectiveService) -> None:
        self.path = path
        self.past = Past(path)
        self.calls = calls
        self.tasks = tasks  # a decision's task has the directive lifecycle
        self.org: Org = path.log.org

    # --- reads ---------------------------------------------------------------------------

    def meeting_for(self, p: Principal, meeting_id: UUID) -> Meeting:
        return self.path.get(p, meeting_id)

    def position_of(self, meeting: Meeting) -> int:
        return self.path.log.positions.at(meeting.id, meeting.version)

    def history(self, p: Principal, meeting_id: UUID) -> History:
        return self.past.history(p, meeting_id)

    def meeting_then(
        self, p: Principal, meeting_id: UUID, *, as_of: datetime | None = None, version: int | None = None
    ) -> Meeting:
        return self.past.then(p, meeting_id, as_of=as_of, version=version)

    # --- commands --------------------------------------------------------------------------

    def convene(
        self,
        p: Principal,
        sub: Submission,
        *,
        kind: MeetingKind,
        title: str,
        scheduled_for: datetime,
        invited: list[str],
    ) -> Recorded[Meeting]:
        """召集: a street convenes its 大工委, a community its 大党委 (or another joint meeting)."""
        cmd = self.path.command(p, sub)
        probe = _Probe(p.unit, tuple(invited))
        TABLE.check(Action.CONVENE, p, probe, Situation(cmd.at, self.org), version=0, expected_version=None)
        self._check_invitation(p.unit, kind, invited)
        meeting_id = CommandPath.keyed_id(_MEETING_ID_NAMESPACE, p, "convene", sub.key)
        if sub.key is not None and (earlier := self._earlier_convening(p, meeting_id, sub)):
            return earlier
        meeting = Meeting.convene(
            cmd, meeting_id, kind, title, utc(scheduled_for), list(dict.fromkeys(invited))
        )
        return self.path.create(meeting, earlier=lambda: self._earlier_convening(p, meeting_id, sub))

    def propose(
        self, p: Principal, meeting_id: UUID, sub: Submission, title: str, note: str | None
    ) -> Recorded[Meeting]:
        """An agenda item from a member's proposal."""
        return self.path.act(
            p, meeting_id, sub, "propose", lambda m, cmd: m.propose(cmd, self.org, title, note)
        )

    def table_call(self, p: Principal, meeting_id: UUID, sub: Submission, call_id: UUID) -> Recorded[Meeting]:
        """难题自下而上提交: the call's holder puts it on the agenda — the call records it (through
        the call's service), then the meeting does."""
        meeting = self.path.get(p, meeting_id)
        if sub.key is not None:  # a repeat is answered as the first was, whatever came since
            scope = request_scope(p.as_dict(), "table-call")
            if (earlier := self.path.answer_from_record(meeting, scope, sub)) is not None:
                return earlier
        cmd = self.path.command(p, sub)
        meeting.check(Action.TABLE_CALL, cmd, self.org)  # judged before the call is touched
        call = self.calls.put_on_agenda(p, call_id, sub, meeting_id, meeting.convener).call
        title = call.title
        return self.path.act(
            p, meeting_id, sub, "table-call", lambda m, c: m.table_call(c, self.org, call_id, title)
        )

    def record_minutes(
        self, p: Principal, meeting_id: UUID, sub: Submission, attended: list[str], discussion: str
    ) -> Recorded[Meeting]:
        """会议纪要: attendance and discussion."""
        return self.path.act(
            p,
            meeting_id,
            sub,
            "minutes",
            lambda m, cmd: m.record_minutes(cmd, self.org, attended, discussion),
        )

    def decide(
        self, p: Principal, meeting_id: UUID, sub: Submission, spec: DecisionSpec
    ) -> Recorded[Meeting]:
        """议定事项: a decision with its lead, assisting units, responsible official and deadline."""
        spec = replace(spec, deadline=utc(spec.deadline))
        recorded = self.path.act(
            p,
            meeting_id,
            sub,
            "decide",
            lambda m, cmd: m.decide(cmd, self.org, spec, lambda d: self.task_id_for(p, m.id, d)),
        )
        self._issue_tasks(p, recorded.aggregate)
        return recorded

    def task_id_for(self, p: Principal, meeting_id: UUID, decision_id: str) -> UUID:
        """The id a decision's task is issued under, known before it is issued."""
        return self.tasks.issue_id(p, _task_key(meeting_id, decision_id))

    def _issue_tasks(self, p: Principal, meeting: Meeting) -> None:
        """任务自上而下分解: each decision's task, issued as a directive under a key of its own —
        so a retried decision finds its task, and a decision whose task was not issued (the
        process stopped in between) gets it on the next decision or retry."""
        for decision in meeting.decisions:
            if self.tasks.path.current(UUID(decision.task_id)) is not None:
                continue
            key = _task_key(meeting.id, decision.id)
            self.tasks.issue(p, Submission(key=key, fingerprint=decision.task_id), _task(meeting, decision))

    def close(self, p: Principal, meeting_id: UUID, sub: Submission, note: str | None) -> Recorded[Meeting]:
        return self.path.act(p, meeting_id, sub, "close", lambda m, cmd: m.close(cmd, self.org, note))

    def cancel(self, p: Principal, meeting_id: UUID, sub: Submission, reason: str) -> Recorded[Meeting]:
        return self.path.act(p, meeting_id, sub, "cancel", lambda m, cmd: m.cancel(cmd, self.org, reason))

    def resolve_citing(
        self, p: Principal, call_id: UUID, sub: Submission, summary: str, meeting_id: UUID, decision_id: str
    ) -> Outcome:
        """办结 citing the decision that settled the call: the decision must exist on a meeting
        the holder can see, and settle this very call (422 naming ``decision`` otherwise)."""
        decision = self.settling(p, call_id, meeting_id, decision_id)
        cited = {"meeting_id": str(meeting_id), "decision_id": decision.id}
        return self.calls.resolve(p, call_id, sub, summary, cited)

    def settling(self, p: Principal, call_id: UUID, meeting_id: UUID, decision_id: str) -> Decision:
        meeting = self.path.current(meeting_id)
        if meeting is None or not can_see_meeting(p, meeting, self.org):
            raise InvalidCommand("decision.meeting_id", f"no meeting {meeting_id} in your jurisdiction")
        decision = meeting.decision(decision_id)
        if decision is None:
            raise InvalidCommand("decision.decision_id", f"no decision {decision_id} on meeting {meeting_id}")
        if decision.settles_call != str(call_id):
            raise InvalidCommand("decision", f"decision {decision_id} does not settle call {call_id}")
        return decision

    # --- helpers ------------------------------------------------------------------------------

    def _check_invitation(self, convener: str, kind: MeetingKind, invited: list[str]) -> None:
        body = _BODY_OF_KIND.get(kind)
        if body is not None and not self.org.is_kind(convener, body):
            raise InvalidCommand("kind", f"a {kind.value} meeting is convened by a {body.value}")
        for unit in invited:
            if not self.may_invite(convener, unit):
                raise InvalidCommand(
                    "invited",
                    f"{unit!r} is not a member unit of {convener}, a unit below it, nor a department",
                )

    def may_invite(self, convener: str, unit: str) -> bool:
        """A body invites its own member units, the units below it (社区书记 列席 a 大工委) and
        district departments."""
        found = self.org.unit(unit)
        if found is None or unit == convener:
            return False
        if found.kind is UnitKind.DEPARTMENT:
            return True
        return found.kind in (UnitKind.MEMBER, UnitKind.COMMUNITY) and self.org.is_below(unit, convener)

    def _earlier_convening(self, p: Principal, meeting_id: UUID, sub: Submission) -> Recorded[Meeting] | None:
        meeting = self.path.current(meeting_id)
        if meeting is None:
            return None
        return self.path.answer_from_record(meeting, request_scope(p.as_dict(), "convene"), sub)


def _task_key(meeting_id: UUID, decision_id: str) -> str:
    return f"meeting-decision|{meeting_id}|{decision_id}"


def _task(meeting: Meeting, decision: Decision) -> DirectiveDraft:
    """The directive that carries a decision out: its lead and assisting units as targets, its
    deadline and responsible official, and where it came from."""
    return DirectiveDraft(
        title=decision.title,
        body=f"联席会议议定：{meeting.title}（{decision.id}）",
        targets=list(decision.units),
        lead=decision.lead_unit,
        deadline=decision.deadline,
        origin={"kind": MEETING_DECISION, "meeting_id": str(meeting.id), "decision_no": decision.id},
        responsible=decision.responsible,
    )


class _Probe:
    """The little the gate needs to judge a meeting not yet convened."""

    def __init__(self, convener: str, invited: tuple[str, ...]) -> None:
        self.convener, self.invited, self.stage = convener, invited, Stage.CONVENED
