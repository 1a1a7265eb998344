"""Working time on the Chinese official calendar: what a clerk computes by hand."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huying.domain import worktime
from huying.domain.levels import Level
from huying.domain.sla import clocks_for, due_after
from huying.domain.worktime import (
    SHANGHAI,
    CalendarFileError,
    WorkCalendar,
    official_rules,
    rules_from_file,
)

CAL = WorkCalendar(official_rules())
H = timedelta(hours=1)


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SHANGHAI)


def test_friday_at_four_plus_eight_working_hours_is_monday_at_five() -> None:
    # Fri 16:00–17:30 (1.5 h), Mon 08:30–12:00 (3.5 h), Mon 14:00–17:00 (3 h).
    assert CAL.add(at(2026, 11, 20, 16), 8 * H) == at(2026, 11, 23, 17)


def test_a_call_raised_at_night_starts_its_clock_next_morning() -> None:
    assert CAL.add(at(2026, 11, 24, 22, 15), 2 * H) == at(2026, 11, 25, 10, 30)


def test_a_call_raised_on_sunday_starts_its_clock_on_monday() -> None:
    assert CAL.add(at(2026, 11, 22, 11), 2 * H) == at(2026, 11, 23, 10, 30)


def test_the_lunch_break_does_not_count() -> None:
    assert CAL.add(at(2026, 11, 24, 11), 2 * H) == at(2026, 11, 24, 15)
    assert CAL.between(at(2026, 11, 24, 11), at(2026, 11, 24, 15)) == 2 * H


def test_the_friday_before_national_day_2026_is_a_holiday_and_the_week_after_is_off() -> None:
    # 2026: 中秋 25–27 Sep (Fri–Sun), 国庆 1–7 Oct; make-up workdays Sun 20 Sep and Sat 10 Oct.
    assert not CAL.is_workday(date(2026, 9, 25))
    assert not any(CAL.is_workday(date(2026, 10, d)) for d in range(1, 8))
    # Wed 30 Sep 16:00 + 2 working hours: 1.5 h that day, then nothing until Thu 8 Oct 09:00.
    assert CAL.add(at(2026, 9, 30, 16), 2 * H) == at(2026, 10, 8, 9)


def test_thursday_before_mid_autumn_plus_two_working_days() -> None:
    # Thu 24 Sep 15:00: 2.5 h that day; Fri–Sun are holidays; Mon 28 Sep 7 h; Tue 29 Sep 4.5 h.
    assert CAL.add_working_days(at(2026, 9, 24, 15), 2) == at(2026, 9, 29, 15)


def test_make_up_saturdays_and_sundays_are_working_days() -> None:
    assert CAL.is_workday(date(2026, 10, 10))  # Saturday 调休
    assert CAL.is_workday(date(2026, 9, 20))  # Sunday 调休
    # Fri 9 Oct 16:00 + 8 h: 1.5 h Friday, then Saturday 10 Oct counts: 08:30 + 6.5 h → 17:00.
    assert CAL.add(at(2026, 10, 9, 16), 8 * H) == at(2026, 10, 10, 17)


def test_the_spring_festival_2026_is_skipped() -> None:
    # 春节 2026: 15–23 Feb off; Sat 14 Feb and Sat 28 Feb are make-up workdays.
    assert CAL.is_workday(date(2026, 2, 14))
    assert not any(CAL.is_workday(date(2026, 2, d)) for d in range(15, 24))
    assert CAL.add(at(2026, 2, 14, 17), 1 * H) == at(2026, 2, 24, 9)
    assert CAL.between(at(2026, 2, 14, 17), at(2026, 2, 24, 9)) == 1 * H


def test_2027_is_not_known_so_it_falls_back_to_monday_to_friday_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calendar = WorkCalendar(official_rules())
    assert not calendar.knows_year(2027)
    with caplog.at_level(logging.WARNING):
        # Fri 1 Jan 2027 would be a holiday; without data it counts as a working Friday.
        assert calendar.add(at(2027, 1, 1, 9), 1 * H) == at(2027, 1, 1, 10)
        assert calendar.add(at(2027, 1, 2, 9), 1 * H) == at(2027, 1, 4, 9, 30)
    assert [r.message for r in caplog.records].count(
        "no holiday data for 2027: counting Monday–Friday as working days"
    ) == 1


@pytest.mark.parametrize("year", [2004, 2015, 2026, 2027, 2050, 2100])
def test_no_year_from_2004_to_2100_crashes(year: int) -> None:
    start = at(year, 6, 15, 9)
    assert CAL.add(start, 40 * H) > start
    assert CAL.between(start, start + timedelta(days=30)) > timedelta(0)


def test_an_override_file_adds_next_years_schedule_and_local_holidays(tmp_path: Path) -> None:
    path = tmp_path / "calendar.json"
    path.write_text(
        json.dumps({"years": [2027], "holidays": ["2027-01-01", "2026-12-24"], "workdays": ["2027-01-09"]})
    )
    calendar = WorkCalendar(official_rules().merged(rules_from_file(path)))
    assert calendar.knows_year(2027)
    assert not calendar.is_workday(date(2027, 1, 1))
    assert calendar.is_workday(date(2027, 1, 9))  # a Saturday made a workday
    assert not calendar.is_workday(date(2026, 12, 24))  # a local holiday in a known year


@pytest.mark.parametrize(
    "content",
    ["not json", '{"holidays": ["2027-13-01"]}', '{"holidays": ["2027-01-01"], "workdays": ["2027-01-01"]}'],
)
def test_a_broken_override_file_is_refused_with_its_name(tmp_path: Path, content: str) -> None:
    path = tmp_path / "calendar.json"
    path.write_text(content)
    with pytest.raises(CalendarFileError, match=r"calendar\.json"):
        rules_from_file(path)


def test_working_hours_are_configurable() -> None:
    calendar = WorkCalendar(official_rules(), hours=((time(9), time(18)),))
    assert calendar.day_length == 9 * H
    assert calendar.add(at(2026, 11, 24, 17), 2 * H) == at(2026, 11, 25, 10)


def test_emergency_limits_run_on_clock_time_and_others_on_working_time() -> None:
    night = at(2026, 11, 24, 23)
    assert due_after(CAL, night, {"amount": 30, "unit": "minutes"}) == night + timedelta(minutes=30)
    assert due_after(CAL, night, {"amount": 2, "unit": "working_hours"}) == at(2026, 11, 25, 10, 30)
    sla = {
        "community": {
            "response": {"amount": 2, "unit": "working_hours"},
            "resolution": {"amount": 1, "unit": "working_days"},
        }
    }
    clocks = clocks_for(CAL, sla, Level.COMMUNITY, at(2026, 11, 24, 16))
    assert clocks.response_due == at(2026, 11, 25, 9)
    assert clocks.resolution_due == at(2026, 11, 25, 16)
    assert clocks_for(CAL, sla, Level.STREET, night).response_due is None


instants = st.datetimes(
    min_value=datetime(2004, 1, 1), max_value=datetime(2031, 12, 31), timezones=st.just(SHANGHAI)
)
amounts = st.integers(min_value=0, max_value=60 * 7 * 40).map(lambda m: timedelta(minutes=m))


@settings(max_examples=300, deadline=None)
@given(instants, amounts)
def test_adding_then_measuring_gives_back_the_amount(start: datetime, amount: timedelta) -> None:
    end = CAL.add(start, amount)
    assert WorkCalendar(CAL.rules).between(start, end) == amount  # walked: it never added
    assert CAL.between(start, end) == amount  # as the add left it


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(instants, instants), min_size=1, max_size=8))
def test_a_span_asked_again_is_answered_as_the_first_time(pairs: list[tuple[datetime, datetime]]) -> None:
    calendar = WorkCalendar(CAL.rules)
    first = [calendar.between(a, b) for a, b in pairs]
    assert [calendar.between(a, b) for a, b in pairs] == first
    assert [calendar.between(b.astimezone(UTC), a) for a, b in pairs] == [-f for f in first]


def test_the_spans_a_calendar_keeps_are_bounded() -> None:
    calendar = WorkCalendar(CAL.rules)
    start = at(2026, 11, 24, 8, 30)
    for minutes in range(1, worktime._SPANS_KEPT + 10):
        calendar.add(start, timedelta(minutes=minutes))
    assert 0 < len(calendar._spans) <= worktime._SPANS_KEPT


@settings(max_examples=300, deadline=None)
@given(instants, amounts, amounts)
def test_adding_is_monotonic(start: datetime, a: timedelta, b: timedelta) -> None:
    small, large = sorted((a, b))
    assert CAL.add(start, small) <= CAL.add(start, large)


@settings(max_examples=200, deadline=None)
@given(instants, instants)
def test_measuring_is_antisymmetric_and_never_exceeds_clock_time(a: datetime, b: datetime) -> None:
    assert CAL.between(a, b) == -CAL.between(b, a)
    assert abs(CAL.between(a, b)) <= abs(b - a)


def test_a_calendar_made_from_another_works_out_its_own_days() -> None:
    """Each day's periods are worked out once per calendar: one made from another with other
    hours (``dataclasses.replace``) does not take the first one's days."""
    import dataclasses

    full = WorkCalendar(official_rules())
    assert full.add(at(2026, 11, 24, 9), 4 * H) == at(2026, 11, 24, 15)  # the days worked out
    mornings = dataclasses.replace(full, hours=((time(8, 30), time(12, 0)),))
    assert mornings.add(at(2026, 11, 24, 9), 4 * H) == at(2026, 11, 25, 9, 30)
    assert full.add(at(2026, 11, 24, 9), 4 * H) == at(2026, 11, 24, 15)


# --- the walk by hand: one working period after another --------------------------------------
#
# What the calendar computes, worked out the slow way a clerk would: period by period, from the
# start on, with no day passed over whole. The calendar passes over whole days; its answers must
# be these, to the microsecond, whatever the hours and the instants.


def _periods_by_hand(calendar: WorkCalendar, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    local = start.astimezone(calendar.tz)
    day = local.date()
    while True:
        if calendar.is_workday(day):
            for a, b in calendar.hours:
                begin, end = datetime.combine(day, a, calendar.tz), datetime.combine(day, b, calendar.tz)
                if end > local:
                    yield max(begin, local), end
        day += timedelta(days=1)


def _add_by_hand(calendar: WorkCalendar, start: datetime, amount: timedelta) -> datetime:
    if amount <= timedelta(0):
        return start
    for begin, end in _periods_by_hand(calendar, start):
        if amount <= end - begin:
            return (begin + amount).astimezone(start.tzinfo)
        amount -= end - begin
    raise AssertionError("unreachable")


def _between_by_hand(calendar: WorkCalendar, start: datetime, end: datetime) -> timedelta:
    if end < start:
        return -_between_by_hand(calendar, end, start)
    total = timedelta(0)
    for begin, stop in _periods_by_hand(calendar, start):
        if begin >= end:
            return total
        total += min(stop, end) - begin
    raise AssertionError("unreachable")


def _point_by_hand(calendar: WorkCalendar, start: datetime, end: datetime, share: float) -> datetime:
    periods = []
    for begin, stop in _periods_by_hand(calendar, start):
        if begin >= end:
            break
        periods.append((begin, min(stop, end)))
    left = sum((b - a for a, b in periods), timedelta(0)) * share
    for begin, stop in periods:
        if left <= stop - begin:
            return (begin + left).astimezone(start.tzinfo)
        left -= stop - begin
    return periods[-1][1].astimezone(start.tzinfo) if periods else start


@st.composite
def _hours(draw: st.DrawFn) -> tuple[tuple[time, time], ...]:
    """One to three working periods a day, in order, none empty."""
    marks = sorted(draw(st.sets(st.integers(min_value=0, max_value=24 * 4 - 1), min_size=2, max_size=6)))
    pairs = [(marks[i], marks[i + 1]) for i in range(0, len(marks) - 1, 2)]
    return tuple((time(a // 4, a % 4 * 15), time(b // 4, b % 4 * 15)) for a, b in pairs)


near = st.datetimes(
    min_value=datetime(2025, 12, 1), max_value=datetime(2027, 2, 1), timezones=st.just(SHANGHAI)
)
utc_near = near.map(lambda d: d.astimezone(UTC))


@settings(max_examples=400, deadline=None)
@given(_hours(), st.one_of(near, utc_near), st.one_of(near, utc_near), amounts, st.floats(0, 1))
def test_the_calendar_answers_as_the_walk_by_hand(
    hours: tuple[tuple[time, time], ...], a: datetime, b: datetime, amount: timedelta, share: float
) -> None:
    calendar = WorkCalendar(official_rules(), hours=hours)
    assert calendar.add(a, amount) == _add_by_hand(calendar, a, amount)
    assert calendar.add(a, amount).tzinfo is a.tzinfo
    assert calendar.between(a, b) == _between_by_hand(calendar, a, b)
    point = calendar.point_between(a, b, share)
    assert point == _point_by_hand(calendar, a, b, share)
    assert point.tzinfo is a.tzinfo


def test_a_clock_ending_on_a_days_last_minute_ends_there_not_the_next_morning() -> None:
    # Tue 24 Nov 2026, 08:30 + 7 working hours: the whole day, to 17:30 that day.
    assert CAL.add(at(2026, 11, 24, 8, 30), 7 * H) == at(2026, 11, 24, 17, 30)
    assert CAL.add(at(2026, 11, 24, 8, 30), 14 * H) == at(2026, 11, 25, 17, 30)
    two_days = (at(2026, 11, 24, 8, 30), at(2026, 11, 25, 17, 30))
    assert CAL.point_between(*two_days, 0.5) == at(2026, 11, 24, 17, 30)
