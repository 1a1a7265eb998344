"""huying's catch-up projector over the notification log.

Reads a batch with ``recorder.select_notifications``, folds the events into the aggregates they
belong to — calls and directives alike (an LRU of aggregates, each reloaded from the store at
exactly the version it needs when not cached) — recomputes their rows in every read model of
their kind (a model written once: only for the aggregates the batch creates), and commits the
rows **and** the tracking position in one transaction. A crash anywhere rolls the batch back;
the next run starts again from the stored position, so nothing is counted twice. Works
unchanged on SQLite and PostgreSQL: it needs nothing but ``select_notifications`` and a SQL
database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import TYPE_CHECKING, cast
from uuid import UUID

import anyio.to_thread
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import Notification
from sqlalchemy import Delete, Engine, Table, bindparam, delete, insert, select

from huying.application import HuyingApplication
from huying.audit.vouch import Alarm, EventUnvouched, Flaw, Tamper, named
from huying.background import GATHER_SECONDS, Follower
from huying.domain.aggregate import HuyingAggregate
from huying.domain.call import Call
from huying.domain.worktime import WorkCalendar
from huying.projections import tracking
from huying.projections.collector import cycle_collector_paused
from huying.projections.directives import DirectiveBoard
from huying.projections.escalation import CallText, EscalationState
from huying.projections.evaluations import EvaluationFacts
from huying.projections.lag import LagWatch
from huying.projections.meetings import MeetingRecord
from huying.projections.open_obligations import OpenObligations
from huying.projections.publications import PublicationRecord
from huying.projections.ratings import CallerRatings
from huying.projections.rows import ReadModel
from huying.projections.signal import Progress
from huying.projections.sla import SlaFacts
from huying.projections.tables import READ_MODEL_TABLES, projection_refills, projection_tracking
from huying.projections.tallies import TallyKeeper
from huying.projections.work_orders import DepartmentLedgers, WorkQueues
from huying.projections.writer import RowWriter
from huying.recently_used import RecentlyUsed
from huying.sqlite_writes import write_transaction

if TYPE_CHECKING:
    from huying.locks import DutyLock
    from huying.projections.rebuild import Part

log = logging.getLogger(__name__)

TRACKING_NAME = "read-models"
# The tracking position while a rebuild in parts fills the read models (``rebuild.py``): no
# batch moves it, and a projector reading it waits until the rebuild sets the end it reached.
REBUILDING = -1
PARTS_NAMED = f"{TRACKING_NAME}:part "  # the tracking rows of a rebuild's parts begin so
_REFILLS = select(projection_refills.c.aggregate_id).limit(bindparam("limit"))
# How often a process without its own projector looks at the tracking position while requests
# wait for it.
_POLL_APART = 0.05


def read_models(calendar: WorkCalendar) -> list[ReadModel]:
    return [
        EscalationState(calendar),
        CallText(),
        WorkQueues(calendar),
        DepartmentLedgers(),
        SlaFacts(),
        EvaluationFacts(),
        DirectiveBoard(),
        MeetingRecord(),
        PublicationRecord(),
        OpenObligations(calendar),
        CallerRatings(),
    ]


Touched = dict[UUID, tuple[HuyingAggregate, dict[int, int]]]


class CallCache:
    """Aggregates (calls, directives) as of the last event the projector applied, with their
    version → position maps."""

    def __init__(self, app: HuyingApplication, maxsize: int) -> None:
        self._app = app
        self._calls: RecentlyUsed[UUID, tuple[HuyingAggregate, dict[int, int]]] = RecentlyUsed(maxsize)

    def before(self, call_id: UUID, version: int) -> tuple[HuyingAggregate | None, dict[int, int]]:
        """The aggregate as it stood just before ``version``."""
        cached = self._calls.pop(call_id)
        if cached is not None and cached[0].version == version - 1:
            return cached
        if version == 1:
            return None, {}
        call: HuyingAggregate = self._app.repository.get(call_id, version=version - 1)
        return call, self._app.positions.of_call(call_id)

    def keep(self, call: HuyingAggregate, positions: dict[int, int]) -> None:
        self._calls.put(call.id, (call, positions))

    def clear(self) -> None:
        self._calls.clear()


class Projector:
    def __init__(
        self,
        app: HuyingApplication,
        engine: Engine,
        *,
        models: Sequence[ReadModel] | None = None,
        batch_size: int = 500,
        cache_size: int = 2_000,
        poll_seconds: float = 1.0,
        rebuild_lock: Callable[[], DutyLock] | None = None,
    ) -> None:
        self.app = app
        self.engine = engine
        self.writer = RowWriter(engine)
        self.models = list(models or read_models(app.calendar))
        self.tallies = TallyKeeper(app.org, self.writer)  # sums over the calls' rows
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.cache = CallCache(app, cache_size)
        self.tracking_name = TRACKING_NAME
        self.part: Part | None = None  # the aggregates it projects, when a rebuild's worker
        self.progress = Progress(self.tracked_position())
        self.failing: str | None = None  # the last batch's error, until a batch succeeds
        self._alarm = Alarm("projector")  # the stored event it cannot vouch for, until dealt with
        self._follower = Follower("huying-projector", self._follow, poll_seconds, GATHER_SECONDS)
        self._watch = Follower("huying-projection-watch", self._look, _POLL_APART)
        self.lag = LagWatch()  # noted while projecting here, or told of it (``note_apart``)
        # Another process projects, and this one hears when its read models move (``visible``
        # is called with each position): this process's saves are noted, and their lag known.
        self.note_apart = False
        # The furthest position this process saw saved (a position the log holds for sure).
        self.head_seen = 0
        app.on_saved(self._note)  # before the wake: a save is noted before it can be applied
        app.on_saved(self.wake)
        self._lock = threading.Lock()
        self._committed: int | None = None  # where this projector's last batch left the log
        self._refills_pending = True  # until a look at ``projection_refills`` finds none
        # Held by a rebuild in parts while it runs: free with the position at REBUILDING, the
        # rebuild died (None: no way to tell here; the projector waits).
        self._rebuild_lock = rebuild_lock

    # --- position -------------------------------------------------------------------------

    @property
    def halted(self) -> Flaw | None:
        """The stored event the projector halted before (it cannot vouch for it), or None."""
        return self._alarm.flaw

    def tracked_position(self) -> int:
        with self.engine.connect() as conn:
            return tracking.tracked(conn, self.tracking_name)

    def take_part(self, part: Part) -> None:
        """Project only ``part``'s aggregates, up to its end, on its own tracking row: a worker of
        a rebuild in parts. The tallies are left to the rebuild."""
        self.part = part
        self.tracking_name = part.name
        self._committed = None

    def _start(self) -> int | None:
        """Where the next batch starts, as stored — None while a rebuild in parts is under way.
        Found at REBUILDING with the rebuild's lock free, the rebuild was cut short: its rows
        are dropped, and the log is projected again from the start."""
        position = self.tracked_position()
        if position != REBUILDING:
            return position
        lock = self._rebuild_lock() if self._rebuild_lock else None
        if lock is None:
            return None
        try:
            if not lock.acquire():
                return None
            log.warning("a rebuild in parts was cut short: the read models are made again from the start")
            self._drop(())  # in run_once, which holds the projector's lock
        finally:
            lock.release()  # taken or not: a PostgreSQL lock's connection is closed
        return 0

    # --- one batch, exactly once ----------------------------------------------------------

    def run_once(self, limit: int | None = None) -> int:
        """Project the next batch; returns how many notifications it covered (0 = caught up)."""
        with self._lock, cycle_collector_paused():
            # Where its own last batch left the log, or as stored: another projector that moved
            # it since makes this batch's move fail (``ProjectorRace``), and it is read again.
            start = self._committed if self._committed is not None else self._start()
            if start is None:  # a rebuild in parts is filling the read models
                return 0
            if self.part is not None:  # a rebuild's part: its aggregates' events alone
                batch = self.part.select(self.app.recorder, start, limit or self.batch_size)
            else:
                batch = self.app.recorder.select_notifications(
                    start=start, limit=limit or self.batch_size, inclusive_of_start=False
                )
            read = len(batch)
            touched, born, done, flaw = self._fold(batch)
            end = batch[done - 1].id if done else start
            # Folded, the events are done with: the rows are made from the aggregates. A
            # rebuild's batch (20,000 events) no longer lies in memory beside its rows.
            del batch
            tallied = False  # the batch brought the tallies to its end with the rows
            if done:
                try:
                    tallied = self._commit(touched, born, start, end)
                except BaseException:
                    self.cache.clear()  # the cached calls ran ahead of what was committed
                    self.tallies.forget()
                    self._committed = None
                    raise
                self.tallies.committed()
                self._committed = end
                self.visible(end)
            if read < (limit or self.batch_size) and not tallied and self.part is None:
                self.tallies.settle(self.engine, end)  # the end of the log: tallies in step
            self._alarm.sound(flaw)
            return done

    def catch_up(self, on_batch: Callable[[int], None] | None = None) -> int:
        """Batches until the log's end as it was when the last one was read: a batch shorter
        than ``batch_size`` reached it (what came since woke the follower, which runs again).
        Rows a migration left to be made again are made first (``refill``)."""
        self.refill()
        total = 0
        while n := self.run_once():
            total += n
            if on_batch:
                on_batch(n)
            if n < self.batch_size:
                break
        return total

    def _fold(self, batch: Sequence[Notification]) -> tuple[Touched, set[UUID], int, Flaw | None]:
        """The aggregates the batch touches, as of its end, and those created in it (no rows
        yet) — up to the first event the projector cannot vouch for: how many it took, and that
        flaw."""
        touched: Touched = {}
        born: set[UUID] = set()
        flaw: Flaw | None = None
        done = 0
        for done, n in enumerate(batch):  # noqa: B007  (``done`` counts the events taken)
            step = self._step(n, touched)
            if isinstance(step, Flaw):
                flaw = step
                break
            if step is None:  # an event of no huying aggregate: no rows to make
                continue
            event, call, positions = step
            call_id = cast(UUID, n.originator_id)
            if n.originator_version == 1:
                born.add(call_id)
            positions[n.originator_version] = n.id
            touched[call_id] = (event.mutate(call), positions)
        else:
            done = len(batch)
        for call, positions in touched.values():
            self.cache.keep(call, positions)
        return touched, born, done, flaw

    def _step(
        self, n: Notification, touched: Touched
    ) -> tuple[HuyingAggregate.Event, HuyingAggregate | None, dict[int, int]] | Flaw | None:
        """The event at ``n`` and its aggregate just before it — or why the projector cannot
        take it."""
        call_id = cast(UUID, n.originator_id)
        try:
            event = self.app.mapper.to_domain_event(n)
            if not isinstance(event, HuyingAggregate.Event):
                return None
            call, positions = touched.get(call_id) or self.cache.before(call_id, n.originator_version)
        except EventUnvouched as e:
            return e.flaw
        except AggregateNotFoundError:
            return _out_of_order(n, None, {})
        return _out_of_order(n, call, positions) or (event, call, positions)

    def inspect(self) -> Flaw | None:
        """Whether the next event is one the projector cannot vouch for, judged afresh (for a
        process where the projector does not run)."""
        after = self.tracked_position()
        for n in self.app.recorder.select_notifications(start=after, limit=1, inclusive_of_start=False):
            try:
                self.app.mapper.to_domain_event(n)
            except EventUnvouched as e:
                return e.flaw
        return None

    # --- rows made again ----------------------------------------------------------------------

    def refill(self) -> int:
        """Make again the rows of the aggregates a migration listed in ``projection_refills``
        (rows an older projection made, with something new the events decide that SQL cannot
        work out), each as of the version the read models stand at, ``batch_size`` at a time,
        with the tracking position where it is: the tallies take what changed, as in any batch.
        Returns how many were made."""
        made = 0
        while self._refills_pending:
            with self._lock, cycle_collector_paused():
                with self.engine.connect() as conn:
                    listed = list(conn.execute(_REFILLS, {"limit": self.batch_size}).scalars())
                    start = tracking.tracked(conn, TRACKING_NAME)
                if not listed:
                    self._refills_pending = False
                    break
                touched = dict(filter(None, (self._as_projected(UUID(i), start) for i in listed)))
                self._commit(touched, set(), start, start, refilled=listed)
                made += len(touched)
        return made

    def _as_projected(
        self, aggregate_id: UUID, at: int
    ) -> tuple[UUID, tuple[HuyingAggregate, dict[int, int]]] | None:
        """The aggregate at the last version the read models have projected (None: not yet, or
        one of its events cannot be vouched for — its rows stay as they were, and the audit
        chain's check names the event)."""
        positions = {v: p for v, p in self.app.positions.of_call(aggregate_id).items() if p <= at}
        if not positions:
            return None
        try:
            aggregate: HuyingAggregate = self.app.repository.get(aggregate_id, version=max(positions))
        except EventUnvouched as e:
            log.warning("rows of %s not made again: %s", aggregate_id, e.flaw.sentence())
            return None
        return aggregate_id, (aggregate, positions)

    def _commit(
        self, touched: Touched, born: set[UUID], start: int, end: int, *, refilled: Sequence[str] = ()
    ) -> bool:
        """The batch's rows, and its tallies unless they are behind (then False); the refills
        it made, struck off the list."""
        rows: dict[str, list[dict[str, object]]] = {t.name: [] for t in READ_MODEL_TABLES}
        earlier: dict[type, list[str]] = {}  # by kind: the aggregates that may have rows already
        for aggregate_id, (aggregate, positions) in touched.items():
            new = aggregate_id in born
            if not new:
                earlier.setdefault(type(aggregate), []).append(str(aggregate_id))
            for model in self.models:
                if isinstance(aggregate, model.kind) and (new or not _written_once(model)):
                    for table, table_rows in model.rows(aggregate, positions).items():
                        rows[table.name].extend(table_rows)
        with self.engine.connect() as conn:  # what the batch changes in the calls' tallies
            tallied = self.tallies.prepare(conn, start, earlier.get(Call, []), rows)
        with write_transaction(self.engine) as conn:
            # A part's row is made by its rebuild: gone, the rebuild was given up.
            moved = tracking.move(conn, self.tracking_name, start, end, create=self.part is None)
            if not moved:  # another projector committed this batch first; ours is void
                raise ProjectorRace(f"tracking moved past {start} under us")
            for model in self.models:
                for table in model.tables:
                    if not _written_once(model):
                        for chunk in _chunks(earlier.get(model.kind, []), 500):
                            conn.execute(_rows_of(table, model.key), {"ids": chunk})
                    self.writer.insert(conn, table, rows[table.name])
            for chunk in _chunks(list(refilled), 500):
                conn.execute(delete(projection_refills).where(projection_refills.c.aggregate_id.in_(chunk)))
            return self.tallies.store(conn, tallied, start, end)

    # --- rebuild --------------------------------------------------------------------------

    def reset(self, parts: Sequence[Part] = ()) -> None:
        """Drop every read-model row and the tracking position (rebuild starts from nothing) —
        and any rebuild's parts. Given ``parts``, the position is set at REBUILDING and each
        part's own at the start, for a rebuild in parts."""
        with self._lock:
            self._drop(parts)

    def _drop(self, parts: Sequence[Part]) -> None:
        named = projection_tracking.c.name
        with self.engine.begin() as conn:
            for table in READ_MODEL_TABLES:
                conn.execute(delete(table))
            conn.execute(delete(projection_tracking).where(named == TRACKING_NAME))
            conn.execute(delete(projection_tracking).where(named.startswith(PARTS_NAMED)))
            conn.execute(delete(projection_refills))  # every row is made again
            self.tallies.fall_behind(conn)  # counted afresh once the rows are rebuilt
            if parts:
                rows = [{"name": TRACKING_NAME, "position": REBUILDING}]
                rows += [{"name": part.name, "position": 0} for part in parts]
                conn.execute(insert(projection_tracking), rows)
        self.cache.clear()
        self._committed = None
        self.progress.reset(0)

    # --- read-your-writes ------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._follower.running

    def position(self) -> int:
        """How far the read models have got (another process may be the one projecting)."""
        return self.progress.position if self.running else self.tracked_position()

    @property
    def hears_every_batch(self) -> bool:
        """Whether ``progress`` follows every batch as it commits: this process projects, or
        hears of another's batches (``note_apart``)."""
        return self.running or self.note_apart

    async def current_position(self) -> int:
        """``position()`` for the event loop: the tracking row is read in a worker thread."""
        if self.running:
            return self.progress.position
        position = await anyio.to_thread.run_sync(self.tracked_position)
        self.visible(position)
        return position

    async def reached(self, position: int, timeout: float) -> bool:
        """Wait in the event loop, holding no thread, until the read models reach ``position``;
        False if ``timeout`` passes first. Where another process projects, one watcher thread
        reads the tracking row every ``_POLL_APART`` s while anyone waits, for all of them."""
        if not self.running:
            self._watch.start()
        return await self.progress.reached(position, timeout)

    def wait_until(self, position: int, timeout: float) -> bool:
        """Block this thread until the local projector reaches ``position`` (False after
        ``timeout``, or at once when nothing projects here). For short, bounded waits only:
        requests wait with ``reached``."""
        return self.running and self.progress.wait_for(position, timeout)

    def _look(self) -> None:
        if self.progress.waiting and not self.running:
            self.visible(self.tracked_position())

    def visible(self, position: int) -> None:
        """The read models have reached ``position`` as this process sees them (its own batch
        committed, or news of another process's, or the tracking row read): waiters through it
        wake, and the saves noted up to it have their lag."""
        self.progress.advance(position)
        self.lag.applied(position)

    # --- running in the background ----------------------------------------------------------

    def wake(self, _position: int | None = None) -> None:
        """Called after a local save: project now rather than at the next poll."""
        self._follower.wake()

    def start(self) -> None:
        self._committed = None  # another process may have projected since this one last did
        self._follower.start()

    def _note(self, position: int) -> None:
        self.head_seen = max(self.head_seen, position)
        if self.hears_every_batch:  # this process learns when its saves are visible
            self.lag.saved(position)

    def stop(self) -> None:
        self._follower.stop()
        self._watch.stop()
        self.failing = None  # not projecting here any more (its duty may have moved elsewhere)

    def _follow(self) -> None:
        try:
            self.catch_up()
        except ProjectorRace:
            log.warning("another projector is running; this one follows")
            return
        except Exception as e:
            self.failing = f"{type(e).__name__}: {e}"
            raise  # logged by the follower, which tries again from the stored position
        self.failing = None


def _out_of_order(n: Notification, call: HuyingAggregate | None, positions: dict[int, int]) -> Flaw | None:
    """The event must follow its call's previous version, which must lie before it."""
    version = n.originator_version
    held = call.version if call is not None else 0
    if held == version - 1 and positions.get(held, 0) < n.id:
        return None
    oid = cast(UUID, n.originator_id).hex
    what = named(oid, version, n.topic)
    if held == version - 1:
        detail = f"{named(oid, held, n.topic)} lies at position {positions[held]}, after {what}"
        return Flaw(n.id, oid, version, Tamper.REORDERED, detail)
    detail = f"{named(oid, held + 1, n.topic)} is not in the log before {what}"
    return Flaw(n.id, oid, version, Tamper.MISSING, detail)


class ReadModelsBehind(RuntimeError):
    """The read models did not reach the asked-for position in time (503, retry)."""


class ProjectorRace(RuntimeError):
    """Two projectors ran the same batch; the loser's transaction was rolled back."""


@cache
def _rows_of(table: Table, key: str) -> Delete:
    """The rows of some aggregates (bound as ``ids``) a batch makes again: built once per table
    (built in every batch, they cost 0.2 M instructions an event of a synthetic district's log,
    4% of its projection in batches of 10)."""
    return delete(table).where(table.c[key].in_(bindparam("ids", expanding=True)))


def _written_once(model: ReadModel) -> bool:
    """A model whose rows depend on the aggregate's first event only (``written_once = True``):
    written when the aggregate is created, never replaced."""
    return bool(getattr(model, "written_once", False))


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
