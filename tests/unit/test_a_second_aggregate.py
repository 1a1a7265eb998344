"""A second kind of aggregate joins the one log with nothing copied: its lifecycle declared as a
transition table through the one gate, its commands carried by the one ``CommandPath`` (turns,
idempotency from the record, If-Match, retries, seals). A tiny notice (通知: posted to a unit,
which signs for it, unless withdrawn) stands in for the directives and joint meetings to come;
docs/code-map.md walks through the same steps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID, uuid4

import pytest
from calls import P
from eventsourcing.domain import Aggregate
from memory import InMemory

from huying.domain.aggregate import HuyingAggregate
from huying.domain.commands import Command
from huying.domain.errors import CallNotFound, NotFound, NotPermitted, StaleVersion, TransitionNotAllowed
from huying.domain.gate import Transition, TransitionTable
from huying.domain.principal import Principal, Role
from huying.service_layer.command_path import CommandPath, Recorded, Submission


class Action(StrEnum):
    POST = "post"
    SIGN = "sign"
    WITHDRAW = "withdraw"


class Party(StrEnum):
    ISSUER = "the issuing unit"
    TARGET = "the unit it is posted to"


class Stage(StrEnum):
    POSTED = "posted"
    SIGNED = "signed"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Moment:
    now: datetime


def parties(principal: Principal, notice: Any, _: Moment) -> set[Party]:
    found = set()
    if principal.unit == notice.issuer:
        found.add(Party.ISSUER)
    if principal.unit == notice.target:
        found.add(Party.TARGET)
    return found


def posted(notice: Any, _: Moment) -> str | None:
    return None if notice.stage is Stage.POSTED else f"the notice is {notice.stage.value}"


TABLE = TransitionTable[Action, Party, Any, Moment](
    "notice",
    parties,
    (
        Transition(Action.POST, "Posted", frozenset({Party.ISSUER}), "always", lambda n, s: None, "posted"),
        Transition(Action.SIGN, "Signed", frozenset({Party.TARGET}), "posted", posted, "signed"),
        Transition(Action.WITHDRAW, "Withdrawn", frozenset({Party.ISSUER}), "posted", posted, "withdrawn"),
    ),
)


class Notice(HuyingAggregate):
    class Event(HuyingAggregate.Event):
        actions: ClassVar[dict[str, str]] = TABLE.actions_by_event

    class Posted(Aggregate.Created, Event):
        issuer: str
        target: str

        def apply(self, notice: Notice) -> None:
            notice.issuer, notice.target = self.issuer, self.target

    class Signed(Event):
        def apply(self, notice: Notice) -> None:
            notice.stage = Stage.SIGNED

    class Withdrawn(Event):
        def apply(self, notice: Notice) -> None:
            notice.stage = Stage.WITHDRAWN

    issuer: str
    target: str

    def __init__(self) -> None:
        self.stage = Stage.POSTED

    def _check(self, action: Action, cmd: Command) -> None:
        expected = cmd.expected_version
        TABLE.check(
            action, cmd.principal, self, Moment(cmd.at), version=self.version, expected_version=expected
        )

    @classmethod
    def post(cls, cmd: Command, notice_id: UUID, target: str) -> Notice:
        return cls._create(cls.Posted, id=notice_id, issuer=cmd.principal.unit, target=target, **cmd.meta)

    def sign(self, cmd: Command) -> None:
        self._check(Action.SIGN, cmd)
        self.trigger_event(self.Signed, **cmd.meta)

    def withdraw(self, cmd: Command) -> None:
        self._check(Action.WITHDRAW, cmd)
        self.trigger_event(self.Withdrawn, **cmd.meta)


STREET, COMMUNITY = P["street"], P["community"]


@pytest.fixture
def huying() -> InMemory:
    return InMemory()


@pytest.fixture
def notices(huying: InMemory) -> CommandPath[Notice]:
    def visible(p: Principal, n: Notice) -> bool:
        return p.role is Role.SUPERVISOR or p.unit in (n.issuer, n.target)

    return CommandPath(huying.app, Notice, noun="notice", not_found=NotFound, visible=visible)


def post(notices: CommandPath[Notice]) -> Recorded[Notice]:
    notice = Notice.post(notices.command(STREET, Submission()), uuid4(), COMMUNITY.unit)
    return notices.create(notice, earlier=lambda: None)


def sign(notices: CommandPath[Notice], who: Principal, notice_id: UUID, sub: Submission) -> Recorded[Notice]:
    return notices.act(who, notice_id, sub, "sign", lambda n, cmd: n.sign(cmd))


def test_the_one_gate_answers_for_a_second_aggregate_in_the_contracts_order(
    notices: CommandPath[Notice],
) -> None:
    notice = post(notices).aggregate
    with pytest.raises(NotPermitted, match="sign: only the unit it is posted to may do this now"):
        sign(notices, STREET, notice.id, Submission(if_match=9))  # 403 before 412
    with pytest.raises(StaleVersion, match="the notice is at version 1"):
        sign(notices, COMMUNITY, notice.id, Submission(if_match=9))
    notices.act(STREET, notice.id, Submission(), "withdraw", lambda n, cmd: n.withdraw(cmd))
    with pytest.raises(TransitionNotAllowed, match="sign: the notice is withdrawn"):
        sign(notices, COMMUNITY, notice.id, Submission())


def test_a_second_aggregate_answers_a_repeat_from_its_own_record(
    huying: InMemory, notices: CommandPath[Notice]
) -> None:
    notice = post(notices).aggregate
    first = sign(notices, COMMUNITY, notice.id, Submission(key="k", fingerprint="b"))
    again = sign(notices, COMMUNITY, notice.id, Submission(key="k", fingerprint="b"))
    assert again.replayed and (again.position, again.aggregate.version) == (first.position, 2)
    assert huying.head == 2 and again.aggregate.stage is Stage.SIGNED


def test_calls_and_notices_share_the_log_but_never_their_ids(
    huying: InMemory, notices: CommandPath[Notice]
) -> None:
    notice = post(notices).aggregate
    call = huying.calls.raise_call(P["grid worker"], _draft(), Submission()).call
    assert huying.head == 2
    with pytest.raises(CallNotFound):
        huying.calls.call_for(P["supervisor"], notice.id)
    with pytest.raises(NotFound, match=f"no notice {call.id} in your jurisdiction"):
        notices.get(P["supervisor"], call.id)
    with pytest.raises(NotFound):
        notices.get(P["other community"], notice.id)


def _draft() -> Any:
    from huying.service_layer.calls import CallDraft

    return CallDraft("C01-01", "LW-LN-01-G01", "垃圾堆积", "十三行路口", "grid_worker")
