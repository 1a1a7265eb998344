"""``KnownEvents``: what a process knows of an aggregate is its whole history or nothing."""

from __future__ import annotations

from typing import NamedTuple
from uuid import UUID, uuid4

from huying.known_events import KnownEvents


class Ev(NamedTuple):
    originator_id: UUID
    originator_version: int


def history(aggregate: UUID, n: int) -> list[Ev]:
    return [Ev(aggregate, v) for v in range(1, n + 1)]


def test_saves_that_follow_on_extend_what_is_known() -> None:
    known, a = KnownEvents(), uuid4()
    known.saved(history(a, 2))
    known.saved([Ev(a, 3)])
    assert known.of(a) == tuple(history(a, 3))


def test_a_save_after_a_gap_forgets_the_aggregate() -> None:
    known, a = KnownEvents(), uuid4()
    known.saved(history(a, 1))
    known.saved([Ev(a, 3)])  # version 2 was stored by someone else
    assert known.of(a) is None
    known.saved([Ev(a, 4)])  # nothing known: only a creation starts a history
    assert known.of(a) is None


def test_an_older_read_never_replaces_a_longer_history() -> None:
    known, a = KnownEvents(), uuid4()
    known.saved(history(a, 3))
    known.read(a, history(a, 2))
    assert known.of(a) == tuple(history(a, 3))
    known.read(a, history(a, 5))
    assert known.of(a) == tuple(history(a, 5))


def test_the_least_lately_used_is_forgotten_first() -> None:
    known = KnownEvents(size=2)
    a, b, c = uuid4(), uuid4(), uuid4()
    known.saved(history(a, 1))
    known.saved(history(b, 1))
    assert known.of(a) is not None  # a is now the latest used
    known.saved(history(c, 1))
    assert known.of(b) is None and known.of(a) is not None and known.of(c) is not None
    assert len(known) == 2
