"""What a process keeps of what it read or made is bounded, the least recently used out first;
a history entry is presented once for the very event it shows, and afresh for any other."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from huying.api.present import history_entry
from huying.domain.call import Call
from huying.recently_used import RecentlyUsed


def test_the_least_recently_used_item_goes_first() -> None:
    kept: RecentlyUsed[str, int] = RecentlyUsed(2)
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.get("a") == 1  # a used: b is older
    kept.put("c", 3)
    assert (kept.get("a"), kept.get("b"), kept.get("c")) == (1, None, 3)


def test_an_item_put_again_replaces_the_one_kept_and_its_weight() -> None:
    kept: RecentlyUsed[str, bytes] = RecentlyUsed(10, len)
    kept.put("a", b"12345678")
    kept.put("a", b"12")  # in place of the first: 2 of 10 now held
    kept.put("b", b"12345678")
    assert (kept.get("a"), kept.get("b"), len(kept)) == (b"12", b"12345678", 2)
    kept.put("c", b"x" * 11)  # heavier than the limit: not kept, nothing pushed out
    assert (kept.get("c"), len(kept)) == (None, 2)


def test_an_item_popped_is_handed_over_and_its_weight_let_go() -> None:
    kept: RecentlyUsed[str, bytes] = RecentlyUsed(10, len)
    kept.put("a", b"123456")
    kept.put("b", b"1234")  # 10 of 10 held
    assert (kept.pop("a"), kept.pop("a"), len(kept)) == (b"123456", None, 1)
    kept.put("c", b"123456")  # fits in the 6 let go: b stays
    assert (kept.get("b"), kept.get("c"), len(kept)) == (b"1234", b"123456", 2)
    kept.put("d", b"1")  # 11 of 10: the least recently used (c was read after b) goes
    assert (kept.get("b"), kept.get("c"), kept.get("d")) == (None, b"123456", b"1")


def test_an_item_popped_makes_room_for_another_by_count() -> None:
    kept: RecentlyUsed[str, int] = RecentlyUsed(2)
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.pop("b") == 2 and kept.pop("z") is None
    kept.put("c", 3)  # two kept: nothing pushed out
    assert (kept.get("a"), kept.get("c"), len(kept)) == (1, 3, 2)


def test_asking_whether_an_item_is_kept_does_not_mark_it_used() -> None:
    kept: RecentlyUsed[str, int] = RecentlyUsed(2)
    kept.put("a", 1)
    kept.put("b", 2)
    assert "a" in kept and "z" not in kept
    assert list(kept) == ["a", "b"]  # least recently used first, a still the older
    kept.put("c", 3)
    assert ("a" in kept, "b" in kept, "c" in kept) == (False, True, True)


def test_nothing_is_kept_under_a_limit_below_one_item() -> None:
    kept: RecentlyUsed[str, int] = RecentlyUsed(0)
    kept.put("a", 1)
    assert (kept.get("a"), len(kept)) == (None, 0)


def acknowledged(note: str) -> Call.Acknowledged:
    at = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    actor = {"role": "community", "unit": "LW-LN-01"}
    return Call.Acknowledged(uuid4(), 2, at, actor, at, None, None, note)


def test_a_history_entry_is_presented_once_for_its_event_and_afresh_for_another() -> None:
    first, other = acknowledged("收到"), acknowledged("已到现场")
    entry = history_entry(7, first)
    assert history_entry(7, first) is entry  # the same event read again
    again = history_entry(7, other)  # another event at that position: another store's, say
    assert again.data["note"] == "已到现场" and again.position == 7
    assert history_entry(7, first).data["note"] == "收到"
