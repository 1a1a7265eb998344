"""Where a call stands against its clocks: what is running, what is late, what is due soon.

Read from the due times the events recorded; "now" is passed in (the read side's clock).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from weakref import ref

from huying.domain.call import Call
from huying.domain.clocks import RunningClock, clocks_of
from huying.domain.sla import remaining, warn_at
from huying.domain.states import UNSETTLED
from huying.domain.worktime import WorkCalendar


def runs_on_clock_time(sla: dict[str, Any]) -> bool:
    """应急处置 items count minutes day and night; everything else counts working time."""
    for policy in sla.values():
        if isinstance(policy, dict):
            for limit in policy.values():
                if isinstance(limit, dict) and limit.get("unit") == "minutes":
                    return True
    return False


@dataclass(frozen=True, slots=True)
class ClockState:
    clock: RunningClock
    warn_at: datetime
    late: bool
    due_soon: bool
    remaining: timedelta | None


@dataclass(frozen=True, slots=True)
class Standing:
    """A call's clocks as of ``now``."""

    clocks: list[ClockState]
    next_due: datetime | None
    due_soon_at: datetime | None
    ever_breached: bool
    clock_time: bool

    @property
    def overdue(self) -> bool:
        return any(c.late and c.clock.stopped is None for c in self.clocks)

    @property
    def due_soon(self) -> bool:
        return any(c.due_soon for c in self.clocks)


def standing(call: Call, calendar: WorkCalendar, now: datetime | None) -> Standing:
    """With ``now`` None, only what the events alone decide (for the read models, which ask for
    the same call one after another in a batch: the last answer is remembered)."""
    global _last
    if now is not None:
        return _standing(call, calendar, now)
    last = _last
    if last is not None and last[0]() is call and last[1] == call.version:
        return last[2]
    found = _standing(call, calendar, None)
    _last = (ref(call), call.version, found)  # aggregates are not hashable: remember one, by identity
    return found


_last: tuple[ref[Call], int, Standing] | None = None


def _standing(call: Call, calendar: WorkCalendar, now: datetime | None) -> Standing:
    clock_time = runs_on_clock_time(call.sla)
    states = []
    for c in clocks_of(call):
        assert c.due is not None
        running = c.stopped is None
        # Only a running clock can become due soon; stopped ones are never asked.
        warn = warn_at(calendar, c.started, c.due, clock_time) if running else c.due
        late = c.breached or (running and now is not None and now > c.due)
        states.append(
            ClockState(
                clock=c,
                warn_at=warn,
                late=late,
                due_soon=running and now is not None and warn <= now <= c.due,
                remaining=remaining(calendar, now, c.due, clock_time) if running and now else None,
            )
        )
    running_states = [s for s in states if s.clock.stopped is None]
    return Standing(
        clocks=states,
        next_due=min((s.clock.due for s in running_states if s.clock.due), default=None),
        due_soon_at=min((s.warn_at for s in running_states), default=None),
        ever_breached=any(s.late for s in states),
        clock_time=clock_time,
    )


def watched_due(call: Call, clocks: Standing) -> datetime | None:
    """When the SLA watchdog next has something to do on the call: the earliest due time of its
    running clocks not yet flagged (督办 is once per clock; a flagged clock that stays late waits
    on its unit, not on the watchdog) while the call is still owed an answer. Past due: the
    watchdog acts on the call now."""
    if call.status not in UNSETTLED:
        return None
    flagged = {s.clock for s in call.supervisions}
    waiting = (s.clock.due for s in clocks.clocks if s.clock.stopped is None and s.clock.key not in flagged)
    return min((due for due in waiting if due is not None), default=None)


def next_and_missed(running: Iterable[datetime], now: datetime) -> tuple[datetime | None, datetime | None]:
    """Of the due times of the clocks still running: the next one not yet passed (a clock at its
    due time has not passed it), and the earliest one already passed (how overdue the call is).
    The next deadline is never in the past: an overdue clock is shown as missed, not as next."""
    dues = sorted(running)
    return next((d for d in dues if d >= now), None), next((d for d in dues if d < now), None)
