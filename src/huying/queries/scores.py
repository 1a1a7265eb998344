"""三项考评 — the 一呼一评 scores: per call, per round; per street and department, per period.

响应率 comes from the obligations the SLA dashboard reads (stints, work orders); 解决率, 满意率 and
重办率 from the evaluated rounds (``rm_evaluations``); 督办 from ``rm_supervisions``.
``docs/metrics.md`` states every definition; change one, change the other.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import Connection, and_, select

from huying.domain.errors import InvalidCommand
from huying.domain.levels import Level
from huying.domain.org import Org, UnitKind
from huying.domain.states import OrderRole
from huying.projections.attribution import attribute
from huying.projections.tables import rm_calls, rm_evaluations, rm_stints, rm_supervisions, rm_work_orders
from huying.queries.dashboard import utc_span
from huying.queries.obligations import (
    Obligation,
    Response,
    obligations,
    order_obligations,
    stint_obligations,
)

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
    evaluated_calls: set[str] = field(default_factory=set)
    supervised: int = 0

    def obliged(self, o: Obligation, now: datetime) -> None:
        response = o.response(now)
        self.received += 1
        self.responses[response.value] += 1
        self.response_owed += response in _OWED
        self.responded_on_time += response is Response.ON_TIME
        self.returned += o.outcome == "returned"

    def evaluated(self, row: Any) -> None:
        self.evaluated_rounds += 1
        self.reopened_rounds += bool(row.reopened)
        if not row.contacted:  # 无效回访: reported, outside 解决率 and 满意率
            self.not_contacted += 1
            return
        self.contacted += 1
        self.solved += bool(row.solved)
        self.satisfaction[row.satisfaction] += 1
        self.evaluated_calls.add(row.call_id)


def rate(numerator: int, denominator: int) -> Fraction | None:
    return Fraction(numerator, denominator) if denominator else None


# The kinds of unit scored (社区; 街道综合考核; 部门年度考核): the level whose obligations are
# each unit's own, and the evaluation column attributing a round to it (projections.attribution).
SCORED = {
    UnitKind.COMMUNITY: (Level.COMMUNITY, rm_evaluations.c.reached_community),
    UnitKind.STREET: (Level.STREET, rm_evaluations.c.street_code),
    UnitKind.DEPARTMENT: (Level.DEPARTMENT, rm_evaluations.c.lead_department),
}


def unit_scores(
    conn: Connection,
    org: Org,
    kind: UnitKind,
    period: Period,
    now: datetime,
    weights: Sequence[float],
    min_evaluated: int,
) -> list[dict[str, Any]]:
    """响应率, 解决率, 满意率, composite and dense rank for every community, street or department."""
    since, until = utc_span(period.first, period.last)
    level, attributed = SCORED[kind]
    units = org.of_kind(kind)
    tallies = {u.code: Tally() for u in units}
    for o in obligations(conn, level, tallies, since=since, until=until):
        tallies[o.unit].obliged(o, now)
    in_period = and_(rm_evaluations.c.at >= since, rm_evaluations.c.at < until, attributed.is_not(None))
    for row in conn.execute(select(rm_evaluations, attributed.label("unit")).where(in_period)):
        if row.unit in tallies:
            tallies[row.unit].evaluated(row)
    flags = select(rm_supervisions.c.unit).where(rm_supervisions.c.at >= since, rm_supervisions.c.at < until)
    for (unit,) in conn.execute(flags):
        if unit in tallies:
            tallies[unit].supervised += 1
    scored = [_scored(u.code, u.name, kind, tallies[u.code], weights) for u in units]
    return [_rounded(s) for s in dense_rank(scored, min_evaluated)]


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
        "evaluated_calls": len(t.evaluated_calls),
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
    held = stint_obligations(conn, rm_stints.c.call_id == call_id)
    ordered = order_obligations(conn, rm_work_orders.c.call_id == call_id)
    evaluations = {
        r.round: r for r in conn.execute(select(rm_evaluations).where(rm_evaluations.c.call_id == call_id))
    }
    in_arrival_order = sorted((*held, *ordered), key=lambda o: o.arrived_at)
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
