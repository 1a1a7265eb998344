"""防篡改 check: recompute the chain from the stored events, vouch for every event, and name
the first position where the log cannot be vouched for.

One pass in log order over three sorted streams — the stored events, the chain rows, the
checkpoints — a page at a time; memory grows with the number of streams (calls), never with
the number of events. At the first position where something is wrong the break is classified:

- ``forged``: an event huying did not write — no seal (past the legacy boundary), or a seal
  under no key this deployment holds;
- ``altered``: the event chained there is there, but its bytes (or its link) changed, or
  another event the chain never saw took its place; or its bytes no longer match its seal;
- ``missing``: the event chained there is gone, or a version of its stream is, or the position
  its writer had seen holds no event;
- ``reordered``: the position holds an event the chain recorded at another position, or the
  event chained there now lies elsewhere; or an event lies before the position its writer had
  seen, or before an earlier version of its own stream;
- ``extra``: an event the chain never saw was slipped in among chained events;
- ``truncated``: the log ends before a position the chain or a checkpoint vouches for.

Events newer than the chain's tracked position are checked too — seal and order — and counted
as not yet chained: each is vouched for by its seal until the keeper chains it.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import Engine, select

from huying.audit.checkpoints import Checkpoint, iter_stored
from huying.audit.links import GENESIS, TRACKING_NAME, ChainLink, canonical, digest_of
from huying.audit.log import StoredLog, StoredRow
from huying.audit.tables import audit_chain, audit_checkpoints
from huying.audit.vouch import LogOrder, Tamper, Voucher, named
from huying.projections.tables import projection_tracking

__all__ = ["Break", "Report", "Tamper", "Verifier"]

_PROGRESS_EVERY = 5000


@dataclass(frozen=True)
class Break:
    """Where the log first stops matching its chain, how, and up to where it is intact."""

    position: int
    kind: Tamper
    detail: str
    intact_through: int


@dataclass(frozen=True)
class Report:
    checked: int  # stored events whose links were recomputed
    chained_through: int  # the chain's tracked position
    log_head: int  # the highest position in the log
    unchained: int  # events after the chained head, not yet chained
    checkpoints_checked: int
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None


class Verifier:
    """Checks the stored log against the chain table and any checkpoints."""

    def __init__(
        self,
        log: StoredLog,
        engine: Engine,
        voucher: Voucher,
        *,
        batch: int = 5000,
        between_pages: Callable[[], None] = lambda: None,
    ) -> None:
        self.log = log
        self.engine = engine
        self.voucher = voucher
        self.batch = batch
        self.between_pages = between_pages  # after each page of events (a background check rests)

    def events(self, upto: int) -> Iterator[StoredRow]:
        """The stored events through ``upto``, in log order, a page at a time."""
        for page in self.log.rows(0, upto, self.batch):
            yield from page
            self.between_pages()

    def verify(
        self, given: Iterable[Checkpoint] = (), on_progress: Callable[[int], None] | None = None
    ) -> Report:
        with self.engine.connect() as conn:
            chained = int(
                conn.execute(
                    select(projection_tracking.c.position).where(projection_tracking.c.name == TRACKING_NAME)
                ).scalar()
                or 0
            )
            last_stored = conn.execute(
                select(audit_checkpoints.c.position).order_by(audit_checkpoints.c.position.desc()).limit(1)
            ).scalar()
        head = self.log.head()
        outside = sorted(given, key=lambda c: c.position)
        # Every event is walked; checkpoints beyond the log's end are cut-offs (below).
        walk = _Walk(self, chained, head, on_progress)
        broken = walk.run(_merged(iter_stored(self.engine), outside, head))
        if broken is None:
            broken = self._cut_off(walk, chained, head, outside, last_stored)
        return Report(
            checked=walk.checked,
            chained_through=chained,
            log_head=head,
            unchained=max(head - chained, 0),
            checkpoints_checked=walk.checkpoints,
            broken=broken,
        )

    @staticmethod
    def _cut_off(
        walk: _Walk, chained: int, head: int, outside: list[Checkpoint], last_stored: int | None
    ) -> Break | None:
        """Truncated: the chain, a stored checkpoint or one kept elsewhere vouches for a
        position beyond the log's end."""
        vouchers = [(c.position, f"a checkpoint{_from(c)}") for c in outside]
        if last_stored is not None:
            vouchers.append((last_stored, "a stored checkpoint"))
        vouchers.append((chained, "the hash chain"))
        furthest, who = max(vouchers, key=lambda v: v[0])
        if furthest <= head:
            return None
        return Break(
            walk.intact + 1,
            Tamper.TRUNCATED,
            f"the log ends at position {head}, but {who} vouches for position {furthest}",
            walk.intact,
        )

    # --- lookups for classifying a break ---------------------------------------------------------

    def chain_rows(self, upto: int) -> Iterator[ChainLink]:
        after = 0
        while True:
            with self.engine.connect() as conn:
                page = [
                    ChainLink(r.position, r.originator_id, r.originator_version, r.digest, r.link)
                    for r in conn.execute(
                        select(audit_chain)
                        .where(audit_chain.c.position > after, audit_chain.c.position <= upto)
                        .order_by(audit_chain.c.position)
                        .limit(self.batch)
                    )
                ]
            if not page:
                return
            yield from page
            after = page[-1].position

    def chained_as(self, originator_id: str, version: int) -> ChainLink | None:
        """Where the chain recorded this event, if anywhere."""
        with self.engine.connect() as conn:
            r = conn.execute(
                select(audit_chain).where(
                    audit_chain.c.originator_id == originator_id,
                    audit_chain.c.originator_version == version,
                )
            ).first()
        return ChainLink(r.position, r.originator_id, r.originator_version, r.digest, r.link) if r else None


def _from(c: Checkpoint) -> str:
    when = f"taken {c.at.isoformat()}, " if c.at else ""
    return f" ({when}from {c.source})"


def _merged(stored: Iterator[Checkpoint], outside: list[Checkpoint], bound: int) -> Iterator[Checkpoint]:
    for c in heapq.merge(stored, outside, key=lambda c: c.position):
        if c.position > bound:
            return
        yield c


class _Walk:
    """One pass over events, chain rows and checkpoints, in position order."""

    def __init__(
        self, v: Verifier, chained: int, head: int, on_progress: Callable[[int], None] | None
    ) -> None:
        self.v, self.chained, self.head = v, chained, head
        self.on_progress = on_progress
        self.checked = self.checkpoints = self.intact = 0
        self.intact_checkpoint = 0  # the last checkpoint the log still hashes to
        self.link = GENESIS
        self.order = LogOrder(v.log.locate)

    def run(self, checkpoints: Iterator[Checkpoint]) -> Break | None:
        events = self.v.events(self.head)
        rows = self.v.chain_rows(self.chained)
        e, r, cp = next(events, None), next(rows, None), next(checkpoints, None)
        while e is not None or r is not None:
            p = min(x.position for x in (e, r) if x is not None)
            if cp is not None and cp.position < p:  # vouched for, but neither event nor row is there
                return self._gone(cp)
            here_e = e if e is not None and e.position == p else None
            here_r = r if r is not None and r.position == p else None
            if here_e is None:
                return self._judge(p, None, here_r)
            if (broken := self._take(p, here_e, here_r)) is not None:
                return broken
            e = next(events, None)
            if here_r is not None:
                r = next(rows, None)
            cp, broken = self._vouch(p, cp, checkpoints)
            if broken is not None:
                return broken
            self.intact = p
        if self.on_progress is not None:
            self.on_progress(self.checked % _PROGRESS_EVERY)
        return self._gone(cp) if cp is not None else None

    def _take(self, p: int, e: StoredRow, r: ChainLink | None) -> Break | None:
        """Extend the recomputed chain by the event at ``p``; within the chained part of the log
        it must be the event the chain recorded there, with the same digest and link; anywhere,
        huying must be able to vouch for it, in its place."""
        c = canonical(e)
        h = hashlib.sha256(self.link)
        h.update(c)
        link = h.digest()
        fine = (
            r is not None
            and (r.originator_id, r.originator_version) == (e.originator_id, e.version)
            and r.digest == hashlib.sha256(c).hexdigest()
            and r.link == link.hex()
        )
        if not fine and p <= self.chained:
            return self._judge(p, e, r)
        checked = self.v.voucher.check(e.originator_id, e.version, e.topic, e.state, p)
        flaw = checked.flaw or self.order.check(p, e.originator_id, e.version, e.topic, checked.after)
        if flaw is not None:
            return Break(p, flaw.kind, flaw.detail, self.intact)
        self.link = link
        self.checked += 1
        if self.on_progress is not None and self.checked % _PROGRESS_EVERY == 0:
            self.on_progress(_PROGRESS_EVERY)
        return None

    def _vouch(
        self, p: int, cp: Checkpoint | None, checkpoints: Iterator[Checkpoint]
    ) -> tuple[Checkpoint | None, Break | None]:
        """Every checkpoint at ``p`` must hold the link recomputed through ``p``."""
        vouched = False
        while cp is not None and cp.position == p:
            if cp.link != self.link.hex():
                return cp, Break(
                    p,
                    Tamper.ALTERED,
                    f"the log up to position {p} no longer hashes to the link of its checkpoint"
                    f"{_from(cp)}: events and chain were rewritten together after position "
                    f"{self.intact_checkpoint}",
                    self.intact_checkpoint,
                )
            self.checkpoints += 1
            vouched = True
            cp = next(checkpoints, None)
        if vouched:
            self.intact_checkpoint = p
        return cp, None

    def _gone(self, cp: Checkpoint) -> Break:
        """A checkpoint names a position where there is no event."""
        why = f"a checkpoint{_from(cp)} vouches for position {cp.position}"
        if cp.position > self.head:
            return Break(
                self.intact + 1, Tamper.TRUNCATED, f"the log ends at position {self.head}; {why}", self.intact
            )
        return Break(cp.position, Tamper.MISSING, f"no event at position {cp.position}; {why}", self.intact)

    def _judge(self, p: int, e: StoredRow | None, r: ChainLink | None) -> Break:
        """The first disagreement at position ``p``: which kind of tampering it is."""
        if e is None:
            assert r is not None
            return self._judge_gone(p, r)
        return self._judge_there(p, e, r)

    def _judge_gone(self, p: int, r: ChainLink) -> Break:
        """The chain recorded an event at ``p``; the log has none there."""
        v, intact = self.v, self.intact
        was = named(r.originator_id, r.originator_version)
        if p > self.head:
            return Break(
                p,
                Tamper.TRUNCATED,
                f"the log ends at position {self.head}; the chain holds {was} at position {p}",
                intact,
            )
        elsewhere = v.log.locate(r.originator_id, r.originator_version)
        if elsewhere is not None:
            return Break(
                p, Tamper.REORDERED, f"{was}, chained at position {p}, now lies at {elsewhere}", intact
            )
        return Break(p, Tamper.MISSING, f"{was}, chained at position {p}, is gone from the log", intact)

    def _judge_there(self, p: int, e: StoredRow, r: ChainLink | None) -> Break:
        """The log has an event at ``p`` that is not the one the chain recorded there."""
        v, intact = self.v, self.intact
        now = named(e.originator_id, e.version, e.topic)
        if r is not None and (r.originator_id, r.originator_version) == (e.originator_id, e.version):
            if digest_of(e) != r.digest:
                return Break(p, Tamper.ALTERED, f"the stored bytes of {now} at position {p} changed", intact)
            return Break(
                p,
                Tamper.ALTERED,
                f"the chain's link at position {p} was rewritten ({now} itself matches)",
                intact,
            )
        seen = v.chained_as(e.originator_id, e.version)
        if seen is not None and digest_of(e, seen.position) == seen.digest:
            return Break(
                p, Tamper.REORDERED, f"position {p} holds {now}, chained at position {seen.position}", intact
            )
        if r is None or (seen is None and v.log.locate(r.originator_id, r.originator_version) is not None):
            return Break(
                p, Tamper.EXTRA, f"{now} at position {p} was never chained: it was slipped in", intact
            )
        was = named(r.originator_id, r.originator_version)
        return Break(p, Tamper.ALTERED, f"position {p} was chained as {was}; it now holds {now}", intact)
