"""Periods of Asia/Shanghai calendar dates (``docs/metrics.md`` §1): the dashboard's buckets, and
the blocks the SLA tallies are kept in — every day, every ISO week, every month and every
quarter — so that any range of dates is a handful of stored blocks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum

# China has kept UTC+8 without daylight saving since 1991: a fixed offset is exact, and needs no
# tz database on the host.
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
MAX_BUCKETS = 400


class Granularity(StrEnum):
    DAY = "day"
    WEEK = "week"  # ISO weeks, Monday to Sunday
    MONTH = "month"
    QUARTER = "quarter"  # January–March, April–June, July–September, October–December


@dataclass(frozen=True)
class Bucket:
    """One period of the dashboard: Asia/Shanghai calendar dates, both ends inclusive."""

    period: str
    start: date
    end: date


def local_day(instant: datetime) -> date:
    return instant.astimezone(SHANGHAI).date()


def period_of(day: date, granularity: Granularity) -> tuple[str, date, date]:
    """The calendar period holding ``day``: its label, first and last date."""
    if granularity is Granularity.DAY:
        return day.isoformat(), day, day
    if granularity is Granularity.WEEK:
        year, week, _ = day.isocalendar()
        monday = day - timedelta(days=day.weekday())
        return f"{year}-W{week:02d}", monday, monday + timedelta(days=6)
    if granularity is Granularity.QUARTER:
        quarter = (day.month - 1) // 3
        first = date(day.year, 3 * quarter + 1, 1)
        return f"{first.year}-Q{quarter + 1}", first, _month_end(first.replace(month=3 * quarter + 3))
    first = day.replace(day=1)
    return f"{first.year}-{first.month:02d}", first, _month_end(first)


def _month_end(first: date) -> date:
    if first.year == 9999 and first.month == 12:
        return date.max
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return following - timedelta(days=1)


def buckets(first: date, last: date, granularity: Granularity) -> list[Bucket]:
    """The periods from ``first`` to ``last``, the outer two clipped to the range."""
    found: list[Bucket] = []
    day = first
    while day <= last:
        label, start, end = period_of(day, granularity)
        found.append(Bucket(label, max(start, first), min(end, last)))
        if end == date.max:
            break
        day = end + timedelta(days=1)
    return found


def utc_span(first: date, last: date) -> tuple[datetime, datetime]:
    """[local midnight starting ``first``, local midnight after ``last``), as instants."""
    start = datetime.combine(first, time(), SHANGHAI)
    end = datetime.combine(last, time(), SHANGHAI) + timedelta(days=1)
    return start, end


# --- the blocks the tallies are kept in --------------------------------------------------------

Block = tuple[Granularity, date]  # the kind of block, and its first day


def blocks_of(day: date) -> tuple[Block, Block, Block, Block]:
    """The four stored blocks a day belongs to: itself, its ISO week, its month, its quarter."""
    return (
        (Granularity.DAY, day),
        (Granularity.WEEK, day - timedelta(days=day.weekday())),
        (Granularity.MONTH, day.replace(day=1)),
        (Granularity.QUARTER, period_of(day, Granularity.QUARTER)[1]),
    )


# Each kind of block, and the next finer kind that fills what it leaves at a range's ends.
_FINER = {
    Granularity.QUARTER: Granularity.MONTH,
    Granularity.MONTH: Granularity.WEEK,
    Granularity.WEEK: Granularity.DAY,
}


def cover(first: date, last: date) -> list[Block]:
    """Stored blocks that together hold exactly the days ``first``..``last``, few of them: the
    whole quarters inside, whole months in what is left at either end, then whole ISO weeks,
    days at the edges. (A year by month reads three quarters' spreads instead of nine months'.)"""
    return _cover(first, last, Granularity.QUARTER)


def _cover(first: date, last: date, granularity: Granularity) -> list[Block]:
    if first > last:
        return []
    if granularity is Granularity.DAY:
        return [(Granularity.DAY, first + timedelta(days=i)) for i in range((last - first).days + 1)]
    finer = _FINER[granularity]
    _, start, end = period_of(first, granularity)
    inside = first if start == first else end + timedelta(days=1)  # the first whole period's first day
    whole: list[Block] = []
    while inside <= last and (end := period_of(inside, granularity)[2]) <= last:
        whole.append((granularity, inside))
        if end == date.max:
            break
        inside = end + timedelta(days=1)
    if not whole:
        return _cover(first, last, finer)
    head_end = whole[0][1] - timedelta(days=1)
    return [*_cover(first, head_end, finer), *whole, *_cover(inside, last, finer)]
