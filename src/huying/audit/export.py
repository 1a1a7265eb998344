"""审计导出 — a period's events as JSON Lines and the units' scores (三项考评) as CSV.

Both are streamed: events a batch at a time straight from the log (memory stays flat), scores
from the read models. Neither carries a reporter's contact details.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from pydantic_core import to_json
from sqlalchemy import Engine

from huying.audit.feed import EventFeed, FeedQuery
from huying.domain.errors import InvalidCommand
from huying.domain.org import Org, UnitKind
from huying.projections.scores import Period, parse_period, unit_scores

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
        return parse_period(period)
    if not first and not last:
        return parse_period(today.strftime("%Y-%m"))
    try:
        start = date.fromisoformat(first) if first else today.replace(day=1)
        end = date.fromisoformat(last) if last else today
    except ValueError:
        raise InvalidCommand("from", "scores are per day: give dates YYYY-MM-DD") from None
    if start > end:
        raise InvalidCommand("to", f"to {end} is before from {start}")
    return Period(f"{start.isoformat()}..{end.isoformat()}", start, end)


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
    weights: Sequence[float],
    min_evaluated: int,
) -> Iterator[dict[str, Any]]:
    """One flat row per street or department: period, rates, rank and every count behind them."""
    for kind in kinds:
        with engine.connect() as conn:
            rows = unit_scores(conn, org, kind, period, now, weights, min_evaluated)
        for row in rows:
            yield {"period": period.label, "from": period.first, "to": period.last, **_flat(row)}


def csv_lines(rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """CSV, UTF-8, a header line first (RFC 4180)."""
    buffer = io.StringIO()
    writer: csv.DictWriter[str] | None = None
    for row in rows:
        if writer is None:
            writer = csv.DictWriter(buffer, fieldnames=list(row), lineterminator="\n")
            writer.writeheader()
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
