"""Group commit's queue (``huying.groupcommit.GroupCommit``), with a commit of our own that
holds the first group until the others have queued: who commits with whom, and who hears what."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import sqlalchemy.exc
from eventsourcing.persistence import IntegrityError, OperationalError

from huying import groupcommit
from huying.groupcommit import GroupCommit, Outcome

DEADLINE = 10.0


class HeldCommit:
    """A commit that records its groups, holds the first one until released, gives each save
    ids from a counter, and refuses saves named "conflict" (or fails the whole group on
    "broken")."""

    def __init__(self) -> None:
        self.groups: list[list[str]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.next_id = 1

    def __call__(self, saves: list[Sequence[Any]]) -> list[Outcome]:
        names = [str(s[0]) for s in saves]
        self.groups.append(names)
        if len(self.groups) == 1:
            self.entered.set()
            assert self.release.wait(DEADLINE)
        if "broken" in names:
            raise OperationalError("disk I/O error")
        outcomes: list[Outcome] = []
        for name in names:
            if name == "conflict":
                outcomes.append(IntegrityError("UNIQUE constraint failed"))
            else:
                outcomes.append([self.next_id])
                self.next_id += 1
        return outcomes


def submit_in_threads(queue: GroupCommit[Any, Any], names: list[str]) -> dict[str, Any]:
    answers: dict[str, Any] = {}

    def save(name: str) -> None:
        try:
            answers[name] = queue.submit([name])
        except Exception as e:
            answers[name] = e

    threads = [threading.Thread(target=save, args=(n,)) for n in names]
    for t in threads:
        t.start()
    return {"threads": threads, "answers": answers}


def queued(queue: GroupCommit[Any, Any], n: int) -> None:
    """Wait (bounded) until ``n`` saves are queued behind the held commit."""
    pause = threading.Event()
    for _ in range(int(DEADLINE / 0.005)):
        if queue.waiting >= n:
            return
        pause.wait(0.005)
    raise AssertionError(f"{n} saves never queued")


def run(names_first: str, names_after: list[str]) -> tuple[HeldCommit, GroupCommit[Any, Any], dict[str, Any]]:
    commit = HeldCommit()
    queue: GroupCommit[Any, Any] = GroupCommit(commit)
    first = submit_in_threads(queue, [names_first])
    assert commit.entered.wait(DEADLINE)
    rest = submit_in_threads(queue, names_after)
    queued(queue, len(names_after))
    commit.release.set()
    for t in first["threads"] + rest["threads"]:
        t.join(DEADLINE)
    return commit, queue, first["answers"] | rest["answers"]


def test_a_lone_save_commits_in_its_own_thread_at_once() -> None:
    commit = HeldCommit()
    commit.release.set()
    queue: GroupCommit[Any, Any] = GroupCommit(commit)
    assert queue.submit(["alone"]) == [1]
    assert commit.groups == [["alone"]]


def test_saves_arriving_during_a_commit_are_committed_together_by_the_next() -> None:
    commit, _, answers = run("a", ["b", "c", "d", "e"])
    assert commit.groups[0] == ["a"]
    assert len(commit.groups) == 2 and sorted(commit.groups[1]) == ["b", "c", "d", "e"]
    assert sorted(answers[n][0] for n in "abcde") == [1, 2, 3, 4, 5], "each its own position"


def test_a_refused_save_fails_alone_and_the_rest_of_its_group_is_stored() -> None:
    commit, _, answers = run("a", ["b", "conflict", "c"])
    assert isinstance(answers["conflict"], IntegrityError)
    assert all(isinstance(answers[n], list) for n in "abc")
    assert len(commit.groups) == 2


def test_when_the_commit_fails_every_save_of_the_group_hears_it_and_the_next_group_goes_on() -> None:
    _, queue, answers = run("a", ["b", "broken"])
    assert isinstance(answers["b"], OperationalError) and isinstance(answers["broken"], OperationalError)
    assert answers["b"] is not answers["broken"], "each caller raises its own copy"
    assert answers["a"] == [1]
    assert queue.submit(["later"]) == [2], "the queue is free for the next save"


def test_each_save_of_a_failed_group_hears_the_failure_of_its_own_type() -> None:
    """What the commit raised, copied for each save as its type is: SQLAlchemy's IntegrityError
    (which cannot be made again from its ``args``) stays one, for callers that catch it — a
    process making a key another process has just made (``stored_seal_key``)."""
    refused = sqlalchemy.exc.IntegrityError("INSERT", {"ref": "k"}, sqlite3.IntegrityError("UNIQUE"))

    def commit(saves: list[Any]) -> list[Outcome]:
        raise refused

    queue: GroupCommit[Any, Any] = GroupCommit(commit)
    heard = []
    for _ in range(2):
        try:
            queue.submit(["save"])
        except sqlalchemy.exc.IntegrityError as e:
            heard.append(e)
    assert len(heard) == 2 and heard[0] is not heard[1] and refused not in heard
    assert all(e.orig is refused.orig and e.__cause__ is refused for e in heard)


def test_only_a_save_that_waits_its_turn_gets_something_to_wake_it(monkeypatch: Any) -> None:
    """A lone save leads at once, in its own thread: nothing is made for waking it (an event
    costs a lock, a condition and a notify at every save of an idle server)."""
    made: list[threading.Event] = []

    class Counted(threading.Event):
        def __init__(self) -> None:
            super().__init__()
            made.append(self)

    commit = HeldCommit()
    commit.release.set()
    queue: GroupCommit[Any, Any] = GroupCommit(commit)
    # The queue's own threading, events counted (the test's threads make events of their own).
    monkeypatch.setattr(groupcommit, "threading", SimpleNamespace(Lock=threading.Lock, Event=Counted))
    assert queue.submit(["alone"]) == [1]
    assert queue.submit(["alone again"]) == [2]
    assert made == []
    _, _, answers = run("a", ["b", "c"])  # two wait their turn behind a held commit
    assert sorted(answers[n][0] for n in "abc") == [1, 2, 3]
    assert len(made) == 2  # one for each save that waited
