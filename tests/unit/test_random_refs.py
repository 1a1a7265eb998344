"""A record's ref (``record_keys.random_ref``): random but for the millisecond it was made, so
refs made one after another sort together; and which refs history may show (``shown_ref``)."""

from __future__ import annotations

from uuid import NAMESPACE_URL, RFC_4122, UUID, uuid5

import pytest

from huying.domain.contact import shown_ref
from huying.services import record_keys
from huying.services.record_keys import random_ref

MOMENT_MS = 1_796_515_200_123  # 2026-12-05 16:00:00.123 UTC


def test_a_ref_is_a_version_7_uuid_of_the_millisecond_it_was_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(record_keys, "time_ns", lambda: MOMENT_MS * 1_000_000 + 456_789)
    ref = UUID(random_ref())
    assert (ref.version, ref.variant) == (7, RFC_4122)
    assert ref.int >> 80 == MOMENT_MS


def test_refs_of_one_millisecond_are_unrelated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(record_keys, "time_ns", lambda: MOMENT_MS * 1_000_000)
    refs = {random_ref() for _ in range(2_000)}
    assert len(refs) == 2_000
    # Every one of the 74 random bits varies (a counter would leave the high ones alone).
    ints = [UUID(r).int for r in refs]
    rand_a = {i >> 64 & 0xFFF for i in ints}
    rand_b = {i & (1 << 62) - 1 for i in ints}
    assert len(rand_b) == 2_000 and len(rand_a) > 1_000
    for bit in (*range(0, 62), *range(64, 76)):
        assert {i >> bit & 1 for i in ints} == {0, 1}, bit


def test_refs_made_later_sort_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """As text, as the key store and the contacts keep them: a later millisecond's ref sorts
    after an earlier one's, whatever their random bits."""
    made = []
    for ms in (MOMENT_MS, MOMENT_MS + 1, MOMENT_MS + 1_000, MOMENT_MS + 86_400_000):
        monkeypatch.setattr(record_keys, "time_ns", lambda ms=ms: ms * 1_000_000)
        made += [random_ref() for _ in range(50)]
    for i in range(50, len(made)):
        assert made[i] > max(made[: i - i % 50]), i


@pytest.mark.parametrize(
    ("ref", "shown"),
    [
        pytest.param(None, False, id="none"),
        pytest.param("5f0c2a8e-3b1d-4c6f-9a2e-7d4b8c1e0f36", True, id="random, before 2026-12-06"),
        pytest.param("0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b", True, id="random, since"),
        pytest.param(str(uuid5(NAMESPACE_URL, "call|fingerprint")), False, id="derived from the reporter"),
        pytest.param("not a uuid", False, id="not a uuid"),
    ],
)
def test_history_shows_random_refs_only(ref: str | None, shown: bool) -> None:
    assert shown_ref(ref) == (ref if shown else None)
