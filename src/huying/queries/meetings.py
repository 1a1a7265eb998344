"""联席会议 read side: meetings by unit and period, and decisions (议定事项) with how far each
decision's task has come — 议定事项落实率 (``docs/metrics.md`` §9). Nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from huying.audit.feed import Window
from huying.domain.jurisdiction import can_see_meeting
from huying.domain.org import Org
from huying.domain.principal import Principal
from huying.projections.meeting_tables import rm_meeting_units, rm_meetings
from huying.queries.search import Page


@dataclass(frozen=True)
class Seen:
    """What jurisdiction reads of a meeting, from its row."""

    convener: str
    invited: tuple[str, ...]

    @classmethod
    def of(cls, row: dict[str, Any]) -> Seen:
        return cls(row["convener"], tuple(row["invited"].split()))


def meetings_of(
    conn: Connection, principal: Principal, org: Org, unit: str, window: Window, after: int, limit: int
) -> Page:
    """The meetings ``unit`` convened or was invited to, scheduled within ``window``, in the order
    they were convened (cursor: ``seq``) — those the principal may see."""
    m, u = rm_meetings, rm_meeting_units
    query = (
        select(m, u.c.convening, u.c.attended)
        .join(u, u.c.meeting_id == m.c.meeting_id)
        .where(u.c.unit == unit, m.c.seq > after)
        .order_by(m.c.seq)
    )
    if window.start is not None:
        query = query.where(m.c.scheduled_for >= window.start)
    if window.end is not None:
        query = query.where(m.c.scheduled_for < window.end)
    rows = [dict(r._mapping) for r in conn.execute(query.limit(limit + 1))]
    more = len(rows) > limit
    rows = rows[:limit]
    seen = [r for r in rows if can_see_meeting(principal, Seen.of(r), org)]
    return Page(seen, rows[-1]["seq"] if more and rows else None)
