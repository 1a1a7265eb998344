"""`huying seed --synthetic N`: a district's history that looks like real use, and is real use.

One history of 1,200 calls over the two months around National Day (a week-long holiday) is
written through the shared ``services`` fixture, once: its events are decoded and every check
below runs on them (seeding is what costs). The shares asserted are wide ranges: what a district
like the demo one looks like, not the generator's exact numbers.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import text

from backends import Backend, settings_env
from huying.api.deps import fingerprint
from huying.api.schemas.requests import (
    AcknowledgeBody,
    DispatchBody,
    ExtensionBody,
    NoteBody,
    ProgressBody,
    ReasonBody,
)
from huying.audit.replay import Comparison, compare_table, replay_and_compare, snapshot
from huying.audit.verify import Verifier
from huying.bootstrap import Services, build_services
from huying.clock import FakeClock
from huying.domain.call import Call
from huying.domain.clocks import clocks_of
from huying.domain.principal import Principal, Role
from huying.domain.worktime import SHANGHAI
from huying.migrate import upgrade
from huying.projections.tables import READ_MODEL_TABLES
from huying.service_layer.calls import CallDraft
from huying.service_layer.command_path import Submission
from huying.synthetic.follower import another_process
from huying.synthetic.history import History
from huying.synthetic.requests import submission
from huying.synthetic.seed import Plan, Progress, StoreNotSynthetic, seed_synthetic

from .histories import EVENT_KINDS

UNTIL = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)  # a Monday morning in Guangzhou
PLAN = Plan(calls=1200, seed=7, until=UNTIL, days=60)  # from mid-September: National Day inside


def seeded(services: Services, plan: Plan = PLAN) -> list[Call.Event]:
    clock = services.clock
    assert isinstance(clock, FakeClock)
    seed_synthetic(services, clock, plan)
    return events_of(services)


def events_of(services: Services) -> list[Call.Event]:
    app, found, start = services.app, [], 0
    while batch := app.recorder.select_notifications(start=start, limit=5000, inclusive_of_start=False):
        found += [app.mapper.to_domain_event(n) for n in batch]
        start = batch[-1].id
    return found


def by_call(events: list[Call.Event]) -> dict[UUID, list[Call.Event]]:
    calls: dict[UUID, list[Call.Event]] = defaultdict(list)
    for e in events:
        calls[e.originator_id].append(e)
    return calls


def kind(e: Call.Event) -> str:
    return type(e).__name__


def share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


# --- one history, many facts ---------------------------------------------------------------------


def test_a_synthetic_district_looks_and_audits_like_a_real_one(services: Services) -> None:
    events = seeded(services)
    it_has_the_mix_of_a_real_district(events)
    business_time_moves_forward_through_the_calendar(services, events)
    clocks_are_mostly_met_and_sometimes_missed(services, events)
    every_reporter_named_is_kept(services, events)
    it_passes_the_audit_and_its_read_models_equal_a_rebuild(services)
    on_postgresql_its_tables_are_vacuumed_and_analyzed(services)


def on_postgresql_its_tables_are_vacuumed_and_analyzed(services: Services) -> None:
    """As after any bulk load: the planner's statistics are the rows', the visibility map is set."""
    if not services.settings.on_postgres:
        return
    with services.engine.connect() as conn:
        tables = conn.execute(
            text(
                "SELECT relname, last_vacuum IS NOT NULL, last_analyze IS NOT NULL FROM pg_stat_user_tables"
                " WHERE schemaname = current_schema()"
            )
        ).all()
    assert {"rm_calls", "huying_events"} <= {t for t, *_ in tables}
    assert [t for t, vacuumed, analyzed in tables if not (vacuumed and analyzed)] == []


def every_reporter_named_is_kept(services: Services, events: list[Call.Event]) -> None:
    """The contacts the raises kept were stored (in bulk, with the events that name them)."""
    refs = [ref for e in events if (ref := getattr(e, "reporter_ref", None)) is not None]
    assert 0.1 <= share(len(refs), PLAN.calls) <= 0.6
    assert all(services.contacts.get(ref) is not None for ref in refs)


def it_has_the_mix_of_a_real_district(events: list[Call.Event]) -> None:
    calls = by_call(events)
    kinds = Counter(kind(e) for e in events)
    n = len(calls)
    assert n == PLAN.calls
    assert set(kinds) == EVENT_KINDS, f"missing: {EVENT_KINDS - set(kinds)}"

    has = {k: sum(1 for evs in calls.values() if any(kind(e) == k for e in evs)) for k in EVENT_KINDS}
    resolved_at = Counter(e.level for e in events if isinstance(e, Call.Resolved))
    resolved = sum(resolved_at.values())
    assert 0.5 <= share(resolved_at["community"], resolved) <= 0.85, resolved_at  # most at the community
    assert 0.15 <= share(has["Escalated"], n) <= 0.5
    assert 0.1 <= share(has["Dispatched"], n) <= 0.35
    dispatches = [e for e in events if isinstance(e, Call.Dispatched)]
    assert (
        0.25 <= share(sum(len(d.orders) > 1 for d in dispatches), len(dispatches)) <= 0.8
    )  # several departments
    assert 0.01 <= share(has["WorkOrderReturned"], has["Dispatched"]) <= 0.3
    assert 0.03 <= share(has["ExtensionRequested"], has["Dispatched"]) <= 0.3
    assert 0.005 <= share(has["Reopened"], n) <= 0.1
    assert 0.01 <= share(has["Withdrawn"], n) <= 0.06
    assert 0.005 <= share(has["MergedInto"], n) <= 0.05
    assert 0.05 <= share(has["Supervised"], n) <= 0.6
    assert 0.6 <= share(has["Closed"], n) <= 0.95

    evaluations = [e for e in events if isinstance(e, Call.Evaluated)]
    contacted = [e for e in evaluations if e.contacted]
    satisfaction = Counter(e.satisfaction for e in contacted)
    assert 0.8 <= share(len(contacted), len(evaluations)) <= 0.98
    assert 0.6 <= share(satisfaction["satisfied"], len(contacted)) <= 0.95
    assert 0.02 <= share(satisfaction["dissatisfied"], len(contacted)) <= 0.15

    watchdog = [e for e in events if e.actor["role"] == "system"]
    assert watchdog and all(kind(e) in ("Escalated", "Supervised") for e in watchdog)
    # What is open at the end is a live district's backlog (recent calls, long items), not a pile
    # of calls stuck since the history began.
    still_open = [
        evs[0].at for evs in calls.values() if kind(evs[-1]) not in ("Closed", "Withdrawn", "MergedInto")
    ]
    assert share(len(still_open), n) <= 0.3
    assert share(sum(at < PLAN.until - timedelta(days=30) for at in still_open), n) <= 0.05


def business_time_moves_forward_through_the_calendar(services: Services, events: list[Call.Event]) -> None:
    times = [e.at for e in events]
    assert times == sorted(times), "the log is in business-time order"
    assert PLAN.first <= times[0] and times[-1] <= PLAN.until
    calendar = services.app.calendar

    def in_hours(at: datetime) -> bool:
        local = at.astimezone(SHANGHAI)
        return calendar.is_workday(local.date()) and calendar.between(
            at, at + timedelta(seconds=1)
        ) > timedelta(0)

    people = [
        e
        for e in events
        if e.actor["role"] not in ("system", "supervisor") and not isinstance(e, Call.Raised)
    ]
    assert share(sum(in_hours(e.at) for e in people), len(people)) >= 0.75  # people work office hours
    raises = Counter(e.at.astimezone(SHANGHAI).date() for e in events if isinstance(e, Call.Raised))
    holiday = [raises[datetime(2026, 10, d).date()] for d in range(2, 7)]  # 国庆 2–6 October
    working = [raises[datetime(2026, 10, d).date()] for d in range(12, 17)]  # the week after
    assert sum(holiday) < 0.7 * sum(working), (holiday, working)


def clocks_are_mostly_met_and_sometimes_missed(services: Services, events: list[Call.Event]) -> None:
    app = services.app
    met, missed = 0, 0
    for call_id in by_call(events):
        for clock in clocks_of(app.repository.get(call_id)):
            if clock.stopped is not None:
                met, missed = met + (not clock.breached), missed + clock.breached
    assert 0.6 <= share(met, met + missed) <= 0.95, (met, missed)


def it_passes_the_audit_and_its_read_models_equal_a_rebuild(services: Services) -> None:
    head = services.app.recorder.max_notification_id()
    report = Verifier(services.chain.log, services.engine, services.app.voucher).verify()
    assert report.ok, report.broken
    assert report.checked == head and report.unchained == 0
    comparison = replay_and_compare(services.app, services.engine, services.settings)
    assert comparison.position == head
    assert comparison.same, comparison.shown[:3]


# --- determinism and the store's owner -------------------------------------------------------------


def fingerprint_of(events: list[Call.Event]) -> str:
    """The history as data, less two things that are not the history's: ``timestamp``, the wall
    time the library stamps on an event when it is made (``recorded_at``: when the seeder ran),
    and the reporter's ref, only said to be there — refs are random by design (nothing stored
    may be a function of a reporter)."""
    digest = hashlib.sha256()
    for e in events:
        state: dict[str, Any] = {
            k: v for k, v in e.__dict__.items() if k not in ("reporter_ref", "timestamp")
        }
        state["reporter_ref"] = getattr(e, "reporter_ref", None) is not None
        digest.update(f"{kind(e)}|{json.dumps(state, default=str, sort_keys=True)}\n".encode())
    return digest.hexdigest()


def another_store(backend: Backend, directory: Path) -> Services:
    """A second, empty deployment on the same backend."""
    other = backend.settings(directory, run_watchdog=False)
    upgrade(other)
    return build_services(other, FakeClock(start=UNTIL))


def test_the_same_seed_writes_the_same_history_and_another_seed_another(
    services: Services, backend: Backend, tmp_path: Path
) -> None:
    small = Plan(calls=200, seed=3, until=UNTIL, days=20)
    first = fingerprint_of(seeded(services, small))
    twins = [another_store(backend, tmp_path / name) for name in ("twin", "other")]
    try:
        assert fingerprint_of(seeded(twins[0], small)) == first
        other = Plan(calls=200, seed=4, until=UNTIL, days=20)
        assert fingerprint_of(seeded(twins[1], other)) != first
    finally:
        for store in twins:
            store.close()


def test_a_store_seeded_in_bulk_is_the_store_a_server_following_every_save_would_hold(
    services: Services, backend: Backend, tmp_path: Path
) -> None:
    """The seeder brings the read models and the chain up once, after the history is written; a
    server's projector and chain keeper follow every save. Both come to the same store: the same
    events, each decoded by today's code, the same rows in every read model (the tallies kept
    change by change on one side, counted afresh on the other), a chain that verifies."""
    small = Plan(calls=200, seed=3, until=UNTIL, days=20)
    bulk = seeded(services, small)
    followed = another_store(backend, tmp_path / "followed")
    try:
        clock = followed.clock
        assert isinstance(clock, FakeClock)
        clock.set(small.first)
        history = History(
            followed, clock, calls=small.calls, seed=small.seed, first=small.first, until=small.until
        )

        def follow(_: object) -> None:
            followed.projector.catch_up()
            followed.chain.catch_up()

        history.run(per_save=100, on_progress=follow)
        assert fingerprint_of(events_of(followed)) == fingerprint_of(bulk)
        the_same_store(services, followed, len(bulk))
    finally:
        followed.close()


def the_same_store(one: Services, other: Services, events: int) -> None:
    """The same rows in every read model, and both chains verify to the end of the log."""
    same = Comparison(position=events)
    with snapshot(one.engine) as one_rows, snapshot(other.engine) as other_rows:
        for table in READ_MODEL_TABLES:
            compare_table(table, one_rows, other_rows, same, show=3)
    assert sum(same.rows.values()) > events / 10
    assert same.same, same.shown
    for store in (one, other):
        report = Verifier(store.chain.log, store.engine, store.app.voucher).verify()
        assert report.ok and report.checked == events and report.unchained == 0, report.broken


def test_a_follower_in_another_process_while_the_history_is_written_makes_the_same_store(
    services: Services, backend: Backend, tmp_path: Path
) -> None:
    """``huying seed --synthetic`` keeps the read models and the chain in a second process while
    it writes (in whole batches, the read models' larger than the chain's; small ones here), then
    chains the rest while that one projects the rest. The store is the one a catch-up after the
    writing makes. The seeder waits for the follower after each save here, so the follower surely
    works while the history is written."""
    small = Plan(calls=600, seed=3, until=UNTIL, days=30)
    batch, projector_batch = 500, 1_500
    clock = services.clock
    assert isinstance(clock, FakeClock)
    mid_way: list[int] = []

    def keep_pace(p: Progress) -> None:
        if p.writing is not None:
            return
        head = services.app.recorder.max_notification_id() or 0
        deadline = time.monotonic() + 60
        while (
            head - services.projector.tracked_position() >= projector_batch
            or head - services.chain.tracked_position() >= batch
        ):
            assert time.monotonic() < deadline, "the follower did not follow"
            time.sleep(0.05)
        mid_way.append(services.projector.tracked_position())

    apart = partial(another_process, settings_env(services.settings), batch, projector_batch)
    seed_synthetic(services, clock, small, apart=apart, on_progress=keep_pace)
    assert max(mid_way) >= projector_batch, mid_way
    bulk = another_store(backend, tmp_path / "bulk")
    try:
        caught_up = seeded(bulk, small)
        assert fingerprint_of(events_of(services)) == fingerprint_of(caught_up)
        the_same_store(services, bulk, len(caught_up))
    finally:
        bulk.close()


def test_a_store_in_real_use_is_refused_unless_forced(services: Services) -> None:
    clock = services.clock
    assert isinstance(clock, FakeClock)
    clock.set(UNTIL - timedelta(days=90))
    draft = CallDraft(
        item_code="C01-01", grid_code="LW-LN-01-G01", title="垃圾", description="堆积", channel="hotline"
    )
    services.calls.raise_call(Principal(Role.GRID_WORKER, "LW-LN-01-G01"), draft, Submission())
    small = Plan(calls=50, seed=1, until=UNTIL, days=10)
    with pytest.raises(StoreNotSynthetic, match="not written by"):
        seed_synthetic(services, clock, small)
    assert services.app.recorder.max_notification_id() == 1, "a refusal writes nothing"
    seed_synthetic(services, clock, small, force=True)
    assert (services.app.recorder.max_notification_id() or 0) > 50


def test_a_second_history_may_not_go_back_in_business_time(services: Services) -> None:
    small = Plan(calls=50, seed=1, until=UNTIL, days=10)
    seeded(services, small)
    head = services.app.recorder.max_notification_id()
    clock = services.clock
    assert isinstance(clock, FakeClock)
    with pytest.raises(StoreNotSynthetic, match="back in business time"):
        seed_synthetic(services, clock, small)
    later = Plan(calls=50, seed=2, until=UNTIL + timedelta(days=20), days=10)
    seed_synthetic(services, clock, later)  # a synthetic store takes a later synthetic history
    assert (services.app.recorder.max_notification_id() or 0) > (head or 0)


def test_a_steps_fingerprint_is_the_apis_however_often_its_body_is_sent() -> None:
    """The seeder works out the fingerprint of a body of plain values once; every body still gets
    the fingerprint the API gives it — the same text sent or left unset, other types, instants
    that are equal in two time zones (not looked up: they dump differently)."""
    shanghai = timezone(timedelta(hours=8))
    bodies = [
        NoteBody(note="已签收"),
        NoteBody(note=None),
        NoteBody(),
        ReasonBody(reason="不予延期，请按期办结"),
        AcknowledgeBody(note="已签收"),
        ProgressBody(note="已到现场勘查"),
        DispatchBody(lead_department="D1", assisting_departments=["D2"], instructions="限期办理"),
        ExtensionBody(until=datetime(2026, 1, 5, tzinfo=UTC), reason="需协调产权单位"),
        ExtensionBody(until=datetime(2026, 1, 5, 8, tzinfo=shanghai), reason="需协调产权单位"),
    ]
    rng = random.Random(1)
    for _ in range(2):  # the second time from what was kept
        for body in bodies:
            assert submission(rng, body, keyed=False).fingerprint == fingerprint(body), body
    assert fingerprint(bodies[-1]) != fingerprint(bodies[-2])  # equal instants, told apart
