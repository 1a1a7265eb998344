"""Where a tracked projection stands in the notification log (``projection_tracking``).

Its rows and its position move in the same transaction; moving the position is conditional on
it still being where this projector read it, so two projectors never both commit a batch. The
same transaction tells the deployment's other processes where it got to (``wakeups``).
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, insert, select, update

from huying.projections.tables import projection_tracking
from huying.wakeups import announce_tracked

# Read and moved in every projector batch: built once, the name and positions bound.
_t = projection_tracking
_POSITION_OF = select(_t.c.position).where(_t.c.name == bindparam("tracked"))
_MOVE = (
    update(_t)
    .where(_t.c.name == bindparam("tracked"), _t.c.position == bindparam("start"))
    .values(position=bindparam("end"))
)


def tracked(conn: Connection, name: str) -> int:
    """The last log position projected by ``name`` (0 before the first batch)."""
    return int(conn.execute(_POSITION_OF, {"tracked": name}).scalar() or 0)


def move(conn: Connection, name: str, start: int, end: int, *, create: bool = True) -> bool:
    """Moves ``name`` from ``start`` to ``end``; False if another projector moved it first (or,
    unless ``create``, if it has no row: made by whoever started the projection)."""
    moved = _moved(conn, name, start, end, create)
    if moved:
        announce_tracked(conn, name, end)
    return moved


def _moved(conn: Connection, name: str, start: int, end: int, create: bool) -> bool:
    if create and start == 0 and conn.execute(_POSITION_OF, {"tracked": name}).first() is None:
        conn.execute(insert(projection_tracking).values(name=name, position=end))
        return True
    return bool(conn.execute(_MOVE, {"tracked": name, "start": start, "end": end}).rowcount)
