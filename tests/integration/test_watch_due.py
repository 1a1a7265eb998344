"""The SLA watchdog's index (``rm_calls.watch_due``, issue 12): a sweep looks at exactly the calls
it has something to do on — a running clock past due and not yet flagged (督办) — and misses none;
a call whose late clocks are all flagged waits for its next clock, not in every sweep. The
migration that made the column fills what SQL can and lists the flagged calls, whose rows the
projector then makes again: the store ends as a projection from the start would have made it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from alembic import command
from sqlalchemy import select

from backends import Backend
from districts import UNTIL, quiet_settings, seeded
from huying.bootstrap import Services, build_services
from huying.clock import FakeClock
from huying.migrate import alembic_config
from huying.projections.tables import (
    IS_UNSETTLED,
    projection_refills,
    rm_calls,
)
from huying.settings import Settings
from stored_rows import Rows, rows_of
from tampering import events_of


@pytest.fixture
def settings(backend: Backend, tmp_path: Path) -> Settings:
    return quiet_settings(backend, tmp_path)


@pytest.fixture
def district(settings: Settings) -> Iterator[Services]:
    """150 synthetic calls over 60 days, the watchdog's flags among them."""
    with seeded(settings, 150) as services:
        yield services


def unsettled(services: Services) -> dict[UUID, dict[str, Any]]:
    with services.engine.connect() as conn:
        rows = conn.execute(select(rm_calls).where(IS_UNSETTLED)).mappings()
        return {UUID(r["call_id"]): dict(r) for r in rows}


def every_row(services: Services) -> Rows:
    return rows_of(services.engine)


def test_a_sweep_looks_at_the_calls_it_moves_and_misses_none(district: Services) -> None:
    """Two working days on, call by call: a call past its ``watch_due`` is one the watchdog moves,
    and one before it (among them calls late on flagged clocks only) is one it leaves alone."""
    clock = district.clock
    assert isinstance(clock, FakeClock)
    clock.set(UNTIL + timedelta(days=2))
    now = clock.now()
    rows = unsettled(district)
    due = {i for i, r in rows.items() if r["watch_due"] is not None and r["watch_due"] < now}
    waiting_on_flags = {
        i for i, r in rows.items() if r["next_due"] is not None and r["next_due"] < now and i not in due
    }
    assert due and waiting_on_flags  # the comparison means something

    dog = district.watchdog
    assert {i for i in rows if i not in due and dog.enforce(i)} == set()  # nothing missed
    district.projector.catch_up()
    moves = dog.sweep()
    assert {m.aggregate_id for m in moves} == due  # each call the sweep looked at, it moved
    district.projector.catch_up()
    assert dog.sweep() == []
    after = unsettled(district)
    assert all(after[i]["watch_due"] is None or after[i]["watch_due"] >= now for i in waiting_on_flags)


def test_the_migration_leaves_the_rows_as_a_projection_from_the_start(
    district: Services, settings: Settings
) -> None:
    made = every_row(district)
    flagged = {i for i, r in unsettled(district).items() if r["supervised"] and r["next_due"] is not None}
    differs = {i for i, r in unsettled(district).items() if r["watch_due"] != r["next_due"]}
    assert differs and differs <= flagged  # only flagged calls differ, and some do
    district.close()

    config = alembic_config(settings)
    command.downgrade(config, "0017t")
    command.upgrade(config, "head")
    restarted = build_services(settings, FakeClock(start=UNTIL))
    try:
        with restarted.engine.connect() as conn:
            listed = {UUID(i) for i in conn.execute(select(projection_refills.c.aggregate_id)).scalars()}
        assert flagged <= listed
        # Until they are made again, the flagged calls are looked at from their earliest clock.
        rows = unsettled(restarted)
        assert all(rows[i]["watch_due"] == rows[i]["next_due"] for i in flagged)
        assert every_row(restarted) != made

        assert restarted.projector.refill() == len(listed)
        with restarted.engine.connect() as conn:
            assert conn.execute(select(projection_refills)).first() is None
        assert every_row(restarted) == made
        assert restarted.projector.refill() == 0
    finally:
        restarted.close()


def test_a_call_whose_events_cannot_be_vouched_for_does_not_stop_the_refill(
    district: Services, settings: Settings
) -> None:
    """Its rows stay as they were (the audit chain's check names the event); the other listed
    calls are made again, the list is emptied, and the projector goes on."""
    rows = unsettled(district)
    flagged = sorted(i for i, r in rows.items() if r["supervised"] and r["next_due"] is not None)
    assert len(flagged) > 1
    tampered = flagged[0]
    district.close()
    config = alembic_config(settings)
    command.downgrade(config, "0017t")
    command.upgrade(config, "head")
    events = events_of(settings)
    raised = events.at(rows[tampered]["seq"])
    events.rewrite(raised.position, state=raised.state[:-1] + bytes([raised.state[-1] ^ 1]))

    restarted = build_services(settings, FakeClock(start=UNTIL))
    try:
        with restarted.engine.connect() as conn:
            listed = len(conn.execute(select(projection_refills)).all())
        assert restarted.projector.refill() == listed - 1
        with restarted.engine.connect() as conn:
            assert conn.execute(select(projection_refills)).first() is None
        after = unsettled(restarted)
        assert after[tampered]["watch_due"] == after[tampered]["next_due"]
        assert any(after[i]["watch_due"] != after[i]["next_due"] for i in flagged[1:])
    finally:
        restarted.close()
