"""Working time (工作时间) on the Chinese official calendar: pure arithmetic, no clock reads.

Working days follow the State Council's holiday schedule — public holidays off, 调休 make-up
days on — as published in the ``chinese-calendar`` package, plus a local override file for
district holidays and a year announced after the package was released. A year nobody has data
for falls back to Monday–Friday: huying never refuses a date.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 上午 08:30–12:00, 下午 14:00–17:30: seven working hours a day.
DEFAULT_HOURS = ((time(8, 30), time(12, 0)), (time(14, 0), time(17, 30)))
_MAX_DAYS_SCANNED = 366 * 20  # bounds every loop: amounts are hours and days, never decades
_DAYS_KEPT = 366 * 40  # days whose periods a calendar keeps worked out (a few MB at most)
_SPANS_KEPT = 4096  # clocks whose working time a calendar keeps (start, end → amount)


class CalendarFileError(ValueError):
    """The override file cannot be read; start-up stops with this message."""


@dataclass(frozen=True)
class DayRules:
    """Which dates are exceptions to Monday–Friday, and which years the rules cover fully."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    known_years: frozenset[int] = frozenset()

    def merged(self, other: DayRules) -> DayRules:
        """``other`` wins where both speak of a date (a local file overrides the package)."""
        return DayRules(
            holidays=(self.holidays - other.workdays) | other.holidays,
            workdays=(self.workdays - other.holidays) | other.workdays,
            known_years=self.known_years | other.known_years,
        )


def official_rules() -> DayRules:
    """The State Council schedule as shipped by ``chinese-calendar``."""
    import chinese_calendar

    holidays = frozenset(chinese_calendar.holidays)
    return DayRules(
        holidays=holidays,
        workdays=frozenset(chinese_calendar.workdays),
        known_years=frozenset(d.year for d in holidays),
    )


def rules_from_file(path: Path) -> DayRules:
    """``{"years": [2027], "holidays": ["2027-01-01", …], "workdays": ["2027-02-07", …]}``.

    ``years`` lists the years the file describes in full (so they need no fallback); a file may
    also add single local holidays to a year the package already knows.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        rules = DayRules(
            holidays=frozenset(date.fromisoformat(d) for d in data.get("holidays", [])),
            workdays=frozenset(date.fromisoformat(d) for d in data.get("workdays", [])),
            known_years=frozenset(int(y) for y in data.get("years", [])),
        )
    except (OSError, ValueError, TypeError, AttributeError) as e:
        raise CalendarFileError(f"calendar file {path}: {e}") from None
    if clash := rules.holidays & rules.workdays:
        raise CalendarFileError(f"calendar file {path}: both holiday and workday: {sorted(clash)[0]}")
    return rules


@dataclass(frozen=True, slots=True)
class _Day:
    """One date's working periods as instants in UTC (none on a day off), and their length:
    an instant compared with, or taken from, another of the same zone is plain arithmetic, where
    one in the calendar's zone asked that zone for its offset at every step."""

    periods: tuple[tuple[datetime, datetime], ...]
    work: timedelta


_ONE_DAY = timedelta(days=1)
_NONE = timedelta(0)


@dataclass
class WorkCalendar:
    rules: DayRules = field(default_factory=DayRules)
    hours: tuple[tuple[time, time], ...] = DEFAULT_HOURS
    tz: ZoneInfo = SHANGHAI
    _warned: set[int] = field(default_factory=set, repr=False)
    # Each day's working periods as instants, worked out once: every clock and every step's
    # timing walks them, a tenth of the synthetic history's writing when made afresh each time.
    _days: dict[date, _Day] = field(default_factory=dict, init=False, repr=False, compare=False)
    # The working time of the latest clocks, by their start and due instants: a clock's is asked
    # again and again (its "due soon" point, the time left at its start) and is the amount that
    # set its due time in the first place (``add``). A raise's answer asked it four times.
    _spans: dict[tuple[datetime, datetime], timedelta] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for start, end in self.hours:
            if not start < end:
                raise ValueError(f"working period {start}–{end} is empty")
        if any(a[1] > b[0] for a, b in zip(self.hours, self.hours[1:], strict=False)):
            raise ValueError("working periods must be in order and not overlap")

    # --- days --------------------------------------------------------------------------

    def knows_year(self, year: int) -> bool:
        return year in self.rules.known_years

    def is_workday(self, day: date) -> bool:
        if day in self.rules.holidays:
            return False
        if day in self.rules.workdays:
            return True
        if not self.knows_year(day.year) and day.year not in self._warned:
            self._warned.add(day.year)
            log.warning("no holiday data for %s: counting Monday–Friday as working days", day.year)
        return day.weekday() < 5

    # --- working time --------------------------------------------------------------------
    #
    # Each walks the working periods from its start: those of the start's own day one by one
    # (from the start on), then whole days at a time — a day is added (or passed over) by its
    # length, and only the day where the walk ends is looked into period by period. A clock of
    # a few working days costs a few dictionary lookups, not a step per period.

    @property
    def day_length(self) -> timedelta:
        return sum((_span(a, b) for a, b in self.hours), timedelta())

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The instant when ``amount`` of working time after ``start`` has passed.

        A clock started out of hours (at night, on a Sunday) starts at the next working
        period; a zero amount gives ``start`` itself.
        """
        if amount <= _NONE:
            return start
        end = self._after(start, amount).astimezone(start.tzinfo)
        self._keep_span(start, end, amount)  # the walk from start to end would find amount
        return end

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from ``start`` to ``end`` (negative when ``end`` comes first)."""
        if end < start:
            return -self.between(end, start)
        known = self._spans.get((start, end))  # aware instants: equal across zones, hashed alike
        if known is None:
            known = self._walked(start, end)
            self._keep_span(start, end, known)
        return known

    def _keep_span(self, start: datetime, end: datetime, amount: timedelta) -> None:
        if len(self._spans) >= _SPANS_KEPT:
            self._spans.clear()
        self._spans[start, end] = amount

    def _walked(self, start: datetime, end: datetime) -> timedelta:
        """``between`` for ``start`` ≤ ``end``, walked period by period."""
        day = start.astimezone(self.tz).date()
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        total = _NONE
        for begin, stop in self._day(day).periods:
            if stop <= start:
                continue
            begin = max(begin, start)
            if begin >= end:
                return total
            total += min(stop, end) - begin
        # The days after the start's, up to the end's: all but the last are worked in full.
        days = min((end.astimezone(self.tz).date() - day).days, _MAX_DAYS_SCANNED - 1)
        for n in range(days):
            day += _ONE_DAY
            worked = self._day(day)
            if n < days - 1:
                total += worked.work
                continue
            for begin, stop in worked.periods:
                if begin >= end:
                    break
                total += min(stop, end) - begin
        return total

    def point_between(self, start: datetime, end: datetime, share: float) -> datetime:
        """The instant when ``share`` of the working time from ``start`` to ``end`` has passed
        (what "80% of a clock used" asks, for many clocks); ``start`` when there is none."""
        total = self.between(start, end) if end > start else _NONE
        if total <= _NONE:
            return start
        return self._after(start, min(total * share, total)).astimezone(start.tzinfo)

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """N 个工作日: N full working days of working time (same clock time N workdays later
        when started in working hours)."""
        return self.add(start, self.day_length * days)

    def _after(self, start: datetime, amount: timedelta) -> datetime:
        """The instant (in UTC) when ``amount`` of working time from ``start`` has passed, within
        a working period: none passed, the start of the first one from ``start`` on."""
        left = amount
        day = start.astimezone(self.tz).date()
        start = start.astimezone(UTC)
        for begin, stop in self._day(day).periods:
            if stop <= start:
                continue
            begin = max(begin, start)
            if left <= stop - begin:
                return begin + left
            left -= stop - begin
        for _ in range(_MAX_DAYS_SCANNED - 1):
            day += _ONE_DAY
            worked = self._day(day)
            if left > worked.work:
                left -= worked.work
                continue
            for begin, stop in worked.periods:
                if left <= stop - begin:
                    return begin + left
                left -= stop - begin
        raise ValueError(f"{amount} of working time is beyond the calendar's reach")

    def _day(self, day: date) -> _Day:
        """The day's working periods as instants in UTC (none on a day off), and their length."""
        found = self._days.get(day)
        if found is None:
            if len(self._days) >= _DAYS_KEPT:
                self._days.clear()
            periods = (
                tuple(
                    (
                        datetime.combine(day, a, self.tz).astimezone(UTC),
                        datetime.combine(day, b, self.tz).astimezone(UTC),
                    )
                    for a, b in self.hours
                )
                if self.is_workday(day)
                else ()
            )
            found = self._days[day] = _Day(periods, sum((b - a for a, b in periods), _NONE))
        return found


def _span(a: time, b: time) -> timedelta:
    return datetime.combine(date.min, b) - datetime.combine(date.min, a)
