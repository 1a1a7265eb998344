"""The call's application service: one method per command — get, act, save.

HTTP, the CLI, the watchdog and tests all call these methods. Each one names its action and the
change it makes; reading the call, answering a repeat from the record, If-Match, saving and
retrying a lost race are the one ``CommandPath``'s. The department side of a call is
``work_orders.WorkOrderService``, over the same path.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from huying.application import HuyingApplication
from huying.domain.aggregate import request_scope
from huying.domain.call import Call, ClockSetter
from huying.domain.catalog import Catalog
from huying.domain.commands import Command
from huying.domain.contact import Contact, Raiser, ShownBack
from huying.domain.errors import (
    CallNotFound,
    ConcurrentModification,
    DomainError,
    IdempotencyKeyReused,
    InvalidCommand,
    NotPermitted,
)
from huying.domain.jurisdiction import can_see, sees_every_call
from huying.domain.levels import Level
from huying.domain.org import UnitKind
from huying.domain.principal import Principal, Role
from huying.domain.sla import Clocks, clocks_for
from huying.domain.states import Satisfaction
from huying.domain.transitions import REOPEN_WINDOW
from huying.groupcommit import ExpectationUnmet, Expecting
from huying.onloop import off_loop
from huying.service_layer.command_path import Change, CommandPath, Recorded, Submission
from huying.service_layer.dispatch import DispatchPlan, check_plan, orders_for, utc
from huying.service_layer.history import History, Past
from huying.service_layer.photos import Photos
from huying.service_layer.ports import Contacts

_CALL_ID_NAMESPACE = UUID("3c5e8f0a-6a2b-4d4e-9a8f-2b6c1d0e7f91")
# Phones' clocks drift; a capture a few minutes "ahead" of the server is not in the future.
_CAPTURE_CLOCK_SKEW = timedelta(minutes=5)
# A raise judged again on the catalog as stored, this many times while edits keep coming.
_CATALOG_RACES = 5
# 个人信息删除: who may erase a reporter's contact details on request.
_ERASERS = frozenset({Role.SUPERVISOR, Role.ADMIN})

__all__ = ["CallDraft", "CallService", "DispatchPlan", "Outcome", "call_path"]


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
class Outcome:
    """A command's result: the call as it then stood, its log position, and whether this was
    a repeat of an earlier request answered from the record."""

    call: Call
    position: int
    replayed: bool = False
    # A raise's answer to its raiser, its showing recorded with the contact (``Contacts.keep``).
    shown_back: ShownBack | None = None

    @classmethod
    def of(cls, recorded: Recorded[Call]) -> Outcome:
        return cls(recorded.aggregate, recorded.position, recorded.replayed)


def call_path(log: HuyingApplication) -> CommandPath[Call]:
    """The command path of calls: outside a principal's jurisdiction (辖区) a call does not exist."""
    return CommandPath(
        log,
        Call,
        noun="call",
        not_found=CallNotFound,
        visible=lambda p, call: can_see(p, call, log.org),
        sees_all=sees_every_call,
    )


class CallService:
    def __init__(
        self,
        path: CommandPath[Call],
        contacts: Contacts,
        photos: Photos,
        *,
        reopen_window: timedelta = REOPEN_WINDOW,
        max_capture_age: timedelta = timedelta(days=7),
    ) -> None:
        self.path = path
        self.past = Past(path)
        self.contacts = contacts
        self.photos = photos
        self.reopen_window = reopen_window
        # 离线采集: how old a device's capture time may be when its call arrives.
        self.max_capture_age = max_capture_age
        log = path.log
        self.org, self.clock, self.calendar = log.org, log.clock, log.calendar

    # --- reads -------------------------------------------------------------------------

    def call_for(self, principal: Principal, call_id: UUID) -> Call:
        """The call as it stands, if it exists and lies in the principal's jurisdiction; else 404."""
        return self.path.get(principal, call_id)

    def current(self, call_id: UUID) -> Call | None:
        """The call as it stands now, from the event store."""
        return self.path.current(call_id)

    def position_of(self, call: Call) -> int:
        return self.path.log.positions.at(call.id, call.version)

    def history(self, principal: Principal, call_id: UUID) -> History:
        return self.past.history(principal, call_id)

    def call_then(
        self,
        principal: Principal,
        call_id: UUID,
        *,
        as_of: datetime | None = None,
        version: int | None = None,
    ) -> Call:
        return self.past.then(principal, call_id, as_of=as_of, version=version)

    # --- raise (群众有呼) ----------------------------------------------------------------------

    def raise_call(
        self, principal: Principal, draft: CallDraft, sub: Submission, *, shown_back: bool = False
    ) -> Outcome:
        """一事一呼: a new call at the community of its grid, on the catalog in effect (the call
        records its version). It is judged first on the catalog as this process knows it, and
        stored only if no edit came since (``catalog_as_known``); a no said on it, or an edit
        since, and it is judged again on the catalog as the store has it. ``shown_back``: the
        answer shows the reporter back to the raiser (the HTTP API's does; Open311's and the
        synthetic history's do not), and that showing is recorded with the contact."""
        try:
            return self._judged_raise(principal, draft, sub, shown_back)
        except IdempotencyKeyReused:
            raise
        except DomainError:
            # A retry of a raise stored before is answered as the first was, even where the raise
            # would be refused now: a phone retrying after days offline (its capture time too old
            # by now), the item retired since. Only then is the store read for it: a raise is
            # stored first and found to be a retry when the store refuses its id (``create``).
            if sub.key is None:
                raise
            earlier = off_loop(self._earlier_raise, principal, self.raise_id(principal, sub.key), sub, draft)
            if earlier is None:
                raise
            return Outcome.of(earlier)

    def _judged_raise(
        self, principal: Principal, draft: CallDraft, sub: Submission, shown_back: bool
    ) -> Outcome:
        log = self.path.log
        catalog, expecting = log.catalog_as_known()
        try:
            return self._raise(principal, draft, sub, catalog, expecting, shown_back)
        except (InvalidCommand, ExpectationUnmet):
            if expecting is None:  # judged on the catalog as the store has it already
                raise
        for _ in range(_CATALOG_RACES):
            catalog, expecting = off_loop(log.catalog_as_known, fresh=True)  # reads the store
            try:
                return self._raise(principal, draft, sub, catalog, expecting, shown_back)
            except ExpectationUnmet:
                continue  # edited again meanwhile
        raise ConcurrentModification("the catalog kept changing; try again")

    def _raise(
        self,
        principal: Principal,
        draft: CallDraft,
        sub: Submission,
        catalog: Catalog,
        expecting: Expecting | None,
        shown_back: bool,
    ) -> Outcome:
        item = catalog.in_effect(draft.item_code)
        if item is None:
            code, version = draft.item_code, catalog.version
            if code in catalog.retired:
                why = f"item {code} is retired in catalog {version}; no new calls"
                raise InvalidCommand("item_code", why)
            raise InvalidCommand("item_code", f"no item {code} in catalog {version}")
        if not self.org.is_kind(draft.grid_code, UnitKind.GRID):
            raise InvalidCommand("grid_code", f"no grid {draft.grid_code} in org {self.org.version}")
        call_id = self.raise_id(principal, sub.key)
        self._check_capture_time(draft.occurred_at)
        # The photos' index is in the database: read and written in a thread when this raise
        # runs on the event loop (``onloop``).
        photos = off_loop(self.photos.usable, principal, draft.attachments) if draft.attachments else []
        community = self.org.community_of(draft.grid_code)
        cmd = self.path.command(principal, sub)
        # Random, so that nothing the event carries is a function of the reporter.
        reporter_ref = self.contacts.new_ref() if draft.reporter is not None else None
        sla = item.sla_snapshot()
        call = Call.raise_call(
            cmd,
            call_id=call_id,
            clocks=self._clocks(sla, cmd.at),
            item_code=item.code,
            catalog_version=catalog.version,
            sla=sla,
            grid_code=draft.grid_code,
            community_code=community,
            street_code=self.org.street_of(community),
            title=draft.title,
            description=draft.description,
            channel=draft.channel,
            urgency=draft.urgency,
            occurred_at=utc(draft.occurred_at) if draft.occurred_at else None,
            location=draft.location,
            reporter_ref=reporter_ref,
            attachments=photos,
            media_url=draft.media_url,
        )
        # The raise is permitted: the photos' index learns the call names them, before its event
        # is stored (an index entry for a call never stored is harmless: readers confirm it).
        if photos:
            off_loop(self.photos.index.refer, photos, call_id)
        raiser = Raiser(principal, call_id, community) if shown_back and draft.reporter else None
        # Only now that the raise is permitted, and stored before its event, so a stored call
        # never points at a missing contact: with it, in the same turn of the group commit.
        contact = (
            self.contacts.keeping(reporter_ref, draft.reporter, raiser)
            if reporter_ref is not None and draft.reporter is not None
            else None
        )
        # A keyed raise seen before (or a concurrent twin stored first) is refused by the store:
        # then it is answered as the first was; a contact kept for it must not outlive it.
        recorded = self.path.create(
            call,
            earlier=lambda: self._earlier_raise(principal, call_id, sub, draft),
            undo=lambda: self.contacts.discard(reporter_ref) if reporter_ref is not None else None,
            expecting=expecting,
            beside=contact,
        )
        if raiser is None:
            return Outcome.of(recorded)
        back = ShownBack(None if recorded.replayed else draft.reporter)
        return replace(Outcome.of(recorded), shown_back=back)

    @staticmethod
    def raise_id(principal: Principal, key: str | None) -> UUID:
        """A keyed raise's call id: the same for a retry, so that it collides with the first."""
        return CommandPath.keyed_id(_CALL_ID_NAMESPACE, principal, "raise", key)

    def _earlier_raise(
        self, principal: Principal, call_id: UUID, sub: Submission, draft: CallDraft
    ) -> Recorded[Call] | None:
        """The answer to a raise already made under this key, if any; 422 if the key was used for
        another body — the reporter included, which the fingerprint leaves out."""
        call = self.path.current(call_id)
        if call is None:
            return None
        earlier = self.path.answer_from_record(call, request_scope(principal.as_dict(), "raise"), sub)
        if earlier is not None and not self.contacts.may_be(call.reporter_ref, draft.reporter):
            raise IdempotencyKeyReused("this Idempotency-Key was already used with another reporter")
        return earlier

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

    # --- community and street ----------------------------------------------------------

    def acknowledge(self, p: Principal, call_id: UUID, sub: Submission, note: str | None) -> Outcome:
        return self._act(p, call_id, sub, "acknowledge", lambda c, cmd: c.acknowledge(cmd, note))

    def escalate(self, p: Principal, call_id: UUID, sub: Submission, reason: str) -> Outcome:
        return self._act(
            p, call_id, sub, "escalate", lambda c, cmd: c.escalate(cmd, reason, self._clocks(c.sla, cmd.at))
        )

    def dispatch(self, p: Principal, call_id: UUID, sub: Submission, plan: DispatchPlan) -> Outcome:
        check_plan(plan, self.org, self.clock.now())
        return self._act(
            p,
            call_id,
            sub,
            "dispatch",
            lambda c, cmd: c.dispatch(cmd, orders_for(plan, c, cmd.at, self.calendar)),
        )

    def resolve(
        self,
        p: Principal,
        call_id: UUID,
        sub: Submission,
        summary: str,
        decision: dict[str, str] | None = None,
    ) -> Outcome:
        """办结; ``decision`` cites the joint meeting's decision that settled it (checked by
        ``MeetingService.resolve_citing``, which reads the meeting)."""
        return self._act(p, call_id, sub, "resolve", lambda c, cmd: c.resolve(cmd, summary, decision))

    def put_on_agenda(
        self, p: Principal, call_id: UUID, sub: Submission, meeting_id: UUID, convener: str
    ) -> Outcome:
        """难题自下而上提交: the holder puts the call before a joint meeting (its history shows it)."""
        return self._act(
            p, call_id, sub, "put-on-agenda", lambda c, cmd: c.put_on_agenda(cmd, str(meeting_id), convener)
        )

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
        def evaluate(c: Call, cmd: Command) -> None:
            c.evaluate(cmd, contacted=contacted, solved=solved, satisfaction=satisfaction, comment=comment)

        return self._act(p, call_id, sub, "evaluate", evaluate)

    def rate_response(
        self,
        p: Principal,
        call_id: UUID,
        sub: Submission,
        satisfaction: Satisfaction,
        comment: str | None,
        round_: int | None = None,
    ) -> Outcome:
        """一呼一评 by the caller: the community rates its street's response in a round."""

        def rate(c: Call, cmd: Command) -> None:
            c.rate_response(cmd, satisfaction, comment, round_)

        return self._act(p, call_id, sub, "rate-response", rate)

    def reopen(self, p: Principal, call_id: UUID, sub: Submission, reason: str) -> Outcome:
        def reopen(c: Call, cmd: Command) -> None:
            c.reopen(cmd, reason, self._clocks(c.sla, cmd.at), window=self.reopen_window)

        return self._act(p, call_id, sub, "reopen", reopen)

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

    # --- reporters' contacts -------------------------------------------------------------

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

    # --- the command path ------------------------------------------------------------------

    def _act(
        self, p: Principal, call_id: UUID, sub: Submission, action: str, change: Change[Call]
    ) -> Outcome:
        return Outcome.of(self.path.act(p, call_id, sub, action, change))

    def _clocks(self, sla: dict[str, Any], start: datetime) -> ClockSetter:
        """The clocks a stint gets at ``start``, per level, from the call's SLA snapshot."""

        def clocks(level: Level) -> Clocks:
            return clocks_for(self.calendar, sla, level, start)

        return clocks
