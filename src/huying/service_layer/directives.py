"""令行禁止: the directive's application service — issue (and break down), then each target's
moves — over the one ``CommandPath``.

``DirectiveService.issue(principal, submission, draft)`` is the one way a directive comes to be:
from the HTTP API, and from another aggregate's decision (a joint meeting's 议定事项 names its
``origin`` and ``responsible`` person in the draft). A target's commands name the target's unit;
idempotency is scoped to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from huying.application import HuyingApplication
from huying.domain.aggregate import request_scope
from huying.domain.commands import Command
from huying.domain.directive import Directive
from huying.domain.directive_states import OPEN, Responsible, TargetRole
from huying.domain.directive_transitions import may_address
from huying.domain.errors import DirectiveNotFound, InvalidCommand, NotPermitted, TransitionNotAllowed
from huying.domain.jurisdiction import can_see_directive
from huying.domain.principal import Principal
from huying.service_layer.command_path import Change, CommandPath, Recorded, Submission
from huying.service_layer.dispatch import utc
from huying.service_layer.history import History, Past
from huying.service_layer.photos import Photos

_DIRECTIVE_ID_NAMESPACE = UUID("7d0f4c3e-2b9a-4e61-8c57-0a1d6e9b3f24")
EVIDENCE = frozenset({"text", "photos"})
MEETING_DECISION = "meeting-decision"  # an origin kind: a joint meeting's 议定事项
_MAX_WORKING_DAYS = 250


@dataclass(frozen=True)
class DirectiveDraft:
    """What an issuer (or a meeting decision) asks for. The deadline is a business time or a
    number of working days from now (``huying.domain.worktime``); the receipt (签收) deadline
    defaults to one working day, and never after the deadline. ``lead`` names the 牵头 unit
    among the targets (the others assist); without it every target leads its own part."""

    title: str
    body: str
    targets: Sequence[str]
    deadline: datetime | None = None
    working_days: int | None = None
    receipt_due: datetime | None = None
    evidence: Sequence[str] = ("text",)
    lead: str | None = None
    parent_id: UUID | None = None  # the directive a street breaks down (分解)
    origin: dict[str, str] | None = None  # e.g. {"kind": "meeting-decision", "meeting_id", "decision_no"}
    responsible: Responsible | None = None  # 责任人: name and post


def directive_path(log: HuyingApplication) -> CommandPath[Directive]:
    """The command path of directives: outside a principal's jurisdiction one does not exist."""
    return CommandPath(
        log,
        Directive,
        noun="directive",
        not_found=DirectiveNotFound,
        visible=lambda p, d: can_see_directive(p, d, log.org),
    )


class DirectiveService:
    def __init__(self, path: CommandPath[Directive], photos: Photos) -> None:
        self.path = path
        self.past = Past(path)
        self.photos = photos
        self.org, self.clock, self.calendar = path.log.org, path.log.clock, path.log.calendar

    # --- reads -------------------------------------------------------------------------------

    def directive_for(self, principal: Principal, directive_id: UUID) -> Directive:
        return self.path.get(principal, directive_id)

    def history(self, principal: Principal, directive_id: UUID) -> History:
        return self.past.history(principal, directive_id)

    def directive_then(
        self,
        principal: Principal,
        directive_id: UUID,
        *,
        as_of: datetime | None = None,
        version: int | None = None,
    ) -> Directive:
        return self.past.then(principal, directive_id, as_of=as_of, version=version)

    def position_of(self, directive: Directive) -> int:
        return self.path.log.positions.at(directive.id, directive.version)

    # --- issue (下达, 分解) ---------------------------------------------------------------------

    def issue(self, principal: Principal, sub: Submission, draft: DirectiveDraft) -> Recorded[Directive]:
        """下达: a new directive, from the principal's unit to the draft's targets; with
        ``parent_id``, a street's breakdown of a directive addressed to it."""
        directive_id = self.issue_id(principal, sub.key)
        if sub.key is not None and (earlier := self._earlier_issue(principal, directive_id, sub)):
            return earlier
        cmd = self.path.command(principal, sub)
        Directive.check_issuer(cmd)  # 403 for who may not issue, before 422 on whom it names
        deadline = self._deadline(draft, cmd.at)
        if draft.parent_id is not None:
            self._check_breakdown(principal, draft.parent_id, deadline)
        receipt_due = self._receipt_due(draft, cmd.at, deadline)
        targets = self._targets(principal, draft, receipt_due, deadline)
        directive = Directive.issue(
            cmd,
            directive_id,
            title=_text("title", draft.title),
            body=draft.body,
            deadline=deadline,
            evidence=_evidence(draft.evidence),
            targets=targets,
            parent_id=str(draft.parent_id) if draft.parent_id else None,
            origin=_origin(draft.origin),
            responsible={"name": draft.responsible.name, "post": draft.responsible.post}
            if draft.responsible
            else None,
        )
        return self.path.create(directive, earlier=lambda: self._earlier_issue(principal, directive_id, sub))

    @staticmethod
    def issue_id(principal: Principal, key: str | None) -> UUID:
        """A keyed issue's directive id: the same for a retry (a meeting decision's task id is
        known before the task is issued)."""
        return CommandPath.keyed_id(_DIRECTIVE_ID_NAMESPACE, principal, "issue", key)

    def _earlier_issue(
        self, principal: Principal, directive_id: UUID, sub: Submission
    ) -> Recorded[Directive] | None:
        found = self.path.current(directive_id)
        if found is None:
            return None
        return self.path.answer_from_record(found, request_scope(principal.as_dict(), "issue"), sub)

    def _deadline(self, draft: DirectiveDraft, now: datetime) -> datetime:
        if (draft.deadline is None) == (draft.working_days is None):
            raise InvalidCommand("deadline", "give either deadline or working_days, not both or neither")
        if draft.working_days is not None:
            if not 1 <= draft.working_days <= _MAX_WORKING_DAYS:
                raise InvalidCommand("working_days", f"must be between 1 and {_MAX_WORKING_DAYS}")
            return self.calendar.add_working_days(now, draft.working_days)
        deadline = utc(draft.deadline)  # type: ignore[arg-type]  # not None: checked above
        if deadline <= now:
            raise InvalidCommand("deadline", "the deadline has passed already")
        return deadline

    def _receipt_due(self, draft: DirectiveDraft, now: datetime, deadline: datetime) -> datetime:
        if draft.receipt_due is None:
            return min(self.calendar.add_working_days(now, 1), deadline)
        due = utc(draft.receipt_due)
        if not now < due <= deadline:
            raise InvalidCommand("receipt_due", "the receipt deadline must lie between now and the deadline")
        return due

    def _targets(
        self, principal: Principal, draft: DirectiveDraft, receipt_due: datetime, deadline: datetime
    ) -> list[dict[str, object]]:
        units = list(draft.targets)
        if not units:
            raise InvalidCommand("targets", "a directive needs at least one target")
        if len(set(units)) != len(units):
            raise InvalidCommand("targets", "each unit may be targeted once")
        if draft.lead is not None and draft.lead not in units:
            raise InvalidCommand("lead", f"the lead unit {draft.lead} is not among the targets")
        from_meeting = (draft.origin or {}).get("kind") == MEETING_DECISION
        for i, unit in enumerate(units):
            if (refusal := may_address(principal, self.org, unit, from_meeting=from_meeting)) is not None:
                raise InvalidCommand(f"targets.{i}", refusal)
        return [
            {
                "unit": unit,
                "role": (TargetRole.ASSIST if draft.lead not in (None, unit) else TargetRole.LEAD).value,
                "receipt_due": receipt_due,
                "due": deadline,
            }
            for unit in units
        ]

    def _check_breakdown(self, principal: Principal, parent_id: UUID, deadline: datetime) -> None:
        """分解: a unit breaks down only a directive addressed to it and still open for it, and
        its children are due no later than it is."""
        try:
            parent = self.path.get(principal, parent_id)
        except DirectiveNotFound:
            raise InvalidCommand("parent_id", f"no directive {parent_id} in your jurisdiction") from None
        target = parent.target(principal.unit)
        if target is None:
            raise NotPermitted(f"issue: only a target of directive {parent_id} may break it down")
        if parent.cancelled or target.stage not in OPEN:
            raise TransitionNotAllowed(
                f"issue: directive {parent_id} is {target.stage.value} for {principal.unit}"
            )
        if deadline > target.due:
            raise InvalidCommand(
                "deadline", f"a breakdown is due by its parent's deadline {target.due.isoformat()}"
            )

    # --- a target's moves ----------------------------------------------------------------------

    def receive(self, p: Principal, directive_id: UUID, unit: str, sub: Submission) -> Recorded[Directive]:
        return self._act(p, directive_id, unit, sub, "receive", lambda d, cmd: d.receive(cmd, unit))

    def note_progress(
        self,
        p: Principal,
        directive_id: UUID,
        unit: str,
        sub: Submission,
        note: str,
        attachments: Sequence[str] = (),
    ) -> Recorded[Directive]:
        photos = self.photos.usable(p, attachments)
        noted: Change[Directive] = lambda d, cmd: d.note_progress(cmd, unit, note, photos)  # noqa: E731
        change = self.photos.naming(photos, noted)
        return self._act(p, directive_id, unit, sub, "progress", change)

    def report_done(
        self,
        p: Principal,
        directive_id: UUID,
        unit: str,
        sub: Submission,
        result: str,
        attachments: Sequence[str] = (),
    ) -> Recorded[Directive]:
        photos = self.photos.usable(p, attachments)
        reported: Change[Directive] = lambda d, cmd: d.report_done(cmd, unit, result, photos)  # noqa: E731
        change = self.photos.naming(photos, reported)
        return self._act(p, directive_id, unit, sub, "report", change)

    def accept(
        self, p: Principal, directive_id: UUID, unit: str, sub: Submission, note: str | None = None
    ) -> Recorded[Directive]:
        return self._act(p, directive_id, unit, sub, "accept", lambda d, cmd: d.accept(cmd, unit, note))

    def send_back(
        self, p: Principal, directive_id: UUID, unit: str, sub: Submission, reason: str
    ) -> Recorded[Directive]:
        return self._act(
            p, directive_id, unit, sub, "send-back", lambda d, cmd: d.send_back(cmd, unit, reason)
        )

    def request_extension(
        self, p: Principal, directive_id: UUID, unit: str, sub: Submission, until: datetime, reason: str
    ) -> Recorded[Directive]:
        change: Change[Directive] = lambda d, cmd: d.request_extension(cmd, unit, utc(until), reason)  # noqa: E731
        return self._act(p, directive_id, unit, sub, "request-extension", change)

    def grant_extension(
        self, p: Principal, directive_id: UUID, unit: str, sub: Submission, note: str | None = None
    ) -> Recorded[Directive]:
        change: Change[Directive] = lambda d, cmd: d.grant_extension(cmd, unit, note)  # noqa: E731
        return self._act(p, directive_id, unit, sub, "extension/grant", change)

    def deny_extension(
        self, p: Principal, directive_id: UUID, unit: str, sub: Submission, reason: str
    ) -> Recorded[Directive]:
        change: Change[Directive] = lambda d, cmd: d.deny_extension(cmd, unit, reason)  # noqa: E731
        return self._act(p, directive_id, unit, sub, "extension/deny", change)

    def supervise(
        self,
        p: Principal,
        directive_id: UUID,
        unit: str,
        sub: Submission,
        reason: str,
        clock: str | None = None,
    ) -> Recorded[Directive]:
        """督办: by a supervisor, or by the watchdog naming the missed clock."""
        change: Change[Directive] = lambda d, cmd: d.supervise(cmd, unit, reason, clock)  # noqa: E731
        return self._act(p, directive_id, unit, sub, "supervise", change)

    def cancel(self, p: Principal, directive_id: UUID, sub: Submission, reason: str) -> Recorded[Directive]:
        return self.path.act(p, directive_id, sub, "cancel", lambda d, cmd: d.cancel(cmd, reason))

    def _act(
        self,
        p: Principal,
        directive_id: UUID,
        unit: str,
        sub: Submission,
        action: str,
        change: Change[Directive],
    ) -> Recorded[Directive]:
        """A move on one target of a directive the principal can see; a unit it does not target
        is no more there than a directive outside the jurisdiction (404)."""

        def on_target(directive: Directive, cmd: Command) -> None:
            if directive.target(unit) is None:
                raise DirectiveNotFound(f"no target {unit} on directive {directive_id}")
            change(directive, cmd)

        return self.path.act(p, directive_id, sub, action, on_target, target=unit)


def _text(name: str, value: str) -> str:
    if not value.strip():
        raise InvalidCommand(name, f"{name} must not be empty")
    return value


def _evidence(asked: Sequence[str]) -> list[str]:
    unknown = sorted(set(asked) - EVIDENCE)
    if unknown:
        raise InvalidCommand("evidence", f"unknown evidence {', '.join(unknown)}: text or photos")
    return sorted(set(asked))


def _origin(origin: dict[str, str] | None) -> dict[str, str] | None:
    if origin is None:
        return None
    if not origin.get("kind"):
        raise InvalidCommand("origin.kind", "an origin names its kind, e.g. meeting-decision")
    return {str(k): str(v) for k, v in origin.items()}
