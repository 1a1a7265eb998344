"""A settled period (docs/metrics.md §12): its cutoff, and its obligations judged as of it.

A period's scores are settled at its cutoff — the end of the period plus a settling window of
``settle_working_days`` working days (the end of the last of those days). From then on the
scores are judged as of the cutoff, not as of "now": an obligation still unanswered at the cutoff
stays pending or late as it stood then, and one answered or ended after the cutoff counts as it
stood at the cutoff. So the figures of a settled period do not move as time passes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from sqlalchemy import Connection, or_, select

from huying.domain.levels import Level
from huying.domain.worktime import WorkCalendar
from huying.projections.obligations import Obligation
from huying.projections.periods import utc_span
from huying.projections.tables import rm_stints, rm_work_orders
from huying.queries.obligations import call_obligations


@dataclass(frozen=True)
class Judged:
    """When a period's figures are judged: ``now``, or its cutoff ``settles_at`` once that has
    passed (None: no cutoff, always now)."""

    now: datetime
    settles_at: datetime | None = None

    @property
    def at(self) -> datetime:
        return self.now if self.settles_at is None else min(self.now, self.settles_at)


def cutoff(first: date, last: date, calendar: WorkCalendar, working_days: int) -> datetime:
    """When the period of Asia/Shanghai dates ``first``–``last`` is settled."""
    end = utc_span(first, last)[1]
    return (calendar.add_working_days(end, working_days) if working_days else end).astimezone(UTC)


def as_it_stood(o: Obligation, at: datetime) -> Obligation:
    """The obligation as it stood at ``at``: what happened to it later had not happened yet."""
    responded = o.responded_at if o.responded_at is not None and o.responded_at <= at else None
    ended = o.ended_at if o.ended_at is not None and o.ended_at <= at else None
    return replace(o, responded_at=responded, ended_at=ended, is_open=ended is None)


def rejudged(
    conn: Connection, level: Level, units: list[str], first: date, last: date, at: datetime
) -> dict[str, Counter[str]]:
    """Per unit, how its obligations that arrived in the period and were answered or ended after
    ``at`` move between response classes when judged as they stood at ``at``: −1 for the class
    they count in now, +1 for the class they stood in then."""
    since, until = utc_span(first, last)
    s, w = rm_stints, rm_work_orders
    if level is Level.DEPARTMENT:
        later = select(w.c.call_id).where(
            w.c.department_code.in_(units),
            w.c.dispatched_at >= since,
            w.c.dispatched_at < until,
            or_(w.c.signed_at > at, w.c.completed_at > at, w.c.settled_at > at),
        )
    else:
        later = select(s.c.call_id).where(
            s.c.level == level.value,
            s.c.unit.in_(units),
            s.c.arrived_at >= since,
            s.c.arrived_at < until,
            or_(s.c.acknowledged_at > at, s.c.ended_at > at),
        )
    moves: dict[str, Counter[str]] = {}
    for call_id in sorted(set(conn.execute(later.distinct()).scalars())):
        for o in call_obligations(conn, call_id):
            if o.level is not level or o.unit not in units or not since <= o.arrived_at < until:
                continue
            now_class, then_class = o.response(at), as_it_stood(o, at).response(at)
            if now_class is not then_class:
                moved = moves.setdefault(o.unit, Counter())
                moved[now_class.value] -= 1
                moved[then_class.value] += 1
    return moves
