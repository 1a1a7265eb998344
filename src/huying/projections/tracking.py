"""Where a tracked projection stands in the notification log (``projection_tracking``).

Its rows and its position move in the same transaction; moving the position is conditional on
it still being where this projector read it, so two projectors never both commit a batch. The
same transaction tells the deployment's other processes where it got to (``wakeups``).
"""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, update

from huying.projections.tables import projection_tracking
from huying.wakeups import announce_tracked


def tracked(conn: Connection, name: str) -> int:
    """The last log position projected by ``name`` (0 before the first batch)."""
    stored = conn.execute(
        select(projection_tracking.c.position).where(projection_tracking.c.name == name)
    ).scalar()
    return int(stored or 0)


def move(conn: Connection, name: str, start: int, end: int) -> bool:
    """Moves ``name`` from ``start`` to ``end``; False if another projector moved it first."""
    moved = _moved(conn, name, start, end)
    if moved:
        announce_tracked(conn, name, end)
    return moved


def _moved(conn: Connection, name: str, start: int, end: int) -> bool:
    if start == 0:
        exists = conn.execute(
            select(projection_tracking.c.position).where(projection_tracking.c.name == name)
        ).first()
        if exists is None:
            conn.execute(insert(projection_tracking).values(name=name, position=end))
            return True
    moved = conn.execute(
        update(projection_tracking)
        .where(projection_tracking.c.name == name, projection_tracking.c.position == start)
        .values(position=end)
    )
    return bool(moved.rowcount)
