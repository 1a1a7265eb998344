"""The blocks the SLA tallies are kept in, and how a range of dates is covered by them
(``huying.projections.periods``): exactly its days, each once, with as few blocks as whole
months and ISO weeks allow."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from huying.projections.periods import Granularity, blocks_of, cover, period_of

days = st.dates(min_value=date(1900, 1, 1), max_value=date(9998, 12, 31))


def days_in(blocks: list[tuple[Granularity, date]]) -> list[date]:
    found = []
    for granularity, start in blocks:
        _, first, last = period_of(start, granularity)
        assert first == start, "a block starts its period"
        found += [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return found


@given(first=days, length=st.integers(0, 800))
def test_a_cover_holds_each_day_of_its_range_once(first: date, length: int) -> None:
    last = min(first + timedelta(days=length), date(9998, 12, 31))
    blocks = cover(first, last)
    assert days_in(blocks) == [first + timedelta(days=i) for i in range((last - first).days + 1)]
    months = [b for b in blocks if b[0] is Granularity.MONTH]
    assert len(blocks) <= len(months) + 2 * (4 + 12), "at either end at most 4 weeks and 12 days"


def test_a_year_to_the_first_of_december_is_eleven_months_and_its_edges() -> None:
    blocks = cover(date(2025, 12, 2), date(2026, 12, 1))
    assert [g for g, _ in blocks].count(Granularity.MONTH) == 11  # January to November 2026
    assert blocks[-1] == (Granularity.DAY, date(2026, 12, 1))
    assert len(blocks) == 6 + 3 + 3 + 11 + 1  # Dec 2–7, the weeks of Dec 8, 15, 22, Dec 29–31


def test_a_day_counts_in_its_day_its_week_and_its_month() -> None:
    assert blocks_of(date(2026, 11, 26)) == (
        (Granularity.DAY, date(2026, 11, 26)),
        (Granularity.WEEK, date(2026, 11, 23)),
        (Granularity.MONTH, date(2026, 11, 1)),
    )
