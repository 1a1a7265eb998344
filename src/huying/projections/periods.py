"""Periods of Asia/Shanghai calendar dates (``docs/metrics.md`` §1): the dashboard's buckets, and
the blocks the SLA tallies are kept in — every day, every ISO week and every month — so that any
range of dates is a handful of stored blocks."""

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


def blocks_of(day: date) -> tuple[Block, Block, Block]:
    """The three stored blocks a day belongs to: itself, its ISO week, its month."""
    return (
        (Granularity.DAY, day),
        (Granularity.WEEK, day - timedelta(days=day.weekday())),
        (Granularity.MONTH, day.replace(day=1)),
    )


def cover(first: date, last: date) -> list[Block]:
    """Stored blocks that together hold exactly the days ``first``..``last``, few of them: the
    whole months inside, whole ISO weeks in what is left at either end, days at the edges."""
    return _cover(first, last, Granularity.MONTH)


def _cover(first: date, last: date, granularity: Granularity) -> list[Block]:
    if first > last:
        return []
    if granularity is Granularity.DAY:
        return [(Granularity.DAY, first + timedelta(days=i)) for i in range((last - first).days + 1)]
    finer = Granularity.WEEK if granularity is Granularity.MONTH else Granularity.DAY
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
