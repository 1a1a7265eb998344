"""What a process keeps of the spreads it has read is bounded, the least recently used out first."""

from __future__ import annotations

from huying.projections import spread
from huying.queries.spread_memo import SpreadMemo


def blob(*times: float) -> bytes:
    encoded = spread.encode(spread.of_times(times))
    assert encoded is not None
    return encoded


def test_spreads_are_kept_by_digest_within_their_bytes() -> None:
    a, b, c = blob(1, 2, 3), blob(10, 20, 30), blob(100, 200, 300)
    memo = SpreadMemo(spread_bytes=2 * len(a))
    for one in (a, b):
        memo.learn(spread.digest(one) or "", one)
    assert set(memo.spreads([spread.digest(a) or ""])) == {spread.digest(a)}  # a used: b is older
    memo.learn(spread.digest(c) or "", c)
    held = memo.spreads(spread.digest(x) or "" for x in (a, b, c))
    assert set(held) == {spread.digest(a), spread.digest(c)}
    assert spread.summary([held[spread.digest(c) or ""]]) == spread.summary([spread.decode(c)])


def test_a_spread_larger_than_the_memo_is_decoded_but_not_kept() -> None:
    big = blob(*range(1, 500))
    memo = SpreadMemo(spread_bytes=len(big) - 1)
    assert memo.learn("d", big).n == 499
    assert memo.spreads(["d"]) == {}


def test_summaries_are_kept_up_to_their_number() -> None:
    memo = SpreadMemo(summaries=2)
    for parts in (("a", "b"), ("c",), ("d", "e")):
        memo.remember(parts, {"n": len(parts)})
    assert memo.summary(("a", "b")) is None
    assert memo.summary(("c",)) == {"n": 1} and memo.summary(("d", "e")) == {"n": 2}
