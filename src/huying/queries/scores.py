"""三项考评 — the 一呼一评 scores: per call, per round; per street and department, per period.

Per unit they are read from the tallies (``projections.tallies``) of the period's months: 响应率
from the obligations the SLA dashboard counts (stints, work orders) — the unanswered ones judged
pending or late as of now (a settled period: its cutoff, ``queries.settled``) from
``rm_open_obligations`` — and 解决率, 满意率, 重办率 and 督办 from the evaluated rounds and
supervisions (``rm_evaluations``, ``rm_supervisions``). The record of one call is read from its
own rows. ``docs/metrics.md`` states every definition; change one,
change the other.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import Connection, case, func, select

from huying.domain.errors import InvalidCommand
from huying.domain.levels import Level
from huying.domain.org import Org, UnitKind
from huying.domain.states import OrderRole
from huying.projections.attribution import attribute
from huying.projections.obligations import Obligation, Response
from huying.projections.periods import Granularity, utc_span
from huying.projections.tables import (
    EVALUATION_COUNTS,
    rm_calls,
    rm_evaluation_tallies,
    rm_evaluations,
    rm_open_obligations,
    rm_sla_tallies,
)
from huying.queries.obligations import call_obligations
from huying.queries.settled import rejudged
from huying.queries.sla_tallies import starting_in

# Counted in 响应率's denominator; the others were never owed a response (docs/metrics.md).
_OWED = frozenset({Response.ON_TIME, Response.LATE, Response.UNTIMED, Response.PENDING})
_CONTENT = frozenset({"satisfied", "basically_satisfied"})  # 满意 + 基本满意


@dataclass(frozen=True)
class Period:
    """An assessment period: a month, quarter or year of Asia/Shanghai calendar dates."""

    label: str
    first: date
    last: date


def parse_period(raw: str) -> Period:
    """``YYYY-MM``, ``YYYY-Qn`` or ``YYYY`` (422 otherwise)."""
    try:
        if m := re.fullmatch(r"(\d{4})-(\d{2})", raw):
            year, month = int(m[1]), int(m[2])
            return Period(raw, date(year, month, 1), _month_end(year, month))
        if m := re.fullmatch(r"(\d{4})-Q([1-4])", raw):
            year, quarter = int(m[1]), int(m[2])
            return Period(raw, date(year, 3 * quarter - 2, 1), _month_end(year, 3 * quarter))
        if m := re.fullmatch(r"(\d{4})", raw):
            return Period(raw, date(int(m[1]), 1, 1), date(int(m[1]), 12, 31))
    except ValueError:  # month 13, year 0, the last month of year 9999
        pass
    raise InvalidCommand("period", f"period {raw!r}: give YYYY-MM, YYYY-Qn or YYYY")


def _month_end(year: int, month: int) -> date:
    following = date(year + month // 12, month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


# --- per unit ---------------------------------------------------------------------------------


@dataclass
class Tally:
    """The counts behind one unit's rates: every numerator and denominator."""

    received: int = 0
    response_owed: int = 0
    responded_on_time: int = 0
    responses: Counter[str] = field(default_factory=Counter)
    returned: int = 0
    evaluated_rounds: int = 0
    contacted: int = 0
    not_contacted: int = 0
    solved: int = 0
    satisfaction: Counter[str] = field(default_factory=Counter)
    reopened_rounds: int = 0
    evaluated_calls: int = 0
    supervised: int = 0

    def obliged(self, r: Any, awaiting_late: int) -> None:
        """The unit's obligations that arrived in the period (their tallies), ``awaiting_late``
        of the unanswered ones past their due time now."""
        self.received = r.received
        self.returned = r.returned
        self.responses = Counter(
            {
                Response.ON_TIME.value: r.acknowledged_on_time,
                Response.LATE.value: r.answered_late + awaiting_late,
                Response.UNTIMED.value: r.untimed,
                Response.PENDING.value: r.awaiting - awaiting_late,
                Response.ENDED_BEFORE_DUE.value: r.ended_before_due,
                Response.NOT_OWED.value: r.not_owed,
            }
        )
        self.response_owed = sum(self.responses[k.value] for k in _OWED)
        self.responded_on_time = r.acknowledged_on_time

    def rejudged(self, moves: Counter[str]) -> None:
        """Obligations answered or ended after a settled period's cutoff, counted as they stood
        at it (``queries.settled``)."""
        self.responses.update(moves)
        self.response_owed = sum(self.responses[k.value] for k in _OWED)
        self.responded_on_time = self.responses[Response.ON_TIME.value]

    def evaluated(self, r: Any) -> None:
        """The rounds attributed to the unit evaluated in the period, and its 督办 (their tallies)."""
        self.evaluated_rounds, self.reopened_rounds = r.evaluated_rounds, r.reopened_rounds
        self.contacted, self.not_contacted, self.solved = r.contacted, r.not_contacted, r.solved
        self.satisfaction = Counter(
            {k: getattr(r, k) for k in ("satisfied", "basically_satisfied", "dissatisfied") if getattr(r, k)}
        )
        # A call evaluated (contacted) twice in the period counts once.
        self.evaluated_calls = r.contacted - r.repeats
        self.supervised = r.supervised


def rate(numerator: int, denominator: int) -> Fraction | None:
    return Fraction(numerator, denominator) if denominator else None


# The kinds of unit scored (社区; 街道综合考核; 部门年度考核): the level whose obligations are
# each unit's own.
SCORED = {
    UnitKind.COMMUNITY: Level.COMMUNITY,
    UnitKind.STREET: Level.STREET,
    UnitKind.DEPARTMENT: Level.DEPARTMENT,
}


def unit_scores(
    conn: Connection,
    org: Org,
    kind: UnitKind,
    period: Period,
    now: datetime,
    weights: Sequence[float],
    min_evaluated: int,
    settles_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """响应率, 解决率, 满意率, composite and dense rank for every community, street or department;
    a period past its cutoff ``settles_at`` is judged as of the cutoff (docs/metrics.md §12)."""
    units = org.of_kind(kind)
    tallies = {u.code: Tally() for u in units}
    at = min(now, settles_at) if settles_at is not None else now
    for unit, (row, awaiting_late) in _obligations(conn, SCORED[kind], list(tallies), period, at).items():
        tallies[unit].obliged(row, awaiting_late)
    if at < now:
        for unit, moves in rejudged(conn, SCORED[kind], list(tallies), period.first, period.last, at).items():
            tallies[unit].rejudged(moves)
    for row in _evaluations(conn, list(tallies), period):
        tallies[row.unit].evaluated(row)
    scored = [_scored(u.code, u.name, kind, tallies[u.code], weights) for u in units]
    return [_rounded(s) for s in dense_rank(scored, min_evaluated)]


def _months(period: Period) -> list[date]:
    """The first day of each month of the period (never December 9999: ``parse_period``)."""
    months, month = [], period.first
    while month <= period.last:
        months.append(month)
        month = (month + timedelta(days=31)).replace(day=1)
    return months


def _obligations(
    conn: Connection, level: Level, units: list[str], period: Period, now: datetime
) -> dict[str, tuple[Any, int]]:
    """Per unit: its obligations' tallies for the period's months, and how many of them are
    unanswered with their due time past now (late; the rest of those are pending)."""
    t, o = rm_sla_tallies, rm_open_obligations
    counted = (
        *("received", "returned", "acknowledged_on_time", "answered_late", "untimed"),
        *("ended_before_due", "not_owed", "awaiting"),
    )
    sums = select(t.c.scope.label("unit"), *(func.sum(t.c[n]).label(n) for n in counted)).where(
        t.c.level == level.value,
        t.c.block == Granularity.MONTH.value,
        starting_in(t.c.start, Granularity.MONTH, _months(period)),
        t.c.scope.in_(units),
    )
    since, until = utc_span(period.first, period.last)
    late = select(o.c.unit, func.count()).where(
        o.c.level == level.value,
        o.c.unit.in_(units),
        o.c.arrived_at >= since,
        o.c.arrived_at < until,
        o.c.awaiting_due.is_not(None),
        o.c.awaiting_due < now,
    )
    overdue: dict[str, int] = {unit: int(n) for unit, n in conn.execute(late.group_by(o.c.unit))}
    return {r.unit: (r, int(overdue.get(r.unit, 0))) for r in conn.execute(sums.group_by(t.c.scope))}


def _evaluations(conn: Connection, units: list[str], period: Period) -> list[Any]:
    """Per unit: its evaluated rounds and 督办 in the period's months; ``repeats`` only where
    both rounds fall in the period."""
    t = rm_evaluation_tallies
    first, last = period.first, period.last.replace(day=1)
    within = case((t.c.later_month <= last, t.c.repeats), else_=0)
    query = (
        select(
            t.c.unit,
            *(func.sum(t.c[n]).label(n) for n in EVALUATION_COUNTS if n != "repeats"),
            func.sum(within).label("repeats"),
        )
        .where(t.c.unit.in_(units), t.c.month >= first, t.c.month <= last)
        .group_by(t.c.unit)
    )
    return list(conn.execute(query))


def _scored(code: str, name: str, kind: UnitKind, t: Tally, weights: Sequence[float]) -> dict[str, Any]:
    rates = (
        rate(t.responded_on_time, t.response_owed),
        rate(t.solved, t.contacted),
        rate(sum(t.satisfaction[s] for s in _CONTENT), t.contacted),
    )
    known = [r for r in rates if r is not None]
    composite = (
        sum((Fraction(str(w)) * r for w, r in zip(weights, known, strict=True)), Fraction(0))
        if len(known) == len(rates)
        else None
    )
    departmental = kind is UnitKind.DEPARTMENT
    return {
        "unit": code,
        "name": name,
        "kind": kind.value,
        "rank": None,
        "composite": composite,
        "response_rate": rates[0],
        "solve_rate": rates[1],
        "satisfaction_rate": rates[2],
        "return_rate": rate(t.returned, t.received) if departmental else None,
        "reopen_rate": rate(t.reopened_rounds, t.evaluated_rounds),
        "supervised": t.supervised,
        "evaluated_calls": t.evaluated_calls,
        "counts": {
            "received": t.received,
            "response_owed": t.response_owed,
            "responded_on_time": t.responded_on_time,
            "responses": {r.value: t.responses[r.value] for r in Response},
            "returned": t.returned if departmental else None,
            "evaluated_rounds": t.evaluated_rounds,
            "contacted": t.contacted,
            "not_contacted": t.not_contacted,
            "solved": t.solved,
            "satisfied": t.satisfaction["satisfied"],
            "basically_satisfied": t.satisfaction["basically_satisfied"],
            "dissatisfied": t.satisfaction["dissatisfied"],
            "reopened_rounds": t.reopened_rounds,
        },
    }


def dense_rank(scored: list[dict[str, Any]], min_evaluated: int) -> list[dict[str, Any]]:
    """Dense rank by the exact composite, among units with enough evaluated calls."""
    eligible = [s for s in scored if s["composite"] is not None and s["evaluated_calls"] >= min_evaluated]
    places = {c: i for i, c in enumerate(sorted({s["composite"] for s in eligible}, reverse=True), start=1)}
    for s in eligible:
        s["rank"] = places[s["composite"]]
    order = {id(s): i for i, s in enumerate(scored)}
    return sorted(scored, key=lambda s: (s["rank"] is None, s["rank"] or 0, order[id(s)]))


def _rounded(scored: dict[str, Any]) -> dict[str, Any]:
    """Rates on the wire: 6 decimal places (ranks were taken from the exact fractions)."""
    return {k: round(float(v), 6) if isinstance(v, Fraction) else v for k, v in scored.items()}


# --- per call -------------------------------------------------------------------------------


def call_record(conn: Connection, call_id: str, now: datetime) -> dict[str, Any] | None:
    """The 一呼一评 record of one call, round by round (None: not projected yet)."""
    call = conn.execute(select(rm_calls).where(rm_calls.c.call_id == call_id)).first()
    if call is None:
        return None
    evaluations = {
        r.round: r for r in conn.execute(select(rm_evaluations).where(rm_evaluations.c.call_id == call_id))
    }
    in_arrival_order = call_obligations(conn, call_id)
    rounds = [
        _round(n, [o for o in in_arrival_order if o.round == n], evaluations.get(n), now)
        for n in range(1, call.round + 1)
    ]
    evaluated = [r for r in rounds if r["evaluated"]]
    return {
        "call_id": call_id,
        "status": call.status,
        "round": call.round,
        "community_code": call.community_code,
        "street_code": call.street_code,
        "result_round": evaluated[-1]["round"] if evaluated else None,
        "rounds": rounds,
    }


def _round(n: int, obs: Sequence[Obligation], evaluation: Any, now: datetime) -> dict[str, Any]:
    """One round of the record; whom it is attributed to is read from its obligations, so it is
    known as soon as it happened, evaluated or not."""
    attributed = attribute(
        ((o.level.value, o.unit, o.outcome) for o in obs if o.level is not Level.DEPARTMENT),
        (o.unit for o in obs if o.role == OrderRole.LEAD.value and o.resolved),
    )
    return {
        "round": n,
        "obligations": [_obligation(o, now) for o in obs],
        "evaluated": evaluation is not None,
        "evaluated_at": evaluation.at if evaluation else None,
        "contacted": evaluation.contacted if evaluation else None,
        "solved": evaluation.solved if evaluation else None,
        "satisfaction": evaluation.satisfaction if evaluation else None,
        "reopened": bool(evaluation.reopened) if evaluation else False,
        "resolved_level": attributed.resolved_level,
        "street_code": attributed.street,
        "lead_department": attributed.lead_department,
    }


def _obligation(o: Obligation, now: datetime) -> dict[str, Any]:
    response = o.response(now)
    return {
        "level": o.level.value,
        "unit": o.unit,
        "order_id": o.order_id,
        "role": o.role,
        "arrived_by": o.arrived_by.value,
        "arrived_at": o.arrived_at,
        "responded_at": o.responded_at,
        "response_due": o.response_due,
        "response": response.value,
        "responded_on_time": response is Response.ON_TIME,
        "ended_at": o.ended_at,
        "outcome": o.outcome,
        "resolution_due": o.resolution_due,
        "resolved_on_time": o.resolved_on_time,
    }
