"""What every read model is: a pure function from a call (as of some version) to its rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy import Table

from huying.domain.call import Call

Row = dict[str, Any]


class ReadModel(Protocol):
    """One read model: the tables it owns and the rows one call contributes to them."""

    tables: tuple[Table, ...]

    def rows(self, call: Call, positions: Mapping[int, int]) -> Mapping[Table, list[Row]]:
        """``positions`` maps the call's versions to their log positions."""
        ...
