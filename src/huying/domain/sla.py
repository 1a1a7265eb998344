"""SLA clocks (时限): when each clock of a call falls due, from the item's policy snapshot.

Due times are computed when a clock starts and recorded in the event that starts it, so the
deadlines a call was given never change afterwards — not by a rebuild, not by a new holiday
file. What is derived later (overdue now, due soon, remaining time) reads those due times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from huying.domain.levels import Level
from huying.domain.worktime import WorkCalendar

DUE_SOON_SHARE = 0.8  # "due soon" once 80% of a clock's time is used


@dataclass(frozen=True)
class Clocks:
    """A stint's two clocks: respond (响应) and resolve (办结)."""

    response_due: datetime | None
    resolution_due: datetime | None

    def as_dict(self) -> dict[str, datetime | None]:
        return {"response_due": self.response_due, "resolution_due": self.resolution_due}


NO_CLOCKS = Clocks(None, None)


def due_after(calendar: WorkCalendar, start: datetime, limit: dict[str, Any]) -> datetime:
    """``limit`` is a snapshot entry: ``{"amount": 2, "unit": "working_hours"}``."""
    amount, unit = int(limit["amount"]), limit["unit"]
    if unit == "minutes":  # 应急处置: clock time, day and night
        return start + timedelta(minutes=amount)
    if unit == "working_hours":
        return calendar.add(start, timedelta(hours=amount))
    if unit == "working_days":
        return calendar.add_working_days(start, amount)
    raise ValueError(f"unknown time unit {unit!r}")


def clocks_for(calendar: WorkCalendar, sla: dict[str, Any], level: Level, start: datetime) -> Clocks:
    """The clocks a stint at ``level`` gets when it starts at ``start``."""
    policy = sla.get(level.value)
    if not policy:
        return NO_CLOCKS
    return Clocks(
        response_due=due_after(calendar, start, policy["response"]),
        resolution_due=due_after(calendar, start, policy["resolution"]),
    )


def warn_at(calendar: WorkCalendar, start: datetime, due: datetime, emergency: bool) -> datetime:
    """When a clock becomes "due soon": 80% of its time used (working time, or clock time for
    emergencies)."""
    if emergency:
        return start + (due - start) * DUE_SOON_SHARE
    return calendar.point_between(start, due, DUE_SOON_SHARE)


def remaining(calendar: WorkCalendar, now: datetime, due: datetime, emergency: bool) -> timedelta:
    """Time left on a clock: working time (clock time for emergencies); negative when late."""
    return due - now if emergency else calendar.between(now, due)
