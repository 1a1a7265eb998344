"""Working time (工作时间) on the Chinese official calendar: pure arithmetic, no clock reads.

Working days follow the State Council's holiday schedule — public holidays off, 调休 make-up
days on — as published in the ``chinese-calendar`` package, plus a local override file for
district holidays and a year announced after the package was released. A year nobody has data
for falls back to Monday–Friday: huying never refuses a date.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 上午 08:30–12:00, 下午 14:00–17:30: seven working hours a day.
DEFAULT_HOURS = ((time(8, 30), time(12, 0)), (time(14, 0), time(17, 30)))
_MAX_DAYS_SCANNED = 366 * 20  # bounds every loop: amounts are hours and days, never decades
_DAYS_KEPT = 366 * 40  # days whose periods a calendar keeps worked out (a few MB at most)


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


@dataclass
class WorkCalendar:
    rules: DayRules = field(default_factory=DayRules)
    hours: tuple[tuple[time, time], ...] = DEFAULT_HOURS
    tz: ZoneInfo = SHANGHAI
    _warned: set[int] = field(default_factory=set, repr=False)
    # Each day's working periods as instants, worked out once: every clock and every step's
    # timing walks them, a tenth of the synthetic history's writing when made afresh each time.
    _days: dict[date, tuple[tuple[datetime, datetime], ...]] = field(
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

    @property
    def day_length(self) -> timedelta:
        return sum((_span(a, b) for a, b in self.hours), timedelta())

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The instant when ``amount`` of working time after ``start`` has passed.

        A clock started out of hours (at night, on a Sunday) starts at the next working
        period; a zero amount gives ``start`` itself.
        """
        if amount <= timedelta(0):
            return start
        left = amount
        for period_start, period_end in self._periods_from(start):
            usable = period_end - period_start
            if left <= usable:
                return (period_start + left).astimezone(start.tzinfo)
            left -= usable
        raise ValueError(f"{amount} of working time is beyond the calendar's reach")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from ``start`` to ``end`` (negative when ``end`` comes first)."""
        if end < start:
            return -self.between(end, start)
        total = timedelta(0)
        for period_start, period_end in self._periods_from(start):
            if period_start >= end:
                break
            total += min(period_end, end) - period_start
        return total

    def point_between(self, start: datetime, end: datetime, share: float) -> datetime:
        """The instant when ``share`` of the working time from ``start`` to ``end`` has passed —
        in one walk over the periods (what "80% of a clock used" asks, for many clocks)."""
        periods = []
        total = timedelta(0)
        for period_start, period_end in self._periods_from(start):
            if period_start >= end:
                break
            stop = min(period_end, end)
            periods.append((period_start, stop))
            total += stop - period_start
        left = total * share
        for period_start, stop in periods:
            if left <= stop - period_start:
                return (period_start + left).astimezone(start.tzinfo)
            left -= stop - period_start
        return start if not periods else periods[-1][1].astimezone(start.tzinfo)

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """N 个工作日: N full working days of working time (same clock time N workdays later
        when started in working hours)."""
        return self.add(start, self.day_length * days)

    def _periods_from(self, start: datetime) -> Iterable[tuple[datetime, datetime]]:
        """Working periods (as aware instants) from ``start`` on, the first one clipped."""
        local = start.astimezone(self.tz)
        day = local.date()
        for _ in range(_MAX_DAYS_SCANNED):
            for begin, end in self._periods_of(day):
                if end <= local:
                    continue
                yield max(begin, local), end
            day += timedelta(days=1)

    def _periods_of(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The day's working periods as aware instants (none on a day off)."""
        found = self._days.get(day)
        if found is None:
            if len(self._days) >= _DAYS_KEPT:
                self._days.clear()
            found = self._days[day] = (
                tuple(
                    (datetime.combine(day, a, self.tz), datetime.combine(day, b, self.tz))
                    for a, b in self.hours
                )
                if self.is_workday(day)
                else ()
            )
        return found


def _span(a: time, b: time) -> timedelta:
    return datetime.combine(date.min, b) - datetime.combine(date.min, a)
