"""防篡改: tampering with the event store by hand is caught and located; a clean store verifies.

A random history of calls is written through the application and chained by the keeper; then
the event store is edited behind huying's back (``tests/tampering.py``), as someone with the
database would: one event's bytes altered, one deleted, two swapped, one slipped in, the tail
cut off (from the log alone, and from the log and the chain table together, which only a
checkpoint kept elsewhere reveals). Each must be reported at the right position with the right
kind. (Events beyond the chained head, and forged rows: ``test_event_seals``.)
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, select, update
from typer.testing import CliRunner

from backends import use_in_env
from huying.audit.checkpoints import Checkpoint, stored
from huying.audit.links import GENESIS, extend
from huying.audit.log import StoredRow
from huying.audit.tables import audit_chain, audit_checkpoints
from huying.audit.verify import Tamper
from huying.bootstrap import Services
from huying.cli import cli
from huying.clock import FakeClock
from huying.domain.principal import Principal, Role
from huying.projections.chain import TRACKING_NAME, ChainKeeper, ChainRace
from huying.projections.tables import projection_tracking
from huying.service_layer.calls import CallDraft
from huying.service_layer.command_path import Submission
from huying.settings import Settings
from tampering import events_of

from .chained import assert_break, log_length, verify
from .histories import Shape, drive

__all__ = ["log_length"]  # the fixture, shared

GRID = "LW-LN-01-G01"


# --- a clean store ---------------------------------------------------------------------------


def test_an_untouched_log_verifies_ok(services: Services, log_length: int) -> None:
    report = verify(services)
    assert report.ok, report.broken
    assert report.checked == report.log_head == report.chained_through == log_length
    assert report.unchained == 0
    assert report.checkpoints_checked == len(stored(services.engine)) > 0


def test_events_written_after_the_chained_head_are_reported_as_not_yet_chained(
    services: Services, clock: FakeClock, log_length: int
) -> None:
    drive(services, clock, random.Random(7), Shape.tame(calls=2, concurrency=2))
    report = verify(services)
    assert report.ok
    assert report.chained_through == log_length
    assert report.unchained == report.log_head - log_length > 0
    services.chain.catch_up()
    assert verify(services).unchained == 0


def test_chaining_in_small_batches_gives_the_same_links_as_in_one(
    services: Services, log_length: int
) -> None:
    other = ChainKeeper(services.app, services.engine, services.clock, batch_size=7)
    with services.engine.begin() as conn:
        before = [tuple(r) for r in conn.execute(select(audit_chain).order_by(audit_chain.c.position))]
        conn.execute(delete(audit_chain))
        conn.execute(delete(audit_checkpoints))
        conn.execute(delete(projection_tracking).where(projection_tracking.c.name == TRACKING_NAME))
    assert other.catch_up() == log_length
    with services.engine.connect() as conn:
        after = [tuple(r) for r in conn.execute(select(audit_chain).order_by(audit_chain.c.position))]
    assert after == before
    assert other.head() == (log_length, before[-1][-1])


def test_two_keepers_on_the_same_batch_chain_it_once(
    services: Services, clock: FakeClock, log_length: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows and tracking go together: the keeper that loses the race leaves no row behind."""
    drive(services, clock, random.Random(5), Shape.tame(calls=3, concurrency=3))
    head = services.app.recorder.max_notification_id()
    second = ChainKeeper(services.app, services.engine, clock)
    read = second.log.page

    def page_while_the_other_commits(after: int, upto: int, limit: int) -> list[StoredRow]:
        services.chain.run_once()  # the other keeper chains this very batch first
        return read(after, upto, limit)

    monkeypatch.setattr(second.log, "page", page_while_the_other_commits)
    with pytest.raises(ChainRace):
        second.run_once()
    with services.engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(audit_chain)).scalar()
    assert rows == services.chain.tracked_position() == log_length + 10
    services.chain.catch_up()
    assert services.chain.tracked_position() == head
    assert verify(services).ok


def test_rebuilding_the_read_models_leaves_the_chain_alone(
    services: Services, settings: Settings, log_length: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    with services.engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(audit_chain)).scalar()
    use_in_env(monkeypatch, settings)
    result = CliRunner().invoke(cli, ["rebuild"])
    assert result.exit_code == 0, result.output
    with services.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit_chain)).scalar() == before == log_length
    assert services.chain.tracked_position() == log_length
    assert verify(services).ok


def test_checkpoints_are_taken_every_so_many_positions(services: Services, log_length: int) -> None:
    kept = stored(services.engine)
    assert [c.position for c in kept] == list(range(40, log_length + 1, 40))
    with services.engine.connect() as conn:
        links = {r.position: r.link for r in conn.execute(select(audit_chain))}
    assert all(links[c.position] == c.link for c in kept)


def test_checkpoints_are_also_taken_after_enough_wall_clock_time(
    services: Services, clock: FakeClock, log_length: int
) -> None:
    """Checkpoint times are real (wall-clock) time: the business clock moving does not count."""
    wall = services.chain.clock
    assert isinstance(wall, FakeClock)
    services.chain.checkpoint_seconds = 3600
    last = stored(services.engine)[-1]
    assert log_length - last.position < 39
    clock.advance(7200)  # business time alone
    raise_a_call(services)
    services.chain.catch_up()
    assert stored(services.engine)[-1] == last, "neither 40 positions nor an hour have passed"
    wall.advance(3600)
    raise_a_call(services)
    services.chain.catch_up()
    newest = stored(services.engine)[-1]
    assert (newest.position, newest.at) == (log_length + 2, wall.now())
    assert newest.at != clock.now()


def raise_a_call(services: Services) -> None:
    draft = CallDraft(
        item_code="C01-01", grid_code=GRID, title="井盖松动", description="井盖一侧翘起", channel="hotline"
    )
    services.calls.raise_call(Principal(Role.GRID_WORKER, GRID), draft, Submission())


# --- tampering, each kind at its position ------------------------------------------------------


@pytest.mark.parametrize("change", ["quotes", "a byte appended", "topic", "version"])
def test_altering_one_stored_event_is_found_at_its_position(
    services: Services, settings: Settings, log_length: int, change: str
) -> None:
    events, target = events_of(settings), log_length // 2
    was = events.at(target)
    if change == "quotes":  # one kind of byte swapped for another
        events.rewrite(target, state=was.state.replace(b'"', b"'"))
    elif change == "a byte appended":
        events.rewrite(target, state=was.state + b" ")
    elif change == "topic":  # pick an event whose topic the change does change
        target = events.first("Acknowledged", after=log_length // 3)
        events.rewrite(target, topic=events.at(target).topic.replace("Acknowledged", "Resolved"))
    else:
        events.rewrite(target, version=was.version + 1000)
    assert_break(verify(services), target, Tamper.ALTERED)


@pytest.mark.sqlite_only(reason="a state stored as TEXT: a type PostgreSQL's bytea cannot hold")
def test_a_state_stored_as_another_type_is_found(
    services: Services, settings: Settings, log_length: int
) -> None:
    target = log_length // 2
    events_of(settings).state_as_text(target)
    assert_break(verify(services), target, Tamper.ALTERED)


def test_flipping_a_single_bit_is_found(services: Services, settings: Settings, log_length: int) -> None:
    target, events = log_length - 3, events_of(settings)
    flipped = bytearray(events.at(target).state)
    flipped[len(flipped) // 2] ^= 0x01
    events.rewrite(target, state=bytes(flipped))
    report = verify(services)
    assert_break(report, target, Tamper.ALTERED)
    assert report.broken is not None and report.broken.intact_through == target - 1


def test_deleting_one_event_is_found_as_missing(
    services: Services, settings: Settings, log_length: int
) -> None:
    target = log_length // 3
    events_of(settings).delete(target)
    assert_break(verify(services), target, Tamper.MISSING)


def test_deleting_the_first_event_is_found(services: Services, settings: Settings, log_length: int) -> None:
    events_of(settings).delete(1)
    assert_break(verify(services), 1, Tamper.MISSING)


@pytest.mark.parametrize("gap", [1, 25])
def test_swapping_two_events_is_found_as_reordered(
    services: Services, settings: Settings, log_length: int, gap: int
) -> None:
    first = log_length // 2
    second = first + gap
    events_of(settings).swap(first, second)
    report = verify(services)
    assert_break(report, first, Tamper.REORDERED)
    assert report.broken is not None and f"chained at position {second}" in report.broken.detail


def test_moving_an_event_to_the_end_is_found_at_the_place_it_left(
    services: Services, settings: Settings, log_length: int
) -> None:
    target = log_length // 4
    events_of(settings).move(target, log_length + 1)
    report = verify(services)
    assert_break(report, target, Tamper.REORDERED)
    assert report.broken is not None and f"now lies at {log_length + 1}" in report.broken.detail


def test_an_event_slipped_in_among_chained_ones_is_found_as_extra(
    services: Services, settings: Settings, log_length: int
) -> None:
    target, events = log_length // 2, events_of(settings)
    model = events.at(target - 1)
    last = events.last_version(model.originator_id)
    events.insert(model.originator_id, last + 1, model.topic, model.state, at=target)
    assert_break(verify(services), target, Tamper.EXTRA)


def test_cutting_off_the_tail_is_found_as_truncated(
    services: Services, settings: Settings, log_length: int
) -> None:
    keep = log_length - 12
    events_of(settings).cut_after(keep)
    report = verify(services)
    assert_break(report, keep + 1, Tamper.TRUNCATED)
    assert report.broken is not None and report.broken.intact_through == keep


def cut_log_and_chain(
    services: Services, settings: Settings, keep: int, checkpoints_too: bool = True
) -> None:
    """A thorough forger: the log's tail, and every trace of it in the chain table."""
    events_of(settings).cut_after(keep)
    with services.engine.begin() as conn:
        conn.execute(delete(audit_chain).where(audit_chain.c.position > keep))
        if checkpoints_too:
            conn.execute(delete(audit_checkpoints).where(audit_checkpoints.c.position > keep))
        conn.execute(
            update(projection_tracking)
            .where(projection_tracking.c.name == TRACKING_NAME)
            .values(position=keep)
        )


def test_a_tail_cut_from_log_and_chain_but_not_the_stored_checkpoints_is_truncated(
    services: Services, settings: Settings, log_length: int
) -> None:
    keep = stored(services.engine)[0].position + 5
    cut_log_and_chain(services, settings, keep, checkpoints_too=False)
    report = verify(services)
    assert_break(report, keep + 1, Tamper.TRUNCATED)
    assert report.broken is not None and "a stored checkpoint vouches" in report.broken.detail


def test_a_tail_cut_from_log_and_chain_is_found_by_a_checkpoint_kept_elsewhere(
    services: Services, settings: Settings, log_length: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_in_env(monkeypatch, settings)
    runner = CliRunner()
    kept = tmp_path / "checkpoints.jsonl"
    exported = runner.invoke(cli, ["audit", "checkpoints", "--out", str(kept)])
    assert exported.exit_code == 0, exported.output
    lines = [json.loads(line) for line in kept.read_text().splitlines()]
    assert lines[-1] == {**lines[-1], "position": log_length, "head": True}

    keep = stored(services.engine)[0].position + 5
    cut_log_and_chain(services, settings, keep)
    assert verify(services).ok, "without a checkpoint kept elsewhere the cut is invisible"

    result = runner.invoke(cli, ["audit", "verify", "--checkpoints", str(kept)])
    assert result.exit_code == 1, result.output
    assert f"BROKEN at position {keep + 1}: truncated" in result.output
    given = [Checkpoint(line["position"], line["link"]) for line in lines]
    assert_break(verify(services, given), keep + 1, Tamper.TRUNCATED)


def test_an_event_altered_under_a_recomputed_chain_is_found_by_its_seal(
    services: Services, settings: Settings, log_length: int
) -> None:
    """Alter an event and recompute the chain table over it, as anyone can: its seal, which
    takes the key to make, still gives it away — and so does a checkpoint kept elsewhere."""
    kept = stored(services.engine)
    target, events = kept[0].position - 3, events_of(settings)
    events.rewrite(target, state=events.at(target).state + b" ")
    recompute_chain(services)
    assert_break(verify(services), target, Tamper.ALTERED)
    assert_break(verify(services, kept), target, Tamper.ALTERED)
    assert "seal" in str(verify(services).broken)


def recompute_chain(services: Services) -> None:
    """A forger's chain table: the public arithmetic over the log as it now is."""
    rows = [row for page in services.chain.log.rows(0, services.chain.log.head()) for row in page]
    with services.engine.begin() as conn:
        conn.execute(delete(audit_chain))
        conn.execute(delete(audit_checkpoints))
        conn.execute(insert(audit_chain), [asdict(link) for link in extend(GENESIS, rows)])
        conn.execute(
            update(projection_tracking)
            .where(projection_tracking.c.name == TRACKING_NAME)
            .values(position=rows[-1].position)
        )


def test_the_cli_says_ok_or_names_the_break(
    services: Services, settings: Settings, log_length: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_in_env(monkeypatch, settings)
    runner = CliRunner()
    clean = runner.invoke(cli, ["audit", "verify"])
    assert clean.exit_code == 0, clean.output
    assert f"OK: {log_length} events vouched for, matching the hash chain" in clean.output
    events_of(settings).delete(17)
    broken = runner.invoke(cli, ["audit", "verify", "--json"])
    assert broken.exit_code == 1
    verdict = json.loads(broken.stdout[broken.stdout.index("{") :])
    assert verdict["ok"] is False
    assert verdict["break"]["position"] == 17 and verdict["break"]["kind"] == "missing"
