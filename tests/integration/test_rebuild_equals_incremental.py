"""Incremental read models equal a full rebuild, row for row, for random histories.

Random histories (``histories.py``) are played through the application's commands — right and
wrong principals, allowed and forbidden moves, invalid content, stale If-Match, repeated
Idempotency-Keys — on a fake clock that jumps by random amounts. Between commands the projector
applies small batches of random size (sometimes a brand-new projector with a cold cache takes
over, as after a restart). At the end every read-model table is dumped in primary-key order,
the read models are rebuilt from nothing in large batches, and the two dumps must be identical.
The read models must also agree with the aggregates themselves.

One big history of 1,000 calls covers every event kind and every variant that matters to the
read models; hypothesis adds many small ones of different shapes. ``HUYING_HISTORY_SEED``
replays the big one with another seed.

The stores live on tmpfs (/dev/shm) when there is one: still real SQLite files, but without
an fsync per command the 1,000-call history takes seconds instead of a minute.
"""

from __future__ import annotations

import os
import random
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from huying.bootstrap import Services, build_services
from huying.clock import FakeClock
from huying.db import reporter_contacts
from huying.domain.call import Call
from huying.domain.contact import Contact
from huying.domain.errors import IdempotencyKeyReused, NotPermitted
from huying.domain.principal import Principal, Role
from huying.migrate import upgrade
from huying.projections import tallies
from huying.projections.runner import Projector
from huying.projections.tables import (
    READ_MODEL_TABLES,
    rm_calls,
    rm_evaluations,
    rm_sla_tallies,
    rm_stints,
    rm_supervisions,
    rm_work_orders,
)
from huying.service_layer.calls import CallDraft
from huying.service_layer.command_path import Submission
from huying.settings import Settings
from stored_rows import Rows, in_key_order

from .histories import CALLER_RATINGS, EVENT_KINDS, Shape, Stats, drive

SEED = int(os.environ.get("HUYING_HISTORY_SEED", "20261123"))
START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 in Guangzhou


@contextmanager
def scratch_settings() -> Iterator[Settings]:
    shm = Path("/dev/shm")
    base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="huying-history-", dir=base) as d:
        settings = Settings(data_dir=Path(d) / "var", demo=True, fake_clock=True)
        upgrade(settings)
        yield settings


@contextmanager
def built(settings: Settings, clock: FakeClock) -> Iterator[Services]:
    services = build_services(settings, clock)
    try:
        yield services
    finally:
        services.close()


def dump(engine: Engine) -> Rows:
    """Every read-model table, every row, in primary-key order — once the search index is found
    to hold exactly the text table's terms (FTS5's own check against its content table, rank 1:
    it raises "malformed" on any difference)."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "INSERT INTO rm_call_text_index(rm_call_text_index, rank) VALUES ('integrity-check', 1)"
            )
        return in_key_order(conn)


def assert_same(incremental: Rows, rebuilt: Rows) -> None:
    for table in READ_MODEL_TABLES:
        a, b = incremental[table.name], rebuilt[table.name]
        if a == b:
            continue
        keys = [c.name for c in table.primary_key.columns]
        index = [list(table.c.keys()).index(k) for k in keys]

        ka = {tuple(r[i] for i in index): r for r in a}
        kb = {tuple(r[i] for i in index): r for r in b}
        only_a = sorted(set(ka) - set(kb))[:3]
        only_b = sorted(set(kb) - set(ka))[:3]
        differ = [(k, ka[k], kb[k]) for k in sorted(set(ka) & set(kb)) if ka[k] != kb[k]][:3]
        raise AssertionError(
            f"{table.name}: incremental {len(a)} rows, rebuilt {len(b)}; "
            f"only incremental {only_a}; only rebuilt {only_b}; differing {differ}"
        )


def project_interleaved(
    services: Services, clock: FakeClock, rng: random.Random, shape: Shape, *, knobs: dict[str, Any]
) -> tuple[Stats, Projector]:
    """Play a history; between commands, project a small random batch now and then."""
    app, engine = services.app, services.engine
    current = {"projector": knobs.get("projector") or services.projector}

    def between() -> None:
        if rng.random() < knobs["restart"]:  # a new process: cold cache, resumes from the table
            current["projector"] = Projector(app, engine, cache_size=knobs["cache_size"])
        if rng.random() < knobs["project"]:
            current["projector"].run_once(limit=rng.randint(1, knobs["max_batch"]))

    stats = drive(services, clock, rng, shape, between)
    projector = current["projector"]
    while projector.run_once(limit=rng.randint(1, knobs["max_batch"])):
        pass
    assert projector.tracked_position() == app.recorder.max_notification_id()
    return stats, projector


def assert_agrees_with_aggregates(services: Services, stats: Stats) -> None:
    """Each call's rows say what the aggregate says."""
    app = services.app
    with services.engine.connect() as conn:
        calls = {r.call_id: r for r in conn.execute(select(rm_calls))}
        orders = {r.order_id: r for r in conn.execute(select(rm_work_orders))}
        stints = Counter(r.call_id for r in conn.execute(select(rm_stints)))
        evaluations = {(r.call_id, r.round) for r in conn.execute(select(rm_evaluations))}
        supervisions = Counter(r.call_id for r in conn.execute(select(rm_supervisions)))
    assert set(calls) == {str(i) for i in stats.raised}
    expected_orders: dict[str, tuple[str, str, str]] = {}
    for call_id, row in calls.items():
        call: Call = app.repository.get(UUID(call_id))
        got = (row.status, row.level, row.holder, row.version, row.round, row.supervised, row.position)
        want = (
            call.status.value,
            call.level.value,
            call.holder,
            call.version,
            call.round,
            call.supervised,
            services.calls.position_of(call),
        )
        assert got == want, f"rm_calls {call_id}: {got} != aggregate {want}"
        # The ledger and the search rely on it (queries.scope.concerns_unit).
        assert call.holder in (call.community_code, call.street_code), call_id
        assert stints[call_id] == len(call.chain), call_id
        assert supervisions[call_id] == len(call.supervisions), call_id
        assert {r for c, r in evaluations if c == call_id} == set(call.evaluations), call_id
        for o in call.work_orders.values():
            expected_orders[o.id] = (call_id, o.department_code, o.status.value)
    assert {k: (r.call_id, r.department_code, r.status) for k, r in orders.items()} == expected_orders


def variety(services: Services) -> Counter[str]:
    """Event kinds in the log, plus the variants the read models treat differently."""
    app = services.app
    seen: Counter[str] = Counter()
    for n in app.recorder.select_notifications(start=0, limit=10**9):
        event = app.mapper.to_domain_event(n)
        kind = type(event).__name__
        seen[kind] += 1
        if isinstance(event, Call.WorkOrderReturned):
            seen["return lead" if event.lead else "return assist"] += 1
        elif isinstance(event, Call.Dispatched) and len(event.orders) > 1:
            seen["dispatch with assists"] += 1
        elif isinstance(event, Call.Resolved):
            seen[f"resolve at {event.level}"] += 1
        elif isinstance(event, Call.Evaluated):
            if not event.contacted:
                seen["evaluate not contacted"] += 1
            elif event.satisfaction == "dissatisfied":
                seen["evaluate dissatisfied"] += 1
    return seen


# --- one big history --------------------------------------------------------------------------


def test_a_thousand_call_history_rebuilds_to_the_same_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SLA tallies are recounted in parts of calls, in the order they were raised: many parts
    # here, whose blocks (days, weeks, months) overlap, as a long history's do.
    monkeypatch.setattr(tallies, "RECOUNT_PART", 37)
    rng = random.Random(SEED)
    clock = FakeClock(start=START)
    with scratch_settings() as settings:
        with built(settings, clock) as services:
            knobs = {"project": 0.3, "max_batch": 25, "restart": 0.002, "cache_size": 50}
            stats, _ = project_interleaved(services, clock, rng, Shape(calls=1000), knobs=knobs)
            incremental = dump(services.engine)
            seen = variety(services)
            assert_agrees_with_aggregates(services, stats)

        # A second process on the same files rebuilds from nothing, in large batches.
        with built(settings, clock) as again:
            again.projector.batch_size = 10_000
            again.projector.reset()
            assert all(not rows for rows in dump(again.engine).values())
            again.projector.catch_up()
            assert again.projector.tracked_position() == again.app.recorder.max_notification_id()
            assert_same(incremental, dump(again.engine))

    assert len(stats.raised) == 1000
    missing = (EVENT_KINDS | CALLER_RATINGS) - set(seen)
    assert not missing, f"seed {SEED}: no {sorted(missing)} in the history"
    variants = {
        "return lead",
        "return assist",
        "dispatch with assists",
        "resolve at community",
        "resolve at street",
        "resolve at department",
        "evaluate not contacted",
        "evaluate dissatisfied",
    }
    assert not variants - set(seen), f"seed {SEED}: no {sorted(variants - set(seen))}"
    refusals = {
        "NotPermitted",
        "TransitionNotAllowed",
        "InvalidCommand",
        "CallNotFound",
        "StaleVersion",
        "IdempotencyKeyReused",
    }
    assert not refusals - set(stats.refused), (
        f"seed {SEED}: never refused with {refusals - set(stats.refused)}"
    )
    assert stats.replayed > 0


# --- many small histories of every shape -------------------------------------------------------

shapes = st.builds(
    Shape,
    calls=st.integers(1, 40),
    concurrency=st.integers(1, 12),
    wrong_principal=st.sampled_from([0.0, 0.1, 0.4]),
    wrong_move=st.sampled_from([0.0, 0.1, 0.4]),
    invalid=st.sampled_from([0.0, 0.05, 0.2]),
    stale=st.sampled_from([0.0, 0.1]),
    keyed=st.sampled_from([0.0, 0.5, 1.0]),
    repeat=st.sampled_from([0.0, 0.1, 0.3]),
    dead_call=st.sampled_from([0.0, 0.05, 0.3]),
    max_rounds=st.integers(1, 4),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=shapes,
    project=st.sampled_from([0.05, 0.3, 1.0]),
    max_batch=st.integers(1, 40),
    restart=st.sampled_from([0.0, 0.05, 0.3]),
    cache_size=st.sampled_from([1, 2, 7, 20_000]),
)
def test_small_histories_of_every_shape_rebuild_to_the_same_rows(
    seed: int, shape: Shape, project: float, max_batch: int, restart: float, cache_size: int
) -> None:
    rng = random.Random(seed)
    clock = FakeClock(start=START)
    with scratch_settings() as settings, built(settings, clock) as services:
        knobs = {
            "projector": Projector(services.app, services.engine, cache_size=cache_size),
            "project": project,
            "max_batch": max_batch,
            "restart": restart,
            "cache_size": cache_size,
        }
        stats, _ = project_interleaved(services, clock, rng, shape, knobs=knobs)
        incremental = dump(services.engine)
        assert_agrees_with_aggregates(services, stats)

        rebuilder = Projector(services.app, services.engine, batch_size=10_000)
        rebuilder.reset()
        rebuilder.catch_up()
        assert_same(incremental, dump(services.engine))


# --- a refusal writes nothing, anywhere -------------------------------------------------------


REPORTER = Contact(name="张三", phone="13812345678")
DRAFT = CallDraft(
    item_code="C01-01",
    grid_code="LW-LN-01-G01",
    title="井盖松动",
    description="井盖一侧翘起",
    channel="hotline",
    reporter=REPORTER,
)


def test_a_recount_adds_to_a_block_already_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """The recount writes a block's row once no later call can reach it — the blocks ending
    before the day its part's last call was raised. A clock set back lets an obligation arrive
    before its call was raised: its block was written by then, and the change is added to it."""
    monkeypatch.setattr(tallies, "RECOUNT_PART", 1)
    clock = FakeClock(start=START)
    grid, community = Principal(Role.GRID_WORKER, "LW-LN-01-G01"), Principal(Role.COMMUNITY, "LW-LN-01")
    with scratch_settings() as settings:
        with built(settings, clock) as services:
            raised = []
            for day in range(4):  # one call a day, each its own part of the recount
                draft = CallDraft(
                    "C01-01", "LW-LN-01-G01", f"井盖缺失 {day}", "人行道井盖丢了", "grid_worker"
                )
                raised.append(services.calls.raise_call(grid, draft, Submission()).call.id)
                clock.advance(86_400)
            clock.set(START - timedelta(days=3))  # before the first call was raised
            for call_id in (raised[0], raised[-1]):  # the first's part writes the day's row
                services.calls.escalate(community, call_id, Submission(), "需街道协调")
            services.projector.catch_up()
            incremental = dump(services.engine)
        street_days = [r for r in incremental[rm_sla_tallies.name] if r[0] == "street" and r[2] == "day"]
        assert {r[4] for r in street_days} == {2}, "both street obligations on the day they arrived"

        added_to: list[object] = []
        rewrite_of = tallies.rewrite_of

        def spied(conn: Any, table: Any, changes: Any, changed: Any, **kwargs: Any) -> Any:
            rewrite = rewrite_of(conn, table, changes, changed, **kwargs)
            if table is rm_sla_tallies:
                added_to.extend(rewrite.replaced)
            return rewrite

        monkeypatch.setattr(tallies, "rewrite_of", spied)
        with built(settings, clock) as again:
            again.projector.batch_size = 10_000
            again.projector.reset()
            again.projector.catch_up()
            assert_same(incremental, dump(again.engine))
        assert ("street", "LW-LN", "day", (START - timedelta(days=3)).date()) in added_to


def contacts_kept(services: Services) -> int:
    with services.contacts.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(reporter_contacts)).scalar() or 0)


def test_a_raise_refused_for_its_principal_stores_no_reporter_contact() -> None:
    with scratch_settings() as settings, built(settings, FakeClock(start=START)) as services:
        outsider = Principal(Role.GRID_WORKER, "LW-DB-01-G01")  # a grid worker of another street
        with pytest.raises(NotPermitted):
            services.calls.raise_call(outsider, DRAFT, Submission())
        assert not services.app.recorder.max_notification_id()
        assert contacts_kept(services) == 0


def test_a_raise_refused_as_a_reused_key_stores_no_reporter_contact() -> None:
    with scratch_settings() as settings, built(settings, FakeClock(start=START)) as services:
        grid_worker = Principal(Role.GRID_WORKER, "LW-LN-01-G01")
        services.calls.raise_call(grid_worker, DRAFT, Submission(key="k1", fingerprint="body-1"))
        assert contacts_kept(services) == 1
        other = replace(DRAFT, reporter=Contact(name="李四", phone="13987654321"))
        with pytest.raises(IdempotencyKeyReused):
            services.calls.raise_call(grid_worker, other, Submission(key="k1", fingerprint="body-2"))
        assert services.app.recorder.max_notification_id() == 1
        assert contacts_kept(services) == 1, "a refused raise kept the reporter's contact"
