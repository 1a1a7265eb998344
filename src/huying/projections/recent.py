"""重复提示 without the read models: the calls raised in the last days, in memory, as of any log
position — what every answer about a new call shows (``duplicates.at_raise``), answered in
microseconds and without waiting for the projector.

Each process keeps its own: loaded once from ``rm_calls`` (the read models' position first,
then the calls still open, or finished after it, raised within the window), then fed from the
log itself — every raise and every closing, withdrawal or merger — up to the position a
question is asked at. Positions are given in commit order (SQLite's one writer; PostgreSQL's
table lock), so once the log has been read up to a raise's position, everything before it is
known, from whichever process it came. What this process saved itself it takes as it saved it
(``recorded``), position by position, and reads from the log only what lies between: on SQLite,
where one process serves, a raise's answer mostly reads nothing.

It answers exactly what ``duplicates.at_raise`` answers over ``rm_calls`` — the same candidates,
cut and ranked by the same code (``duplicates.ranked``) — or says it cannot (None), and the
caller asks the read models: for a raise older than what it loaded, a window reaching before
what it holds, a department (whose jurisdiction follows work orders, which it does not keep), or
a log it could not read in time.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import Notification, Recording
from eventsourcing.utils import get_topic
from sqlalchemy import Engine, or_, select

from huying.application import HuyingApplication
from huying.audit.vouch import EventUnvouched
from huying.domain.call import Call
from huying.domain.jurisdiction import can_see
from huying.domain.principal import Principal, Role
from huying.domain.states import TERMINAL
from huying.projections import tracking
from huying.projections.runner import TRACKING_NAME
from huying.projections.tables import rm_calls
from huying.queries.duplicates import CANDIDATES, Box, DuplicateRule, Subject, near, ranked

_RAISED = get_topic(Call.Raised)
_FINISHING = frozenset(get_topic(c) for c in (Call.Closed, Call.Withdrawn, Call.MergedInto))
_TOPICS = [_RAISED, *sorted(_FINISHING)]
_READ = 1000  # notifications per read of the log
_FAR_BEHIND = 20_000  # log positions: more to read than this, and the read models are asked
_SLACK = timedelta(days=1)  # kept beyond the window, for raises stamped a little out of order
_OWN = 10_000  # this process's saves held until asked about; beyond, they are read from the log
_CLOSED = tuple(s.value for s in TERMINAL)
_BEYOND = 2**63  # past any log position


@dataclass(slots=True)
class Raise:
    """One recent call, as a hint shows it, and when (at which position) it was finished."""

    call_id: str
    item_code: str
    grid_code: str
    community_code: str
    street_code: str
    title: str
    raised_at: datetime
    lat: float | None
    lon: float | None
    seq: int
    finished: int | None = None
    # Jurisdiction reads it of a department, which never gets here (``at_raise``).
    departments_involved: set[str] = field(default_factory=set)

    def hint(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "item_code": self.item_code,
            "grid_code": self.grid_code,
            "community_code": self.community_code,
            "title": self.title,
            "raised_at": self.raised_at,
            "lat": self.lat,
            "lon": self.lon,
        }


class RecentRaises:
    def __init__(
        self, app: HuyingApplication, engine: Engine, rule: DuplicateRule, wait: float = 1.0
    ) -> None:
        self._app = app
        self._engine = engine
        self.rule = rule
        self._wait = wait
        self._lock = threading.Lock()
        self._base: int | None = None  # answers for raises after this position
        self._read_to = 0  # the log has been read up to here
        self._horizon = datetime.max.replace(tzinfo=UTC)  # holds every call raised since
        self._newest: datetime | None = None  # the latest raise seen
        self._calls: dict[str, Raise] = {}
        self._by_grid: defaultdict[tuple[str, str], list[Raise]] = defaultdict(list)
        self._located: defaultdict[str, list[Raise]] = defaultdict(list)  # by item
        # This process's saves not read yet, by position: a raise, a call finished, or nothing
        # a hint shows (None). Its own lock: a save does not wait for a question's log read.
        self._own: dict[int, Raise | str | None] = {}
        self._own_lock = threading.Lock()

    def recorded(self, recordings: Sequence[Recording[UUID]]) -> None:
        """This process's saves, as the store numbered them (``HuyingApplication.on_recorded``):
        taken from here rather than read back from the log. Kept only once loaded — a process
        that answers no hints (the duties') keeps nothing — and ``_OWN`` at most."""
        if self._base is None:
            return
        entries = {r.notification.id: _entry(r.notification, r.domain_event) for r in recordings}
        with self._own_lock:
            if len(self._own) < _OWN:
                self._own.update(entries)

    def warm(self) -> int:
        """Loaded, and the log read up to its head: what a serving process does before its first
        request (``queries.warming``), so that no raise waits for the load — at a million calls,
        a few hundred milliseconds in which every raise's hints would go to the read models and
        the loop's requests queue behind the load. How many recent calls it then holds."""
        head = self._app.recorder.max_notification_id() or 0
        with self._lock:
            if self._base is None:
                self._load()
            self._ready(head)
            return len(self._calls)

    def at_raise(
        self, viewer: Principal, subject: Subject, raised_at: datetime, position: int, *, reading: bool = True
    ) -> list[dict[str, Any]] | None:
        """``duplicates.at_raise`` for the raise at ``position``; None when this cannot tell.
        Not ``reading``: from what is in memory alone, without waiting for the lock or reading
        the log (None too, then) — what code on the event loop may ask (``onloop``)."""
        if viewer.role is Role.DEPARTMENT:
            return None
        if not (self._lock.acquire(timeout=self._wait) if reading else self._lock.acquire(blocking=False)):
            return None
        try:
            if not self._ready(position, reading):
                return None
            since, latest = self.rule.before(raised_at)
            if since < self._horizon:
                return None
            return ranked(subject, self.rule, self._candidates(viewer, subject, (since, latest), position))
        finally:
            self._lock.release()

    def _candidates(
        self, viewer: Principal, subject: Subject, window: tuple[datetime, datetime], position: int
    ) -> list[dict[str, Any]]:
        since, latest = window
        box = Box.around(subject, self.rule.radius_m)
        pool = self._by_grid.get((subject.item_code, subject.grid_code), [])
        if box is not None:
            pool = list({id(r): r for r in (*pool, *self._located.get(subject.item_code, []))}.values())
        org = self._app.org
        found = [
            r
            for r in pool
            if r.seq < position
            and (r.finished is None or r.finished > position)
            and since <= r.raised_at <= latest
            and r.call_id != subject.call_id
            and near(subject, box, r.grid_code, r.lat, r.lon)
            and can_see(viewer, r, org)
        ]
        found.sort(key=lambda r: (r.raised_at, r.seq), reverse=True)
        return [r.hint() for r in found[:CANDIDATES]]

    # --- keeping up -----------------------------------------------------------------------

    def _ready(self, position: int, reading: bool = True) -> bool:
        """Loaded, and the log read up to ``position``; False if that cannot be (or, not
        ``reading``, not without reading the store). Far behind (the first question after a bulk
        load of the log, say), it loads again rather than read it all."""
        if self._base is None or position - self._read_to > _FAR_BEHIND:
            if not reading:
                return False
            self._load()
        base = cast(int, self._base)
        if position <= base or position - self._read_to > _FAR_BEHIND:
            return False
        while self._read_to < position:
            if self._take_own(position):
                continue
            if not reading:
                return False
            stop = min(position, self._next_own() - 1)  # up to this process's next save
            batch = self._app.recorder.select_notifications(
                start=self._read_to, stop=stop, limit=_READ, topics=_TOPICS, inclusive_of_start=False
            )
            for n in batch:
                if not self._take(n):
                    return False  # an event nobody can vouch for: the read models decide
            self._read_to = batch[-1].id if len(batch) == _READ else stop
        with self._own_lock:
            for done in [p for p in self._own if p <= self._read_to]:
                del self._own[done]
        self._prune()
        return True

    def _take_own(self, position: int) -> bool:
        """This process's saves from the next position on, up to ``position``; whether any."""
        taken = []
        at = self._read_to + 1
        with self._own_lock:
            while at <= position and at in self._own:
                taken.append((at, self._own.pop(at)))
                at += 1
        for at, entry in taken:
            self._apply(entry, at)
        if taken:
            self._read_to = taken[-1][0]
        return bool(taken)

    def _next_own(self) -> int:
        with self._own_lock:
            return min((p for p in self._own if p > self._read_to), default=_BEYOND)

    def _take(self, n: Notification) -> bool:
        try:
            event = self._app.mapper.to_domain_event(n)
        except EventUnvouched:
            return False
        self._apply(_entry(n, event), n.id)
        return True

    def _apply(self, entry: Raise | str | None, position: int) -> None:
        if isinstance(entry, Raise):
            self._add(entry)
        elif entry is not None and entry in self._calls:
            self._calls[entry].finished = position

    def _add(self, r: Raise) -> None:
        if r.call_id in self._calls:
            return  # read twice (loaded, then read again from the log)
        self._calls[r.call_id] = r
        self._by_grid[r.item_code, r.grid_code].append(r)
        if r.lat is not None and r.lon is not None:
            self._located[r.item_code].append(r)
        self._newest = r.raised_at if self._newest is None else max(self._newest, r.raised_at)

    def _load(self) -> None:
        """The read models' position, then what they hold of the calls raised in the window and
        still open — or finished after that position (the log from there on is read again)."""
        since = self.rule.since(self._app.clock.now()) - _SLACK
        with self._engine.connect() as conn:
            position = tracking.tracked(conn, TRACKING_NAME)
            rows = conn.execute(
                select(
                    *(rm_calls.c[name] for name in _COLUMNS), rm_calls.c.status, rm_calls.c.position
                ).where(
                    rm_calls.c.raised_at >= since,
                    or_(rm_calls.c.status.not_in(_CLOSED), rm_calls.c.position > position),
                )
            ).all()
        self._calls.clear()
        self._by_grid.clear()
        self._located.clear()
        self._newest = None
        for row in rows:
            r = Raise(*(row._mapping[name] for name in _COLUMNS))
            r.finished = row.position if row.status in _CLOSED else None
            self._add(r)
        self._base = self._read_to = position
        self._horizon = since

    def _prune(self) -> None:
        """Drops the calls raised before anything can still ask for them."""
        if self._newest is None:
            return
        horizon = self.rule.since(self._newest) - _SLACK
        if horizon <= self._horizon + _SLACK:
            return  # once a day's worth has aged out, not at every raise
        self._calls = {k: r for k, r in self._calls.items() if r.raised_at >= horizon}
        _keep_since(self._by_grid, horizon)
        _keep_since(self._located, horizon)
        self._horizon = horizon


def _entry(n: Notification, event: Any) -> Raise | str | None:
    """What an event at position ``n.id`` tells the hints: a raise, the id of a call finished,
    or nothing."""
    if n.topic in _FINISHING:
        return str(n.originator_id)
    if n.topic != _RAISED:
        return None
    raised = cast(Call.Raised, event)
    where = raised.location or {}
    return Raise(
        str(n.originator_id),
        raised.item_code,
        raised.grid_code,
        raised.community_code,
        raised.street_code,
        raised.title,
        raised.at.astimezone(UTC),
        where.get("lat"),
        where.get("lon"),
        n.id,
    )


def _keep_since(index: defaultdict[Any, list[Raise]], horizon: datetime) -> None:
    for key, kept in list(index.items()):
        index[key] = [r for r in kept if r.raised_at >= horizon]
        if not index[key]:
            del index[key]


_COLUMNS: Sequence[str] = (
    "call_id",
    "item_code",
    "grid_code",
    "community_code",
    "street_code",
    "title",
    "raised_at",
    "lat",
    "lon",
    "seq",
)
