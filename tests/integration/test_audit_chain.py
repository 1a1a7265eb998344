"""防篡改: tampering with the event store by hand is caught and located; a clean store verifies.

A random history of calls is written through the application and chained by the keeper; then
the SQLite event file (``<data_dir>/huying.events.db``, table ``stored_events``, rowid = log
position) is edited directly, as someone with the file would: one event's bytes altered, one
deleted, two swapped, one slipped in, the tail cut off (from the log alone, and from the log and
the chain table together, which only a checkpoint kept elsewhere reveals). Each must be
reported at the right position with the right kind.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update
from typer.testing import CliRunner

from backends import use_in_env
from huying.application import CallDraft, Submission
from huying.audit.chain import TRACKING_NAME, ChainKeeper, ChainRace
from huying.audit.checkpoints import Checkpoint, stored
from huying.audit.log import StoredRow
from huying.audit.tables import audit_chain, audit_checkpoints
from huying.audit.verify import Report, Tamper, Verifier
from huying.bootstrap import Services
from huying.cli import cli
from huying.clock import FakeClock
from huying.domain.principal import Principal, Role
from huying.projections.tables import projection_tracking
from huying.settings import Settings

from .histories import Shape, drive

GRID = "LW-LN-01-G01"


@pytest.fixture
def log_length(services: Services, clock: FakeClock) -> int:
    """A history of 25 calls (≈ 180 events), chained ten at a time, a checkpoint every 40."""
    services.chain.checkpoint_every = 40
    services.chain.checkpoint_seconds = 10**9
    services.chain.batch_size = 10
    drive(services.app, clock, random.Random(6), Shape.tame(calls=25, concurrency=6))
    services.chain.catch_up()
    head = services.app.recorder.max_notification_id()
    assert head > 150
    return int(head)


# These tests edit the stored rows in SQLite's own SQL (rowid, X'..' blobs, CAST AS BLOB);
# test_tamper_on_each_backend.py makes the same kinds of change on every backend.
SQLITE_FILE = pytest.mark.sqlite_only(reason="tampers with the SQLite event file in SQLite's SQL")


@contextmanager
def event_file(settings: Settings) -> Iterator[sqlite3.Connection]:
    """The event store's SQLite file, opened behind huying's back."""
    db = sqlite3.connect(settings.data_dir / "huying.events.db")
    try:
        with db:
            yield db
    finally:
        db.close()


def verify(services: Services, given: list[Checkpoint] | None = None) -> Report:
    return Verifier(services.chain.log, services.engine, batch=37).verify(given or [])


def assert_break(report: Report, position: int, kind: Tamper) -> None:
    assert report.broken is not None, f"expected {kind} at {position}, the log verified OK"
    assert (report.broken.position, report.broken.kind) == (position, kind), report.broken
    assert report.broken.intact_through < position


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
    drive(services.app, clock, random.Random(7), Shape.tame(calls=2, concurrency=2))
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
    drive(services.app, clock, random.Random(5), Shape.tame(calls=3, concurrency=3))
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


def test_checkpoints_are_also_taken_after_enough_business_time(
    services: Services, clock: FakeClock, log_length: int
) -> None:
    services.chain.checkpoint_seconds = 3600
    last = stored(services.engine)[-1]
    assert log_length - last.position < 39
    raise_a_call(services)
    services.chain.catch_up()
    assert stored(services.engine)[-1] == last, "neither 40 positions nor an hour have passed"
    clock.advance(3600)
    raise_a_call(services)
    services.chain.catch_up()
    newest = stored(services.engine)[-1]
    assert (newest.position, newest.at) == (log_length + 2, clock.now())


def raise_a_call(services: Services) -> None:
    draft = CallDraft(
        item_code="C01-01", grid_code=GRID, title="井盖松动", description="井盖一侧翘起", channel="hotline"
    )
    services.app.raise_call(Principal(Role.GRID_WORKER, GRID), draft, Submission())


# --- tampering, each kind at its position ------------------------------------------------------


@pytest.mark.parametrize(
    "column, change",
    [
        ("state", "CAST(replace(state, X'22', X'27') AS BLOB)"),  # one kind of byte swapped for another
        ("state", "state || X'20'"),  # a byte appended (stored as another type, even)
        ("topic", "replace(topic, 'Acknowledged', 'Resolved')"),
        ("originator_version", "originator_version + 1000"),
    ],
)
@SQLITE_FILE
def test_altering_one_stored_event_is_found_at_its_position(
    services: Services, settings: Settings, log_length: int, column: str, change: str
) -> None:
    target = log_length // 2
    with event_file(settings) as db:
        if column == "topic":  # pick an event whose topic the change does change
            target = db.execute(
                "SELECT rowid FROM stored_events WHERE topic LIKE '%Acknowledged' AND rowid > ? LIMIT 1",
                (log_length // 3,),
            ).fetchone()[0]
        db.execute(f"UPDATE stored_events SET {column} = {change} WHERE rowid = ?", (target,))
    assert_break(verify(services), target, Tamper.ALTERED)


@SQLITE_FILE
def test_flipping_a_single_bit_is_found(services: Services, settings: Settings, log_length: int) -> None:
    target = log_length - 3
    with event_file(settings) as db:
        (state,) = db.execute("SELECT state FROM stored_events WHERE rowid = ?", (target,)).fetchone()
        flipped = bytearray(state)
        flipped[len(flipped) // 2] ^= 0x01
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (bytes(flipped), target))
    report = verify(services)
    assert_break(report, target, Tamper.ALTERED)
    assert report.broken is not None and report.broken.intact_through == target - 1


@SQLITE_FILE
def test_deleting_one_event_is_found_as_missing(
    services: Services, settings: Settings, log_length: int
) -> None:
    target = log_length // 3
    with event_file(settings) as db:
        db.execute("DELETE FROM stored_events WHERE rowid = ?", (target,))
    assert_break(verify(services), target, Tamper.MISSING)


@SQLITE_FILE
def test_deleting_the_first_event_is_found(services: Services, settings: Settings, log_length: int) -> None:
    with event_file(settings) as db:
        db.execute("DELETE FROM stored_events WHERE rowid = 1")
    assert_break(verify(services), 1, Tamper.MISSING)


@pytest.mark.parametrize("gap", [1, 25])
@SQLITE_FILE
def test_swapping_two_events_is_found_as_reordered(
    services: Services, settings: Settings, log_length: int, gap: int
) -> None:
    first = log_length // 2
    second = first + gap
    with event_file(settings) as db:
        db.execute("UPDATE stored_events SET rowid = -1 WHERE rowid = ?", (first,))
        db.execute("UPDATE stored_events SET rowid = ? WHERE rowid = ?", (first, second))
        db.execute("UPDATE stored_events SET rowid = ? WHERE rowid = -1", (second,))
    report = verify(services)
    assert_break(report, first, Tamper.REORDERED)
    assert report.broken is not None and f"chained at position {second}" in report.broken.detail


@SQLITE_FILE
def test_moving_an_event_to_the_end_is_found_at_the_place_it_left(
    services: Services, settings: Settings, log_length: int
) -> None:
    target = log_length // 4
    with event_file(settings) as db:
        db.execute("UPDATE stored_events SET rowid = ? WHERE rowid = ?", (log_length + 1, target))
    report = verify(services)
    assert_break(report, target, Tamper.REORDERED)
    assert report.broken is not None and f"now lies at {log_length + 1}" in report.broken.detail


@SQLITE_FILE
def test_an_event_slipped_in_among_chained_ones_is_found_as_extra(
    services: Services, settings: Settings, log_length: int
) -> None:
    target = log_length // 2
    with event_file(settings) as db:
        oid, _, topic, state = db.execute(
            "SELECT originator_id, originator_version, topic, state FROM stored_events WHERE rowid = ?",
            (target - 1,),
        ).fetchone()
        (last,) = db.execute(
            "SELECT MAX(originator_version) FROM stored_events WHERE originator_id = ?", (oid,)
        ).fetchone()
        # Make room at ``target`` (the log's positions have no holes), then forge an event there.
        db.execute("UPDATE stored_events SET rowid = rowid + 1000000 WHERE rowid >= ?", (target,))
        db.execute("UPDATE stored_events SET rowid = rowid - 999999 WHERE rowid > 1000000")
        db.execute(
            "INSERT INTO stored_events (rowid, originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?, ?)",
            (target, oid, last + 1, topic, state),
        )
    assert_break(verify(services), target, Tamper.EXTRA)


@SQLITE_FILE
def test_cutting_off_the_tail_is_found_as_truncated(
    services: Services, settings: Settings, log_length: int
) -> None:
    keep = log_length - 12
    with event_file(settings) as db:
        db.execute("DELETE FROM stored_events WHERE rowid > ?", (keep,))
    report = verify(services)
    assert_break(report, keep + 1, Tamper.TRUNCATED)
    assert report.broken is not None and report.broken.intact_through == keep


def cut_log_and_chain(
    services: Services, settings: Settings, keep: int, checkpoints_too: bool = True
) -> None:
    """A thorough forger: the log's tail, and every trace of it in the chain table."""
    with event_file(settings) as db:
        db.execute("DELETE FROM stored_events WHERE rowid > ?", (keep,))
    with services.engine.begin() as conn:
        conn.execute(delete(audit_chain).where(audit_chain.c.position > keep))
        if checkpoints_too:
            conn.execute(delete(audit_checkpoints).where(audit_checkpoints.c.position > keep))
        conn.execute(
            update(projection_tracking)
            .where(projection_tracking.c.name == TRACKING_NAME)
            .values(position=keep)
        )


@SQLITE_FILE
def test_a_tail_cut_from_log_and_chain_but_not_the_stored_checkpoints_is_truncated(
    services: Services, settings: Settings, log_length: int
) -> None:
    keep = stored(services.engine)[0].position + 5
    cut_log_and_chain(services, settings, keep, checkpoints_too=False)
    report = verify(services)
    assert_break(report, keep + 1, Tamper.TRUNCATED)
    assert report.broken is not None and "a stored checkpoint vouches" in report.broken.detail


@SQLITE_FILE
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


@SQLITE_FILE
def test_events_and_chain_rewritten_together_are_found_by_a_checkpoint(
    services: Services, settings: Settings, log_length: int
) -> None:
    """Alter an event and recompute the chain table over it: only a checkpoint kept elsewhere
    still holds the old link."""
    kept = stored(services.engine)
    target = kept[0].position - 3
    with event_file(settings) as db:
        db.execute("UPDATE stored_events SET state = state || X'20' WHERE rowid = ?", (target,))
    with services.engine.begin() as conn:
        conn.execute(delete(audit_chain))
        conn.execute(delete(audit_checkpoints))
        conn.execute(delete(projection_tracking).where(projection_tracking.c.name == TRACKING_NAME))
    services.chain.catch_up()
    assert verify(services).ok
    report = verify(services, kept)
    assert_break(report, kept[0].position, Tamper.ALTERED)


@SQLITE_FILE
def test_the_cli_says_ok_or_names_the_break(
    services: Services, settings: Settings, log_length: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_in_env(monkeypatch, settings)
    runner = CliRunner()
    clean = runner.invoke(cli, ["audit", "verify"])
    assert clean.exit_code == 0, clean.output
    assert f"OK: {log_length} events match the hash chain" in clean.output
    with event_file(settings) as db:
        db.execute("DELETE FROM stored_events WHERE rowid = 17")
    broken = runner.invoke(cli, ["audit", "verify", "--json"])
    assert broken.exit_code == 1
    verdict = json.loads(broken.stdout[broken.stdout.index("{") :])
    assert verdict["ok"] is False
    assert verdict["break"]["position"] == 17 and verdict["break"]["kind"] == "missing"
