"""防篡改 — the chain keeper: chains every stored event exactly once, after vouching for it.

The chain's arithmetic is in ``links`` (anyone can recompute it). The keeper appends one
``audit_chain`` row per event (digest and link) and moves its own ``projection_tracking`` row in
the same transaction, so every event is chained exactly once whatever crashes.

Before chaining an event it vouches for it (``vouch``): its seal holds, or it is a legacy event
within the recorded boundary; it lies beyond the position its writer had seen, and there is an
event there; its originator's previous version is already chained or just before it in the
batch. An event it cannot vouch for is **never chained**: the keeper stops before it, raises
the alarm (``alarm``, shown by ``/readyz``, ``/metrics`` and the log) and waits; once the row is
dealt with — the genuine event restored, or a forged row removed — it goes on by itself.

Now and then it also records a checkpoint (position, link, wall-clock time) — exported and kept
elsewhere, a checkpoint proves how long the log was, so even a tail cut from the log *and* the
chain table is found — and re-verifies the whole log (``verdict``, kept in the database for
every process: ``audit.verdicts``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, insert, select

from huying.application import HuyingApplication
from huying.audit.checkpoints import Checkpoint
from huying.audit.links import END_OF_LOG, GENESIS, TRACKING_NAME, ChainLink, extend
from huying.audit.log import StoredLog, StoredRow
from huying.audit.seal import split
from huying.audit.tables import audit_chain, audit_checkpoints
from huying.audit.verdicts import Verdict, keep, last
from huying.audit.verify import Report, Verifier
from huying.audit.vouch import Alarm, Flaw, LogOrder
from huying.background import GATHER_SECONDS_UNWAITED, Follower, Pacer, Stopping
from huying.clock import Clock
from huying.projections import tracking
from huying.sqlite_writes import write_transaction

log = logging.getLogger(__name__)

__all__ = ["TRACKING_NAME", "ChainBroken", "ChainKeeper", "ChainRace", "Verdict"]

# The keeper's own whole-log check (at start, then an hour after the last one ended) runs beside
# the requests of the process it lives in — the only process of an embedded deployment: a page of
# this many events at a time, chaining what arrived between pages, at most ``VERIFY_SHARE`` of
# the time.
BACKGROUND_PAGE = 1000
# The check's work grows with the log (~55,000 events/s at full speed on the 2-core test machine:
# 2 min for a million-call district's 7.3 million events), and every event it reads takes the CPU
# from requests. At a quarter of the time (``BACKGROUND_SHARE``, the watchdog's short sweeps) it
# took 0.2–0.35 ms more CPU per raise of the process it shares with the projector, at a million
# calls, for the first ~9 minutes after each start; and once a pass outgrew the hour it would
# never rest. At this share such a
# pass takes ~45 min, and the next begins an hour after it ended: on average the check costs
# under 5% of one core however long the log grows; a break in an old row is found later, within
# the pass's length plus an hour (``huying audit verify`` checks at full speed at any time). Every
# new event is still vouched for before it is chained.
VERIFY_SHARE = 0.05


class ChainBroken(RuntimeError):
    """The chain table contradicts its own tracking row: it was edited by hand."""


class ChainRace(RuntimeError):
    """Two keepers chained the same batch; the loser's transaction was rolled back."""


class ChainKeeper:
    """Extends the chain batch by batch — rows, tracking and any checkpoint in one transaction.

    ``clock`` is the wall clock: checkpoints say when they were taken, in real time, whatever
    business time a demo's fake clock shows.
    """

    def __init__(
        self,
        app: HuyingApplication,
        engine: Engine,
        clock: Clock,
        *,
        batch_size: int = 1000,
        checkpoint_every: int = 1000,
        checkpoint_seconds: float = 3600.0,
        verify_seconds: float = 3600.0,
        poll_seconds: float = 1.0,
        verify_share: float = VERIFY_SHARE,
        keeps_verdicts: bool = True,
    ) -> None:
        self.app = app
        self.voucher = app.voucher
        self.log = StoredLog(app.recorder)
        self.engine = engine
        self.clock = clock
        self.batch_size = batch_size
        self.checkpoint_every = checkpoint_every
        self.checkpoint_seconds = checkpoint_seconds
        self.verify_seconds = verify_seconds
        self.verify_share = verify_share
        self.keeps_verdicts = keeps_verdicts  # False in a read-only process: it only answers
        self._alarm = Alarm("audit chain")  # the event the keeper refuses to chain, until dealt with
        self._lock = threading.Lock()
        self._follower = Follower("huying-audit-chain", self._follow, poll_seconds, GATHER_SECONDS_UNWAITED)
        self._listening = False
        self._verify_due: datetime | None = None
        self._sealed_seen = False  # a sealed event is chained: no unsealed one may follow

    # --- where the chain stands -----------------------------------------------------------

    @property
    def verdict(self) -> Verdict | None:
        """The last whole-log check's, in whichever process of the deployment it ran."""
        return last(self.engine)

    @property
    def alarm(self) -> Flaw | None:
        """The event the keeper refuses to chain (it waits before it), or None."""
        return self._alarm.flaw

    def tracked_position(self) -> int:
        with self.engine.connect() as conn:
            return tracking.tracked(conn, TRACKING_NAME)

    def head(self) -> tuple[int, str]:
        """The chained head: its position and link (0 and the genesis link when empty)."""
        with self.engine.connect() as conn:
            position = tracking.tracked(conn, TRACKING_NAME)
            return position, _link_at(conn, position).hex()

    def head_checkpoint(self) -> Checkpoint | None:
        """The chained head as a checkpoint to keep, read now (None while nothing is chained)."""
        position, link = self.head()
        return Checkpoint(position, link, self.clock.now()) if position else None

    # --- one batch, exactly once -----------------------------------------------------------

    def run_once(self, limit: int | None = None) -> int:
        """Chain the next batch, up to the first event it cannot vouch for; returns how many
        events it chained (0 = caught up, or halted: see ``alarm``)."""
        with self._lock:
            self.voucher.record_boundary(self.log)
            with self.engine.connect() as conn:
                start = tracking.tracked(conn, TRACKING_NAME)
                previous = _link_at(conn, start)
            rows, flaw = self._ahead(start, limit or self.batch_size)
            if rows:
                links = [_row_of(link) for link in extend(previous, rows)]
                end = rows[-1].position
                with write_transaction(self.engine) as conn:
                    if not tracking.move(conn, TRACKING_NAME, start, end):
                        raise ChainRace(f"the chain's tracking moved past {start} under us")
                    conn.execute(insert(audit_chain), links)
                    self._checkpoint_if_due(conn, end, links[-1]["link"])
            self._alarm.sound(flaw)
            return len(rows)

    def catch_up(self, on_batch: Callable[[int], None] | None = None) -> int:
        """Batches until the log's end as it was when the last one was read (a short batch)."""
        total = 0
        while n := self.run_once():
            total += n
            if on_batch:
                on_batch(n)
            if n < self.batch_size:
                break
        return total

    def inspect(self) -> Flaw | None:
        """What the keeper would refuse next, judged afresh (for a process where it runs not)."""
        return self._ahead(self.tracked_position(), 1)[1]

    def _ahead(self, start: int, limit: int) -> tuple[list[StoredRow], Flaw | None]:
        """Up to ``limit`` events after ``start``, up to the first the keeper cannot vouch for,
        and that one's flaw. The chained head is read along: once a sealed event is chained, no
        unsealed one may follow, wherever the legacy boundary says it lies."""
        page = self.log.page(max(start - 1, 0), END_OF_LOG, limit + 1)
        if page and page[0].position == start:
            self._sealed_seen = self._sealed_seen or split(page[0].state)[1] is not None
            return self._vouched(start, page[1:])
        return self._vouched(start, page[:limit])

    def _vouched(self, start: int, rows: list[StoredRow]) -> tuple[list[StoredRow], Flaw | None]:
        """The rows up to the first one the keeper cannot vouch for, and that one's flaw."""
        order = self._order(start, rows)
        for i, row in enumerate(rows):
            checked = self.voucher.check(row.originator_id, row.version, row.topic, row.state, row.position)
            flaw = checked.flaw or order.check(
                row.position, row.originator_id, row.version, row.topic, checked.after
            )
            if flaw is not None:
                return rows[:i], flaw
        return rows, None

    def _order(self, start: int, rows: list[StoredRow]) -> LogOrder:
        """Order as the chain leaves it at ``start`` (another keeper may be past it by now):
        each originator's last chained version."""
        versions: dict[str, int] = {}
        oids = sorted({r.originator_id for r in rows})
        with self.engine.connect() as conn:
            for chunk in (oids[i : i + 500] for i in range(0, len(oids), 500)):
                last = func.max(audit_chain.c.originator_version)
                query = select(audit_chain.c.originator_id, last).where(
                    audit_chain.c.originator_id.in_(chunk), audit_chain.c.position <= start
                )
                versions.update(
                    (oid, int(v)) for oid, v in conn.execute(query.group_by(audit_chain.c.originator_id))
                )
        return LogOrder(
            self.log.locate,
            start=start,
            versions=versions,
            held=self._chained,
            sealed_before=self._sealed_seen,
        )

    def _chained(self, position: int) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(_CHAINED_AT, {"position": position}).first() is not None

    def _checkpoint_if_due(self, conn: Connection, end: int, link: str) -> None:
        """审计检查点: every ``checkpoint_every`` positions, or ``checkpoint_seconds`` after the
        previous checkpoint (wall-clock time)."""
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

    # --- the whole log, now and then ----------------------------------------------------------

    def verify(
        self,
        given: Iterable[Checkpoint] = (),
        on_progress: Callable[[int], None] | None = None,
        *,
        verifier: Verifier | None = None,
    ) -> Report:
        """Check the whole log against the chain, the stored checkpoints and ``given``; the
        verdict is kept for ``/readyz`` and ``/metrics``. Asked for (an auditor, the CLI), at
        full speed; the keeper's own checks are paced (``_verify_if_due``).

        Checkpoints a caller gives are its claim, not this deployment's evidence: a break found
        with them is answered and logged, but kept only when nothing was given — else anyone
        who may verify could put /readyz to 503 with a made-up checkpoint. The verdict is kept in
        the database (``audit.verdicts``), so the processes answering /readyz show the check the
        keeper ran in another; a read-only process (`huying audit verify`) keeps nothing."""
        given = list(given)
        verifier = verifier or Verifier(self.log, self.engine, self.voucher)
        report = verifier.verify(given, on_progress)
        if self.keeps_verdicts and (report.ok or not given):
            keep(self.engine, Verdict(self.clock.now(), report))
        if report.broken is not None:
            log.error(
                "audit verify: BROKEN at position %s: %s — %s",
                report.broken.position,
                report.broken.kind.value,
                report.broken.detail,
            )
        return report

    def _verify_if_due(self) -> None:
        """The whole-log check, paced, when due: at start, then ``verify_seconds`` after the last
        one ended (a check that failed is tried again as long after it began)."""
        now = self.clock.now()
        if self._verify_due is None or now >= self._verify_due:
            self._verify_due = now + timedelta(seconds=self.verify_seconds)
            try:
                self.verify(verifier=self._paced_verifier())
            except Stopping:  # the keeper is stopping: the last verdict stands
                log.info("audit verify: interrupted by the keeper stopping")
                return
            self._verify_due = self.clock.now() + timedelta(seconds=self.verify_seconds)

    def _paced_verifier(self) -> Verifier:
        """A whole-log check that takes ``verify_share`` of the time and, between its pages,
        chains what was stored meanwhile (a long check does not hold the chain back)."""
        pacer = Pacer(self.verify_share, self._follower.rest)

        def between_pages() -> None:
            with suppress(ChainRace):  # another keeper chains; this one goes on checking
                self.catch_up()
            pacer()

        return Verifier(
            self.log, self.engine, self.voucher, batch=BACKGROUND_PAGE, between_pages=between_pages
        )

    # --- in the background -----------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._follower.running

    def wake(self) -> None:
        """Chain now rather than at the next poll (events were committed somewhere)."""
        self._follower.wake()

    def start(self) -> None:
        # Where seals begin is known before anything is served: legacy calls read at once.
        self.voucher.record_boundary(self.log)
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
        if self.verify_seconds:
            self._verify_if_due()


_LINK_COLUMNS = tuple(f.name for f in fields(ChainLink))
# Whether a position is chained: asked of each position events were written after, when it
# lies before the batch (built once).
_CHAINED_AT = select(audit_chain.c.position).where(audit_chain.c.position == bindparam("position"))


def _row_of(link: ChainLink) -> dict[str, Any]:
    """A link as its ``audit_chain`` row (its fields are plain values: ``asdict``'s deep copy of
    each was 8% of the keeper's instructions)."""
    return {name: getattr(link, name) for name in _LINK_COLUMNS}


def _link_at(conn: Connection, position: int) -> bytes:
    if position == 0:
        return GENESIS
    link = conn.execute(select(audit_chain.c.link).where(audit_chain.c.position == position)).scalar()
    if link is None:
        raise ChainBroken(f"the chain is tracked through position {position} but has no link there")
    return bytes.fromhex(link)
