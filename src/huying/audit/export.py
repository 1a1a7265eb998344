"""审计导出 — a period's events as JSON Lines and the units' scores (三项考评) as CSV.

Both are streamed: events a batch at a time straight from the log (memory stays flat), scores
from the read models. Neither carries a reporter's contact details.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic_core import to_json
from sqlalchemy import Engine

from huying.audit.feed import EventFeed, FeedQuery
from huying.domain.business_time import business_year
from huying.domain.errors import InvalidCommand
from huying.domain.org import Org, UnitKind
from huying.domain.worktime import WorkCalendar
from huying.queries.scores import Period, parse_period
from huying.queries.settled_scores import settled_scores
from huying.settings import Settings

KINDS = (UnitKind.STREET, UnitKind.DEPARTMENT)


def event_lines(feed: EventFeed, query: FeedQuery, batch: int = 1000) -> Iterator[bytes]:
    """JSON Lines, one event a line, UTF-8 (Chinese text unescaped), each line exactly what the
    feed shows of the event; one chunk per batch."""
    for records in feed.stream(query, batch):
        yield b"".join(to_json(r) + b"\n" for r in records)


def period_between(first: str | None, last: str | None, period: str | None, today: date) -> Period:
    """An assessment period: ``YYYY-MM``/``YYYY-Qn``/``YYYY``, or the dates from…to (inclusive)."""
    if period and (first or last):
        raise InvalidCommand("period", "give a period, or from and to, not both")
    if period:
        named = parse_period(period)
        _named_within_business_time("period", named.first)
        return named
    if not first and not last:
        return parse_period(today.strftime("%Y-%m"))
    try:
        start = date.fromisoformat(first) if first else today.replace(day=1)
        end = date.fromisoformat(last) if last else today
    except ValueError:
        raise InvalidCommand("from", "scores are per day: give dates YYYY-MM-DD") from None
    for name, given, day in (("from", first, start), ("to", last, end)):
        if given:  # what is worked out from today is not the caller's to answer for
            _named_within_business_time(name, day)
    if start > end:
        raise InvalidCommand("to", f"to {end} is before from {start}")
    return Period(f"{start.isoformat()}..{end.isoformat()}", start, end)


def _named_within_business_time(name: str, day: date) -> None:
    try:
        business_year(day.year, f"the {name}" if name == "period" else "the date")
    except ValueError as e:
        raise InvalidCommand(name, str(e)) from None


def _flat(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}" if key != "counts" else ""
        if isinstance(value, dict):
            out.update(_flat(value, f"{name}_" if name else ""))
        else:
            out[name] = value
    return out


def score_table(
    engine: Engine,
    org: Org,
    kinds: Sequence[UnitKind],
    period: Period,
    now: datetime,
    calendar: WorkCalendar,
    settings: Settings,
) -> Iterator[dict[str, Any]]:
    """One flat row per street or department: period, rates, rank and every count behind them —
    as ``GET /api/v1/scores/units`` serves them (a settled period judged at its cutoff)."""
    for kind in kinds:
        with engine.connect() as conn:
            rows = settled_scores(conn, org, kind, period, now, calendar, settings)[1]
        for row in rows:
            yield {"period": period.label, "from": period.first, "to": period.last, **_flat(row)}


class Headers(StrEnum):
    """Which header line the scores CSV gets."""

    ZH = "zh"  # Chinese, in UTF-8 with a byte-order mark: Excel on Chinese Windows opens it right
    EN = "en"  # the field codes of docs/metrics.md §4, plain UTF-8: for scripts


# The scores CSV's columns: the field codes of docs/metrics.md §4 (counts flattened, ``responses``
# by class) and the header an Excel user reads for each.
SCORE_HEADERS: dict[str, str] = {
    "period": "考核期间",
    "from": "起始日期",
    "to": "截止日期",
    "unit": "单位代码",
    "name": "单位名称",
    "kind": "单位类别",
    "rank": "排名",
    "composite": "综合得分",
    "response_rate": "响应率",
    "solve_rate": "解决率",
    "satisfaction_rate": "满意率",
    "return_rate": "退单率",
    "reopen_rate": "重办率",
    "supervised": "督办次数",
    "evaluated_calls": "参评呼叫数",
    "received": "接收事项数",
    "response_owed": "应响应数",
    "responded_on_time": "按时响应数",
    "responses_on_time": "响应分类：按时",
    "responses_late": "响应分类：超时",
    "responses_untimed": "响应分类：无时限",
    "responses_pending": "响应分类：待响应",
    "responses_ended_before_due": "响应分类：到期前结束",
    "responses_not_owed": "响应分类：无需响应",
    "returned": "退单数",
    "evaluated_rounds": "评价轮次",
    "contacted": "有效回访轮次",
    "not_contacted": "无效回访轮次",
    "solved": "已解决轮次",
    "satisfied": "满意轮次",
    "basically_satisfied": "基本满意轮次",
    "dissatisfied": "不满意轮次",
    "reopened_rounds": "重办轮次",
}


def score_csv(rows: Iterable[dict[str, Any]], headers: Headers = Headers.ZH) -> Iterator[bytes]:
    """The scores as CSV (RFC 4180), a header line first: Chinese after a byte-order mark, or
    the field codes. (A field without a Chinese header yet keeps its code.)"""
    if headers is Headers.ZH:
        yield codecs.BOM_UTF8
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header: list[str] | None = None
    for row in rows:
        if header is None:
            header = list(row)
            writer.writerow([SCORE_HEADERS.get(k, k) for k in header] if headers is Headers.ZH else header)
        writer.writerow(["" if row[k] is None else row[k] for k in header])
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
