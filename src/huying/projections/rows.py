"""What every read model is: a pure function from an aggregate (as of some version) to its rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Table

from huying.domain.aggregate import HuyingAggregate

Row = dict[str, Any]


class ReadModel(Protocol):
    """One read model: the kind of aggregate it reads, the tables it owns (each naming that
    aggregate in column ``key``) and the rows one aggregate contributes to them. A model whose
    rows follow from the aggregate's first event alone may say ``written_once = True``: the
    runner writes them in the batch that creates the aggregate and never replaces them."""

    tables: tuple[Table, ...]

    @property
    def kind(self) -> type[HuyingAggregate]: ...

    @property
    def key(self) -> str: ...

    def rows(self, aggregate: Any, positions: Mapping[int, int]) -> Mapping[Table, list[Row]]:
        """``positions`` maps the aggregate's versions to their log positions."""
        ...


def instants_text(instants: Iterable[datetime]) -> str | None:
    """Instants as one column: UTC, in order, space-separated (None when there are none)."""
    ordered = sorted(i.astimezone(UTC) for i in instants)
    return " ".join(i.isoformat() for i in ordered) or None


def instants_of(stored: str | None) -> list[datetime]:
    """The instants :func:`instants_text` stored, in order."""
    return [datetime.fromisoformat(part) for part in (stored or "").split()]
