"""The tallies' rows on PostgreSQL come in its binary format (``huying.postgres.binary_rows``),
as SQLAlchemy executes any statement: its compiled cache serves the statement the second time,
and only the statement asked for is read in binary — the next on the same connection is not."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg import pq
from sqlalchemy import LargeBinary, event, literal, select, text

from huying.bootstrap import Services
from huying.postgres import binary_rows

pytestmark = pytest.mark.postgres_only(reason="PostgreSQL's binary format of rows")


def row(spread: bytes, n: int) -> Any:  # a Select of two columns
    return select(literal(spread, LargeBinary).label("spread"), literal(n).label("n"))


def test_rows_asked_in_binary_come_so_from_a_statement_compiled_once(services: Services) -> None:
    seen: list[tuple[Any, Any]] = []

    def after(_conn: Any, cursor: Any, _stmt: str, _params: Any, context: Any, _many: bool) -> None:
        seen.append((cursor.format, context.compiled))

    event.listen(services.engine, "after_cursor_execute", after)
    try:
        with services.engine.connect() as conn:
            spread = b"\x00\x01\xff" * 100  # a bytea's bytes, as a spread's are stored
            first = binary_rows(conn, row(spread, 7))
            again = binary_rows(conn, row(b"\x02", 8))
            plain = conn.execute(text("SELECT 1")).scalar_one()
    finally:
        event.remove(services.engine, "after_cursor_execute", after)
    assert [tuple(r) for r in first] == [(spread, 7)] and [tuple(r) for r in again] == [(b"\x02", 8)]
    assert plain == 1
    (binary, compiled), (binary_again, compiled_again), (text_format, _) = seen
    assert binary == binary_again == pq.Format.BINARY and text_format == pq.Format.TEXT
    assert compiled_again is compiled  # the same statement's shape: SQLAlchemy's cache served it
