"""部门年度考核 and 街道综合考核 (docs/metrics.md §11): residents' 满意率, the callers' ratings
(一呼一评 by the caller, §10), 响应率 and 解决率, and 令行禁止, combined with configurable weights,
less a deduction per 督办 charged fairly — ranked as the unit scores are.

Built on the other read sides' answers, not a second copy of them: the unit scores
(``queries.scores.unit_scores``) give the residents' and SLA counts, the directive figures
(``queries.directive_figures.figures``) the 令行禁止 counts; this module adds the callers'
ratings and the charged 督办 from ``rm_caller_ratings`` and ``rm_supervision_charges``. A street
answers for its communities too: its counts are pooled with theirs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import Connection, case, func, select

from huying.domain.org import Org, UnitKind
from huying.projections.periods import utc_span
from huying.projections.rating_tables import rm_caller_ratings, rm_supervision_charges
from huying.queries.directive_figures import figures as directive_figures
from huying.queries.scores import Period, dense_rank, rate, unit_scores
from huying.queries.settled import Judged

# The components, in the order the weights are given (HUYING_ASSESSMENT_WEIGHTS).
COMPONENTS = ("satisfaction", "caller_rating", "response", "solve", "directives")
_CONTENT = ("satisfied", "basically_satisfied")  # 满意 + 基本满意
_ANY_WEIGHTS = (1.0, 0.0, 0.0)  # the unit scores' own composite and rank are not read here
# Each component's numerator and denominator among a unit's counts.
_PARTS = {
    "satisfaction": ("content", "contacted"),
    "caller_rating": ("ratings_content", "ratings"),
    "response": ("responded_on_time", "response_owed"),
    "solve": ("solved", "contacted"),
    "directives": ("directive_met", "directive_judged"),
}


@dataclass(frozen=True)
class Rules:
    """How the components are combined (settings; docs/metrics.md §11)."""

    weights: Sequence[float]  # one per COMPONENTS entry, non-negative, summing to 1
    supervision_deduction: float  # taken off the composite per charged 督办
    min_evaluated: int  # fewer evaluated calls: listed, not ranked


def composite(
    components: Mapping[str, Fraction | None], weights: Sequence[float], deduction: Fraction
) -> Fraction | None:
    """Σ wᵢ·xᵢ / Σ wᵢ over the components that are known (a unit with no directives, say, is
    judged on the rest), less ``deduction``, never below 0. None when residents' 满意率 is
    unknown: no unit is assessed without its residents' word."""
    if components["satisfaction"] is None:
        return None
    known = [(Fraction(str(w)), components[c]) for w, c in zip(weights, COMPONENTS, strict=True)]
    weighed = [(w, x) for w, x in known if x is not None and w > 0]
    total = sum((w for w, _ in weighed), Fraction(0))
    if total == 0:
        return None
    score = sum((w * x for w, x in weighed), Fraction(0)) / total
    return max(Fraction(0), score - deduction)


def assessment(
    conn: Connection, org: Org, kind: UnitKind, period: Period, rules: Rules, when: Judged
) -> list[dict[str, Any]]:
    """Every street (综合考核) or department (年度考核), ranked; a period past its cutoff is
    judged as of the cutoff (docs/metrics.md §12)."""
    pooled = {u.code: _pool(org, kind, u.code) for u in org.of_kind(kind)}
    counts = _counts(conn, org, kind, period, rules, when)
    assessed = []
    for unit in org.of_kind(kind):
        total: Counter[str] = Counter()
        for member in pooled[unit.code]:
            total.update(counts.get(member, {}))
        components = {c: rate(total[n], total[d]) for c, (n, d) in _PARTS.items()}
        deduction = Fraction(str(rules.supervision_deduction)) * total["supervised"]
        assessed.append(
            {
                "unit": unit.code,
                "name": unit.name,
                "kind": kind.value,
                "rank": None,
                "composite": composite(components, rules.weights, deduction),
                "components": components,
                "deduction": deduction,
                "evaluated_calls": total["evaluated_calls"],
                "pooled": pooled[unit.code][1:],
                "counts": {k: total[k] for k in _COUNTS},
            }
        )
    return [_rounded(a) for a in dense_rank(assessed, rules.min_evaluated)]


_COUNTS = (
    "contacted",
    "content",
    "solved",
    "response_owed",
    "responded_on_time",
    "ratings",
    "ratings_content",
    "directive_judged",
    "directive_met",
    "supervised",
    "supervised_moved_in",
    "supervised_moved_out",
)


def _pool(org: Org, kind: UnitKind, code: str) -> list[str]:
    """The units whose counts a unit answers for: itself, and a street its communities."""
    if kind is UnitKind.STREET:
        return [code, *(c.code for c in org.children(code) if c.kind is UnitKind.COMMUNITY)]
    return [code]


def _counts(
    conn: Connection, org: Org, kind: UnitKind, period: Period, rules: Rules, when: Judged
) -> dict[str, Counter[str]]:
    kinds = [UnitKind.STREET, UnitKind.COMMUNITY] if kind is UnitKind.STREET else [kind]
    counts: dict[str, Counter[str]] = {}
    least, now, settles_at = rules.min_evaluated, when.now, when.settles_at
    for scored_kind in kinds:
        for row in unit_scores(conn, org, scored_kind, period, now, _ANY_WEIGHTS, least, settles_at):
            c = row["counts"]
            counts[row["unit"]] = Counter(
                contacted=c["contacted"],
                content=sum(c[s] for s in _CONTENT),
                solved=c["solved"],
                response_owed=c["response_owed"],
                responded_on_time=c["responded_on_time"],
                evaluated_calls=row["evaluated_calls"],
            )
    since, until = utc_span(period.first, period.last)
    # 令行禁止 with "now" the cutoff once it has passed; ratings and charges count by their `at`
    # within the period, before the cutoff already (docs/metrics.md §12).
    for f in directive_figures(conn, list(counts), when.at, since, until):
        counts[f["unit"]].update(
            directive_judged=f["receipt_judged"] + f["completion_judged"] + f["accepted"],
            directive_met=f["received_on_time"] + f["completed_on_time"] + f["accepted_first_time"],
        )
    for unit, ratings, content in _ratings(conn, list(counts), since, until):
        counts[unit].update(ratings=ratings, ratings_content=content)
    for unit, charged in _charges(conn, list(counts), since, until).items():
        counts[unit].update(charged)
    return counts


def _ratings(conn: Connection, units: list[str], since: datetime, until: datetime) -> Iterable[Any]:
    """Per rated unit: the callers' ratings it got in the period, and how many were content."""
    r = rm_caller_ratings
    content = func.sum(case((r.c.satisfaction.in_(_CONTENT), 1), else_=0))
    query = (
        select(r.c.rated_unit, func.count(), content)
        .where(r.c.rated_unit.in_(units), r.c.at >= since, r.c.at < until)
        .group_by(r.c.rated_unit)
    )
    return [(unit, int(n), int(c or 0)) for unit, n, c in conn.execute(query)]


def _charges(conn: Connection, units: list[str], since: datetime, until: datetime) -> dict[str, Counter[str]]:
    """Per unit: the 督办 charged to it in the period; those moved onto it from a street, and
    those moved off it onto a department."""
    s = rm_supervision_charges
    query = select(s.c.flagged_unit, s.c.charged_unit, s.c.moved).where(s.c.at >= since, s.c.at < until)
    wanted = set(units)
    charged: dict[str, Counter[str]] = {u: Counter() for u in units}
    for flagged, unit, moved in conn.execute(query):
        if unit in wanted:
            charged[unit].update(supervised=1, supervised_moved_in=int(bool(moved)))
        if moved and flagged in wanted:
            charged[flagged].update(supervised_moved_out=1)
    return charged


def _rounded(assessed: dict[str, Any]) -> dict[str, Any]:
    """On the wire: 6 decimal places (ranks were taken from the exact fractions)."""

    def shown(v: Any) -> Any:
        return round(float(v), 6) if isinstance(v, Fraction) else v

    out = {k: shown(v) for k, v in assessed.items()}
    out["components"] = {k: shown(v) for k, v in assessed["components"].items()}
    return out
