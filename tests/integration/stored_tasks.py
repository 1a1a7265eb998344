"""Directive and meeting events stored by huying, kept as a fixture beside ``stored_by_main``
and compared the same way (``stored_by_main.replayed``).

``tests/fixtures/stored_tasks/`` holds a data directory written at the commit named in
``observed.json.gz`` (``written_at``) by ``python -m tests.integration.stored_tasks``: one story
that records every event class of the Directive and Meeting aggregates and the call's
``PutOnAgenda`` and ``Resolved`` (class version 2, citing a decision) — and what that huying
answered about every directive and meeting. ``test_stored_tasks`` replays the log with today's
code: a renamed class or a changed shape without an alias or upcaster fails there.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from uuid import UUID

from httpx import Client

from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.domain.directive_states import Responsible
from huying.domain.meeting_states import DecisionSpec, MeetingKind
from huying.domain.principal import Principal, Role
from huying.service_layer.calls import CallDraft
from huying.service_layer.command_path import Submission
from huying.service_layer.directives import DirectiveDraft

from .stored_by_main import Observed, Reader, feed_and_verdict, read_model_rows, write_at_head

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "stored_tasks"

DISTRICT, LN = Principal(Role.SUPERVISOR, "LW"), Principal(Role.STREET, "LW-LN")
LN01, LN02 = Principal(Role.COMMUNITY, "LW-LN-01"), Principal(Role.COMMUNITY, "LW-LN-02")
CG, M01 = Principal(Role.DEPARTMENT, "CG"), Principal(Role.MEMBER, "LW-LN-M01")
HOUR = 3600.0
ONCE = Submission()


def directives_story(s: Services, clock: FakeClock) -> None:
    """下达 to two streets; 岭南 breaks it down to two communities: progress, report, 返工,
    report, 验收; an extension granted, another denied; 督办 by hand; a directive cancelled."""
    d = s.directives
    draft = DirectiveDraft("消防通道清理", "限期清理", ["LW-LN", "LW-DB"], working_days=5)
    parent = d.issue(DISTRICT, ONCE, draft).aggregate.id
    clock.advance(HOUR)
    d.receive(LN, parent, "LW-LN", ONCE)
    child_draft = DirectiveDraft("分解", "", ["LW-LN-01", "LW-LN-02"], working_days=3, parent_id=parent)
    child = d.issue(LN, ONCE, child_draft).aggregate.id
    clock.advance(HOUR)
    d.receive(LN01, child, "LW-LN-01", ONCE)
    d.note_progress(LN01, child, "LW-LN-01", ONCE, "已清理一半")
    d.report_done(LN01, child, "LW-LN-01", ONCE, "已清理")
    d.send_back(LN, child, "LW-LN-01", ONCE, "仍有杂物")
    d.report_done(LN01, child, "LW-LN-01", ONCE, "已全部清理")
    d.accept(LN, child, "LW-LN-01", ONCE, "合格")
    d.receive(LN02, child, "LW-LN-02", ONCE)
    due = d.directive_for(LN, child).targets["LW-LN-02"].due
    d.request_extension(LN02, child, "LW-LN-02", ONCE, due + timedelta(days=2), "需协调物业")
    d.grant_extension(LN, child, "LW-LN-02", ONCE, "同意")
    d.request_extension(LN02, child, "LW-LN-02", ONCE, due + timedelta(days=6), "再延")
    d.deny_extension(LN, child, "LW-LN-02", ONCE, "不予再延")
    d.supervise(DISTRICT, parent, "LW-DB", ONCE, "未签收")
    cancelled = d.issue(DISTRICT, ONCE, DirectiveDraft("临时任务", "", ["CG"], working_days=2)).aggregate.id
    d.cancel(DISTRICT, cancelled, ONCE, "任务取消")


def meetings_story(s: Services, clock: FakeClock) -> None:
    """A hard call on 岭南's 大工委 agenda, a member's proposal, minutes, a decision settling the
    call whose task CG leads, 验收, the meeting closed, the call resolved citing the decision;
    a 大党委 meeting called off."""
    draft = CallDraft("C01-01", "LW-LN-01-G01", "十三行路口垃圾长期堆积", "清运责任不清", "grid_worker")
    call = s.calls.raise_call(Principal(Role.GRID_WORKER, "LW-LN-01-G01"), draft, ONCE).call.id
    s.calls.acknowledge(LN01, call, ONCE, None)
    m = s.meetings
    invited = ["LW-LN-M01", "LW-LN-01", "CG"]
    meeting = m.convene(
        LN,
        ONCE,
        kind=MeetingKind.WORKING_COMMITTEE,
        title="大工委",
        scheduled_for=clock.now(),
        invited=invited,
    ).aggregate.id
    m.propose(M01, meeting, ONCE, "医院周边停车", "高峰拥堵")
    m.table_call(LN01, meeting, ONCE, call)
    clock.advance(2 * HOUR)
    m.record_minutes(LN, meeting, ONCE, ["LW-LN", "LW-LN-01", "CG"], "议定由城管牵头")
    spec = DecisionSpec(
        "垃圾清运责任落实", "CG", ("LW-LN-M01",), Responsible("王五", "城管执法队队长"),
        clock.now() + timedelta(days=10), agenda_item="A2", settles_call=True,
    )  # fmt: skip
    decided = m.decide(LN, meeting, ONCE, spec).aggregate.decisions[0]
    task = UUID(decided.task_id)
    s.directives.receive(CG, task, "CG", ONCE)
    s.directives.report_done(CG, task, "CG", ONCE, "已清运，责任已明确")
    s.directives.accept(LN, task, "CG", ONCE)
    m.close(LN, meeting, ONCE, "纪要已归档")
    m.resolve_citing(LN01, call, ONCE, "联席会议议定后已清运", meeting, decided.id)
    other = m.convene(
        LN01, ONCE, kind=MeetingKind.PARTY_COMMITTEE, title="大党委", scheduled_for=clock.now(), invited=[]
    ).aggregate.id
    m.cancel(LN01, other, ONCE, "改期")


def aggregates(services: Services) -> dict[str, list[str]]:
    """The directives and meetings the log holds, by kind, in order of their first event."""
    found: dict[str, list[str]] = {"Directive": [], "Meeting": []}
    for n in services.app.recorder.select_notifications(1, 100_000):
        kind = n.topic.rsplit(":", 1)[-1].split(".")[0]
        if kind in found and n.originator_version == 1:
            found[kind].append(str(n.originator_id))
    return found


def observe(services: Services, client: Client) -> Observed:
    """What huying answers about them: each now, at version 1 and its history (a directive's
    board too), the event feed, verify's verdict, and the read-model rows."""
    reader = Reader(client, services)
    sup = (Role.SUPERVISOR, "LW")
    seen: Observed = {"rows": read_model_rows(services)}
    for kind, ids in aggregates(services).items():
        base = "/api/v1/directives" if kind == "Directive" else "/api/v1/meetings"
        views = (
            ("", "?version=1", "/history", "/board")
            if kind == "Directive"
            else ("", "?version=1", "/history")
        )
        seen[kind] = {i: {v: reader.get(*sup, f"{base}/{i}{v}") for v in views} for i in ids}
    return {**seen, **feed_and_verdict(reader)}


def write(target: Path = FIXTURE) -> None:  # pragma: no cover  (run by hand)
    def story(services: Services, clock: FakeClock) -> None:
        directives_story(services, clock)
        meetings_story(services, clock)

    write_at_head(target, story, observe)


if __name__ == "__main__":  # pragma: no cover
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURE)
