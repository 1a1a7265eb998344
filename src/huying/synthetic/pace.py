"""When people act: inside working hours mostly, before a clock runs out mostly.

A step owed against a clock comes before it is due with the acting unit's punctuality, at a
point of the working time left that leans early; otherwise some working time after it (by then
the watchdog has called the call up or flagged the unit). Emergency items (应急处置) count
clock time, day and night, as their clocks do.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from huying.domain.worktime import WorkCalendar


class Pace:
    def __init__(self, calendar: WorkCalendar, rng: random.Random) -> None:
        self.calendar = calendar
        self.rng = rng

    def by(self, now: datetime, due: datetime | None, punctual: float, clock_time: bool) -> datetime:
        """A step owed by ``due``: met with chance ``punctual``."""
        rng = self.rng
        if due is None or due <= now:
            return self.soon(now, 0.2, 6, clock_time)
        if rng.random() < punctual:
            share = 0.02 + 0.95 * rng.random() ** 1.6
            return self.share(now, due, share, clock_time)
        if clock_time:
            return due + (due - now) * rng.uniform(0.05, 1.0)
        return self.calendar.add(due, timedelta(hours=rng.uniform(0.2, 21)))

    def share(self, now: datetime, due: datetime, share: float, clock_time: bool) -> datetime:
        """The point ``share`` of the way from ``now`` to ``due`` (in working time)."""
        if clock_time or due <= now:
            return now + (max(due, now) - now) * share
        return max(now, self.calendar.point_between(now, due, share))

    def soon(self, now: datetime, low_hours: float, high_hours: float, clock_time: bool = False) -> datetime:
        """Some working time from now (clock time for emergencies)."""
        amount = timedelta(hours=self.rng.uniform(low_hours, high_hours))
        return now + amount if clock_time else self.calendar.add(now, amount)
