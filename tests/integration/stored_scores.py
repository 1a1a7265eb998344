"""Callers' ratings and published 考评 stored by huying, kept as a fixture beside
``stored_by_main`` and ``stored_tasks`` and compared the same way (``stored_by_main.replayed``).

``tests/fixtures/stored_scores/`` holds a data directory written at the commit named in
``observed.json.gz`` (``written_at``) by ``python -m tests.integration.stored_scores``: one story
that records the call's ``WorkOrderRated`` and ``StreetResponseRated`` and the Publication
aggregate's ``Published`` and ``Republished`` — and what that huying answered about the rated
call and every version of each publication. ``test_stored_scores`` replays the log with today's
code: a renamed class or a changed shape without an alias or upcaster fails there.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from httpx import Client

from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.domain.org import UnitKind
from huying.domain.principal import Principal, Role
from huying.domain.states import Satisfaction
from huying.queries.scores import parse_period
from huying.service_layer.calls import CallDraft, DispatchPlan
from huying.service_layer.command_path import Submission
from huying.service_layer.publications import publication_id

from .stored_by_main import Observed, Reader, feed_and_verdict, read_model_rows, write_at_head

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "stored_scores"

DISTRICT, LN = Principal(Role.SUPERVISOR, "LW"), Principal(Role.STREET, "LW-LN")
LN01, CG = Principal(Role.COMMUNITY, "LW-LN-01"), Principal(Role.DEPARTMENT, "CG")
ONCE = Submission()
PERIOD = "2026-11"
SETTLED = datetime(2026, 12, 10, 2, 0, tzinfo=UTC)  # November 2026 settles on 7 December (§12)
ONE_OF = {UnitKind.STREET: (Role.STREET, "LW-LN"), UnitKind.DEPARTMENT: (Role.DEPARTMENT, "CG")}
PUBLISHED = {kind: publication_id(kind, PERIOD) for kind in (UnitKind.STREET, UnitKind.DEPARTMENT)}


def ratings_story(s: Services, clock: FakeClock) -> str:
    """A call the community escalates to 岭南, which dispatches it to 城管: signed, completed,
    resolved; the street rates 城管's order 基本满意, the community the street's response 不满意."""
    grid = "LW-LN-01-G01"
    draft = CallDraft("C01-01", grid, "垃圾堆积", "十三行路口垃圾三天无人清运", "grid_worker")
    call = s.calls.raise_call(Principal(Role.GRID_WORKER, grid), draft, ONCE).call.id
    s.calls.acknowledge(LN01, call, ONCE, None)
    s.calls.escalate(LN01, call, ONCE, "需要街道协调")
    s.calls.acknowledge(LN, call, ONCE, "街道已响应")
    plan = DispatchPlan("CG", [], clock.now() + timedelta(days=3), "三日内清运")
    order = s.calls.dispatch(LN, call, ONCE, plan).call.orders_by_arrival[0].id
    s.orders.sign(CG, order, ONCE, None)
    clock.advance(5 * 3600)
    s.orders.complete_order(CG, order, ONCE, "已清运")
    s.calls.resolve(LN, call, ONCE, "已办结")
    s.orders.rate(LN, order, ONCE, Satisfaction.BASICALLY_SATISFIED, "清运及时，现场未冲洗")
    s.calls.rate_response(LN01, call, ONCE, Satisfaction.DISSATISFIED, "协调拖延", None)
    return str(call)


def publications_story(s: Services, clock: FakeClock) -> None:
    """Once November is settled: both kinds published; the streets' re-published with a reason."""
    clock.set(SETTLED)
    s.projector.catch_up()  # a publication freezes what the read models say
    november = parse_period(PERIOD)
    for kind in PUBLISHED:
        s.publications.publish(DISTRICT, ONCE, kind, november)
    clock.advance(3600)
    s.publications.republish(DISTRICT, PUBLISHED[UnitKind.STREET], ONCE, "复核后重新发布")


def observe(services: Services, client: Client) -> Observed:
    """What huying answers about them: the rated call (now and its history), each publication's
    every version and history as the district sees it and the latest as one of its units, the
    event feed, verify's verdict, and the read-model rows."""
    reader = Reader(client, services)
    sup = (Role.SUPERVISOR, "LW")
    seen: Observed = {"rows": read_model_rows(services), "calls": {}, "publications": {}}
    for n in services.app.recorder.select_notifications(1, 100_000):
        if n.topic.endswith("Call.WorkOrderRated"):
            base = f"/api/v1/calls/{n.originator_id}"
            seen["calls"][str(n.originator_id)] = {
                v: reader.get(*sup, f"{base}{v}") for v in ("", "/history")
            }
    for kind, pid in PUBLISHED.items():
        base = f"/api/v1/scores/publications/{pid}"
        views = {v: reader.get(*sup, f"{base}{v}") for v in ("", "?version=1", "/history")}
        views["own row"] = reader.get(*ONE_OF[kind], base)
        seen["publications"][str(pid)] = views
    return {**seen, **feed_and_verdict(reader)}


def write(target: Path = FIXTURE) -> None:  # pragma: no cover  (run by hand)
    def story(services: Services, clock: FakeClock) -> None:
        ratings_story(services, clock)
        publications_story(services, clock)

    write_at_head(target, story, observe)


if __name__ == "__main__":  # pragma: no cover
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURE)
