"""A rebuild in parts (``huying.projections.rebuild``): forked workers, each projecting the
aggregates of its part and then recounting one slice of the calls' SLA tallies, make the very
rows one process makes — and where a part cannot go on, or the rebuild dies, the read models
still come to those rows.

One synthetic history of 400 calls over two and a half months (calls reopened weeks later,
dispatched, extended: obligations that reach into later slices' blocks) is rebuilt in one
process, then in three parts, and every read-model row compared.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from backends import use_in_env
from huying.bootstrap import Services, build_services
from huying.cli import cli
from huying.clock import FakeClock
from huying.locks import duty_lock
from huying.projections import rebuild as rebuilding
from huying.projections import tallies, tracking
from huying.projections.rebuild import REBUILD_LOCK, Part, RebuildUnderWay, Rebuilt, rebuild
from huying.projections.runner import PARTS_NAMED, REBUILDING, TRACKING_NAME, ProjectorRace
from huying.projections.tables import projection_tracking, rm_calls
from huying.settings import Settings
from huying.synthetic.seed import Plan, seed_synthetic
from stored_rows import rows_of
from tampering import events_of

PLAN = Plan(calls=400, seed=11, until=datetime(2026, 11, 16, 1, 0, tzinfo=UTC), days=75)

pytestmark = pytest.mark.slow


@pytest.fixture
def history(services: Services, clock: FakeClock) -> list[int]:
    """The history written and projected: the positions of its events (PostgreSQL's may skip
    some, a save rolled back)."""
    seed_synthetic(services, clock, PLAN)
    every = services.app.recorder.select_notifications(start=0, limit=10**6, inclusive_of_start=False)
    return [n.id for n in every]


@pytest.fixture
def anew(settings: Settings, clock: FakeClock) -> Callable[[], Services]:
    """The deployment as a worker opens it."""
    return lambda: build_services(settings, clock)


def _parts_left(services: Services) -> list[str]:
    named = projection_tracking.c.name
    with services.engine.connect() as conn:
        return list(conn.execute(select(named).where(named.startswith(PARTS_NAMED))).scalars())


def test_in_parts_the_rows_are_those_one_process_makes(
    services: Services, anew: Callable[[], Services], history: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    assert rebuild(services, anew, workers=1) == Rebuilt(len(history), 1)
    alone = rows_of(services.engine)
    assert alone["rm_sla_tallies"] and alone["rm_calls"]

    with caplog.at_level(logging.WARNING, logger="huying"):
        assert rebuild(services, anew, workers=3, in_parts_from=0) == Rebuilt(len(history), 3)
    # Nothing fell back to one process: not the replay, nor the recount. (huying's own records:
    # asyncio's report of another test's task collected meanwhile is not this rebuild's.)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("huying")] == []
    assert rows_of(services.engine) == alone
    with services.engine.connect() as conn:
        assert tracking.tracked(conn, TRACKING_NAME) == history[-1]
        assert tallies.in_step(conn)
    assert _parts_left(services) == []


def test_a_short_log_is_rebuilt_by_one_process(
    services: Services, anew: Callable[[], Services], history: list[int]
) -> None:
    assert rebuild(services, anew, workers=2, in_parts_from=history[-1] + 1) == Rebuilt(len(history), 1)


def test_a_part_reads_the_events_of_its_aggregates_and_no_others(
    services: Services, history: list[int]
) -> None:
    recorder = services.app.recorder
    head, every = history[-1], recorder.select_notifications(start=0, limit=10**6, inclusive_of_start=False)
    for of in (2, 3):
        seen: list[int] = []
        for index in range(of):
            part = Part(index, of, until=head)
            mine = [n.id for n in every if part.takes(n)]
            assert 0 < len(mine) < len(history)
            assert [n.id for n in part.select(recorder, 0, head)] == mine
            after, limit = mine[len(mine) // 3], 7  # from anywhere, at most ``limit``
            assert [n.id for n in part.select(recorder, after, limit)] == [i for i in mine if i > after][
                :limit
            ]
            seen += mine
        assert sorted(seen) == history
    short = Part(0, 2, until=head // 2)  # nothing beyond its end
    assert max(n.id for n in short.select(recorder, 0, head)) <= head // 2


def test_an_event_it_cannot_vouch_for_halts_the_rebuild_where_one_process_halts(
    services: Services, settings: Settings, anew: Callable[[], Services], history: list[int]
) -> None:
    events = events_of(settings)
    before = len(history) // 2
    middle = history[before]
    flipped = bytearray(events.at(middle).state)
    flipped[len(flipped) // 3] ^= 0x01
    events.rewrite(middle, state=bytes(flipped))

    rebuilt = rebuild(services, anew, workers=2, in_parts_from=0)

    assert rebuilt == Rebuilt(before, 1)  # the part that met it stopped; one process went on
    halted = services.projector.halted
    assert halted is not None and halted.position == middle
    assert services.projector.tracked_position() == history[before - 1]
    assert _parts_left(services) == []


def test_a_projector_waits_while_a_rebuild_in_parts_runs_and_starts_over_once_it_died(
    services: Services, elsewhere: Services, settings: Settings, history: list[int]
) -> None:
    projected = rows_of(services.engine)
    services.projector.reset([Part(i, 2, until=history[-1]) for i in range(2)])  # where a rebuild starts
    rebuilding = duty_lock(settings, REBUILD_LOCK)
    assert rebuilding.acquire()
    try:
        assert elsewhere.projector.catch_up() == 0  # it waits for the rebuild
        assert elsewhere.projector.tracked_position() == REBUILDING
        with pytest.raises(RebuildUnderWay):  # and no second rebuild starts meanwhile
            rebuild(elsewhere, lambda: elsewhere, workers=2)
    finally:
        rebuilding.release()  # the rebuild died

    assert elsewhere.projector.catch_up() == len(history)  # from the start
    assert elsewhere.projector.tracked_position() == history[-1]
    assert rows_of(services.engine) == projected
    assert _parts_left(services) == []


def test_a_part_commits_nothing_once_its_rebuild_was_given_up(
    services: Services, elsewhere: Services, history: list[int]
) -> None:
    parts = [Part(i, 2, until=history[-1]) for i in range(2)]
    services.projector.reset(parts)
    services.projector.reset()  # given up (the rebuild died, and a projector starts over)
    elsewhere.projector.take_part(parts[0])  # a worker left running
    with pytest.raises(ProjectorRace):
        elsewhere.projector.run_once()
    assert rows_of(services.engine, [rm_calls]) == {"rm_calls": []}
    assert _parts_left(services) == []


def test_huying_rebuild_rebuilds_in_parts_and_says_so(
    services: Services, settings: Settings, history: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    projected = rows_of(services.engine)
    monkeypatch.setattr(rebuilding, "IN_PARTS_FROM", 0)  # the history is short
    use_in_env(monkeypatch, settings)
    result = CliRunner().invoke(cli, ["rebuild", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert f"rebuilt from {len(history)} events in" in result.output
    assert "2 processes at once" in result.output
    assert rows_of(services.engine) == projected
    assert services.projector.tracked_position() == history[-1]
