"""令行禁止 on the in-memory store: a district directive to two streets, one breaking it down to its
communities; receipt, rework, acceptance, extensions, cancel; 督办 once a clock is missed; and a
directive made from a joint meeting's decision through the same ``DirectiveService.issue``."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest
from calls import T0
from memory import InMemory

from huying.domain.directive_clocks import missed, next_due
from huying.domain.directive_states import Responsible, Stage, TargetRole
from huying.domain.errors import (
    DirectiveNotFound,
    IdempotencyKeyReused,
    InvalidCommand,
    NotPermitted,
    TransitionNotAllowed,
)
from huying.domain.principal import SYSTEM, Principal, Role
from huying.service_layer.command_path import Submission
from huying.service_layer.directives import MEETING_DECISION, DirectiveDraft
from huying.services.attachments import AttachmentNotFound

DISTRICT = Principal(Role.SUPERVISOR, "LW")
LN, DB = Principal(Role.STREET, "LW-LN"), Principal(Role.STREET, "LW-DB")
LN01, LN02 = Principal(Role.COMMUNITY, "LW-LN-01"), Principal(Role.COMMUNITY, "LW-LN-02")
DB01 = Principal(Role.COMMUNITY, "LW-DB-01")
CG = Principal(Role.DEPARTMENT, "CG")
NONE = Submission()


@pytest.fixture
def huying() -> InMemory:
    return InMemory()


def district_directive(huying: InMemory, **kw: object) -> UUID:
    draft = DirectiveDraft("消防通道清理", "十日内清理辖区消防通道", ["LW-LN", "LW-DB"], working_days=5, **kw)  # type: ignore[arg-type]
    return huying.directives.issue(DISTRICT, NONE, draft).aggregate.id


def test_a_district_directive_broken_down_runs_through_receipt_rework_and_acceptance(
    huying: InMemory,
) -> None:
    d = huying.directives
    parent = district_directive(huying)
    d.receive(LN, parent, "LW-LN", NONE)
    child_draft = DirectiveDraft(
        "消防通道清理（分解）", "各社区清理", ["LW-LN-01", "LW-LN-02"], working_days=3, parent_id=parent
    )
    child = d.issue(LN, NONE, child_draft).aggregate
    assert child.parent_id == str(parent) and child.issuer == "LW-LN"
    d.receive(LN01, child.id, "LW-LN-01", NONE)
    d.report_done(LN01, child.id, "LW-LN-01", NONE, "已清理")
    d.send_back(LN, child.id, "LW-LN-01", NONE, "仍有杂物")
    with pytest.raises(TransitionNotAllowed, match="accept: the target LW-LN-01 is rework, not reported"):
        d.accept(LN, child.id, "LW-LN-01", NONE)
    d.note_progress(LN01, child.id, "LW-LN-01", NONE, "继续清理")
    d.report_done(LN01, child.id, "LW-LN-01", NONE, "已全部清理")
    done = d.accept(LN, child.id, "LW-LN-01", NONE).aggregate.targets["LW-LN-01"]
    assert (done.stage, done.reworks, len(done.reports), len(done.notes)) == (Stage.ACCEPTED, 1, 2, 1)
    assert d.directive_for(LN02, child.id).targets["LW-LN-02"].stage is Stage.ISSUED
    assert d.directive_for(DISTRICT, parent).targets["LW-LN"].stage is Stage.RECEIVED


def test_only_the_target_moves_its_own_part_and_only_the_issuer_judges_it(huying: InMemory) -> None:
    d = huying.directives
    parent = district_directive(huying)
    with pytest.raises(NotPermitted, match="receive: only the target unit may do this now"):
        d.receive(DB, parent, "LW-LN", NONE)
    with pytest.raises(DirectiveNotFound, match="no target LW-HL on directive"):
        d.receive(DB, parent, "LW-HL", NONE)
    d.receive(LN, parent, "LW-LN", NONE)
    d.report_done(LN, parent, "LW-LN", NONE, "done")
    with pytest.raises(NotPermitted, match="accept: only the issuing unit may do this now"):
        d.accept(LN, parent, "LW-LN", NONE)
    with pytest.raises(DirectiveNotFound):  # a community of another street sees none of it
        d.directive_for(Principal(Role.COMMUNITY, "LW-HL-01"), parent)
    with pytest.raises(DirectiveNotFound):  # a street's directive is not its communities'
        d.directive_for(LN01, parent)
    child = d.issue(LN, NONE, DirectiveDraft("t", "b", ["LW-LN-01"], working_days=1)).aggregate.id
    assert d.directive_for(Principal(Role.GRID_WORKER, "LW-LN-01-G01"), child).issuer == "LW-LN"
    assert d.directive_for(Principal(Role.AUDITOR, "LW"), child).issuer == "LW-LN"
    with pytest.raises(DirectiveNotFound):
        d.directive_for(CG, child)


def test_whom_a_unit_may_direct_and_break_down(huying: InMemory) -> None:
    d = huying.directives
    with pytest.raises(InvalidCommand, match="may not direct LW-DB-01") as e:
        d.issue(LN, NONE, DirectiveDraft("t", "b", ["LW-LN-01", "LW-DB-01"], working_days=1))
    assert e.value.field == "targets.1"
    with pytest.raises(NotPermitted, match="issue: only the issuing unit"):  # issues nothing: 403 first
        d.issue(CG, NONE, DirectiveDraft("t", "b", ["LW-LN"], working_days=1))
    as_meeting = DirectiveDraft("t", "b", ["LW-LN"], working_days=1, origin={"kind": MEETING_DECISION})
    with pytest.raises(NotPermitted, match="issue: only the issuing unit"):  # no department convenes
        d.issue(CG, NONE, as_meeting)
    parent = district_directive(huying)
    hl = Principal(Role.STREET, "LW-HL")
    with pytest.raises(InvalidCommand, match=r"no directive .* in your jurisdiction") as e:
        d.issue(hl, NONE, DirectiveDraft("t", "b", ["LW-HL-01"], working_days=1, parent_id=parent))
    assert e.value.field == "parent_id"
    to_hl01 = d.issue(DISTRICT, NONE, DirectiveDraft("t", "b", ["LW-HL-01"], working_days=2)).aggregate.id
    with pytest.raises(NotPermitted, match="only a target of directive"):  # it sees it, below it
        d.issue(hl, NONE, DirectiveDraft("t", "b", ["LW-HL-02"], working_days=1, parent_id=to_hl01))
    with pytest.raises(InvalidCommand, match="due by its parent's deadline") as e:
        d.issue(LN, NONE, DirectiveDraft("t", "b", ["LW-LN-01"], working_days=6, parent_id=parent))
    assert e.value.field == "deadline"


def test_bad_drafts_are_refused_naming_the_field(huying: InMemory) -> None:
    cases = {
        "deadline": DirectiveDraft("t", "b", ["LW-LN"]),
        "working_days": DirectiveDraft("t", "b", ["LW-LN"], working_days=0),
        "targets": DirectiveDraft("t", "b", [], working_days=1),
        "title": DirectiveDraft(" ", "b", ["LW-LN"], working_days=1),
        "evidence": DirectiveDraft("t", "b", ["LW-LN"], working_days=1, evidence=["video"]),
        "lead": DirectiveDraft("t", "b", ["LW-LN"], working_days=1, lead="LW-DB"),
        "targets.0": DirectiveDraft("t", "b", ["LW-LN-01-G01"], working_days=1),
        "receipt_due": DirectiveDraft(
            "t", "b", ["LW-LN"], working_days=1, receipt_due=T0 + timedelta(days=30)
        ),
    }
    for field, draft in cases.items():
        with pytest.raises(InvalidCommand) as e:
            huying.directives.issue(DISTRICT, NONE, draft)
        assert e.value.field == field
    assert huying.head == 0


def test_evidence_asked_for_is_evidence_required(huying: InMemory) -> None:
    d = huying.directives
    parent = district_directive(huying, evidence=["text", "photos"])
    d.receive(LN, parent, "LW-LN", NONE)
    with pytest.raises(InvalidCommand) as e:
        d.report_done(LN, parent, "LW-LN", NONE, "done")
    assert e.value.field == "attachments"
    photo = huying.index.upload(LN, "photo-1")
    reported = d.report_done(LN, parent, "LW-LN", NONE, "done", [photo]).aggregate
    assert reported.targets["LW-LN"].reports[-1].photos == [photo]
    assert huying.photos.attachment_for(DISTRICT, photo).id == photo  # the issuer sees the evidence
    with pytest.raises(AttachmentNotFound):  # a street that cannot see the directive does not
        huying.photos.attachment_for(Principal(Role.STREET, "LW-HL"), photo)


def test_a_repeat_is_answered_from_the_record(huying: InMemory) -> None:
    d = huying.directives
    draft = DirectiveDraft("t", "b", ["LW-LN"], working_days=2)
    first = d.issue(DISTRICT, Submission(key="k1", fingerprint="f"), draft)
    again = d.issue(DISTRICT, Submission(key="k1", fingerprint="f"), draft)
    assert again.replayed and again.aggregate.id == first.aggregate.id and huying.head == 1
    with pytest.raises(IdempotencyKeyReused):
        d.issue(DISTRICT, Submission(key="k1", fingerprint="other"), draft)
    d.receive(LN, first.aggregate.id, "LW-LN", Submission(key="r", fingerprint="x"))
    repeat = d.receive(LN, first.aggregate.id, "LW-LN", Submission(key="r", fingerprint="x"))
    assert repeat.replayed and huying.head == 2


def test_extensions_move_the_deadline_only_when_granted(huying: InMemory) -> None:
    d = huying.directives
    parent = district_directive(huying)
    due = d.directive_for(DISTRICT, parent).targets["LW-LN"].due
    d.request_extension(LN, parent, "LW-LN", NONE, due + timedelta(days=3), "雨天")
    with pytest.raises(TransitionNotAllowed, match="already has an extension request pending"):
        d.request_extension(LN, parent, "LW-LN", NONE, due + timedelta(days=4), "again")
    d.deny_extension(DISTRICT, parent, "LW-LN", NONE, "不行")
    assert d.directive_for(DISTRICT, parent).targets["LW-LN"].due == due
    d.request_extension(LN, parent, "LW-LN", NONE, due + timedelta(days=2), "雨天")
    granted = d.grant_extension(DISTRICT, parent, "LW-LN", NONE).aggregate
    assert granted.targets["LW-LN"].due == due + timedelta(days=2)
    with pytest.raises(TransitionNotAllowed, match="no extension request pending"):
        d.grant_extension(DISTRICT, parent, "LW-LN", NONE)


def test_cancel_ends_every_open_target_and_every_move(huying: InMemory) -> None:
    d = huying.directives
    parent = district_directive(huying)
    d.receive(LN, parent, "LW-LN", NONE)
    d.report_done(LN, parent, "LW-LN", NONE, "done")
    d.accept(DISTRICT, parent, "LW-LN", NONE)
    cancelled = d.cancel(DISTRICT, parent, NONE, "情况变化").aggregate
    assert [t.stage for t in cancelled.targets.values()] == [Stage.ACCEPTED, Stage.CANCELLED]
    with pytest.raises(TransitionNotAllowed, match="receive: the directive is cancelled"):
        d.receive(DB, parent, "LW-DB", NONE)
    with pytest.raises(TransitionNotAllowed, match="cancelled already"):
        d.cancel(DISTRICT, parent, NONE, "again")


def test_the_watchdog_supervises_a_missed_clock_once_and_only_once_missed(huying: InMemory) -> None:
    d = huying.directives
    parent = district_directive(huying)
    directive = d.directive_for(DISTRICT, parent)
    receipt = directive.targets["LW-DB"].receipt_due
    assert next_due(directive) == receipt and receipt == T0 + timedelta(days=1)  # a working day
    with pytest.raises(TransitionNotAllowed, match="LW-DB:receipt is not missed"):
        d.supervise(SYSTEM, parent, "LW-DB", NONE, "receipt_overdue", clock="LW-DB:receipt")
    d.receive(LN, parent, "LW-LN", NONE)
    huying.clock.advance(timedelta(days=1, minutes=1).total_seconds())
    assert [c.key for c in missed(d.directive_for(DISTRICT, parent), huying.clock.now())] == ["LW-DB:receipt"]
    flagged = d.supervise(SYSTEM, parent, "LW-DB", NONE, "receipt_overdue", clock="LW-DB:receipt").aggregate
    assert [(s.unit, s.clock) for s in flagged.supervisions] == [("LW-DB", "LW-DB:receipt")]
    with pytest.raises(TransitionNotAllowed, match="already flagged"):
        d.supervise(SYSTEM, parent, "LW-DB", NONE, "receipt_overdue", clock="LW-DB:receipt")


def test_a_meeting_decision_becomes_a_directive_with_lead_assisting_units_and_a_responsible_person(
    huying: InMemory,
) -> None:
    origin = {"kind": MEETING_DECISION, "meeting_id": "m-1", "decision_no": "2"}
    draft = DirectiveDraft(
        "占道经营整治",
        "联席会议议定",
        ["CG", "ZJ", "LW-LN-01"],
        working_days=10,
        lead="CG",
        origin=origin,
        responsible=Responsible("王五", "城管执法队队长"),
    )
    directive = huying.directives.issue(LN01, NONE, draft).aggregate
    assert directive.origin == origin and directive.responsible == Responsible("王五", "城管执法队队长")
    roles = {u: t.role for u, t in directive.targets.items()}
    assert roles == {"CG": TargetRole.LEAD, "ZJ": TargetRole.ASSIST, "LW-LN-01": TargetRole.ASSIST}
    huying.directives.receive(CG, directive.id, "CG", NONE)
    with pytest.raises(
        InvalidCommand, match="may not direct CG"
    ):  # without a meeting, a community directs nobody
        huying.directives.issue(LN01, NONE, DirectiveDraft("t", "b", ["CG"], working_days=1))
