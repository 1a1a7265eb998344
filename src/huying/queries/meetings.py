"""联席会议 read side: meetings by unit and period, and decisions (议定事项) with how far each
decision's task has come — 议定事项落实率 (``docs/metrics.md`` §9). Nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from huying.audit.feed import Window
from huying.domain.errors import InvalidCommand
from huying.domain.jurisdiction import can_see_meeting
from huying.domain.org import Org
from huying.domain.principal import Principal
from huying.projections.directive_tables import rm_directive_targets, rm_directives
from huying.projections.meeting_tables import rm_decisions, rm_meeting_units, rm_meetings
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


# A period's decisions are listed whole; a unit's 大工委/大党委 decide a few a month.
MAX_DECISIONS = 1000


def decisions_of(
    conn: Connection, principal: Principal, org: Org, unit: str, window: Window, now: datetime
) -> list[dict[str, Any]]:
    """议定事项 decided within ``window`` by meetings ``unit`` convened (or the units below it
    convened), or that ``unit`` leads or assists — those the principal may see — each with how
    far its task has come (``docs/metrics.md`` §9)."""
    d, m, t = rm_decisions, rm_meetings, rm_directive_targets
    done_at = select(func.max(t.c.accepted_at)).where(t.c.directive_id == d.c.task_id).scalar_subquery()
    query = (
        select(
            d,
            m.c.invited,
            rm_directives.c.targets.label("task_targets"),
            rm_directives.c.accepted.label("task_accepted"),
            rm_directives.c.cancelled.label("task_cancelled"),
            done_at.label("last_accepted_at"),
        )
        .join(m, m.c.meeting_id == d.c.meeting_id)
        .outerjoin(rm_directives, rm_directives.c.directive_id == d.c.task_id)
        .order_by(d.c.seq, d.c.decided_at)
    )
    if window.start is not None:
        query = query.where(d.c.decided_at >= window.start)
    if window.end is not None:
        query = query.where(d.c.decided_at < window.end)
    rows = [dict(r._mapping) for r in conn.execute(query)]
    mine = [r for r in rows if _concerns(org, unit, r) and can_see_meeting(principal, Seen.of(r), org)]
    if len(mine) > MAX_DECISIONS:
        raise InvalidCommand(
            "from", f"the period holds over {MAX_DECISIONS} decisions; ask for a shorter one"
        )
    return [_standing(r, now) for r in mine]


def _concerns(org: Org, unit: str, row: dict[str, Any]) -> bool:
    return (
        org.is_below(row["convener"], unit)
        or row["lead_unit"] == unit
        or unit in row["assisting_units"].split()
    )


def _standing(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """落实: the task issued, not cancelled, every target accepted (验收); on time: the last
    acceptance by the decision's deadline. Due: the deadline has passed, or it is done."""
    done = (
        bool(row["task_targets"])
        and not row["task_cancelled"]
        and row["task_accepted"] == row["task_targets"]
    )
    done_at = row["last_accepted_at"] if done else None
    return {
        **row,
        "done": done,
        "done_at": done_at,
        "done_on_time": done_at is not None and done_at <= row["deadline"],
        "due": done or row["deadline"] <= now,
    }


def completion(decisions: list[dict[str, Any]]) -> dict[str, Any]:
    """议定事项落实率 over a period's decisions: done on time / due (null when none is due)."""
    due = [d for d in decisions if d["due"]]
    on_time = sum(d["done_on_time"] for d in due)
    return {
        "decisions": len(decisions),
        "due": len(due),
        "done": sum(d["done"] for d in decisions),
        "done_on_time": on_time,
        "overdue": sum(not d["done"] for d in due),
        "rate": round(on_time / len(due), 4) if due else None,
    }
