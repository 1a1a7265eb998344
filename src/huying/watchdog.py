"""The SLA watchdog (超时预警与自动上呼): finds missed clocks and sends ordinary commands.

A community's missed response deadline calls the call up to the street (``Escalated``,
reason ``response_overdue``); any other missed clock — a community's or street's resolution,
a street's response, a department's signing or completion — is a 督办 flag against the late
unit (``Supervised`` naming the clock). A directive's target that misses its receipt (签收) or
completion deadline gets the same 督办 flag on the directive (令行禁止). Candidates come from the
escalation-state and directive read models;
the aggregate re-checks every move, so a rerun, a lagging read model or a second watchdog does
nothing twice. One process of the deployment runs it at a time (``huying.duties``).

Running in the background, a sweep first lets the read models reach the log as it stands (up to
``CATCH_UP_SECONDS``): woken by a move of the settable clock, a watchdog in another process than
the projector swept before the call just raised was projected, found nothing due, and waited
its whole interval for the next look.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import Engine, and_, func, or_, select

from huying.background import BACKGROUND_SHARE, Follower, Pacer, Stopping
from huying.clock import Clock
from huying.domain.deadlines import standing
from huying.domain.directive_clocks import missed
from huying.domain.errors import DomainError
from huying.domain.levels import Level
from huying.domain.principal import SYSTEM
from huying.projections.directive_tables import rm_directive_targets
from huying.projections.tables import rm_calls
from huying.service_layer.calls import CallService
from huying.service_layer.command_path import Submission
from huying.service_layer.directives import DirectiveService

log = logging.getLogger(__name__)

CATCH_UP_SECONDS = 5.0  # at most, before a background sweep reads the read models as they are
_CATCH_UP_POLL = 0.02


@dataclass(frozen=True)
class Progress:
    """Where the log's head is, and how far the read models the watchdog reads have got."""

    head: Callable[[], int]
    read_models: Callable[[], int]


@dataclass(frozen=True)
class Move:
    aggregate_id: UUID  # the call's, or the directive's (``noun``)
    action: str  # "escalate" | "supervise"
    clock: str
    unit: str
    noun: str = "call"


class Watchdog:
    def __init__(
        self,
        calls: CallService,
        engine: Engine,
        clock: Clock,
        *,
        directives: DirectiveService | None = None,
        interval_seconds: float = 30.0,
        batch: int = 500,
        progress: Progress | None = None,
    ) -> None:
        self.calls = calls
        self.directives = directives
        self.engine = engine
        self.clock = clock
        self.interval_seconds = interval_seconds
        self.batch = batch
        self.progress = progress
        self._follower = Follower("huying-watchdog", self._step, interval_seconds)

    def sweep(self, pace: Callable[[], None] = lambda: None) -> list[Move]:
        """One pass over every call and directive with a clock past due and not yet flagged;
        returns the moves it made. ``pace`` is called after each call or directive looked at
        (the background's ``Pacer``)."""
        now = self.clock.now()
        moves: list[Move] = []
        for call_id in self._due(now):
            moves += self.enforce(call_id)
            pace()
        if self.directives is not None:
            for directive_id in self._due_directives(now):
                moves += self.enforce_directive(directive_id)
                pace()
        return moves

    def _due(self, now: datetime) -> list[UUID]:
        """Every call with a running clock past due and not yet flagged (``watch_due``), oldest
        first, read ``batch`` at a time. Not only the oldest ``batch``: those the watchdog cannot
        move (a refused move) stay due, and that many of them would hide every call late after
        them. A call whose late clocks are all flagged — its unit has still not answered — is not
        due: it waits for its next clock (each sweep once folded 1,651 of them again, to do
        nothing, in a 100,000-call district)."""
        c = rm_calls.c
        found: list[UUID] = []
        after: tuple[datetime, str] | None = None
        with self.engine.connect() as conn:
            while True:
                query = select(c.call_id, c.watch_due).where(c.watch_due < now)
                if after is not None:
                    later = or_(c.watch_due > after[0], and_(c.watch_due == after[0], c.call_id > after[1]))
                    query = query.where(later)
                rows = conn.execute(query.order_by(c.watch_due, c.call_id).limit(self.batch)).all()
                found += [UUID(r.call_id) for r in rows]
                if len(rows) < self.batch:
                    return found
                after = (rows[-1].watch_due, rows[-1].call_id)

    def enforce(self, call_id: UUID) -> list[Move]:
        """The moves the watchdog makes on one call now (the synthetic history calls it too, so its
        watchdog is this one)."""
        now = self.clock.now()
        call = self.calls.call_for(SYSTEM, call_id)
        flagged = {s.clock for s in call.supervisions}
        moves = []
        for state in standing(call, self.calls.calendar, now).clocks:
            c = state.clock
            if c.stopped is not None or not state.late or c.key in flagged:
                continue
            kind = c.key.rpartition(":")[2]
            try:
                if kind == "response" and c.level == Level.COMMUNITY.value:
                    # 社区有呼，街道必应: an unanswered community call climbs by itself.
                    self.calls.escalate(SYSTEM, call_id, Submission(), "response_overdue")
                    moves.append(Move(call_id, "escalate", c.key, c.unit))
                    break  # the call moved; the next sweep sees its new clocks
                reason = {"sign": "sign_overdue", "completion": "completion_overdue"}.get(
                    kind, f"{kind}_overdue"
                )
                self.calls.supervise(SYSTEM, call_id, Submission(), reason, c.unit, clock=c.key)
                moves.append(Move(call_id, "supervise", c.key, c.unit))
            except DomainError as refused:  # another watchdog or a person got there first
                log.info("watchdog: %s on %s: %s", c.key, call_id, refused.detail)
        return moves

    def _due_directives(self, now: datetime) -> list[UUID]:
        """Directives with a target's clock past due and not yet flagged (the rows' next_due)."""
        query = (
            select(rm_directive_targets.c.directive_id)
            .where(rm_directive_targets.c.next_due <= now)
            .group_by(rm_directive_targets.c.directive_id)
            .order_by(func.min(rm_directive_targets.c.next_due))
            .limit(self.batch)
        )
        with self.engine.connect() as conn:
            return [UUID(row.directive_id) for row in conn.execute(query)]

    def enforce_directive(self, directive_id: UUID) -> list[Move]:
        """督办 on every target clock of the directive missed now and not yet flagged."""
        assert self.directives is not None
        directive = self.directives.directive_for(SYSTEM, directive_id)
        flagged = {s.clock for s in directive.supervisions}
        moves = []
        for c in missed(directive, self.clock.now()):
            if c.key in flagged:
                continue
            reason = f"{c.key.rpartition(':')[2]}_overdue"  # receipt_overdue, completion_overdue
            try:
                self.directives.supervise(SYSTEM, directive_id, c.unit, Submission(), reason, clock=c.key)
                moves.append(Move(directive_id, "supervise", c.key, c.unit, noun="directive"))
            except DomainError as refused:  # another watchdog or a person got there first
                log.info("watchdog: %s on directive %s: %s", c.key, directive_id, refused.detail)
        return moves

    # --- running in the background ----------------------------------------------------------

    def wake(self) -> None:
        self._follower.wake()

    def start(self) -> None:
        self._follower.start()

    def stop(self) -> None:
        self._follower.stop()

    def look(self) -> list[Move]:
        """What the background does each time it is woken or its interval passes: a sweep of the
        read models once they have reached the log as it stands (a bounded wait), paced to
        ``BACKGROUND_SHARE`` of the time — on SQLite it shares the API process's interpreter, and
        a sweep may have many calls to move at once (the first after a weekend or a holiday, a
        clock set forward, rows from before ``watch_due`` not yet made again): seconds of
        folding and saving, which the requests of those seconds would wait behind."""
        self._let_read_models_catch_up()
        return self.sweep(Pacer(BACKGROUND_SHARE, self._follower.rest))

    def _step(self) -> None:
        try:
            moves = self.look()
        except Stopping:  # the watchdog is stopping: the next sweep, wherever it runs, goes on
            return
        if moves:
            log.info("watchdog made %d moves", len(moves))

    def _let_read_models_catch_up(self) -> None:
        """Wait (a bounded while) for the read models to reach the log's head as it is now."""
        if self.progress is None:
            return
        head, deadline = self.progress.head(), time.monotonic() + CATCH_UP_SECONDS
        while self.progress.read_models() < head:
            if time.monotonic() > deadline:
                log.warning("watchdog: the read models are behind the log; sweeping them as they are")
                return
            if not self._follower.rest(_CATCH_UP_POLL):
                return
