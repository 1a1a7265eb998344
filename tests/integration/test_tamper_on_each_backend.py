"""防篡改 on every backend: the stored rows changed behind huying's back, through the store's own
table (``backends.raw_events``), in SQL both SQLite and PostgreSQL speak. The SQLite-file tests in
test_audit_chain.py cover more kinds of change in SQLite's own SQL; these show the chain keeper
and the verifier read PostgreSQL's table (notification ids, UUID originators, bytea states) the
same way.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from backends import RawEvents, raw_events
from huying.audit.verify import Tamper
from huying.bootstrap import Services
from huying.settings import Settings

from .chained import assert_break, log_length, verify

__all__ = ["log_length"]  # the fixture, shared (chained.py)


def _flip_a_bit(store: RawEvents, target: int) -> None:
    [(state,)] = store.execute("SELECT state FROM {events} WHERE {position} = ?", (target,))
    flipped = bytearray(state)
    flipped[len(flipped) // 2] ^= 0x01
    store.execute("UPDATE {events} SET state = ? WHERE {position} = ?", (bytes(flipped), target))


def _rename_the_topic(store: RawEvents, target: int) -> None:
    store.execute("UPDATE {events} SET topic = topic || 'X' WHERE {position} = ?", (target,))


def _renumber_the_version(store: RawEvents, target: int) -> None:
    store.execute(
        "UPDATE {events} SET originator_version = originator_version + 1000 WHERE {position} = ?", (target,)
    )


def _delete(store: RawEvents, target: int) -> None:
    store.execute("DELETE FROM {events} WHERE {position} = ?", (target,))


def _swap_with_the_next(store: RawEvents, target: int) -> None:
    store.execute("UPDATE {events} SET {position} = -1 WHERE {position} = ?", (target,))
    store.execute("UPDATE {events} SET {position} = ? WHERE {position} = ?", (target, target + 1))
    store.execute("UPDATE {events} SET {position} = ? WHERE {position} = -1", (target + 1,))


@pytest.mark.parametrize(
    "tamper, kind",
    [
        (_flip_a_bit, Tamper.ALTERED),
        (_rename_the_topic, Tamper.ALTERED),
        (_renumber_the_version, Tamper.ALTERED),
        (_delete, Tamper.MISSING),
        (_swap_with_the_next, Tamper.REORDERED),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else str(v),
)
def test_a_changed_stored_row_is_found_at_its_position(
    services: Services,
    settings: Settings,
    log_length: int,
    tamper: Callable[[RawEvents, int], None],
    kind: Tamper,
) -> None:
    assert verify(services).broken is None, "the untouched log verifies"
    target = log_length // 2
    with raw_events(settings) as store:
        tamper(store, target)
    assert_break(verify(services), target, kind)
