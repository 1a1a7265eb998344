"""A district's history played forward in business time, as the people in it would act.

Calls arrive over the months before ``until`` (more on working days and in working hours), each
with a fate drawn when it is raised. Every planned step — a person's request, a department
system's, or the SLA watchdog's look at a clock that has just run out — waits in one queue
ordered by business time; the fake clock moves forward to each in turn, and the step goes
through the application's own commands (``BatchedSaves``: many calls per transaction). What
is still under way at ``until`` stays open, as a live district's backlog does.
"""

from __future__ import annotations

import gc
import heapq
import random
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.domain.call import Call
from huying.domain.clocks import clocks_of
from huying.domain.errors import DomainError
from huying.synthetic.district import arrivals, make_district
from huying.synthetic.fate import DUPLICATES, End, Fate, draw_fate
from huying.synthetic.pace import Pace
from huying.synthetic.requests import KEYED, raise_body, send, send_raise, submission
from huying.synthetic.staging import BatchedSaves
from huying.synthetic.steps import CALL, Intent, Planner
from huying.watchdog import Watchdog

WATCHDOG = "watchdog"
_RAISE = "raise"
_SAVES_PER_COLLECTION = 50


@dataclass
class Stats:
    calls: int = 0
    events: int = 0
    done: Counter[str] = field(default_factory=Counter)  # steps carried out, by action
    refused: Counter[str] = field(default_factory=Counter)  # steps the call refused, by action
    watchdog: Counter[str] = field(default_factory=Counter)  # the watchdog's moves
    open_at_end: int = 0
    business_time: datetime | None = None


@dataclass
class _Play:
    """A call in play: its fate, each target's last mark, and the plan that is still live."""

    fate: Fate
    marks: dict[str, object] = field(default_factory=dict)
    planned: dict[str, int] = field(default_factory=dict)  # target → sequence number of its plan


class History:
    def __init__(
        self, services: Services, clock: FakeClock, *, calls: int, seed: int, first: datetime, until: datetime
    ) -> None:
        self.services, self.app, self.clock = services, services.app, clock
        self.calls, self.until = calls, until
        self.rng = random.Random(seed)
        self.district = make_district(self.app.org, self.app.catalog, self.rng)
        pace = Pace(self.app.calendar, self.rng)
        self.planner = Planner(self.district, pace, self.rng, services.calls.reopen_window)
        self.watchdog = Watchdog(services.calls, services.engine, clock)
        self.arrivals = arrivals(self.app.calendar, self.rng, calls, first, until)
        self.queue: list[tuple[datetime, int, UUID | None, str, Intent | None]] = []
        self.plays: dict[UUID, _Play] = {}
        self.recent: deque[tuple[UUID, str, str]] = deque(maxlen=300)  # raised lately: (id, item, grid)
        self.stats = Stats()
        self._seq = 0
        self._saves = 0

    def run(self, per_save: int = 2000, on_progress: Callable[[Stats], None] | None = None) -> Stats:
        # The cyclic collector's passes over the calls in play (hundreds of thousands of objects,
        # few of them ever in a cycle) cost a quarter of the writing: it runs between saves.
        was_collecting = gc.isenabled()
        gc.disable()
        try:
            return self._play(per_save, on_progress)
        finally:
            if was_collecting:
                gc.enable()

    def _play(self, per_save: int, on_progress: Callable[[Stats], None] | None) -> Stats:
        with BatchedSaves(self.app, self.services.calls, overlapped=True) as batch:
            self.batch = batch
            self._next_arrival()
            while self.queue and self.queue[0][0] <= self.until:
                at, seq, call_id, target, intent = heapq.heappop(self.queue)
                self.clock.set(at)
                if call_id is None:
                    self._raise()
                    self._next_arrival()
                elif (play := self.plays.get(call_id)) is not None and play.planned.get(target) == seq:
                    del play.planned[target]
                    self._step(call_id, play, target, intent)
                if batch.pending >= per_save:
                    self._flush(on_progress)
            self._flush(on_progress, last=True)
        self.stats.open_at_end = len(self.plays)
        return self.stats

    def _flush(self, on_progress: Callable[[Stats], None] | None, last: bool = False) -> None:
        self.stats.events = self.batch.flush()
        if last:
            self.batch.settle()  # all of it stored before the last word on progress
        self._saves += 1
        if self._saves % _SAVES_PER_COLLECTION == 0:
            gc.collect()
        self.stats.business_time = self.clock.now()
        if on_progress is not None:
            on_progress(self.stats)

    def _push(self, at: datetime, call_id: UUID | None, target: str, intent: Intent | None) -> int:
        self._seq += 1
        heapq.heappush(self.queue, (at, self._seq, call_id, target, intent))
        return self._seq

    def _next_arrival(self) -> None:
        at = next(self.arrivals, None)
        if at is not None:
            self._push(at, None, _RAISE, None)

    # --- raising -----------------------------------------------------------------------------

    def _raise(self) -> None:
        rng, now = self.rng, self.clock.now()
        twin = self._duplicate_of() if rng.random() < DUPLICATES else None
        if twin is not None:
            item, grid = self.app.catalog.items[twin[1]], twin[2]
        else:
            item, grid = self.district.item(rng), self.district.grid(rng)
        who, body = raise_body(rng, self.district, item, grid, now)
        sub = submission(rng, body, keyed=True)
        # A key drawn at random just now: no earlier raise to answer from the record.
        self.batch.vouch_new(self.services.calls.raise_id(who, sub.key))
        call = send_raise(self.services, who, body, sub).call
        self.stats.calls += 1
        self.stats.done["raise"] += 1
        play = _Play(draw_fate(rng, self.district, item, twin[0] if twin else None))
        self.plays[call.id] = play
        self.recent.append((call.id, item.code, grid))
        self._replan(call, play)

    def _duplicate_of(self) -> tuple[UUID, str, str] | None:
        """A call raised lately that is still open at its community: the same matter again."""
        for _ in range(3):
            if not self.recent:
                return None
            candidate = self.rng.choice(self.recent)
            play = self.plays.get(candidate[0])
            if play is not None and play.fate.end is not End.MERGE:
                return candidate
        return None

    # --- one step ----------------------------------------------------------------------------

    def _step(self, call_id: UUID, play: _Play, target: str, intent: Intent | None) -> None:
        if target == WATCHDOG:
            for move in self.watchdog.enforce(call_id):
                self.stats.watchdog[move.action] += 1
        else:
            assert intent is not None
            sub = submission(self.rng, intent.body, keyed=self.rng.random() < KEYED)
            try:
                send(self.services, call_id, intent, sub)
            except DomainError:
                self.stats.refused[intent.action] += 1
                if intent.action == "merge":  # the twin was settled meanwhile: handle it alone
                    play.fate.end, play.fate.merge_into = End.COMMUNITY, None
                    play.marks.pop(CALL, None)
            else:
                self.stats.done[intent.action] += 1
                if intent.once:
                    play.fate.done.add(intent.once)
        self._replan(self.batch.live[call_id], play)

    def _replan(self, call: Call, play: _Play) -> None:
        now = self.clock.now()
        marks = self.planner.marks(call, play.fate)
        for target in [t for t in play.marks if t not in marks and t != WATCHDOG]:
            del play.marks[target]
            play.planned.pop(target, None)
        for target, mark in marks.items():
            if play.marks.get(target) == mark and target in play.marks:
                continue
            play.marks[target] = mark
            play.planned.pop(target, None)
            intent = self.planner.intent(target, call, play.fate, now)
            if intent is not None:
                play.planned[target] = self._push(max(intent.at, now), call.id, target, intent)
        self._watch(call, play, now)
        if not play.planned:  # nothing more will happen to it: out of play
            del self.plays[call.id]
            self.batch.retire(call.id)

    def _watch(self, call: Call, play: _Play, now: datetime) -> None:
        """The watchdog looks at a clock within its interval (30 s) after the clock runs out."""
        flagged = {s.clock for s in call.supervisions}
        due = min(
            (c.due for c in clocks_of(call) if c.stopped is None and c.key not in flagged and c.due),
            default=None,
        )
        if play.marks.get(WATCHDOG) == due:
            return  # unchanged: planned already, or looked at and left (nothing it may do)
        play.marks[WATCHDOG] = due
        play.planned.pop(WATCHDOG, None)
        if due is not None:
            at = max(now, due + timedelta(seconds=self.rng.uniform(1, 30)))
            play.planned[WATCHDOG] = self._push(at, call.id, WATCHDOG, None)
