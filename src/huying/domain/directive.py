"""令行禁止: a directive (指令) issued down the chain — by the district to streets, communities and
departments, by a street to its communities, or as a joint meeting's decision (议定事项) — each
target with its own lifecycle: issued → received (签收) → progress → reported done → accepted
(验收) or sent back (返工); extensions; 督办 when a target misses its receipt or completion
deadline; the issuer may cancel. A street breaks a district directive down into directives for its
communities, each naming its parent (任务自上而下分解).

Events are nested in the class, so their topics (``huying.domain.directive:Directive.Issued``, …)
are forever. Every move passes the one gate (``directive_transitions.TABLE``); the clocks are read
by ``huying.domain.directive_clocks``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from huying.domain.aggregate import HuyingAggregate
from huying.domain.commands import Command
from huying.domain.directive_clocks import missed
from huying.domain.directive_states import (
    Extension,
    Note,
    Report,
    Responsible,
    Stage,
    Supervision,
    Target,
    TargetRole,
)
from huying.domain.directive_transitions import TABLE, Action, Situation
from huying.domain.errors import InvalidCommand, TransitionNotAllowed
from huying.domain.principal import Role


class Directive(HuyingAggregate):
    class Event(HuyingAggregate.Event):
        """What every step of a directive records; a target's steps name the target's unit."""

        actions: ClassVar[Mapping[str, str]] = TABLE.actions_by_event

        def mutate(self, aggregate: Any) -> Any:
            directive = super().mutate(aggregate)
            unit = self.acted_on
            if directive is not None and unit in directive.targets:
                directive.targets[unit].last_version = directive.version
            return directive

        @property
        def acted_on(self) -> str | None:
            unit: str | None = getattr(self, "unit", None)
            return unit

    class Issued(Aggregate.Created, Event):
        issuer: str
        title: str
        body: str
        deadline: datetime
        evidence: list[str]  # what a report must carry: "text", "photos"
        targets: list[dict[str, Any]]  # unit, role, receipt_due, due
        parent_id: str | None  # the directive this one breaks down (分解)
        origin: dict[str, str] | None  # where it came from, e.g. a meeting decision
        responsible: dict[str, str] | None  # 责任人: name, post

        def apply(self, directive: Directive) -> None:
            directive.issuer, directive.title, directive.body = self.issuer, self.title, self.body
            directive.deadline, directive.evidence = self.deadline, list(self.evidence)
            directive.parent_id, directive.origin = self.parent_id, self.origin
            directive.responsible = Responsible(**self.responsible) if self.responsible else None
            directive.issued_at, directive.issued_by = self.at, dict(self.actor)
            directive.targets = {
                t["unit"]: Target(t["unit"], TargetRole(t["role"]), t["receipt_due"], t["due"])
                for t in self.targets
            }

    issuer: str
    title: str
    body: str
    deadline: datetime
    evidence: list[str]
    parent_id: str | None
    origin: dict[str, str] | None
    responsible: Responsible | None
    issued_at: datetime
    issued_by: dict[str, str]
    targets: dict[str, Target]

    def __init__(self) -> None:
        self.cancelled = False
        self.cancelled_at: datetime | None = None
        self.cancel_reason: str | None = None
        self.supervisions: list[Supervision] = []

    @classmethod
    def issue(cls, cmd: Command, directive_id: UUID, **issued: Any) -> Directive:
        """下达: the issuer is the principal's unit; the service checked whom it may direct."""
        cls.check_issuer(cmd)
        return cls._create(cls.Issued, id=directive_id, issuer=cmd.principal.unit, **issued, **cmd.meta)

    @staticmethod
    def check_issuer(cmd: Command) -> None:
        """The gate's word on who may issue at all (403), asked before whom it may direct."""
        probe = _IssueProbe(cmd.principal.unit)
        TABLE.check(Action.ISSUE, cmd.principal, probe, Situation(cmd.at), version=0, expected_version=None)

    # --- reads ---------------------------------------------------------------------------

    def target(self, unit: str) -> Target | None:
        return self.targets.get(unit)

    @property
    def photos(self) -> set[str]:
        """Every photo its targets' notes and reports name (evidence)."""
        notes = {p for t in self.targets.values() for n in t.notes for p in n.photos}
        return notes | {p for t in self.targets.values() for r in t.reports for p in r.photos}

    # --- the one gate ----------------------------------------------------------------------

    def _check(self, action: Action, cmd: Command, target: Target | None = None) -> None:
        expected = cmd.expected_version
        situation = Situation(cmd.at, target)
        TABLE.check(action, cmd.principal, self, situation, version=self.version, expected_version=expected)

    def _on(self, action: Action, cmd: Command, unit: str) -> Target:
        """The gate for a move on one target: that target, if the move passes."""
        target = self.targets.get(unit)
        if target is None:
            raise InvalidCommand("target", f"{unit} is not a target of this directive")
        self._check(action, cmd, target)
        return target

    # --- a target's lifecycle ----------------------------------------------------------------

    class Received(Event):
        unit: str

        def apply(self, directive: Directive) -> None:
            target = directive.targets[self.unit]
            target.stage, target.received_at = Stage.RECEIVED, self.at

    def receive(self, cmd: Command, unit: str) -> None:
        """签收: the target has it."""
        self._on(Action.RECEIVE, cmd, unit)
        self.trigger_event(self.Received, unit=unit, **cmd.meta)

    class ProgressNoted(Event):
        unit: str
        note: str
        photos: list[str]

        def apply(self, directive: Directive) -> None:
            directive.targets[self.unit].notes.append(Note(self.note, list(self.photos), self.at))

    def note_progress(self, cmd: Command, unit: str, note: str, photos: list[str]) -> None:
        self._on(Action.PROGRESS, cmd, unit)
        self.trigger_event(self.ProgressNoted, unit=unit, note=note, photos=photos, **cmd.meta)

    class ReportedDone(Event):
        unit: str
        result: str
        photos: list[str]

        def apply(self, directive: Directive) -> None:
            target = directive.targets[self.unit]
            target.stage, target.reported_at = Stage.REPORTED, self.at
            target.reports.append(Report(self.result, list(self.photos), self.at))

    def report_done(self, cmd: Command, unit: str, result: str, photos: list[str]) -> None:
        """办结反馈: the result, with photos when the directive asks for them."""
        self._on(Action.REPORT, cmd, unit)
        if "text" in self.evidence and not result.strip():
            raise InvalidCommand("result", "this directive asks for a written result")
        if "photos" in self.evidence and not photos:
            raise InvalidCommand("attachments", "this directive asks for photos as evidence")
        self.trigger_event(self.ReportedDone, unit=unit, result=result, photos=photos, **cmd.meta)

    class Accepted(Event):
        unit: str
        note: str | None

        def apply(self, directive: Directive) -> None:
            target = directive.targets[self.unit]
            target.stage, target.accepted_at = Stage.ACCEPTED, self.at

    def accept(self, cmd: Command, unit: str, note: str | None) -> None:
        """验收: the issuer accepts the target's work."""
        self._on(Action.ACCEPT, cmd, unit)
        self.trigger_event(self.Accepted, unit=unit, note=note, **cmd.meta)

    class SentBack(Event):
        unit: str
        reason: str

        def apply(self, directive: Directive) -> None:
            target = directive.targets[self.unit]
            target.stage, target.reworks = Stage.REWORK, target.reworks + 1

    def send_back(self, cmd: Command, unit: str, reason: str) -> None:
        """返工: not accepted; the target works on, its completion clock running again."""
        self._on(Action.SEND_BACK, cmd, unit)
        self.trigger_event(self.SentBack, unit=unit, reason=reason, **cmd.meta)

    # --- extensions ------------------------------------------------------------------------

    class ExtensionRequested(Event):
        unit: str
        until: datetime
        reason: str

        def apply(self, directive: Directive) -> None:
            directive.targets[self.unit].extensions.append(Extension(self.until, self.reason, self.at))

    def request_extension(self, cmd: Command, unit: str, until: datetime, reason: str) -> None:
        target = self._on(Action.REQUEST_EXTENSION, cmd, unit)
        if until <= target.due:
            raise InvalidCommand(
                "until", f"an extension must end after the deadline {target.due.isoformat()}"
            )
        self.trigger_event(self.ExtensionRequested, unit=unit, until=until, reason=reason, **cmd.meta)

    class ExtensionGranted(Event):
        unit: str
        note: str | None

        def apply(self, directive: Directive) -> None:
            target = directive.targets[self.unit]
            extension = target.extensions[-1]
            extension.granted, extension.decided_at = True, self.at
            target.due = extension.until

    def grant_extension(self, cmd: Command, unit: str, note: str | None) -> None:
        self._on(Action.GRANT_EXTENSION, cmd, unit)
        self.trigger_event(self.ExtensionGranted, unit=unit, note=note, **cmd.meta)

    class ExtensionDenied(Event):
        unit: str
        reason: str

        def apply(self, directive: Directive) -> None:
            extension = directive.targets[self.unit].extensions[-1]
            extension.granted, extension.decided_at = False, self.at

    def deny_extension(self, cmd: Command, unit: str, reason: str) -> None:
        self._on(Action.DENY_EXTENSION, cmd, unit)
        self.trigger_event(self.ExtensionDenied, unit=unit, reason=reason, **cmd.meta)

    # --- the directive as a whole ------------------------------------------------------------

    class Cancelled(Event):
        reason: str

        def apply(self, directive: Directive) -> None:
            directive.cancelled, directive.cancelled_at, directive.cancel_reason = True, self.at, self.reason
            for target in directive.targets.values():
                if target.stage is not Stage.ACCEPTED:
                    target.stage, target.cancelled_at = Stage.CANCELLED, self.at
                    target.last_version = directive.version

    def cancel(self, cmd: Command, reason: str) -> None:
        """撤销: the issuer withdraws the directive; accepted targets stay accepted."""
        self._check(Action.CANCEL, cmd)
        self.trigger_event(self.Cancelled, reason=reason, **cmd.meta)

    class Supervised(Event):
        unit: str
        reason: str
        clock: str | None  # the missed clock, when the watchdog flags it

        def apply(self, directive: Directive) -> None:
            flag = Supervision(self.unit, self.reason, self.at, self.clock)
            directive.supervisions.append(flag)

    def supervise(self, cmd: Command, unit: str, reason: str, clock: str | None = None) -> None:
        """督办: a flag against a late target. The watchdog names the missed clock, each at most
        once, and only once it is missed (``directive_clocks.missed``)."""
        self._on(Action.SUPERVISE, cmd, unit)
        if cmd.principal.role is Role.SYSTEM:
            if clock is None:
                raise InvalidCommand("clock", "the watchdog supervises a missed clock; name it")
            if clock in {s.clock for s in self.supervisions}:
                raise TransitionNotAllowed(f"supervise: clock {clock} was already flagged")
            if clock not in {c.key for c in missed(self, cmd.at)}:
                raise TransitionNotAllowed(f"supervise: clock {clock} is not missed")
        self.trigger_event(self.Supervised, unit=unit, reason=reason, clock=clock, **cmd.meta)


ACTION_OF_DIRECTIVE_EVENT: Mapping[str, str] = TABLE.actions_by_event


class _IssueProbe:
    """The little the gate needs to know who may issue."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.cancelled = False
        self.targets: dict[str, Target] = {}
