"""The eventsourcing Application: one method per command — get, act, save.

HTTP, the CLI and tests all call these methods. Idempotency lives in the event store itself:
a raise with a key gets a deterministic id, an action carries its key inside its event, so
"201" and "recorded once" are the same transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID, uuid4, uuid5

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, Mapper, Notification, StoredEvent

from huying.audit.log import StoredLog
from huying.audit.mapper import SealingMapper
from huying.audit.seal import writing_after
from huying.audit.vouch import EventUnvouched, Flaw, Tamper, Voucher, named
from huying.clock import Clock
from huying.domain.aggregate import request_scope
from huying.domain.call import Call
from huying.domain.catalog import Catalog
from huying.domain.commands import Command, OrderSpec
from huying.domain.contact import Contact
from huying.domain.errors import (
    CallNotFound,
    ConcurrentModification,
    IdempotencyKeyReused,
    InvalidCommand,
    NotPermitted,
)
from huying.domain.jurisdiction import can_see
from huying.domain.levels import Level
from huying.domain.org import Org, UnitKind
from huying.domain.principal import Principal, Role
from huying.domain.sla import Clocks, clocks_for, due_after
from huying.domain.states import OrderRole, Satisfaction
from huying.domain.worktime import WorkCalendar
from huying.eventlog import EventPositions
from huying.services.attachments import Attachment, AttachmentIndex, AttachmentNotFound
from huying.services.contacts import ContactBook
from huying.turns import Turns, pause_before

_CALL_ID_NAMESPACE = UUID("3c5e8f0a-6a2b-4d4e-9a8f-2b6c1d0e7f91")
_SAVE_ATTEMPTS = 8
# Phones' clocks drift; a capture a few minutes "ahead" of the server is not in the future.
_CAPTURE_CLOCK_SKEW = timedelta(minutes=5)
# 个人信息删除: who may erase a reporter's contact details on request.
_ERASERS = frozenset({Role.SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True)
class Submission:
    """How a request identifies itself: its Idempotency-Key, body fingerprint and If-Match.
    ``legacy_fingerprint`` is what earlier versions recorded for a body with personal data
    (compared with what they stored, never stored itself)."""

    key: str | None = None
    fingerprint: str | None = None
    if_match: int | None = None
    legacy_fingerprint: str | None = None

    def same_body(self, recorded: str | None) -> bool:
        return recorded == self.fingerprint or (
            self.legacy_fingerprint is not None and recorded == self.legacy_fingerprint
        )


@dataclass(frozen=True)
class CallDraft:
    item_code: str
    grid_code: str
    title: str
    description: str
    channel: str
    urgency: str = "normal"
    occurred_at: datetime | None = None
    location: dict[str, Any] | None = None
    reporter: Contact | None = None
    attachments: list[str] = field(default_factory=list)
    media_url: str | None = None


@dataclass(frozen=True)
class DispatchPlan:
    lead_department: str
    assisting_departments: list[str]
    deadline: datetime | None
    instructions: str


@dataclass(frozen=True)
class Outcome:
    """A command's result: the call as it then stood, its log position, and whether this was
    a repeat of an earlier request answered from the record."""

    call: Call
    position: int
    replayed: bool = False


@dataclass(frozen=True)
class CallHistory:
    events: list[tuple[int, Call.Event]]  # (log position, event), in version order
    unvouched: list[Flaw]  # stored events huying cannot vouch for, or that are gone


def at_position(stored: StoredEvent, position: int) -> Notification:
    """A stored event with its log position, so that the mapper judges it where it lies."""
    return Notification(
        id=position,
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=stored.state,
    )


def _gone(call_id: UUID, version: int) -> Flaw:
    what = named(call_id.hex, version, "call")
    return Flaw(None, call_id.hex, version, Tamper.MISSING, f"{what} is gone from the log")


def _utc(instant: datetime) -> datetime:
    """Times are stored in UTC whatever offset the client sent."""
    return instant.astimezone(UTC)


def fold(events: Iterable[Any]) -> Call:
    """Replays a call's events. (The library's ``project_aggregate`` spends more time in a
    runtime Protocol ``isinstance`` per event than in applying it.)"""
    call: Call | None = None
    for event in events:
        call = cast(Call, event.mutate(call))
    if call is None:
        raise CallNotFound("no such call")
    return call


class HuyingApplication(Application[UUID]):
    name = "huying"

    def __init__(
        self,
        *,
        env: dict[str, str],
        org: Org,
        catalog: Catalog,
        clock: Clock,
        contacts: ContactBook,
        voucher: Voucher,
        reopen_window: timedelta = timedelta(days=7),
        calendar: WorkCalendar | None = None,
        attachments: AttachmentIndex | None = None,
        max_capture_age: timedelta = timedelta(days=7),
    ) -> None:
        self.voucher = voucher  # 封印: the mapper seals what it stores, and vouches for what it reads
        super().__init__(env=env)
        voucher.locate = StoredLog(self.recorder).locate
        self.org = org
        self.catalog = catalog
        self.clock = clock
        self.contacts = contacts
        self.reopen_window = reopen_window
        # 随手拍: which photos exist, who uploaded them, which calls name them (service tables,
        # beside the contacts).
        self.attachments = attachments or AttachmentIndex(contacts.engine, clock)
        # 离线采集: how old a device's capture time may be when its call arrives.
        self.max_capture_age = max_capture_age
        self.calendar = calendar or WorkCalendar()
        self.positions = EventPositions(self.recorder)
        self.turns = Turns()  # commands on one call take turns in this process
        self._saved_listeners: list[Callable[[int], None]] = []
        # The newest position this process has seen: what each new event's seal says it follows.
        self._seen = int(self.recorder.max_notification_id() or 0)

    def construct_mapper(self) -> Mapper[UUID]:
        return SealingMapper(self.construct_transcoder(), self.voucher)

    def on_saved(self, listener: Callable[[int], None]) -> None:
        """Called with the log position after every local save (wakes the projector)."""
        self._saved_listeners.append(listener)

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        with writing_after(self._seen):
            recordings = super().save(*objs, **kwargs)
        if recordings:
            # A lost race between threads leaves an older position here: still one that exists.
            self._seen = max(self._seen, recordings[-1].notification.id)
            for listener in self._saved_listeners:
                listener(recordings[-1].notification.id)
        return recordings

    # --- reads -------------------------------------------------------------------------

    def call_for(self, principal: Principal, call_id: UUID) -> Call:
        """The call as it stands, if it exists and lies in the principal's jurisdiction; else 404."""
        call = self.current(call_id)
        if call is None or not can_see(principal, call, self.org):
            raise CallNotFound(f"no call {call_id} in your jurisdiction")
        return call

    def current(self, call_id: UUID) -> Call | None:
        """The call as it stands now, from the event store (every command reads it here)."""
        events = list(self.events.get(call_id))
        return fold(events) if events else None

    def call_at(self, call_id: UUID, version: int) -> Call:
        """The call as it stood at ``version`` (no jurisdiction check: callers have made it)."""
        return fold(self.events.get(call_id, lte=version))

    def position_of(self, call: Call) -> int:
        return self.positions.of_call(call.id)[call.version]

    def history(self, principal: Principal, call_id: UUID) -> CallHistory:
        """Every event of the call in order, with its log position — and, named apart, any
        stored event huying cannot vouch for (or that is gone). Jurisdiction is judged on the
        call as its vouched-for events before the first such one make it."""
        positions = self.positions.of_call(call_id)
        history, expected = CallHistory([], []), 1
        for stored in self.recorder.select_events(call_id):
            version = stored.originator_version
            if version > expected:
                history.unvouched.append(_gone(call_id, expected))
            expected = version + 1
            try:
                event = self.mapper.to_domain_event(at_position(stored, positions[version]))
            except EventUnvouched as e:
                history.unvouched.append(e.flaw)
                continue
            history.events.append((positions[version], cast(Call.Event, event)))
        first_flaw = min((f.version for f in history.unvouched), default=None)
        vouched = [e for _, e in history.events if first_flaw is None or e.originator_version < first_flaw]
        if not vouched or not can_see(principal, fold(vouched), self.org):
            raise CallNotFound(f"no call {call_id} in your jurisdiction")
        return history

    def call_then(
        self,
        principal: Principal,
        call_id: UUID,
        *,
        as_of: datetime | None = None,
        version: int | None = None,
    ) -> Call:
        """时间回溯: the call as it stood at business time ``as_of``, or at ``version``. Whoever
        may see the call now may see its past (like its history); 404 when it did not yet exist."""
        current, events = self._call_and_events(principal, call_id)
        if version is not None and version > current.version:
            raise CallNotFound(f"call {call_id} has no version {version} (it is at {current.version})")
        if version is None and as_of is None:
            return current
        then: Call | None = None
        for event in events:  # decoded once already; folding them again is cheap
            if event.originator_version > (version or current.version) or (as_of and event.at > as_of):
                break
            then = cast(Call, event.mutate(then))
        if then is None:
            raise CallNotFound(f"call {call_id} did not yet exist at {as_of.isoformat() if as_of else '?'}")
        return then

    def _call_and_events(self, principal: Principal, call_id: UUID) -> tuple[Call, list[Call.Event]]:
        """The call as it stands and all its events, read and decoded once; 404 outside the
        principal's jurisdiction. Folds the events itself: the library's ``project_aggregate``
        spends more time in a runtime Protocol ``isinstance`` per event than in applying it."""
        events = [cast(Call.Event, e) for e in self.events.get(call_id)]
        if not events:
            raise CallNotFound(f"no call {call_id} in your jurisdiction")
        call = fold(events)
        if not can_see(principal, call, self.org):
            raise CallNotFound(f"no call {call_id} in your jurisdiction")
        return call, events

    # --- raise (群众有呼) ----------------------------------------------------------------------

    def raise_call(self, principal: Principal, draft: CallDraft, sub: Submission) -> Outcome:
        """一事一呼: a new call at the community of its grid."""
        item = self.catalog.item(draft.item_code)
        if item is None:
            raise InvalidCommand("item_code", f"no item {draft.item_code} in catalog {self.catalog.version}")
        if not self.org.is_kind(draft.grid_code, UnitKind.GRID):
            raise InvalidCommand("grid_code", f"no grid {draft.grid_code} in org {self.org.version}")
        call_id = self._call_id(principal, sub.key)
        if (
            sub.key is not None
            and (earlier := self._earlier_raise(principal, call_id, sub, draft)) is not None
        ):
            # A retry (the original answer) or a reused key (422) — answered before anything,
            # the reporter's contact included, is stored; and before the capture time is judged
            # again, so a phone retrying after days offline still gets the call it made.
            return earlier
        self._check_capture_time(draft.occurred_at)
        photos = self._usable_attachments(principal, draft.attachments)
        community = self.org.community_of(draft.grid_code)
        cmd = self._command(principal, sub)
        # Random, so that nothing the event carries is a function of the reporter.
        reporter_ref = self.contacts.new_ref() if draft.reporter is not None else None
        call = Call.raise_call(
            cmd,
            call_id=call_id,
            clocks=self._clocks(item.sla_snapshot(), cmd.at),
            item_code=item.code,
            catalog_version=self.catalog.version,
            sla=item.sla_snapshot(),
            grid_code=draft.grid_code,
            community_code=community,
            street_code=self.org.street_of(community),
            title=draft.title,
            description=draft.description,
            channel=draft.channel,
            urgency=draft.urgency,
            occurred_at=_utc(draft.occurred_at) if draft.occurred_at else None,
            location=draft.location,
            reporter_ref=reporter_ref,
            attachments=photos,
            media_url=draft.media_url,
        )
        # The raise is permitted: the photos' index learns the call names them, before its event
        # is stored (an index entry for a call never stored is harmless: readers confirm it).
        self.attachments.refer(photos, call_id)
        if reporter_ref is not None and draft.reporter is not None:
            # Only now that the raise is permitted, and before its event is stored, so a stored
            # call never points at a missing contact.
            self.contacts.keep(reporter_ref, draft.reporter)
        try:
            recordings = self.save(call)
        except BaseException as e:
            if reporter_ref is not None:
                self.contacts.discard(reporter_ref)  # never stored: its contact must not outlive it
            if not isinstance(e, IntegrityError):
                raise
            # A keyed raise seen before (or a concurrent twin stored first): the store refused
            # the second copy, so answer as the first was answered.
            earlier = self._earlier_raise(principal, call_id, sub, draft)
            if earlier is None:
                raise
            return earlier
        return Outcome(call, recordings[-1].notification.id)

    # --- community and street ----------------------------------------------------------

    def acknowledge(self, p: Principal, call_id: UUID, sub: Submission, note: str | None) -> Outcome:
        return self._act(p, call_id, sub, "acknowledge", lambda c, cmd: c.acknowledge(cmd, note))

    def escalate(self, p: Principal, call_id: UUID, sub: Submission, reason: str) -> Outcome:
        return self._act(
            p, call_id, sub, "escalate", lambda c, cmd: c.escalate(cmd, reason, self._clocks(c.sla, cmd.at))
        )

    def dispatch(self, p: Principal, call_id: UUID, sub: Submission, plan: DispatchPlan) -> Outcome:
        self._check_plan(plan)
        return self._act(
            p, call_id, sub, "dispatch", lambda c, cmd: c.dispatch(cmd, self._orders_for(plan, c, cmd.at))
        )

    def resolve(self, p: Principal, call_id: UUID, sub: Submission, summary: str) -> Outcome:
        return self._act(p, call_id, sub, "resolve", lambda c, cmd: c.resolve(cmd, summary))

    def evaluate(
        self,
        p: Principal,
        call_id: UUID,
        sub: Submission,
        *,
        contacted: bool,
        solved: bool | None,
        satisfaction: Satisfaction | None,
        comment: str | None,
    ) -> Outcome:
        return self._act(
            p,
            call_id,
            sub,
            "evaluate",
            lambda c, cmd: c.evaluate(
                cmd, contacted=contacted, solved=solved, satisfaction=satisfaction, comment=comment
            ),
        )

    def reopen(self, p: Principal, call_id: UUID, sub: Submission, reason: str) -> Outcome:
        return self._act(
            p, call_id, sub, "reopen", lambda c, cmd: c.reopen(cmd, reason, self._clocks(c.sla, cmd.at))
        )

    def close_call(self, p: Principal, call_id: UUID, sub: Submission, note: str | None) -> Outcome:
        return self._act(p, call_id, sub, "close", lambda c, cmd: c.close(cmd, note))

    def withdraw(self, p: Principal, call_id: UUID, sub: Submission, reason: str) -> Outcome:
        return self._act(p, call_id, sub, "withdraw", lambda c, cmd: c.withdraw(cmd, reason))

    def supervise(
        self,
        p: Principal,
        call_id: UUID,
        sub: Submission,
        reason: str,
        unit: str | None,
        clock: str | None = None,
    ) -> Outcome:
        if unit is not None and self.org.unit(unit) is None:
            raise InvalidCommand("unit", f"no unit {unit} in org {self.org.version}")
        return self._act(p, call_id, sub, "supervise", lambda c, cmd: c.supervise(cmd, reason, unit, clock))

    def merge(self, p: Principal, call_id: UUID, sub: Submission, into: UUID, reason: str) -> Outcome:
        if into == call_id:
            raise InvalidCommand("into", "a call cannot be merged into itself")
        try:
            target = self.call_for(p, into)
        except CallNotFound:
            raise InvalidCommand("into", f"no call {into} visible to you") from None
        return self._act(p, call_id, sub, "merge", lambda c, cmd: c.merge_into(cmd, target, reason))

    # --- work orders (部门必应) ------------------------------------------------------------

    def order_for(self, principal: Principal, order_id: str) -> tuple[Call, str]:
        """The call holding a work order, within the principal's jurisdiction; else 404."""
        call = self.call_for(principal, self._call_of_order(order_id))
        if call.order(order_id) is None:
            raise CallNotFound(f"no work order {order_id} in your jurisdiction")
        return call, order_id

    def sign(self, p: Principal, order_id: str, sub: Submission, note: str | None) -> Outcome:
        return self._act_on_order(p, order_id, sub, "sign", lambda c, cmd: c.sign(cmd, order_id, note))

    def return_order(self, p: Principal, order_id: str, sub: Submission, reason: str) -> Outcome:
        return self._act_on_order(
            p, order_id, sub, "return", lambda c, cmd: c.return_order(cmd, order_id, reason)
        )

    def request_extension(
        self, p: Principal, order_id: str, sub: Submission, until: datetime, reason: str
    ) -> Outcome:
        return self._act_on_order(
            p,
            order_id,
            sub,
            "request-extension",
            lambda c, cmd: c.request_extension(cmd, order_id, _utc(until), reason),
        )

    def grant_extension(self, p: Principal, order_id: str, sub: Submission, note: str | None) -> Outcome:
        return self._act_on_order(
            p, order_id, sub, "extension/grant", lambda c, cmd: c.grant_extension(cmd, order_id, note)
        )

    def deny_extension(self, p: Principal, order_id: str, sub: Submission, reason: str) -> Outcome:
        return self._act_on_order(
            p, order_id, sub, "extension/deny", lambda c, cmd: c.deny_extension(cmd, order_id, reason)
        )

    def note_progress(
        self, p: Principal, order_id: str, sub: Submission, note: str, attachments: Sequence[str] = ()
    ) -> Outcome:
        photos = self._usable_attachments(p, attachments)
        return self._act_on_order(
            p,
            order_id,
            sub,
            "progress",
            self._naming(photos, lambda c, cmd: c.note_progress(cmd, order_id, note, photos)),
        )

    def complete_order(
        self, p: Principal, order_id: str, sub: Submission, result: str, attachments: Sequence[str] = ()
    ) -> Outcome:
        photos = self._usable_attachments(p, attachments)
        return self._act_on_order(
            p,
            order_id,
            sub,
            "complete",
            self._naming(photos, lambda c, cmd: c.complete_order(cmd, order_id, result, photos)),
        )

    # --- reporters' contacts and photos ----------------------------------------------------

    def erase_reporter(self, principal: Principal, call_id: UUID) -> Call:
        """个人信息删除: the reporter's contact details are erased on request; the call, its
        history and its scores stay as they were (events only ever carried an opaque ref)."""
        call = self.call_for(principal, call_id)
        if principal.role not in _ERASERS:
            raise NotPermitted(
                "erase-reporter: only a supervisor or an admin may erase a reporter's contact details; "
                f"you act as {principal.role} of {principal.unit}"
            )
        if call.reporter_ref is not None:
            self.contacts.erase(call.reporter_ref, by=f"{principal.role}:{principal.unit}")
        return call

    def attachment_for(self, principal: Principal, attachment_id: str) -> Attachment:
        """A photo the principal may see — one it uploaded, or one named by a call it can see;
        otherwise 404, exactly as if there were none."""
        found = self.attachments.get(attachment_id)
        if found is None or not self._may_use(principal, attachment_id):
            raise AttachmentNotFound(f"no attachment {attachment_id} visible to you")
        return found

    def _may_use(self, principal: Principal, attachment_id: str) -> bool:
        if self.attachments.uploaded_by(attachment_id, principal):
            return True
        for call_id in self.attachments.calls_naming(attachment_id):
            try:
                call = self.call_for(principal, call_id)
            except CallNotFound:
                continue  # outside the jurisdiction, or a raise that was never stored
            if attachment_id in call.attachments:
                return True
        return False

    def _usable_attachments(self, principal: Principal, ids: Sequence[str]) -> list[str]:
        """The photos a command names, each once (422 naming the field for one that does not
        exist or that the principal neither uploaded nor can see on a call)."""
        for i, attachment_id in enumerate(ids):
            if self.attachments.get(attachment_id) is None or not self._may_use(principal, attachment_id):
                raise InvalidCommand(
                    f"attachments.{i}",
                    f"no attachment {attachment_id}: upload it first (POST /api/v1/attachments)",
                )
        return list(dict.fromkeys(ids))

    def _naming(
        self, photos: list[str], change: Callable[[Call, Command], None]
    ) -> Callable[[Call, Command], None]:
        """A change that names photos: once the domain has accepted it, and before its event is
        stored, the photos' index learns which call names them."""

        def named(call: Call, cmd: Command) -> None:
            change(call, cmd)
            self.attachments.refer(photos, call.id)

        return named

    def _check_capture_time(self, occurred_at: datetime | None) -> None:
        """离线采集: a device's capture time is kept as sent, within bounds: not in the future
        (beyond phones' clock drift), not older than ``max_capture_age``."""
        if occurred_at is None:
            return
        now = self.clock.now()
        if occurred_at > now + _CAPTURE_CLOCK_SKEW:
            raise InvalidCommand("occurred_at", "the capture time lies in the future")
        if occurred_at < now - self.max_capture_age:
            raise InvalidCommand(
                "occurred_at",
                f"the capture time is more than {self.max_capture_age.days} days ago "
                f"(captures are accepted for {self.max_capture_age.days} days)",
            )

    # --- the command path ------------------------------------------------------------------

    def _act_on_order(
        self,
        principal: Principal,
        order_id: str,
        sub: Submission,
        action: str,
        change: Callable[[Call, Command], None],
    ) -> Outcome:
        call, _ = self.order_for(principal, order_id)
        return self._act(principal, call.id, sub, action, change, target=order_id)

    def _act(
        self,
        principal: Principal,
        call_id: UUID,
        sub: Submission,
        action: str,
        change: Callable[[Call, Command], None],
        target: str | None = None,
    ) -> Outcome:
        """get → (answer a repeat from the record) → act → save, in the call's turn
        (``turns.py``); a race lost to another process is looked at again after a pause."""
        with self.turns.of(call_id):
            for attempt in range(_SAVE_ATTEMPTS):
                if attempt:
                    time.sleep(pause_before(attempt))
                call = self.call_for(principal, call_id)
                if sub.key is not None:
                    scope = request_scope(principal.as_dict(), action, target)
                    if (earlier := self._answer_from_record(call, scope, sub)) is not None:
                        return earlier
                change(call, self._command(principal, sub))
                try:
                    recordings = self.save(call)
                except IntegrityError:
                    # Another process wrote first. Look again: if it was this very request (a
                    # concurrent duplicate), the record answers it; if If-Match named the version
                    # we lost, the domain now says 412; otherwise the move is judged on the new
                    # state.
                    continue
                return Outcome(call, recordings[-1].notification.id)
        raise ConcurrentModification(f"call {call_id} kept changing; try again")

    def _answer_from_record(self, call: Call, scope: str, sub: Submission) -> Outcome | None:
        assert sub.key is not None
        earlier = call.remembered(scope, sub.key)
        if earlier is None:
            return None
        if not sub.same_body(earlier.fingerprint):
            raise IdempotencyKeyReused("this Idempotency-Key was already used with a different body")
        then = self.call_at(call.id, earlier.version)
        return Outcome(then, self.positions.of_call(call.id)[earlier.version], replayed=True)

    def _earlier_raise(
        self, principal: Principal, call_id: UUID, sub: Submission, draft: CallDraft
    ) -> Outcome | None:
        """The answer to a raise already made under this key, if any; 422 if the key was used for
        another body — the reporter included, which the fingerprint leaves out."""
        call = self.current(call_id)
        if call is None:
            return None
        earlier = self._answer_from_record(call, request_scope(principal.as_dict(), "raise"), sub)
        if earlier is not None and not self.contacts.may_be(call.reporter_ref, draft.reporter):
            raise IdempotencyKeyReused("this Idempotency-Key was already used with another reporter")
        return earlier

    def _command(self, principal: Principal, sub: Submission) -> Command:
        return Command(
            principal=principal,
            at=self.clock.now(),
            idempotency_key=sub.key,
            fingerprint=sub.fingerprint,
            expected_version=sub.if_match,
            reopen_window=self.reopen_window,
        )

    def _check_plan(self, plan: DispatchPlan) -> None:
        """派单 content checks (422): real departments, each once, a future deadline if given."""
        codes = [plan.lead_department, *plan.assisting_departments]
        for i, code in enumerate(codes):
            if not self.org.is_kind(code, UnitKind.DEPARTMENT):
                where = "lead_department" if i == 0 else f"assisting_departments.{i - 1}"
                raise InvalidCommand(where, f"no department {code} in org {self.org.version}")
        if len(set(codes)) != len(codes):
            raise InvalidCommand("assisting_departments", "each department gets one order")
        if plan.deadline is not None and _utc(plan.deadline) <= self.clock.now():
            raise InvalidCommand("deadline", "the deadline must lie in the future")

    def _orders_for(self, plan: DispatchPlan, call: Call, now: datetime) -> list[OrderSpec]:
        """Each order's clocks: signing (签收) from the item's department response limit; the
        deadline as given, or from the department resolution limit (限期办理)."""
        policy = call.sla.get(Level.DEPARTMENT.value) or {}
        sign_due = due_after(self.calendar, now, policy["response"]) if "response" in policy else None
        if plan.deadline is not None:
            deadline = _utc(plan.deadline)
        elif "resolution" in policy:
            deadline = due_after(self.calendar, now, policy["resolution"])
        else:
            raise InvalidCommand("deadline", f"item {call.item_code} has no department SLA: give a deadline")
        codes = [plan.lead_department, *plan.assisting_departments]
        return [
            OrderSpec(
                code,
                OrderRole.LEAD if i == 0 else OrderRole.ASSIST,
                deadline,
                plan.instructions,
                sign_due=sign_due,
            )
            for i, code in enumerate(codes)
        ]

    def _clocks(self, sla: dict[str, Any], start: datetime) -> Callable[[Level], Clocks]:
        """The clocks a stint gets at ``start``, per level, from the call's SLA snapshot."""
        return lambda level: clocks_for(self.calendar, sla, level, start)

    @staticmethod
    def _call_id(principal: Principal, key: str | None) -> UUID:
        """A keyed raise gets a deterministic id, so a retry collides with the first."""
        if key is None:
            return uuid4()
        return uuid5(_CALL_ID_NAMESPACE, f"{principal.role}|{principal.unit}|raise|{key}")

    @staticmethod
    def _call_of_order(order_id: str) -> UUID:
        call_part, sep, _ = order_id.rpartition("-w")
        try:
            return UUID(call_part) if sep else UUID(int=0)
        except ValueError:
            return UUID(int=0)
