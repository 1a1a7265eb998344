"""Every command of the call's application services, on the library's in-memory event store:
get → act → save, idempotency from the record, If-Match, a lost race judged again, contacts
and photos through their interfaces. No database, no HTTP."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from calls import ASSIST_DEPARTMENT, COMMUNITY, GRID, LEAD_DEPARTMENT, P
from memory import InMemory, MemoryContacts

from huying.domain.call import Call
from huying.domain.contact import Contact, Raiser
from huying.domain.errors import (
    CallNotFound,
    IdempotencyKeyReused,
    InvalidCommand,
    NotPermitted,
    StaleVersion,
    TransitionNotAllowed,
)
from huying.domain.states import OrderStatus, Satisfaction, Status
from huying.service_layer.calls import CallDraft, DispatchPlan, Outcome
from huying.service_layer.command_path import Submission
from huying.services.attachments import AttachmentNotFound

NOBODY = Submission()
REPORTER = Contact(name="张三", phone="13812345678")


def draft(**changes: Any) -> CallDraft:
    base = CallDraft("C01-01", GRID, "垃圾堆积", "十三行路口垃圾三天无人清运", "grid_worker")
    return replace(base, **changes)


def keyed(key: str, body: str = "body") -> Submission:
    return Submission(key=key, fingerprint=body)


@pytest.fixture
def huying() -> InMemory:
    return InMemory()


def raised(huying: InMemory, **changes: Any) -> Call:
    return huying.calls.raise_call(P["grid worker"], draft(**changes), NOBODY).call


def at_the_street(huying: InMemory) -> Call:
    call = raised(huying)
    huying.calls.acknowledge(P["community"], call.id, NOBODY, None)
    huying.calls.escalate(P["community"], call.id, NOBODY, "需要街道统筹")
    return huying.calls.acknowledge(P["street"], call.id, NOBODY, "街道已响应").call


def dispatched(huying: InMemory) -> tuple[Call, str, str]:
    call = at_the_street(huying)
    plan = DispatchPlan(LEAD_DEPARTMENT, [ASSIST_DEPARTMENT], huying.clock.now() + timedelta(days=3), "清运")
    call = huying.calls.dispatch(P["street"], call.id, NOBODY, plan).call
    lead, assist = (o.id for o in call.orders_by_arrival)
    return call, lead, assist


def step(huying: InMemory, outcome: Outcome) -> Outcome:
    """Each command answers with the position of the event it stored: the log's head."""
    assert not outcome.replayed and outcome.position == huying.head
    huying.clock.advance(3600)
    return outcome


def test_a_call_goes_all_the_way_through_the_services(huying: InMemory) -> None:
    calls, orders = huying.calls, huying.orders
    photo = huying.index.upload(P["grid worker"], "photo-1")
    call = step(
        huying, calls.raise_call(P["grid worker"], draft(attachments=[photo], reporter=REPORTER), NOBODY)
    ).call
    assert call.status is Status.AWAITING_RESPONSE and call.holder == COMMUNITY
    assert huying.contacts.kept == {call.reporter_ref: REPORTER}
    assert huying.index.calls_naming(photo) == [call.id]
    step(huying, calls.acknowledge(P["community"], call.id, NOBODY, None))
    step(huying, calls.escalate(P["community"], call.id, NOBODY, "需要街道统筹"))
    step(huying, calls.acknowledge(P["street"], call.id, NOBODY, None))
    plan = DispatchPlan(LEAD_DEPARTMENT, [ASSIST_DEPARTMENT], None, "清运")  # deadline from the SLA
    lead, assist = (
        o.id for o in step(huying, calls.dispatch(P["street"], call.id, NOBODY, plan)).call.orders_by_arrival
    )
    dept = P["department"]
    step(huying, orders.sign(dept, lead, NOBODY, None))
    until = huying.clock.now() + timedelta(days=20)
    step(huying, orders.request_extension(dept, lead, NOBODY, until, "车辆检修"))
    granted = step(huying, orders.grant_extension(P["street"], lead, NOBODY, "同意")).call
    assert granted.work_orders[lead].deadline == until and granted.work_orders[lead].extension is None
    step(huying, orders.request_extension(dept, lead, NOBODY, until + timedelta(days=5), "再延"))
    step(huying, orders.deny_extension(P["street"], lead, NOBODY, "不予再延"))
    progress = huying.index.upload(dept, "photo-2")
    step(huying, orders.note_progress(dept, lead, NOBODY, "清运中", [progress]))
    step(huying, orders.return_order(P["assist department"], assist, NOBODY, "不属本部门"))
    done = step(huying, orders.complete_order(dept, lead, NOBODY, "已清运", [])).call
    assert done.work_orders[lead].status is OrderStatus.COMPLETED and progress in done.attachments
    step(huying, calls.resolve(P["street"], call.id, NOBODY, "已办结"))
    step(huying, calls.evaluate(P["community"], call.id, NOBODY, contacted=True, solved=False,
                                satisfaction=Satisfaction.DISSATISFIED, comment=None))  # fmt: skip
    again = step(huying, calls.reopen(P["community"], call.id, NOBODY, "问题依旧")).call
    assert (again.round, again.status, again.holder) == (2, Status.IN_PROGRESS, "LW-LN")
    step(huying, calls.supervise(P["supervisor"], call.id, NOBODY, "重办督办", None))
    step(huying, calls.resolve(P["street"], call.id, NOBODY, "再次办结"))
    step(huying, calls.evaluate(P["community"], call.id, NOBODY, contacted=True, solved=True,
                                satisfaction=Satisfaction.SATISFIED, comment="满意"))  # fmt: skip
    closed = step(huying, calls.close_call(P["community"], call.id, NOBODY, None)).call
    assert closed.status is Status.CLOSED and closed.version == huying.head
    assert [e.originator_version for _, e in calls.history(P["auditor"], call.id).events] == list(
        range(1, closed.version + 1)
    )
    assert calls.call_then(P["auditor"], call.id, version=1).status is Status.AWAITING_RESPONSE


def test_withdraw_and_merge_cancel_the_open_orders(huying: InMemory) -> None:
    call, lead, _ = dispatched(huying)
    other = raised(huying)
    merged = huying.calls.merge(P["street"], call.id, NOBODY, other.id, "同一事项").call
    assert merged.status is Status.MERGED and merged.work_orders[lead].status is OrderStatus.CANCELLED
    gone = huying.calls.withdraw(P["grid worker"], other.id, NOBODY, "居民已自行解决").call
    assert gone.status is Status.WITHDRAWN


def test_a_repeated_keyed_action_is_answered_from_the_record_and_writes_nothing(huying: InMemory) -> None:
    call = raised(huying)
    first = huying.calls.acknowledge(P["community"], call.id, keyed("k-1"), "已响应")
    huying.calls.supervise(P["supervisor"], call.id, NOBODY, "督办", None)
    head = huying.head
    again = huying.calls.acknowledge(P["community"], call.id, keyed("k-1"), "已响应")
    assert again.replayed and huying.head == head
    assert (again.position, again.call.version) == (first.position, first.call.version)
    with pytest.raises(IdempotencyKeyReused):
        huying.calls.acknowledge(P["community"], call.id, keyed("k-1", body="another"), "已响应")
    assert huying.head == head


def test_a_keyed_raise_retried_gets_its_call_and_keeps_one_contact(huying: InMemory) -> None:
    first = huying.calls.raise_call(P["grid worker"], draft(reporter=REPORTER), keyed("r-1"))
    again = huying.calls.raise_call(P["grid worker"], draft(reporter=REPORTER), keyed("r-1"))
    assert again.replayed and again.call.id == first.call.id and huying.head == 1
    assert list(huying.contacts.kept) == [first.call.reporter_ref]
    with pytest.raises(IdempotencyKeyReused, match="another reporter"):
        huying.calls.raise_call(
            P["grid worker"], draft(reporter=replace(REPORTER, name="李四")), keyed("r-1")
        )
    assert huying.head == 1 and len(huying.contacts.kept) == 1


class TwinFirst(MemoryContacts):
    """Keeping this raise's contact is the moment a concurrent twin of it gets stored first."""

    def __init__(self) -> None:
        super().__init__()
        self.twin: Any = None

    def keep(self, ref: str, contact: Contact, raiser: Raiser | None = None) -> None:
        super().keep(ref, contact, raiser)
        twin, self.twin = self.twin, None
        if twin is not None:
            twin()


def test_a_raise_losing_to_its_concurrent_twin_is_answered_as_the_twin_was(huying: InMemory) -> None:
    contacts = TwinFirst()
    huying = InMemory(contacts=contacts)
    contacts.twin = lambda: huying.calls.raise_call(P["grid worker"], draft(reporter=REPORTER), keyed("r-2"))
    answer = huying.calls.raise_call(P["grid worker"], draft(reporter=REPORTER), keyed("r-2"))
    assert answer.replayed and huying.head == 1
    assert list(contacts.kept) == [answer.call.reporter_ref]  # the loser's contact did not outlive it


def test_if_match_naming_an_older_version_is_refused_before_the_state_is_judged(huying: InMemory) -> None:
    call = raised(huying)
    stale = Submission(if_match=call.version + 1)
    with pytest.raises(StaleVersion, match="the call is at version 1"):
        huying.calls.acknowledge(P["community"], call.id, stale, None)
    with pytest.raises(NotPermitted):  # 403 comes before 412
        huying.calls.acknowledge(P["street"], call.id, stale, None)
    assert huying.calls.acknowledge(P["community"], call.id, Submission(if_match=1), None).call.version == 2


def test_outside_its_jurisdiction_a_call_does_not_exist(huying: InMemory) -> None:
    call, lead, _ = dispatched(huying)
    head = huying.head
    with pytest.raises(CallNotFound, match=f"no call {call.id} in your jurisdiction"):
        huying.calls.supervise(P["other street"], call.id, NOBODY, "督办", None)
    with pytest.raises(CallNotFound):
        huying.orders.sign(P["other department"], lead, NOBODY, None)
    with pytest.raises(CallNotFound):
        huying.orders.sign(P["department"], f"{UUID(int=7)}-w1", NOBODY, None)
    assert huying.head == head


def test_a_move_the_state_forbids_is_refused_and_writes_nothing(huying: InMemory) -> None:
    call = raised(huying)
    with pytest.raises(TransitionNotAllowed):
        huying.calls.resolve(P["community"], call.id, NOBODY, "已办结")  # not acknowledged yet
    with pytest.raises(InvalidCommand, match="each department"):
        plan = DispatchPlan("CG", ["CG"], None, "清运")
        huying.calls.dispatch(P["street"], call.id, NOBODY, plan)
    assert huying.head == 1


def test_a_race_lost_to_another_process_is_judged_again_on_the_new_state(huying: InMemory) -> None:
    call = raised(huying)
    rivals = [0]

    def acknowledge_after_a_rival_wrote(c: Call, cmd: Any) -> None:
        if not rivals[0]:  # another process supervises this very version first
            rival = huying.calls.current(call.id)
            assert rival is not None
            rival.supervise(replace(cmd, principal=P["supervisor"]), "督办")
            huying.app.save(rival)
        rivals[0] += 1
        c.acknowledge(cmd, None)

    done = huying.calls.path.act(
        P["community"], call.id, NOBODY, "acknowledge", acknowledge_after_a_rival_wrote
    )
    assert rivals[0] == 2 and done.aggregate.version == 3 and done.aggregate.supervised == 1


def test_only_a_supervisor_or_an_admin_erases_a_reporter(huying: InMemory) -> None:
    call = raised(huying, reporter=REPORTER)
    assert call.reporter_ref is not None
    with pytest.raises(NotPermitted):
        huying.calls.erase_reporter(P["community"], call.id)
    huying.calls.erase_reporter(P["supervisor"], call.id)
    assert huying.contacts.kept[call.reporter_ref] is None
    assert huying.contacts.erased_by[call.reporter_ref] == "supervisor:LW"


def test_a_photo_is_its_uploaders_and_visible_through_the_calls_naming_it(huying: InMemory) -> None:
    photo = huying.index.upload(P["grid worker"], "photo-3")
    with pytest.raises(InvalidCommand) as refused:
        huying.calls.raise_call(P["community"], draft(attachments=[photo]), NOBODY)  # not its upload
    assert refused.value.field == "attachments.0"
    with pytest.raises(AttachmentNotFound):
        huying.photos.attachment_for(P["community"], photo)
    raised(huying, attachments=[photo])
    assert huying.photos.attachment_for(P["community"], photo).id == photo  # through the call
    with pytest.raises(AttachmentNotFound):
        huying.photos.attachment_for(P["other community"], photo)


def test_the_capture_time_is_bounded_both_ways(huying: InMemory) -> None:
    now = huying.clock.now()
    with pytest.raises(InvalidCommand, match="future"):
        raised(huying, occurred_at=now + timedelta(minutes=6))
    with pytest.raises(InvalidCommand, match="7 days"):
        raised(huying, occurred_at=now - timedelta(days=8))
    assert raised(huying, occurred_at=now + timedelta(minutes=4)).occurred_at == now + timedelta(minutes=4)
