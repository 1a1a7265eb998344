"""Published 考评 read side: the versions of the publications a principal may read, in the order
they were published (cursor: the log position of each version). Nothing here writes."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, select

from huying.domain.jurisdiction import may_read_unit
from huying.domain.org import Org, UnitKind
from huying.domain.principal import Principal
from huying.projections.publication_tables import rm_publications
from huying.queries.search import Page


def readable_kinds(principal: Principal, org: Org, kinds: Mapping[str, UnitKind]) -> list[str]:
    """The kinds of publication (each with the kind of unit it has rows for) with a row the
    principal may read: a publication has a row for every unit of its kind."""
    return [
        k
        for k, units in kinds.items()
        if any(may_read_unit(principal, org, u.code) for u in org.of_kind(units))
    ]


def publications_of(conn: Connection, kinds: list[str], period: str | None, after: int, limit: int) -> Page:
    p = rm_publications
    query = select(p).where(p.c.kind.in_(kinds), p.c.position > after).order_by(p.c.position)
    if period is not None:
        query = query.where(p.c.period == period)
    rows = [dict(r._mapping) for r in conn.execute(query.limit(limit + 1))]
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, rows[-1]["position"] if more and rows else None)
