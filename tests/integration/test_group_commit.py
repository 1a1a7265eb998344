"""Group commit on each backend's real recorder (``huying.groupcommit``): many saves in one
transaction, each refused alone when it breaks a uniqueness rule, each answered only once
stored — and the application's own recorder is the group-committing one."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import ApplicationRecorder, InfrastructureFactory, IntegrityError, StoredEvent
from eventsourcing.utils import Environment

from huying.bootstrap import Services
from huying.groupcommit import (
    ExpectationUnmet,
    Expecting,
    GroupCommitPostgresRecorder,
    GroupCommitSQLiteRecorder,
    Save,
    grouped,
)
from huying.migrate import upgrade
from huying.settings import Settings

GROUPING = (GroupCommitSQLiteRecorder, GroupCommitPostgresRecorder)


@pytest.fixture
def recorder(settings: Settings, tmp_path: Path) -> Iterator[Any]:
    """A group-committing recorder on the test's backend, in a table of its own: what it stores
    is raw rows, not huying's sealed events."""
    upgrade(settings)  # PostgreSQL: the schema
    env = {**grouped(settings.eventsourcing_env()), "CREATE_TABLE": "y"}
    if "SQLITE_DBNAME" in env:
        env["SQLITE_DBNAME"] = str(tmp_path / "group-commit.db")
    factory = InfrastructureFactory.construct(Environment("grouptest", env))
    made = factory.application_recorder()
    assert isinstance(made, GROUPING)
    yield made
    factory.close()


def event(originator: UUID, version: int, body: str = "") -> StoredEvent:
    return StoredEvent(originator, version, "tests:Happened", (body or f"{originator}:{version}").encode())


def stored(recorder: ApplicationRecorder, originator: UUID) -> list[tuple[int, bytes]]:
    return [(e.originator_version, e.state) for e in recorder.select_events(originator)]


def test_a_refused_save_leaves_the_rest_of_its_group_stored(recorder: Any) -> None:
    a, b, c = uuid4(), uuid4(), uuid4()
    (pos_b,) = recorder.insert_events([event(b, 1)])
    outcomes = recorder._commit_group(
        [
            Save([event(a, 1), event(a, 2)]),
            Save([event(b, 1, "a second version 1 of b")]),
            Save([event(c, 1)]),
        ]
    )
    assert isinstance(outcomes[1], IntegrityError)
    ids_a, ids_c = outcomes[0], outcomes[2]
    assert len(ids_a) == 2 and len(ids_c) == 1 and pos_b < ids_a[0] < ids_a[1] < ids_c[0]
    assert stored(recorder, a) == [(1, f"{a}:1".encode()), (2, f"{a}:2".encode())]
    assert stored(recorder, b) == [(1, f"{b}:1".encode())], "the refused save changed nothing"
    assert stored(recorder, c) == [(1, f"{c}:1".encode())]
    log = recorder.select_notifications(start=pos_b, limit=10)
    assert [(n.id, n.originator_id, n.originator_version) for n in log] == [
        (pos_b, b, 1),
        (ids_a[0], a, 1),
        (ids_a[1], a, 2),
        (ids_c[0], c, 1),
    ]


def test_a_refused_save_alone_stores_none_of_its_events(recorder: Any) -> None:
    """A group of one commits without a savepoint: its own transaction is rolled back whole."""
    a = uuid4()
    recorder.insert_events([event(a, 2)])
    (outcome,) = recorder._commit_group([Save([event(a, 1), event(a, 2, "a second version 2 of a")])])
    assert isinstance(outcome, IntegrityError)
    assert stored(recorder, a) == [(2, f"{a}:2".encode())], "version 1 went in with the refused save"
    with pytest.raises(IntegrityError):
        recorder.insert_events([event(a, 2, "again")])
    assert recorder.insert_events([event(a, 1)]), "the recorder goes on after a refusal"


def test_a_save_is_stored_only_while_what_it_expects_holds(recorder: Any) -> None:
    """``Expecting``: checked in the save's own transaction, alone and in a group; unmet, the
    save stores nothing and its caller hears why, and the rest of its group is stored."""
    edits, a, b = uuid4(), uuid4(), uuid4()
    assert recorder.insert_events([event(a, 1)], expecting=Expecting(edits, 0)), "none yet: version 0"
    recorder.insert_events([event(edits, 1)])
    with pytest.raises(ExpectationUnmet):
        recorder.insert_events([event(a, 2)], expecting=Expecting(edits, 0))
    assert stored(recorder, a) == [(1, f"{a}:1".encode())]
    assert recorder.insert_events([event(a, 2)], expecting=Expecting(edits, 1))

    outcomes = recorder._commit_group(
        [Save([event(a, 3)], Expecting(edits, 0)), Save([event(b, 1)], Expecting(edits, 1))]
    )
    assert isinstance(outcomes[0], ExpectationUnmet) and len(outcomes[1]) == 1
    assert [v for v, _ in stored(recorder, a)] == [1, 2] and [v for v, _ in stored(recorder, b)] == [1]


def test_a_group_that_breaks_no_rule_goes_in_together(recorder: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """One insert and one read of what the saves expect, not a savepoint and a read each: the
    one-by-one path (``_save``) is never taken, and each save still gets its own positions, in
    the group's order."""
    edits, a, b, c = uuid4(), uuid4(), uuid4(), uuid4()
    recorder.insert_events([event(edits, 1)])

    def apart(*_: Any) -> None:
        raise AssertionError("the group went one by one")

    monkeypatch.setattr(recorder, "_save", apart)
    outcomes = recorder._commit_group(
        [
            Save([event(a, 1), event(a, 2)], Expecting(edits, 1)),
            Save([event(b, 1)]),
            Save([event(c, 1)], Expecting(edits, 1)),
        ]
    )
    assert [len(o) for o in outcomes] == [2, 1, 1]
    positions = [p for o in outcomes for p in o]
    assert positions == sorted(positions) and len(set(positions)) == 4
    log = recorder.select_notifications(1, 10)
    by_position = {n.id: (n.originator_id, n.originator_version) for n in log}
    assert [by_position[p] for p in positions] == [(a, 1), (a, 2), (b, 1), (c, 1)]


def test_a_save_expecting_what_another_of_its_group_writes_sees_that_write(recorder: Any) -> None:
    """Saves in a group are judged in order: ahead of a save of the group that writes the next
    edit of the catalog, one expecting that edit is refused (it is not there yet); after it, one
    expecting the edits as they stood before is refused and one expecting the new edit stored."""
    edits, early, a, b = uuid4(), uuid4(), uuid4(), uuid4()
    recorder.insert_events([event(edits, 1)])
    ahead = recorder._commit_group([Save([event(early, 1)], Expecting(edits, 2)), Save([event(edits, 2)])])
    assert isinstance(ahead[0], ExpectationUnmet) and len(ahead[1]) == 1
    after = recorder._commit_group(
        [
            Save([event(edits, 3)]),
            Save([event(a, 1)], Expecting(edits, 2)),
            Save([event(b, 1)], Expecting(edits, 3)),
        ]
    )
    assert len(after[0]) == 1 and isinstance(after[1], ExpectationUnmet) and len(after[2]) == 1
    assert stored(recorder, early) == [] and stored(recorder, a) == []
    assert [v for v, _ in stored(recorder, b)] == [1]
    assert [v for v, _ in stored(recorder, edits)] == [1, 2, 3]


def test_concurrent_saves_each_get_their_own_positions_and_one_version_wins(recorder: Any) -> None:
    """24 threads at once: 20 save calls of their own, 4 race for version 1 of one call (an
    optimistic-concurrency conflict): those 4 get one winner and three IntegrityErrors, and
    the 20 are stored whatever the losers did to their groups."""
    contested = uuid4()
    own = [uuid4() for _ in range(20)]
    answers: dict[str, Sequence[int] | Exception] = {}
    start = threading.Barrier(24)

    def save(name: str, events: list[StoredEvent]) -> None:
        start.wait()
        try:
            answers[name] = recorder.insert_events(events)
        except IntegrityError as e:
            answers[name] = e

    jobs = [(f"own{i}", [event(o, 1), event(o, 2)]) for i, o in enumerate(own)]
    jobs += [(f"race{i}", [event(contested, 1, f"racer {i}")]) for i in range(4)]
    threads = [threading.Thread(target=save, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    racers = [answers[f"race{i}"] for i in range(4)]
    winners = [i for i, r in enumerate(racers) if not isinstance(r, Exception)]
    assert len(winners) == 1 and sum(isinstance(r, IntegrityError) for r in racers) == 3
    assert stored(recorder, contested) == [(1, f"racer {winners[0]}".encode())]
    positions: list[int] = []
    for i, o in enumerate(own):
        ids = answers[f"own{i}"]
        assert not isinstance(ids, Exception) and len(ids) == 2
        assert stored(recorder, o) == [(1, f"{o}:1".encode()), (2, f"{o}:2".encode())]
        positions += ids
    assert len(set(positions)) == 40
    by_position = {n.id: n.originator_id for n in recorder.select_notifications(start=1, limit=100)}
    assert all(by_position[p] in own for p in positions), "each save's positions hold its own events"
    assert recorder.group_commit.groups <= 24


def test_the_application_saves_through_group_commit_and_sqlite_syncs_every_commit(
    services: Services,
) -> None:
    """A commit is durable when answered: on SQLite the WAL is synced at every commit
    (synchronous=FULL) — a 201 survives a power cut, not only a killed process."""
    recorder = services.app.recorder
    assert isinstance(recorder, GROUPING)
    if isinstance(recorder, GroupCommitSQLiteRecorder):
        with recorder.datastore.transaction(commit=False) as c:
            c.execute("PRAGMA synchronous")
            assert c.fetchone()[0] == 2  # FULL
