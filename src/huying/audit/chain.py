"""防篡改 — a hash chain over the event log, kept by a tracked projection.

For the stored event at log position n::

    C(n)    = i64(position) ‖ u64(len id) ‖ id ‖ i64(version) ‖ u64(len topic) ‖ topic
              ‖ u64(len state) ‖ state                      (big-endian; id and topic UTF-8)
    link(0) = 32 zero bytes
    link(n) = SHA-256(link(previous) ‖ C(n))
    digest(n) = SHA-256(C(n))

``id`` is the originator id as the store keeps it (32 lowercase hex digits for a call),
``state`` the stored bytes. The keeper appends one ``audit_chain`` row per event (digest and
link) and moves its own ``projection_tracking`` row in the same transaction, so every event is
chained exactly once whatever crashes. Now and then it also records a checkpoint (position,
link, time): exported and kept elsewhere, a checkpoint proves how long the log was, so even a
tail cut from the log *and* the chain table is found.
"""

from __future__ import annotations

import hashlib
import logging
import struct
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass

from sqlalchemy import Connection, Engine, insert, select

from huying.application import HuyingApplication
from huying.audit.log import StoredLog, StoredRow
from huying.audit.tables import audit_chain, audit_checkpoints
from huying.background import Follower
from huying.clock import Clock
from huying.projections import tracking

log = logging.getLogger(__name__)

TRACKING_NAME = "audit-chain"
GENESIS = bytes(32)
_I64 = struct.Struct(">q")
_U64 = struct.Struct(">Q")
_END_OF_LOG = 2**63 - 1


def canonical(row: StoredRow, position: int | None = None) -> bytes:
    """C(n): the stored event's bytes in one unambiguous order (at ``position`` if given)."""
    oid, topic = row.originator_id.encode(), row.topic.encode()
    return b"".join(
        (
            _I64.pack(row.position if position is None else position),
            _U64.pack(len(oid)),
            oid,
            _I64.pack(row.version),
            _U64.pack(len(topic)),
            topic,
            _U64.pack(len(row.state)),
            row.state,
        )
    )


def digest_of(row: StoredRow, position: int | None = None) -> str:
    return hashlib.sha256(canonical(row, position)).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainLink:
    """One row of the chain: which event sat at the position, its digest and the link."""

    position: int
    originator_id: str
    originator_version: int
    digest: str
    link: str


def extend(previous: bytes, rows: Iterable[StoredRow]) -> Iterator[ChainLink]:
    """The links that follow ``previous`` over ``rows`` (in log order)."""
    for row in rows:
        c = canonical(row)
        h = hashlib.sha256(previous)
        h.update(c)
        previous = h.digest()
        yield ChainLink(
            row.position, row.originator_id, row.version, hashlib.sha256(c).hexdigest(), previous.hex()
        )


class ChainBroken(RuntimeError):
    """The chain table contradicts its own tracking row: it was edited by hand."""


class ChainRace(RuntimeError):
    """Two keepers chained the same batch; the loser's transaction was rolled back."""


class ChainKeeper:
    """Extends the chain batch by batch — rows, tracking and any checkpoint in one transaction."""

    def __init__(
        self,
        app: HuyingApplication,
        engine: Engine,
        clock: Clock,
        *,
        batch_size: int = 1000,
        checkpoint_every: int = 1000,
        checkpoint_seconds: float = 3600.0,
        poll_seconds: float = 1.0,
    ) -> None:
        self.app = app
        self.log = StoredLog(app.recorder)
        self.engine = engine
        self.clock = clock
        self.batch_size = batch_size
        self.checkpoint_every = checkpoint_every
        self.checkpoint_seconds = checkpoint_seconds
        self._lock = threading.Lock()
        self._follower = Follower("huying-audit-chain", self._follow, poll_seconds)
        self._listening = False

    # --- where the chain stands -----------------------------------------------------------

    def tracked_position(self) -> int:
        with self.engine.connect() as conn:
            return tracking.tracked(conn, TRACKING_NAME)

    def head(self) -> tuple[int, str]:
        """The chained head: its position and link (0 and the genesis link when empty)."""
        with self.engine.connect() as conn:
            position = tracking.tracked(conn, TRACKING_NAME)
            return position, _link_at(conn, position).hex()

    # --- one batch, exactly once -----------------------------------------------------------

    def run_once(self, limit: int | None = None) -> int:
        """Chain the next batch; returns how many events it covered (0 = caught up)."""
        with self._lock:
            with self.engine.connect() as conn:
                start = tracking.tracked(conn, TRACKING_NAME)
                previous = _link_at(conn, start)
            rows = self.log.page(start, _END_OF_LOG, limit or self.batch_size)
            if not rows:
                return 0
            links = [asdict(link) for link in extend(previous, rows)]
            end = rows[-1].position
            with self.engine.begin() as conn:
                if not tracking.move(conn, TRACKING_NAME, start, end):
                    raise ChainRace(f"the chain's tracking moved past {start} under us")
                conn.execute(insert(audit_chain), links)
                self._checkpoint_if_due(conn, end, links[-1]["link"])
            return len(rows)

    def catch_up(self, on_batch: Callable[[int], None] | None = None) -> int:
        total = 0
        while n := self.run_once():
            total += n
            if on_batch:
                on_batch(n)
        return total

    def _checkpoint_if_due(self, conn: Connection, end: int, link: str) -> None:
        """审计检查点: every ``checkpoint_every`` positions, or ``checkpoint_seconds`` of
        business time after the previous checkpoint."""
        now = self.clock.now()
        last = conn.execute(
            select(audit_checkpoints.c.position, audit_checkpoints.c.at)
            .order_by(audit_checkpoints.c.position.desc())
            .limit(1)
        ).first()
        since = last.position if last is not None else 0
        due = end - since >= self.checkpoint_every or (
            last is not None and (now - last.at).total_seconds() >= self.checkpoint_seconds
        )
        if due:
            conn.execute(insert(audit_checkpoints).values(position=end, link=link, at=now))

    # --- in the background -----------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._follower.running

    def wake(self) -> None:
        """Chain now rather than at the next poll (events were committed somewhere)."""
        self._follower.wake()

    def start(self) -> None:
        if not self._listening:
            self.app.on_saved(self._follower.wake)
            self._listening = True
        self._follower.start()

    def stop(self) -> None:
        self._follower.stop()

    def _follow(self) -> None:
        try:
            self.catch_up()
        except ChainRace:
            log.warning("another chain keeper is running; this one follows")


def _link_at(conn: Connection, position: int) -> bytes:
    if position == 0:
        return GENESIS
    link = conn.execute(select(audit_chain.c.link).where(audit_chain.c.position == position)).scalar()
    if link is None:
        raise ChainBroken(f"the chain is tracked through position {position} but has no link there")
    return bytes.fromhex(link)
